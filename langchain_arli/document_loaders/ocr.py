"""LangChain OCR loader and blob parser over :class:`arli.ocr.OCREngine`.

The engine decides everything (rendering, retries, failure policy, cache, order), and
:class:`arli.ocr.documents.OCRDocumentReader` holds the options and runs it; this module
only turns its page results into LangChain ``Document`` objects with the metadata
conventions of LangChain's PDF parsers: a 0-based ``page``, ``page_label``,
``total_pages``, ``source``, and ``mode="page"`` or ``"single"`` with ``pages_delimiter``.
Pillow and pypdfium2 are imported only when a document is read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from langchain_core.document_loaders import BaseBlobParser, BaseLoader, Blob
from langchain_core.documents import Document

from arli._kwargs import checks_arguments
from arli._signatures import takes_options_of
from arli.ocr.documents import OCRDocumentReader, source_metadata
from arli.ocr.engine import OCREngine, PageResult, page_metadata
from arli.ocr.render import OCRSource

__all__ = ["ArliOCRLoader", "ArliOCRParser"]

Mode = Literal["page", "single"]
_DEFAULT_DELIMITER = "\n\f"


class _OCRDocuments(OCRDocumentReader):
    """Page results → Documents, per page or one per source (the loader's and the parser's)."""

    @takes_options_of(OCRDocumentReader.__init__)
    def __init__(
        self, *, mode: Mode = "page", pages_delimiter: str = _DEFAULT_DELIMITER, **options: Any
    ) -> None:
        if mode not in ("page", "single"):
            msg = f"mode must be 'page' or 'single', not {mode!r}"
            raise ValueError(msg)
        self.mode: Mode = mode
        self.pages_delimiter = pages_delimiter
        super().__init__(**options)

    def _document(self, group: list[PageResult], extra: Mapping[str, Any]) -> Document:
        if self.mode == "page":
            result = group[0]
            meta = {"source": result.source, "page": result.page_index, **page_metadata(result)}
            return Document(page_content=result.text, metadata={**extra, **meta})
        text = self.pages_delimiter.join(r.text for r in group)
        return Document(page_content=text, metadata={**extra, **source_metadata(group)})

    def _documents(self, sources: Any, extra: Mapping[str, Any]) -> Iterator[Document]:
        for group in self.read(sources, by_source=self.mode == "single"):
            yield self._document(group, extra)

    async def _adocuments(self, sources: Any, extra: Mapping[str, Any]) -> AsyncIterator[Document]:
        async for group in self.aread(sources, by_source=self.mode == "single"):
            yield self._document(group, extra)


@checks_arguments(passes_to=(OCREngine,), extras="extra_body")
class ArliOCRLoader(_OCRDocuments, BaseLoader):
    r"""Load images and PDFs as Documents by transcribing each page with a vision model.

    Setup:
        .. code-block:: bash

            pip install "arli-integrations[langchain,ocr]"
            export ARLIAI_API_KEY="..."

    Instantiate:
        .. code-block:: python

            from langchain_arli import ArliOCRLoader

            loader = ArliOCRLoader(
                "scans/report.pdf",              # or a list; images, bytes, URLs work too
                model="Qwen/Qwen3.5-VL",
                pages="1-3,7",                   # 1-based, checked against the page count
                on_page_error="placeholder",     # or "raise" (default) / "skip"
                cache="~/.cache/arli-ocr",       # re-runs pay only for pages not done yet
            )

    Load:
        .. code-block:: python

            docs = loader.load()                 # one Document per page
            docs[0].metadata
            # {'source': 'scans/report.pdf', 'page': 0, 'page_label': 'i', 'total_pages': 12,
            #  'model': '...', 'prompt_tokens': 1650, 'completion_tokens': 312,
            #  'finish_reason': 'stop', 'image_width': 1275, 'image_height': 1650, 'dpi': 150.0,
            #  'truncated': False, 'blank': False, 'cached': False}
            loader.last_report.summary()         # counts, tokens, every failed page

    Lazy and async:
        .. code-block:: python

            for doc in loader.lazy_load(): ...            # pages stream in page order
            async for doc in loader.alazy_load(): ...     # native async, no thread

    ``mode="single"`` gives one Document per file, its pages joined by ``pages_delimiter``
    (metadata: ``source``, ``total_pages``, token sums, ``ocr_failed_pages`` and
    ``ocr_error`` when pages failed). A failed page never puts error text into
    ``page_content``: with ``"placeholder"`` it is an empty Document whose metadata has
    ``ocr_error`` and ``ocr_attempts``; with ``"skip"`` it is left out; either way it is in
    :attr:`last_report`. ``page`` is 0-based, as in LangChain's PDF loaders.

    Args:
        file_path: a path, http(s) URL, bytes, binary file object, or a list of them.
        mode: ``"page"`` (default) or ``"single"``.
        pages_delimiter: what joins pages in ``"single"`` mode.
        pages: the 1-based pages to read in each document (``"1-3,7"``, ``[1, 2]``).
        password: the password of encrypted PDFs.
        skip_empty: leave out pages with no text (blank pages; failed ones stay).
        model: the vision model (else ``ARLI_OCR_MODEL``, else the default).
        api_key: the API key (else ``ARLI_TEXT_KEY`` or ``ARLIAI_API_KEY``).
        base_url: an OpenAI-compatible endpoint taking base64 images (default: Arli).
        engine: a configured :class:`~arli.ocr.OCREngine` (instead of the options).
        **engine_options: any other :class:`~arli.ocr.OCREngine` argument
            (``on_page_error``, ``output_format``, ``prompt``, ``dpi``, ``max_concurrency``,
            ``cache``, ``skip_blank_pages``, ``show_progress``, ``model_kwargs``...).
    """

    @takes_options_of(_OCRDocuments.__init__)
    def __init__(self, file_path: Any, **options: Any) -> None:
        self.file_path = file_path
        super().__init__(**options)

    def __repr__(self) -> str:
        return f"ArliOCRLoader({self.file_path!r}, mode={self.mode!r}, {self.engine!r})"

    def _sources(self) -> Any:
        if isinstance(self.file_path, (list, tuple)):
            return [_source_of(p) for p in self.file_path]
        return _source_of(self.file_path)

    def lazy_load(self) -> Iterator[Document]:
        """Yield Documents in page order while later pages are still being read."""
        yield from self._documents(self._sources(), {})

    async def alazy_load(self) -> AsyncIterator[Document]:
        """Async :meth:`lazy_load`, on the caller's event loop."""
        async for doc in self._adocuments(self._sources(), {}):
            yield doc


def _source_of(value: Any) -> Any:
    """Paths given as ``str`` stay what the user wrote (it becomes ``source``)."""
    if isinstance(value, Blob):
        return _blob_source(value)
    return value


def _blob_source(blob: Blob) -> OCRSource:
    name = str(blob.source or blob.path or "blob")
    if blob.data is None and blob.path is not None:
        return OCRSource(name=name, path=Path(blob.path))
    return OCRSource(name=name, data=blob.as_bytes())


@checks_arguments(passes_to=(OCREngine,), extras="extra_body")
class ArliOCRParser(_OCRDocuments, BaseBlobParser):
    """Parse image and PDF blobs into Documents with a vision model (for ``GenericLoader``).

    Example:
        .. code-block:: python

            from langchain_community.document_loaders.generic import GenericLoader
            from langchain_arli import ArliOCRParser

            loader = GenericLoader.from_filesystem(
                "scans/", glob="**/*", suffixes=[".pdf", ".png", ".jpg"],
                parser=ArliOCRParser(model="Qwen/Qwen3.5-VL", on_page_error="skip"),
            )
            docs = loader.load()

    The Documents and their metadata are those of :class:`ArliOCRLoader` (with the blob's
    own metadata first, and ``source`` set to ``blob.source``). ``alazy_parse`` is the
    native async twin of ``lazy_parse``.

    Args:
        mode: ``"page"`` (default) or ``"single"``.
        pages_delimiter: what joins pages in ``"single"`` mode.
        pages: the 1-based pages to read in each blob.
        password: the password of encrypted PDFs.
        skip_empty: leave out pages with no text.
        model: the vision model.
        api_key: the API key (else ``ARLI_TEXT_KEY`` or ``ARLIAI_API_KEY``).
        base_url: an OpenAI-compatible endpoint taking base64 images (default: Arli).
        engine: a configured :class:`~arli.ocr.OCREngine` (instead of the options).
        **engine_options: any other :class:`~arli.ocr.OCREngine` argument.
    """

    def __repr__(self) -> str:
        return f"ArliOCRParser(mode={self.mode!r}, {self.engine!r})"

    def lazy_parse(self, blob: Blob) -> Iterator[Document]:
        """Yield the blob's Documents in page order."""
        yield from self._documents(_blob_source(blob), blob.metadata)

    async def alazy_parse(self, blob: Blob) -> AsyncIterator[Document]:
        """Async :meth:`lazy_parse`."""
        async for doc in self._adocuments(_blob_source(blob), blob.metadata):
            yield doc

"""LangChain OCR loader and blob parser over :class:`arli.ocr.OCREngine`.

The engine decides everything (rendering, retries, failure policy, cache, order); this
module turns its page results into LangChain ``Document`` objects with the metadata
conventions of LangChain's PDF parsers: a 0-based ``page``, ``page_label``,
``total_pages``, ``source``, and ``mode="page"`` or ``"single"`` with ``pages_delimiter``.
Pillow and pypdfium2 are imported only when a document is read.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from langchain_core.document_loaders import BaseBlobParser, BaseLoader, Blob
from langchain_core.documents import Document

from arli._kwargs import checks_arguments
from arli.ocr.engine import OCREngine, OCRReport, PageResult, page_metadata
from arli.ocr.render import OCRSource

__all__ = ["ArliOCRLoader", "ArliOCRParser"]

Mode = Literal["page", "single"]
_DEFAULT_DELIMITER = "\n\f"


class _Documents:
    """Page results → Documents, per page or one per source (shared by loader and parser)."""

    def __init__(
        self,
        *,
        mode: Mode,
        pages_delimiter: str,
        skip_empty: bool,
        extra_metadata: Mapping[str, Any] | None = None,
    ):
        if mode not in ("page", "single"):
            msg = f"mode must be 'page' or 'single', not {mode!r}"
            raise ValueError(msg)
        self.mode = mode
        self.delimiter = pages_delimiter
        self.skip_empty = skip_empty
        self.extra = dict(extra_metadata or {})

    def page(self, result: PageResult) -> Document | None:
        if self.skip_empty and result.error is None and not result.text.strip():
            return None
        metadata = {
            **self.extra,
            "source": result.source,
            "page": result.page_index,
            **page_metadata(result),
        }
        return Document(page_content=result.text, metadata=metadata)

    def single(self, results: list[PageResult]) -> Document:
        first = results[0]
        failed = [r for r in results if r.error is not None]
        metadata: dict[str, Any] = {
            **self.extra,
            "source": first.source,
            "total_pages": first.total_pages,
            "model": first.model,
            "prompt_tokens": sum(r.usage.prompt_tokens for r in results),
            "completion_tokens": sum(r.usage.completion_tokens for r in results),
            "pages_read": len(results) - len(failed),
            "truncated": any(r.truncated for r in results),
        }
        if failed:
            metadata["ocr_failed_pages"] = [r.page_index for r in failed]
            metadata["ocr_error"] = "; ".join(
                f"page {r.page_label}: {r.error.error_type}: {r.error.error}"
                for r in failed
                if r.error is not None
            )
        text = self.delimiter.join(r.text for r in results)
        return Document(page_content=text, metadata=metadata)

    def documents(self, results: Iterable[PageResult]) -> Iterator[Document]:
        if self.mode == "page":
            for result in results:
                doc = self.page(result)
                if doc is not None:
                    yield doc
            return
        group: list[PageResult] = []
        for result in results:
            if group and result.source_index != group[0].source_index:
                yield self.single(group)
                group = []
            group.append(result)
        if group:
            yield self.single(group)

    async def adocuments(self, results: AsyncIterator[PageResult]) -> AsyncIterator[Document]:
        if self.mode == "page":
            async for result in results:
                doc = self.page(result)
                if doc is not None:
                    yield doc
            return
        group: list[PageResult] = []
        async for result in results:
            if group and result.source_index != group[0].source_index:
                yield self.single(group)
                group = []
            group.append(result)
        if group:
            yield self.single(group)


@checks_arguments(passes_to=(OCREngine,), extras="extra_body")
class ArliOCRLoader(BaseLoader):
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

    def __init__(
        self,
        file_path: Any,
        *,
        mode: Mode = "page",
        pages_delimiter: str = _DEFAULT_DELIMITER,
        pages: str | int | Sequence[int] | None = None,
        password: str | None = None,
        skip_empty: bool = False,
        model: str | None = None,
        api_key: Any = None,
        base_url: str | None = None,
        engine: OCREngine | None = None,
        **engine_options: Any,
    ):
        self.file_path = file_path
        self.pages = pages
        self.password = password
        self._docs = _Documents(mode=mode, pages_delimiter=pages_delimiter, skip_empty=skip_empty)
        self.engine = OCREngine.from_options(
            engine, model=model, api_key=api_key, base_url=base_url, **engine_options
        )
        self.last_report: OCRReport | None = None

    def __repr__(self) -> str:
        return f"ArliOCRLoader({self.file_path!r}, mode={self._docs.mode!r}, {self.engine!r})"

    def _sources(self) -> Any:
        if isinstance(self.file_path, (list, tuple)):
            return [_source_of(p) for p in self.file_path]
        return _source_of(self.file_path)

    def lazy_load(self) -> Iterator[Document]:
        """Yield Documents in page order while later pages are still being read."""
        report = self.last_report = OCRReport(model=self.engine.model)
        results = self.engine.iter_pages(
            self._sources(), pages=self.pages, password=self.password, report=report
        )
        with contextlib.closing(results):
            yield from self._docs.documents(results)

    async def alazy_load(self) -> AsyncIterator[Document]:
        """Async :meth:`lazy_load`, on the caller's event loop."""
        report = self.last_report = OCRReport(model=self.engine.model)
        results = self.engine.aiter_pages(
            self._sources(), pages=self.pages, password=self.password, report=report
        )
        async with contextlib.aclosing(results):
            async for doc in self._docs.adocuments(results):
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
class ArliOCRParser(BaseBlobParser):
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

    def __init__(
        self,
        *,
        mode: Mode = "page",
        pages_delimiter: str = _DEFAULT_DELIMITER,
        pages: str | int | Sequence[int] | None = None,
        password: str | None = None,
        skip_empty: bool = False,
        model: str | None = None,
        api_key: Any = None,
        base_url: str | None = None,
        engine: OCREngine | None = None,
        **engine_options: Any,
    ):
        self.mode: Mode = mode
        self.pages_delimiter = pages_delimiter
        self.skip_empty = skip_empty
        _Documents(mode=mode, pages_delimiter=pages_delimiter, skip_empty=skip_empty)
        self.pages = pages
        self.password = password
        self.engine = OCREngine.from_options(
            engine, model=model, api_key=api_key, base_url=base_url, **engine_options
        )
        self.last_report: OCRReport | None = None

    def __repr__(self) -> str:
        return f"ArliOCRParser(mode={self.mode!r}, {self.engine!r})"

    def _docs(self, blob: Blob) -> _Documents:
        return _Documents(
            mode=self.mode,
            pages_delimiter=self.pages_delimiter,
            skip_empty=self.skip_empty,
            extra_metadata=blob.metadata,
        )

    def lazy_parse(self, blob: Blob) -> Iterator[Document]:
        """Yield the blob's Documents in page order."""
        report = self.last_report = OCRReport(model=self.engine.model)
        results = self.engine.iter_pages(
            _blob_source(blob), pages=self.pages, password=self.password, report=report
        )
        with contextlib.closing(results):
            yield from self._docs(blob).documents(results)

    async def alazy_parse(self, blob: Blob) -> AsyncIterator[Document]:
        """Async :meth:`lazy_parse`."""
        report = self.last_report = OCRReport(model=self.engine.model)
        results = self.engine.aiter_pages(
            _blob_source(blob), pages=self.pages, password=self.password, report=report
        )
        async with contextlib.aclosing(results):
            async for doc in self._docs(blob).adocuments(results):
                yield doc

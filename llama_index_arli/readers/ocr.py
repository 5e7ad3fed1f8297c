"""LlamaIndex OCR reader over :class:`arli.ocr.OCREngine`: one Document per page.

The engine decides everything (rendering, retries, failure policy, cache, order), and
:class:`arli.ocr.documents.OCRDocumentReader` holds the options and runs it; the reader
turns page results into LlamaIndex ``Document`` objects with LlamaIndex's PDF metadata
conventions (``file_name``, ``file_path``, ``page_label``) and keeps the bulky
and technical keys out of the embedding and LLM text. It works as a
``SimpleDirectoryReader`` ``file_extractor`` (``extra_info`` and ``fs`` are honoured).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import PurePath
from typing import Any

from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document

from arli._kwargs import checks_arguments
from arli.ocr.documents import OCRDocumentReader
from arli.ocr.engine import OCREngine, PageResult, page_metadata
from arli.ocr.render import OCRSource

__all__ = ["EXCLUDED_METADATA_KEYS", "OCR_SUFFIXES", "ArliOCRReader"]

#: Metadata kept out of the text that is embedded and shown to the LLM.
EXCLUDED_METADATA_KEYS: tuple[str, ...] = (
    "page_number",
    "total_pages",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "finish_reason",
    "image_width",
    "image_height",
    "dpi",
    "truncated",
    "blank",
    "cached",
    "ocr_error",
    "ocr_attempts",
)

#: File suffixes the reader handles (for ``SimpleDirectoryReader(file_extractor=...)``).
OCR_SUFFIXES: tuple[str, ...] = (
    ".pdf",
    ".png",
    ".jpg",
    ".jpeg",
    ".webp",
    ".gif",
    ".bmp",
    ".tif",
    ".tiff",
)


@checks_arguments(passes_to=(OCREngine,), extras="extra_body")
class ArliOCRReader(OCRDocumentReader, BaseReader):
    """Read images and PDFs by transcribing each page with an Arli AI vision model.

    Example:
        .. code-block:: python

            from llama_index.core import SimpleDirectoryReader
            from llama_index_arli import ArliOCRReader

            reader = ArliOCRReader(model="Qwen/Qwen3.5-VL", on_page_error="placeholder")
            docs = reader.load_data("scans/report.pdf")          # one Document per page
            docs = SimpleDirectoryReader(
                "scans/", file_extractor=reader.file_extractor()  # .pdf .png .jpg .tif...
            ).load_data()
            reader.last_report.summary()

    Metadata: ``file_name``, ``file_path`` (the path or URL), ``page_label`` (the PDF page
    label, else the 1-based number), ``page_number``, ``total_pages``, ``model``,
    ``prompt_tokens``, ``completion_tokens``, ``finish_reason``, ``image_width``,
    ``image_height``, ``dpi`` (PDF pages), ``truncated``, ``blank``, ``cached``, and
    ``ocr_error``/``ocr_attempts`` for a failed page (``on_page_error="placeholder"``;
    the page's text stays empty). Every key but ``file_name``, ``file_path`` and
    ``page_label`` is excluded from the embedding and LLM text.

    The reader builds its engine lazily, and pickles without it, so
    ``SimpleDirectoryReader(num_workers=...)`` works (pass options, not ``engine=``).

    Args:
        pages: the 1-based pages to read in each document (``"1-3,7"``, ``[1, 2]``).
        password: the password of encrypted PDFs.
        skip_empty: leave out pages with no text (blank pages; failed ones stay).
        model: the vision model (else ``ARLI_OCR_MODEL``, else the default).
        api_key: the API key (else ``ARLI_TEXT_KEY`` or ``ARLIAI_API_KEY``).
        base_url: an OpenAI-compatible endpoint taking base64 images (default: Arli).
        engine: a configured :class:`~arli.ocr.OCREngine` (instead of the options).
        **engine_options: any other :class:`~arli.ocr.OCREngine` argument
            (``on_page_error``, ``output_format``, ``dpi``, ``cache``, ``max_concurrency``...).
    """

    def __repr__(self) -> str:
        return f"ArliOCRReader({self.engine!r})"

    def __getstate__(self) -> dict[str, Any]:
        if self._user_engine:
            msg = (
                "an ArliOCRReader built with engine=... cannot be pickled (for "
                "SimpleDirectoryReader num_workers, pass the engine options instead)"
            )
            raise TypeError(msg)
        state = dict(self.__dict__)
        state["_engine"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def file_extractor(self, suffixes: Iterable[str] = OCR_SUFFIXES) -> dict[str, BaseReader]:
        """``{suffix: self}`` for ``SimpleDirectoryReader(file_extractor=...)``."""
        return dict.fromkeys(suffixes, self)

    # -- sources and documents -------------------------------------------------------------

    @staticmethod
    def _source(file: Any, fs: Any) -> tuple[Any, dict[str, str]]:
        """The engine source for ``file``, and its ``file_name``/``file_path`` metadata."""
        if isinstance(file, (str, PurePath)) and fs is not None and not _is_local(fs):
            with fs.open(str(file), "rb") as fh:
                data = fh.read()
            name = str(file)
            source = OCRSource(name=name, data=data)
            return source, {"file_name": PurePath(name).name, "file_path": name}
        source = OCRSource.of(file)
        info = {"file_name": source.file_name}
        if source.url is not None:
            info["file_path"] = source.url
        elif source.path is not None:
            info["file_path"] = str(source.path)
        return source, info

    def _document(
        self, result: PageResult, info: dict[str, str], extra_info: dict[str, Any] | None
    ) -> Document:
        meta = page_metadata(result)
        metadata: dict[str, Any] = {
            **(extra_info or {}),
            **info,
            "page_label": meta.pop("page_label"),
            "page_number": result.page,
            **meta,
        }
        excluded = [k for k in EXCLUDED_METADATA_KEYS if k in metadata]
        return Document(
            text=result.text,
            metadata=metadata,
            excluded_embed_metadata_keys=list(excluded),
            excluded_llm_metadata_keys=list(excluded),
        )

    def _inputs(self, file: Any, fs: Any) -> tuple[list[Any], list[dict[str, str]]]:
        files = list(file) if isinstance(file, (list, tuple)) else [file]
        pairs = [self._source(f, fs) for f in files]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    # -- BaseReader --------------------------------------------------------------------------

    def lazy_load_data(
        self,
        file: Any,
        extra_info: dict[str, Any] | None = None,
        fs: Any = None,
        **kwargs: Any,
    ) -> Iterator[Document]:
        """Yield one Document per page, in page order, while later pages are being read.

        Args:
            file: a path, http(s) URL, bytes, binary file object, or a list of them.
            extra_info: metadata added to every Document (``SimpleDirectoryReader``'s).
            fs: an fsspec filesystem to read paths from.
            **kwargs: ignored (other readers' options).
        """
        sources, infos = self._inputs(file, fs)
        for (result,) in self.read(sources):
            yield self._document(result, infos[result.source_index], extra_info)

    def load_data(
        self,
        file: Any,
        extra_info: dict[str, Any] | None = None,
        fs: Any = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Every page as a Document (see :meth:`lazy_load_data`)."""
        return list(self.lazy_load_data(file, extra_info=extra_info, fs=fs))

    async def aload_data(
        self,
        file: Any,
        extra_info: dict[str, Any] | None = None,
        fs: Any = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Async :meth:`load_data`, natively on the caller's event loop."""
        sources, infos = self._inputs(file, fs)
        return [
            self._document(result, infos[result.source_index], extra_info)
            async for (result,) in self.aread(sources)
        ]

    async def alazy_load_data(
        self,
        file: Any,
        extra_info: dict[str, Any] | None = None,
        fs: Any = None,
        **kwargs: Any,
    ) -> Iterable[Document]:
        """Async load (LlamaIndex's ``alazy_load_data`` returns the documents at once)."""
        return await self.aload_data(file, extra_info=extra_info, fs=fs)


def _is_local(fs: Any) -> bool:
    protocol = getattr(fs, "protocol", "file")
    protocols = protocol if isinstance(protocol, (tuple, list)) else (protocol,)
    return "file" in protocols or "local" in protocols

"""A LlamaIndex reader over a bulk OCR job's output: index a corpus without OCR again.

``arli ocr INPUT... --out DIR`` (or :func:`arli.ocr.job.runner.run_job`) writes
``DIR/pages.jsonl`` and one Markdown file per document; :class:`ArliOCRJobReader` reads
them lazily — one line or one file at a time, also while the job is still running — as
LlamaIndex Documents, with LlamaIndex's PDF metadata conventions (``file_path``,
``file_name``, ``page_label``). Nothing is sent anywhere and no key is needed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document

from arli._errors import ArliValidationError
from arli._kwargs import checks_arguments
from arli.ocr.job.read import iter_documents, iter_pages, page_metadata

__all__ = ["JOB_EXCLUDED_METADATA_KEYS", "ArliOCRJobReader"]

#: Metadata kept out of the text that is embedded and shown to the LLM.
JOB_EXCLUDED_METADATA_KEYS: tuple[str, ...] = (
    "page_number",
    "total_pages",
    "doc_id",
    "name",
    "status",
    "text_source",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "ocr_error",
    "ocr_attempts",
    "markdown_path",
)


@checks_arguments()
class ArliOCRJobReader(BaseReader):
    """Documents from a bulk OCR job's output directory, read lazily.

    ``mode="page"`` (default): one Document per page record (``page_label``,
    ``page_number`` 1-based, ``total_pages``, ``text_source``, tokens...); ``"document"``:
    one per complete document (its Markdown). ``file_path``/``file_name`` name the
    original document.

    Args:
        mode: ``"page"`` or ``"document"``.
        include_failed: also yield failed pages (empty text; ``mode="page"`` only).

    Raises:
        ArliValidationError: a bad ``mode``.

    Example:
        .. code-block:: python

            from llama_index_arli.readers.ocr_job import ArliOCRJobReader

            docs = ArliOCRJobReader().load_data("out/")
    """

    def __init__(
        self, *, mode: Literal["page", "document"] = "page", include_failed: bool = False
    ) -> None:
        if mode not in ("page", "document"):
            msg = f"mode must be 'page' or 'document', not {mode!r}"
            raise ArliValidationError(msg, field="mode", allowed="page, document")
        self.mode = mode
        self.include_failed = include_failed

    def lazy_load_data(self, path: str | os.PathLike[str], **_: Any) -> Iterable[Document]:
        """Yield the Documents of the job in ``path`` one at a time.

        Raises:
            ArliValidationError: ``path`` is not a job directory.
        """
        if self.mode == "document":
            for doc in iter_documents(path):
                metadata = {
                    **_file(doc.source),
                    "total_pages": doc.total_pages,
                    "doc_id": doc.doc_id,
                    "name": doc.name,
                    "markdown_path": str(doc.path),
                }
                yield _document(doc.text, metadata)
            return
        for record in iter_pages(path, include_failed=self.include_failed):
            metadata = page_metadata(record)
            metadata.pop("source")
            yield _document(record.text, {**_file(record.source), **metadata})

    def load_data(self, path: str | os.PathLike[str], **_: Any) -> list[Document]:
        """All the Documents of the job in ``path`` (see :meth:`lazy_load_data`)."""
        return list(self.lazy_load_data(path))


def _file(source: str) -> dict[str, str]:
    return {"file_path": source, "file_name": Path(source).name}


def _document(text: str, metadata: dict[str, Any]) -> Document:
    keys = [k for k in metadata if k in JOB_EXCLUDED_METADATA_KEYS]
    return Document(
        text=text,
        metadata=metadata,
        excluded_embed_metadata_keys=keys,
        excluded_llm_metadata_keys=keys,
    )

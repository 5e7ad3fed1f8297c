"""A LangChain loader over a bulk OCR job's output: index a corpus without OCR again.

``arli ocr INPUT... --out DIR`` (or :func:`arli.ocr.job.runner.run_job`) writes
``DIR/pages.jsonl`` and one Markdown file per document; :class:`ArliOCRJobLoader` reads
them lazily — one line or one file at a time, also while the job is still running — as
LangChain Documents. Nothing is sent anywhere and no key is needed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Literal

from langchain_core.document_loaders import BaseLoader
from langchain_core.documents import Document

from arli._errors import ArliValidationError
from arli._kwargs import checks_arguments
from arli.ocr.job.read import iter_documents, iter_pages, job_dir, page_metadata

__all__ = ["ArliOCRJobLoader"]


@checks_arguments()
class ArliOCRJobLoader(BaseLoader):
    """Documents from a bulk OCR job's output directory, read lazily.

    With ``mode="page"`` (default) one Document per page record of ``pages.jsonl``, with
    metadata ``source``, ``page`` (LangChain's 0-based index), ``page_number`` (1-based,
    as in ``pages.jsonl`` and the CLI), ``page_label``, ``total_pages``, ``doc_id``,
    ``name``, ``status``, ``text_source`` (``"model"``, ``"text_layer"`` or
    ``"fallback"``), ``model`` and the tokens; ``ocr_error``/``ocr_attempts`` on failed
    pages (only with ``include_failed=True``). With ``mode="document"`` one Document per
    complete document (its Markdown, page breaks marked), metadata ``source``, ``name``,
    ``doc_id``, ``total_pages``, ``path``.

    Args:
        path: the job's ``--out`` directory.
        mode: ``"page"`` or ``"document"``.
        include_failed: also yield failed pages (empty text; ``mode="page"`` only).

    Raises:
        ArliValidationError: ``path`` is not a job directory, or a bad ``mode``.

    Example:
        .. code-block:: python

            from langchain_arli.document_loaders.ocr_job import ArliOCRJobLoader

            for doc in ArliOCRJobLoader("out/").lazy_load():
                print(doc.metadata["page_number"], doc.page_content[:80])
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        mode: Literal["page", "document"] = "page",
        include_failed: bool = False,
    ) -> None:
        if mode not in ("page", "document"):
            msg = f"mode must be 'page' or 'document', not {mode!r}"
            raise ArliValidationError(msg, field="mode", allowed="page, document")
        self.path = job_dir(path)
        self.mode = mode
        self.include_failed = include_failed

    def lazy_load(self) -> Iterator[Document]:
        """Yield the job's Documents one at a time (see the class docstring)."""
        if self.mode == "document":
            for doc in iter_documents(self.path):
                metadata = {
                    "source": doc.source,
                    "name": doc.name,
                    "doc_id": doc.doc_id,
                    "total_pages": doc.total_pages,
                    "path": str(doc.path),
                }
                yield Document(page_content=doc.text, metadata=metadata)
            return
        for record in iter_pages(self.path, include_failed=self.include_failed):
            metadata = {"page": record.page - 1, **page_metadata(record)}
            yield Document(page_content=record.text, metadata=metadata)

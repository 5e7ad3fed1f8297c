"""Reading a bulk job's output lazily, finished or still running (what the loaders use).

:func:`iter_pages` streams ``DIR/pages.jsonl`` one line at a time (a line still being
written, or torn by a crash, is not read): memory stays that of one page whatever the
corpus, and a RAG pipeline can index a job's pages without paying for OCR again, even
while the job runs. A page transcribed again by a resumed run appears once (the later
record is the one kept by :meth:`~arli.ocr.job.sink.Sink.finish`; while a job runs, a page
that failed and then succeeded may appear twice, its failure first).

:func:`iter_documents` yields each complete document's Markdown (``DIR/documents``), in
the order of ``pages.jsonl``.

:func:`page_metadata` is the metadata both skins attach to a page: no value is ``None``
(vector stores reject it); ``page_number`` is 1-based as in ``pages.jsonl``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arli._errors import ArliValidationError
from arli.ocr.job.sink import DOCUMENTS_DIR, JOB_FILE, PAGES_FILE
from arli.ocr.job.tasks import PageRecord

__all__ = ["JobDocument", "iter_documents", "iter_pages", "job_dir", "page_metadata"]


def job_dir(path: str | os.PathLike[str]) -> Path:
    """The job directory ``path``, checked.

    Raises:
        ArliValidationError: ``path`` is not a bulk OCR job's output directory.
    """
    out = Path(path).expanduser()
    if not (out / JOB_FILE).is_file():
        msg = (
            f"{out} is not a bulk OCR job's output (no {JOB_FILE}); name the --out DIR "
            "of an `arli ocr INPUT... --out DIR` run"
        )
        raise ArliValidationError(msg, field="path", allowed="a job directory")
    return out


def iter_pages(
    path: str | os.PathLike[str], *, include_failed: bool = False
) -> Iterator[PageRecord]:
    """The page records of a job, one line of ``pages.jsonl`` at a time.

    Args:
        path: the job's output directory.
        include_failed: also yield failed pages (``status="error"``, empty text).

    Raises:
        ArliValidationError: ``path`` is not a job directory.
    """
    pages = job_dir(path) / PAGES_FILE
    try:
        fh = pages.open("rb")
    except FileNotFoundError:
        return
    with fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                return  # being written, or torn by a crash
            try:
                record = PageRecord.from_json(raw.decode("utf-8"))
            except (ValueError, TypeError):
                return
            if record.status == "error" and not include_failed:
                continue
            yield record


@dataclass(frozen=True)
class JobDocument:
    """A complete document of a job: its Markdown and where it came from.

    Attributes:
        source: the document's path.
        name: its output name.
        doc_id: its content digest.
        path: the Markdown file.
        total_pages: its page count.
        text: the Markdown (page breaks marked ``<!-- page LABEL -->``).
    """

    source: str
    name: str
    doc_id: str
    path: Path
    total_pages: int
    text: str


def iter_documents(path: str | os.PathLike[str]) -> Iterator[JobDocument]:
    """Each complete document of a job (its Markdown read when it is reached).

    Raises:
        ArliValidationError: ``path`` is not a job directory.
    """
    out = job_dir(path)
    seen: set[str] = set()
    for record in iter_pages(out, include_failed=True):
        if record.doc_id in seen:
            continue
        seen.add(record.doc_id)
        markdown = out / DOCUMENTS_DIR / f"{record.name}.md"
        if not markdown.is_file():
            continue  # not complete yet, or failed as a whole (see report.json)
        text = markdown.read_text(encoding="utf-8")
        yield JobDocument(
            record.source, record.name, record.doc_id, markdown, record.total_pages, text
        )


def page_metadata(record: PageRecord) -> dict[str, Any]:
    """The metadata of a page's document (no ``None`` values)."""
    meta: dict[str, Any] = {
        "source": record.source,
        "page_number": record.page,
        "page_label": record.page_label,
        "total_pages": record.total_pages,
        "doc_id": record.doc_id,
        "name": record.name,
        "status": record.status,
        "text_source": record.text_source or "",
        "model": record.model,
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
    }
    if record.status == "error":
        meta["ocr_error"] = f"{record.error_type}: {record.error}"
        meta["ocr_attempts"] = record.attempts
    return meta

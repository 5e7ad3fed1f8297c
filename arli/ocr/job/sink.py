"""A bulk job's output directory: what is written, when, and how a job resumes from it.

Layout of ``DIR``::

    job.json            what the job is (options fingerprint, inputs); written first
    pages.jsonl         one record per page, appended (and fsync'ed) as pages finish
    documents/NAME.md   one Markdown file per document, page breaks marked
    report.json         counts, pages/s, tokens, failures by cause, cost
    cache/              the content-addressed page cache (unless another is given)

Durability: a record is written to the file (the OS holds it: a killed or crashed process
loses nothing) before the runner moves on, and fsync'ed by a background thread right
after (:class:`_Syncer`: one fsync covers every record written before it), so a disk's
fsync time (milliseconds each) never stalls the job's event loop; at most the records of
the last moments are at risk on a power loss, and they are in the page cache too.

Resuming: :meth:`Sink.open` reads ``pages.jsonl`` back (a line torn by a crash is dropped)
and returns the pages already done, which the runner does not send again. A page that
finished after its last record was written is in the page cache, so it is not paid twice
either. :meth:`Sink.finish` rewrites ``pages.jsonl`` in page order (atomically), so the
outputs of a resumed job equal an uninterrupted one's.

:meth:`Sink.check` runs before anything is sent: a ``DIR`` that is a file, or a non-empty
directory that holds no job, or one holding a job with other options, is refused (unless
``overwrite=True``, which starts afresh; the page cache is kept).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from arli._errors import ArliValidationError
from arli.ocr.job.tasks import FileFailure, PageRecord, PageTask

__all__ = ["JOB_FILE", "PAGES_FILE", "REPORT_FILE", "Sink", "markdown", "read_records"]

JOB_FILE = "job.json"
PAGES_FILE = "pages.jsonl"
REPORT_FILE = "report.json"
DOCUMENTS_DIR = "documents"
CACHE_DIR = "cache"
JOB_FORMAT = 1


def read_records(path: Path) -> tuple[list[PageRecord], int]:
    """The records of a ``pages.jsonl`` and the byte length of its whole lines.

    A torn or unreadable line (a crash mid-write) ends the readable part.
    """
    records: list[PageRecord] = []
    good = 0
    try:
        with path.open("rb") as fh:
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break
                try:
                    records.append(PageRecord.from_json(raw.decode("utf-8")))
                except (ValueError, TypeError):
                    break
                good += len(raw)
    except FileNotFoundError:
        return [], 0
    return records, good


def markdown(records: Sequence[PageRecord], *, placeholders: bool) -> str:
    """A document's pages as Markdown, each page after a ``<!-- page LABEL -->`` marker."""
    parts: list[str] = []
    for record in records:
        marker = f"<!-- page {record.page_label} -->"
        if record.status == "error":
            if not placeholders:
                continue
            marker += f"\n<!-- not transcribed: {record.error_type} -->"
        parts.append(f"{marker}\n\n{record.text}".rstrip() + "\n")
    return "\n".join(parts)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class _Syncer:
    """fsync a file in a background thread whenever asked; coalesces requests."""

    def __init__(self, fd: int):
        self._fd = fd
        self._wanted = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="arli-job-fsync", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopping:
                return
            with contextlib.suppress(OSError):
                os.fsync(self._fd)

    def request(self) -> None:
        """Ask for an fsync of everything written so far (returns at once)."""
        self._wanted.set()

    def stop(self) -> None:
        """End the thread, then a last fsync here (before the file is closed)."""
        self._stopping = True
        self._wanted.set()
        self._thread.join()
        with contextlib.suppress(OSError):
            os.fsync(self._fd)


class Sink:
    """The output directory of a job (see the module docstring).

    Args:
        out_dir: the directory (created when missing).
        overwrite: start afresh in a directory holding another job (or other files).
    """

    def __init__(self, out_dir: str | os.PathLike[str], *, overwrite: bool = False):
        self.out_dir = Path(out_dir).expanduser()
        self.overwrite = overwrite
        self._fh: IO[bytes] | None = None
        self._syncer: _Syncer | None = None

    def __repr__(self) -> str:
        return f"Sink({str(self.out_dir)!r})"

    @property
    def pages_path(self) -> Path:
        """``DIR/pages.jsonl``."""
        return self.out_dir / PAGES_FILE

    @property
    def cache_dir(self) -> Path:
        """``DIR/cache``: the default page cache."""
        return self.out_dir / CACHE_DIR

    def document_path(self, name: str) -> Path:
        """Where a document's Markdown goes."""
        return self.out_dir / DOCUMENTS_DIR / f"{name}.md"

    def check(self, fingerprint: str) -> bool:
        """Check the destination before anything is sent; whether it holds a job to resume.

        Raises:
            ArliValidationError: ``DIR`` is a file, cannot be written, holds files that are
                not a job's, or a job with other options (without ``overwrite``).
        """
        out = self.out_dir
        if out.exists() and not out.is_dir():
            msg = f"{out} is a file; --out names a directory (it is created when missing)"
            raise ArliValidationError(msg, field="out", allowed="a directory")
        job = out / JOB_FILE
        if out.is_dir() and any(out.iterdir()):
            if not job.exists():
                if self.overwrite:
                    return False
                msg = (
                    f"{out} already holds files that are not an OCR job's; name a new or "
                    "empty directory (or pass --overwrite)"
                )
                raise ArliValidationError(msg, field="out", allowed="a new or empty directory")
            try:
                earlier = json.loads(job.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                earlier = {}
            if earlier.get("fingerprint") != fingerprint:
                if self.overwrite:
                    return False
                msg = (
                    f"{out} holds a job run with other options (model, prompt, DPI...); "
                    "rerun it with the same options to resume, name another directory, or "
                    "pass --overwrite to start afresh (the page cache is kept)"
                )
                raise ArliValidationError(msg, field="out")
            return not self.overwrite
        try:
            out.mkdir(parents=True, exist_ok=True)
            probe = out / ".arli-write-check"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            msg = f"cannot write to {out}: {exc.strerror or exc}"
            raise ArliValidationError(msg, field="out") from None
        return False

    def open(self, fingerprint: str, inputs: Iterable[str], *, resume: bool) -> list[PageRecord]:
        """Start writing; the records of an earlier run of the job when ``resume``.

        Without ``resume`` an earlier ``pages.jsonl``, report and Markdown files are
        removed (the page cache stays: pages it holds are not paid again).
        """
        self.out_dir.mkdir(parents=True, exist_ok=True)
        records: list[PageRecord] = []
        if resume:
            records, good = read_records(self.pages_path)
            with contextlib.suppress(FileNotFoundError):
                if self.pages_path.stat().st_size != good:
                    os.truncate(self.pages_path, good)
        else:
            for name in (PAGES_FILE, REPORT_FILE):
                with contextlib.suppress(FileNotFoundError):
                    (self.out_dir / name).unlink()
            shutil.rmtree(self.out_dir / DOCUMENTS_DIR, ignore_errors=True)
        job = {"format": JOB_FORMAT, "fingerprint": fingerprint, "inputs": list(inputs)}
        _atomic_write(self.out_dir / JOB_FILE, json.dumps(job, indent=2) + "\n")
        self._fh = self.pages_path.open("ab")
        self._syncer = _Syncer(self._fh.fileno())
        return [r for r in records if r.fingerprint == fingerprint]

    def write(self, record: PageRecord) -> None:
        """Append one record to ``pages.jsonl`` (a killed process keeps it); fsync it soon.

        The line is in the file when this returns; the fsync runs in the background (see
        the module docstring), so the event loop never waits for the disk.
        """
        if self._fh is None:
            msg = "Sink.open() was not called"
            raise RuntimeError(msg)
        self._fh.write(record.to_json().encode("utf-8") + b"\n")
        self._fh.flush()
        if self._syncer is not None:
            self._syncer.request()

    def close(self) -> None:
        """Close ``pages.jsonl`` (after a last fsync)."""
        syncer, self._syncer = self._syncer, None
        if syncer is not None:
            syncer.stop()
        fh, self._fh = self._fh, None
        if fh is not None:
            fh.close()

    def finish(
        self,
        tasks: Sequence[PageTask],
        report: dict[str, Any],
        *,
        placeholders: bool,
        failed_documents: Iterable[str] = (),
    ) -> None:
        """Write every complete document's Markdown, ``pages.jsonl`` sorted, the report.

        Args:
            tasks: every task of the job (its page order is the output order).
            report: the report to write.
            placeholders: mark failed pages in the Markdown (else leave them out).
            failed_documents: ``doc_id`` of documents failed as a whole (no Markdown).
        """
        self.close()
        latest: dict[tuple[str, int], PageRecord] = {}
        extra: list[PageRecord] = []
        known = {t.key for t in tasks}
        for record in read_records(self.pages_path)[0]:
            if record.key in known:
                latest[record.key] = record
            else:
                extra.append(record)
        ordered = [latest[t.key] for t in tasks if t.key in latest]
        lines = [r.to_json() for r in [*ordered, *extra]]
        _atomic_write(self.pages_path, "".join(line + "\n" for line in lines))
        failed = set(failed_documents)
        by_doc: dict[str, list[PageRecord]] = {}
        complete: dict[str, bool] = {}
        names: dict[str, str] = {}
        for task in tasks:
            names[task.doc_id] = task.name
            found = latest.get(task.key)
            complete[task.doc_id] = complete.get(task.doc_id, True) and found is not None
            if found is not None:
                by_doc.setdefault(task.doc_id, []).append(found)
        for doc_id, done in complete.items():
            if done and doc_id not in failed:
                text = markdown(by_doc.get(doc_id, []), placeholders=placeholders)
                _atomic_write(self.document_path(names[doc_id]), text)
        _atomic_write(self.out_dir / REPORT_FILE, json.dumps(report, indent=2) + "\n")


def failure_dicts(failures: Iterable[FileFailure]) -> list[dict[str, str]]:
    """File failures as JSON-serializable dicts."""
    return [f.as_dict() for f in failures]

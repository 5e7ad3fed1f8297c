"""The bulk OCR job on one machine: plan, check, transcribe within one limit, write, resume.

:func:`run_job` (and :func:`arun_job`) is what ``arli ocr INPUT... --out DIR`` runs:

1. the destination is checked and every input planned (:func:`~arli.ocr.job.tasks.plan`)
   and the client built, all before the first request: a page selection beyond the end of
   any document, an unusable ``--out`` or a missing key stop the job before it pays;
2. pages already done by an earlier run of the same job (``pages.jsonl``) are not sent;
3. the other pages go through one :class:`~arli.ocr.job.tasks.PageWorker` whose requests,
   retries included, all take a slot of one limiter of ``max_in_flight`` slots, however
   many files there are; ``max_in_flight + 2`` pages are worked on at once (two rendering
   ahead), so memory stays that of a few pages whatever the corpus;
4. each record is appended to ``pages.jsonl`` as its page finishes (fsync'ed in the
   background: the loop never waits for the disk);
5. at the end (also after Ctrl-C or a failure under ``on_page_error="raise"``) the
   Markdown of every complete document, the sorted ``pages.jsonl`` and ``report.json``
   are written. Running the same command again continues where the job stopped.

Ctrl-C, SIGTERM or cancelling :func:`arun_job` first *drains* the job
(:mod:`arli.ocr.job.interrupt`): pages that sent nothing yet are dropped, pages whose
request is out are finished and written, so no answered page is paid for twice on resume;
a second interrupt abandons them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arli._errors import ArliValidationError, OCRPageError
from arli._limits import Limiter
from arli._providers import get_provider
from arli.ocr._sync import shared_loop
from arli.ocr.job.interrupt import DrainGate, cancel_on_sigterm, new_page, page_started
from arli.ocr.job.progress import JobProgress, ProgressCallback
from arli.ocr.job.report import build_report, failed_documents
from arli.ocr.job.sink import Sink
from arli.ocr.job.tasks import FileFailure, JobOptions, PageRecord, PageTask, PageWorker, plan
from arli.ocr.models import DEFAULT_CONCURRENCY
from arli.ocr.progress import RENDER_AHEAD

__all__ = ["JobResult", "JobRun", "arun_job", "check_options", "prepare", "run_job"]

_log = logging.getLogger("arli.ocr.job")


@dataclass
class JobResult:
    """What a job run did.

    Attributes:
        out_dir: the output directory (for outputs published to a URL, the local copy
            they were written to first, gone after the upload: see :attr:`location`).
        report: the content of ``report.json``.
        state: ``"complete"``, ``"interrupted"`` or ``"stopped"``.
    """

    out_dir: Path
    report: dict[str, Any]
    state: str

    @property
    def location(self) -> str:
        """Where the outputs are: ``out_dir``, or the URL a Ray job published them to."""
        return str(self.report.get("out_dir") or self.out_dir)

    @property
    def ok(self) -> bool:
        """Complete, with no failed page, document or input."""
        return self.state == "complete" and not self.report["failures_by_cause"]


def check_options(options: JobOptions) -> None:
    """Check the job-level options (the engine checks its own when it is built).

    Raises:
        ArliValidationError: naming the option and what is allowed.
    """
    if options.text_layer not in ("auto", "fallback", "never"):
        msg = f"text_layer must be 'auto', 'fallback' or 'never', not {options.text_layer!r}"
        raise ArliValidationError(msg, field="text_layer", allowed="auto, fallback, never")
    rate = options.max_page_error_rate
    if rate is not None and not 0 <= rate <= 1:
        msg = f"max_page_error_rate={rate!r} is out of range: allowed 0-1"
        raise ArliValidationError(msg, field="max_page_error_rate", allowed="0-1")
    if options.max_in_flight is not None and options.max_in_flight < 1:
        msg = f"max_in_flight={options.max_in_flight!r} is out of range: allowed >= 1"
        raise ArliValidationError(msg, field="max_in_flight", allowed=">= 1")
    for name in ("price_per_mtok_in", "price_per_mtok_out", "price_per_request"):
        value = getattr(options, name)
        if value is not None and value < 0:
            msg = f"{name}={value!r} is out of range: allowed >= 0"
            raise ArliValidationError(msg, field=name, allowed=">= 0")
    if options.price_per_request is not None and (
        options.price_per_mtok_in is not None or options.price_per_mtok_out is not None
    ):
        msg = "give either a per-request price or per-token prices, not both"
        raise ArliValidationError(msg, field="price_per_request")


def _max_in_flight(options: JobOptions, worker: PageWorker) -> int:
    settings = worker.engine.settings
    most = get_provider(settings.provider).max_parallel
    limit = options.max_in_flight or settings.text_max_concurrency or DEFAULT_CONCURRENCY
    if most is not None and limit > most:
        msg = (
            f"max_in_flight={limit} is more than the {most} parallel requests "
            f"{get_provider(settings.provider).label} allows"
        )
        raise ArliValidationError(msg, field="max_in_flight", allowed=f"1-{most}")
    return limit


@dataclass
class _Prepared:
    options: JobOptions
    sink: Sink
    tasks: list[PageTask]
    failures: list[FileFailure]
    worker: PageWorker
    limit: int
    resume: bool
    inputs: list[str]


def prepare(
    inputs: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    options: JobOptions,
    *,
    overwrite: bool = False,
) -> _Prepared:
    """Everything checked before the first request (see the module docstring).

    Raises:
        ArliValidationError: a bad option, destination or page selection (every bad
            selection is named).
        ArliConfigError: no API key.
    """
    check_options(options)
    names = [os.fspath(i) for i in inputs]
    if not names:
        msg = "nothing to OCR: name files, directories, globs or @manifest files"
        raise ArliValidationError(msg, field="inputs")
    sink = Sink(out_dir, overwrite=overwrite)
    resume = sink.check(options.fingerprint())
    tasks, failures = plan(names, options)
    bad = [f for f in failures if f.cause == "pages"]
    if bad:
        lines = "; ".join(f.error for f in bad)
        msg = f"the page selection does not fit {len(bad)} document(s): {lines}"
        raise ArliValidationError(msg, field="pages")
    cache = options.cache_dir or str(sink.cache_dir)
    worker = PageWorker(options, None, cache_dir=cache)
    limit = _max_in_flight(options, worker)  # builds the engine: key and options checked
    worker.limiter = DrainGate(Limiter(limit))
    worker._engine = None  # rebuilt on first use with the job's limiter
    return _Prepared(options, sink, tasks, failures, worker, limit, resume, names)


async def arun_job(
    inputs: Iterable[str | os.PathLike[str]] | _Prepared,
    out_dir: str | os.PathLike[str] | None = None,
    options: JobOptions | None = None,
    *,
    overwrite: bool = False,
    show_progress: bool | None = None,
    on_progress: ProgressCallback | None = None,
) -> JobResult:
    """Run a job (see :func:`run_job`); cancelling it writes what finished."""
    if isinstance(inputs, _Prepared):
        job = inputs
    else:
        if out_dir is None:
            msg = "out_dir is required"
            raise ArliValidationError(msg, field="out")
        job = prepare(inputs, out_dir, options or JobOptions(), overwrite=overwrite)
    return await _execute(job, show_progress, on_progress)


class JobRun:
    """One run's bookkeeping, the same for every runner: records in, outputs out.

    A runner gives it each record as its page finishes (:meth:`add`); at the end (also
    after Ctrl-C or a failure) :meth:`finish` writes the Markdown, the sorted
    ``pages.jsonl`` and ``report.json``, and :meth:`result` returns what the job did (or
    raises the first failed page under ``on_page_error="raise"``). The local runner feeds
    it from its lanes, the Ray runner from the records its actors stream back.

    Args:
        job: :func:`prepare`'s result.
        show_progress: draw a progress bar (``None``: when stderr is a terminal).
        on_progress: called with a :class:`~arli.ocr.job.progress.ProgressInfo` per page.
    """

    def __init__(
        self,
        job: _Prepared,
        show_progress: bool | None = None,
        on_progress: ProgressCallback | None = None,
    ):
        self.job = job
        options = job.options
        earlier = job.sink.open(options.fingerprint(), job.inputs, resume=job.resume)
        self.records: dict[tuple[str, int], PageRecord] = {r.key: r for r in earlier}
        #: The pages this run must do (not done by an earlier run of the job).
        self.todo = [t for t in job.tasks if not self._done(t)]
        self.progress = JobProgress(
            len(job.tasks),
            already_done=len(job.tasks) - len(self.todo),
            show=show_progress,
            callback=on_progress,
        )
        self.started = time.monotonic()
        self.pages = 0
        self.requests = 0
        self.stop: list[PageRecord] = []
        self.report: dict[str, Any] = {}

    def _done(self, task: PageTask) -> bool:
        record = self.records.get(task.key)
        return record is not None and record.done

    @property
    def stopped(self) -> bool:
        """A page failed under ``on_page_error="raise"``: send nothing more."""
        return bool(self.stop)

    def add(self, record: PageRecord) -> bool:
        """Write one finished page (see :meth:`Sink.write`); whether the job must stop now."""
        self.job.sink.write(record)
        self.records[record.key] = record
        self.pages += 1
        if not record.cached:
            self.requests += record.attempts
        self.progress.update(record)
        if record.status == "error" and self.job.options.on_page_error == "raise":
            self.stop.append(record)
        return self.stopped

    def finish(self, state: str = "complete", **extra: Any) -> dict[str, Any]:
        """Write every output; the report (``extra`` keys added to it).

        Args:
            state: ``"complete"`` unless the run was cancelled (``"interrupted"``) or
                failed (``"stopped"``); a run that stopped at a failed page or left
                pages undone is reported as such whatever is passed.
            **extra: keys added to the report (a runner's own, or ``out_dir``).
        """
        job, options = self.job, self.job.options
        self.progress.close()
        if self.stop and state == "complete":
            state = "stopped"
        if self.pages < len(self.todo) and state == "complete":
            state = "interrupted"
        docs = failed_documents(job.tasks, self.records, options.max_page_error_rate)
        report = build_report(
            options=options,
            tasks=job.tasks,
            records=self.records,
            file_failures=job.failures,
            document_failures=docs,
            elapsed=time.monotonic() - self.started,
            pages_this_run=self.pages,
            requests_this_run=self.requests,
            max_in_flight=job.limit,
            state=state,
        )
        report["out_dir"] = str(job.sink.out_dir)
        report.update(extra)
        job.sink.finish(
            job.tasks,
            report,
            placeholders=options.on_page_error == "placeholder",
            failed_documents=[d.doc_id for d in docs],
        )
        self.report = report
        return report

    def result(self) -> JobResult:
        """What the run did (after :meth:`finish`).

        Raises:
            OCRPageError: a page failed under ``on_page_error="raise"``.
        """
        report, out = self.report, self.job.sink.out_dir
        if self.stop:
            first = self.stop[0]
            msg = (
                f"OCR failed on page {first.page} of {first.source} after {first.attempts} "
                f"attempt(s): {first.error_type}: {first.error}; the job stopped (finished "
                f"pages are in {out}); rerun the same command to retry the failed pages, or "
                "use --on-error skip/placeholder to go past them"
            )
            raise OCRPageError(
                msg,
                source=first.source,
                page=first.page,
                page_label=first.page_label,
                report=report,
            )
        return JobResult(out, report, str(report["state"]))


async def _execute(
    job: _Prepared, show_progress: bool | None, on_progress: ProgressCallback | None
) -> JobResult:
    run = JobRun(job, show_progress, on_progress)
    pending = collections.deque(run.todo)
    state = "complete"
    sent: dict[asyncio.Task[None], list[bool]] = {}
    draining = False

    async def lane() -> None:
        me = asyncio.current_task()
        assert me is not None
        while pending and not run.stopped and not draining:
            sent[me] = new_page()
            record = await job.worker.arun(pending.popleft())
            run.add(record)  # no await between the answer and its record

    lanes = [
        asyncio.create_task(lane()) for _ in range(min(len(pending), job.limit + RENDER_AHEAD))
    ]
    try:
        with cancel_on_sigterm(asyncio.current_task()):
            try:
                if lanes:
                    await asyncio.wait(lanes, return_when=asyncio.FIRST_EXCEPTION)
                for lane_task in lanes:
                    if lane_task.done() and lane_task.exception() is not None:
                        raise lane_task.exception()  # type: ignore[misc]
            except asyncio.CancelledError:
                # Ctrl-C / SIGTERM: keep what the server is answering (module interrupt)
                state = "interrupted"
                draining = True
                await _drain(job, lanes, sent)
                raise
    except asyncio.CancelledError:
        state = "interrupted"
        raise
    except BaseException:
        state = "stopped"
        raise
    finally:
        for lane_task in lanes:
            lane_task.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)
        run.finish(state)
        with contextlib.suppress(Exception):
            await job.worker.aclose()
    return run.result()


async def _drain(
    job: _Prepared, lanes: list[asyncio.Task[None]], sent: dict[asyncio.Task[None], list[bool]]
) -> None:
    """Cancel the pages that sent nothing; wait for those the server is answering."""
    if isinstance(job.worker.limiter, DrainGate):
        job.worker.limiter.close()
    busy = []
    for lane_task in lanes:
        if lane_task.done():
            continue
        if page_started(sent.get(lane_task)):
            busy.append(lane_task)
        else:
            lane_task.cancel()
    if busy:
        _log.warning(
            "interrupted: finishing the %d page(s) already sent, so their answers are kept "
            "(interrupt again to abandon them)",
            len(busy),
        )
        await asyncio.wait(busy)


def run_job(
    inputs: Sequence[str | os.PathLike[str]] | _Prepared,
    out_dir: str | os.PathLike[str] | None = None,
    options: JobOptions | None = None,
    *,
    overwrite: bool = False,
    show_progress: bool | None = None,
    on_progress: ProgressCallback | None = None,
) -> JobResult:
    """Run a bulk OCR job over ``inputs`` into ``out_dir`` (see the module docstring).

    Resumes when ``out_dir`` holds an earlier run of the same job. Ctrl-C or SIGTERM (or
    cancelling :func:`arun_job`) finishes the pages already sent, writes every finished
    page and raises ``KeyboardInterrupt`` (a second Ctrl-C abandons the pages in flight).

    Args:
        inputs: files, directories, globs and ``@manifest`` files (or :func:`prepare`'s
            result).
        out_dir: the output directory.
        options: the job's options.
        overwrite: start afresh in a directory holding another job.
        show_progress: draw a progress bar (``None``: when stderr is a terminal).
        on_progress: called with a :class:`~arli.ocr.job.progress.ProgressInfo` per page.

    Raises:
        ArliValidationError: a bad option, destination or page selection (before any request).
        OCRPageError: a page failed under ``on_page_error="raise"`` (after writing).
        AuthenticationError: the key was rejected (also 403, 404).
    """
    coro = arun_job(
        inputs,
        out_dir,
        options,
        overwrite=overwrite,
        show_progress=show_progress,
        on_progress=on_progress,
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        try:
            return asyncio.run(coro)
        except asyncio.CancelledError:  # SIGTERM (cancel_on_sigterm): written, like Ctrl-C
            raise KeyboardInterrupt from None
    return shared_loop().run(coro)

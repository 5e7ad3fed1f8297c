"""The progress of one OCR run: the progress bar and the run's shared state.

:class:`Progress` draws a tqdm bar when tqdm is installed, else one line on stderr that
rewrites itself. :class:`Run` holds what the tasks of one run share: the request and
rendering limits, the report, the progress, the page callback and the stop flag.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Callable
from typing import Any, TextIO

from arli.ocr.results import OCRReport, PageResult

__all__ = ["RENDER_AHEAD", "PageCallback", "Progress", "Run"]

#: Rendered pages allowed beyond ``max_concurrency`` (the next pages, ready to send).
RENDER_AHEAD = 2

PageCallback = Callable[[PageResult, int, "int | None"], None]


class Progress:
    """A tqdm bar when tqdm is installed, else one line on stderr that rewrites itself.

    Args:
        enabled: draw anything at all (``False``: every method does nothing).
    """

    def __init__(self, enabled: bool):
        self._bar: Any = None
        self._stream: TextIO | None = None
        self._total: int | None = None
        self._done = 0
        if not enabled:
            return
        try:
            tqdm = importlib.import_module("tqdm.auto").tqdm
        except ImportError:
            self._stream = sys.stderr
        else:
            self._bar = tqdm(total=None, unit="page", desc="OCR")

    def total(self, total: int) -> None:
        """Set the number of pages (known once every document is open)."""
        self._total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def advance(self) -> None:
        """Count one more finished page."""
        self._done += 1
        if self._bar is not None:
            self._bar.update(1)
        elif self._stream is not None:
            of = f"/{self._total}" if self._total is not None else ""
            self._stream.write(f"\rOCR: {self._done}{of} pages")
            self._stream.flush()

    def close(self) -> None:
        """End the bar (or the line)."""
        if self._bar is not None:
            self._bar.close()
        elif self._stream is not None and self._done:
            self._stream.write("\n")
            self._stream.flush()


class Run:
    """The state of one run: limits, report, progress, and the stop flag.

    Args:
        report: the report the run fills.
        concurrency: requests in flight at most (``concurrency + RENDER_AHEAD`` pages
            rendered at most).
        show_progress: draw a progress bar.
        callback: ``callback(result, done, total)`` after each page.
    """

    def __init__(
        self,
        report: OCRReport,
        concurrency: int,
        *,
        show_progress: bool = False,
        callback: PageCallback | None = None,
    ):
        self.report = report
        self.requests = asyncio.Semaphore(concurrency)
        self.rendered = asyncio.Semaphore(concurrency + RENDER_AHEAD)
        self._stopped = False
        self.tasks: set[asyncio.Task[PageResult]] = set()
        self.known_total: int | None = None
        self.progress = Progress(show_progress)
        self.callback = callback
        self.single_source = False

    def is_stopped(self) -> bool:
        """Whether no further page may start (a page failed under ``"raise"``, or the end)."""
        return self._stopped

    def stop(self) -> None:
        """Start no further page (pages under way finish)."""
        self._stopped = True

    def add_pages(self, count: int) -> None:
        """Count the selected pages of a document just opened."""
        self.report.pages_total += count

    def all_open(self) -> None:
        """Every document is open: the total is known."""
        self.known_total = self.report.pages_total
        self.progress.total(self.report.pages_total)

    def page_done(self, result: PageResult) -> None:
        """Record a finished page: report, progress, then the callback."""
        self.report._page_done(result)
        self.progress.advance()
        if self.callback is not None:
            self.callback(result, self.report.pages_done, self.known_total)

"""A bulk job's progress: a tqdm bar for people, a callback for programs.

The bar shows pages done/total, pages/s, the ETA and the failures so far; it is drawn only
when stderr is a terminal (``show=None``) or when asked (``show=True``). tqdm is in the
``cli`` extra (``pip install "arli-integrations[cli]"``); it is imported only when a bar is
drawn. The callback gets a :class:`ProgressInfo` after every page, bar or not.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from arli._errors import OCRDependencyError
from arli.ocr.job.tasks import PageRecord

__all__ = ["JobProgress", "ProgressCallback", "ProgressInfo"]


@dataclass(frozen=True)
class ProgressInfo:
    """Where a job stands.

    Attributes:
        done: pages done (earlier runs of a resumed job included).
        total: pages in the job.
        failed: pages failed so far.
        pages_per_second: this run's rate.
        eta_s: seconds left at that rate (``None`` before the first page).
        record: the page just finished.
    """

    done: int
    total: int
    failed: int
    pages_per_second: float
    eta_s: float | None
    record: PageRecord


ProgressCallback = Callable[[ProgressInfo], None]


class JobProgress:
    """Counts pages and draws the bar (see the module docstring).

    Args:
        total: pages in the job.
        already_done: pages done by earlier runs.
        show: draw a bar (``None``: when stderr is a terminal).
        callback: called with a :class:`ProgressInfo` after each page.

    Raises:
        OCRDependencyError: ``show=True`` and tqdm is not installed.
    """

    def __init__(
        self,
        total: int,
        *,
        already_done: int = 0,
        show: bool | None = None,
        callback: ProgressCallback | None = None,
    ):
        self.total = total
        self.done = already_done
        self.failed = 0
        self.callback = callback
        self._started = time.monotonic()
        self._this_run = 0
        self._bar: Any = None
        if show is None:
            show = sys.stderr.isatty()
        if show:
            try:
                tqdm = importlib.import_module("tqdm").tqdm
            except ImportError:
                msg = (
                    'the progress bar needs tqdm: pip install "arli-integrations[cli]" '
                    "(or pass --no-progress)"
                )
                raise OCRDependencyError(msg) from None
            self._bar = tqdm(
                total=total, initial=already_done, unit="page", desc="OCR", dynamic_ncols=True
            )

    def update(self, record: PageRecord) -> None:
        """Count one finished page."""
        self.done += 1
        self._this_run += 1
        if record.status == "error":
            self.failed += 1
        if self._bar is not None:
            if record.status == "error":
                self._bar.set_postfix(failed=self.failed, refresh=False)
            self._bar.update(1)
        if self.callback is not None:
            elapsed = max(time.monotonic() - self._started, 1e-9)
            rate = self._this_run / elapsed
            left = self.total - self.done
            eta = left / rate if rate > 0 else None
            self.callback(ProgressInfo(self.done, self.total, self.failed, rate, eta, record))

    def close(self) -> None:
        """End the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

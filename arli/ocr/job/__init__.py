"""Bulk OCR: a resumable job over a corpus of files (see :mod:`arli.ocr.job.tasks`).

- :mod:`arli.ocr.job.tasks`: the interface every runner uses (options, tasks, records,
  :func:`plan`, :class:`PageWorker`, :class:`Sink`).
- :mod:`arli.ocr.job.inputs`: files, directories, globs and manifests into page tasks.
- :mod:`arli.ocr.job.worker`: one page rendered, transcribed, recorded.
- :mod:`arli.ocr.job.sink`: the output directory and resume.
- :mod:`arli.ocr.job.textlayer`: when a PDF's text layer is good enough.
"""

from __future__ import annotations

from arli.ocr.job.tasks import (
    FileFailure,
    JobOptions,
    PageRecord,
    PageTask,
    PageWorker,
    Sink,
    SlotLimiter,
    plan,
)

__all__ = [
    "FileFailure",
    "JobOptions",
    "PageRecord",
    "PageTask",
    "PageWorker",
    "Sink",
    "SlotLimiter",
    "plan",
]

"""What an OCR run gives back: page results, failures, the run report, and cache entries.

:class:`PageResult` is one page (its text, or why there is none: :class:`PageFailure`);
:class:`OCRReport` counts a run's pages, tokens and requests and keeps every failure;
:class:`OCRResult` is a finished run's pages with its report. :func:`page_metadata` is the
metadata both framework skins attach to a page's document, and :func:`cache_entry` /
:func:`apply_cache_entry` turn a finished page into a cache entry and back.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from arli.text.parse import Usage

__all__ = [
    "OCRReport",
    "OCRResult",
    "PageFailure",
    "PageResult",
    "apply_cache_entry",
    "cache_entry",
    "page_metadata",
]


@dataclass(frozen=True)
class PageFailure:
    """Why a page (or a whole document, ``page=None``) could not be transcribed.

    Attributes:
        source: the document.
        page: the 1-based page number (``None`` when the document itself failed).
        page_label: the page label.
        error: the error message (never containing the API key).
        error_type: the exception class name (``"InternalServerError"``...).
        attempts: requests sent for the page (0: it failed before a request).
        status_code: the HTTP status of the last answer, if there was one.
    """

    source: str
    page: int | None
    page_label: str | None
    error: str
    error_type: str
    attempts: int = 0
    status_code: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The failure as a JSON-serializable dict."""
        return dataclasses.asdict(self)


@dataclass
class PageResult:
    """The transcription of one page (or why there is none).

    Attributes:
        source: the document (path, URL or name).
        source_index: the document's position in the run's inputs.
        page: the 1-based page number in the document (never renumbered); ``0`` for the
            document-level result of a document that could not be opened
            (``on_page_error="placeholder"``).
        page_label: the PDF page label, else the page number as text.
        total_pages: how many pages the document has (not just the selected ones).
        text: the transcription ("" for a blank page or a failed one).
        model: the model that answered (or was asked).
        finish_reason: the model's finish reason (``None`` without a model answer).
        usage: tokens of every request sent for the page (semantic retries included).
        attempts: requests sent for the page, retries included.
        image_width: width of the image sent, in pixels.
        image_height: height of the image sent, in pixels.
        image_mime: MIME type of the image sent.
        dpi: the rendering resolution (PDF pages only).
        blank: the page was detected as blank and not sent.
        cached: the transcription came from the cache.
        truncated: the answer was still cut off by ``max_tokens`` after the retry.
        repetition: the answer ends in a repetition loop that retries did not fix.
        error: the failure, when the page could not be transcribed.
        warnings: notes about the page (a retry that failed, a loop that stayed...).
        elapsed: seconds spent on the page (rendering excluded).
        exception: the exception behind ``error`` (not serialized).
        cached_attempts: for a cached page, the requests its transcription took then.
    """

    source: str
    source_index: int
    page: int
    page_label: str
    total_pages: int
    text: str = ""
    model: str = ""
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    attempts: int = 0
    image_width: int = 0
    image_height: int = 0
    image_mime: str = ""
    dpi: float | None = None
    blank: bool = False
    cached: bool = False
    truncated: bool = False
    repetition: bool = False
    error: PageFailure | None = None
    warnings: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    exception: BaseException | None = field(default=None, repr=False, compare=False)
    cached_attempts: int = field(default=0, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """Whether the page was transcribed (a blank page counts as transcribed)."""
        return self.error is None

    @property
    def page_index(self) -> int:
        """The 0-based page number (LangChain's ``page`` metadata; -1: the whole document)."""
        return self.page - 1

    def as_dict(self) -> dict[str, Any]:
        """The result as a JSON-serializable dict (without :attr:`exception`)."""
        out = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("exception", "cached_attempts")
        }
        out["error"] = self.error.as_dict() if self.error is not None else None
        out["warnings"] = list(self.warnings)
        out["usage"] = {
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
            "total_tokens": self.usage.total_tokens,
        }
        return out


def page_metadata(result: PageResult) -> dict[str, Any]:
    """The metadata both framework skins attach to a page's document.

    Keys: ``page_number`` (1-based, the same number as ``page`` in the CLI's JSONL and the
    bulk job's ``pages.jsonl``; ``0`` for a document that could not be opened), ``page_label``,
    ``total_pages``, ``model``, ``prompt_tokens``,
    ``completion_tokens``, ``finish_reason`` (``""`` when no model answered),
    ``image_width``, ``image_height``, ``truncated``, ``blank``, ``cached``; ``dpi`` for
    PDF pages; ``ocr_error`` and ``ocr_attempts`` for a failed page. No value is ``None``
    (several vector stores reject ``None`` metadata).
    """
    meta: dict[str, Any] = {
        "page_number": result.page,
        "page_label": result.page_label,
        "total_pages": result.total_pages,
        "model": result.model,
        "prompt_tokens": result.usage.prompt_tokens,
        "completion_tokens": result.usage.completion_tokens,
        "finish_reason": result.finish_reason or "",
        "image_width": result.image_width,
        "image_height": result.image_height,
        "truncated": result.truncated,
        "blank": result.blank,
        "cached": result.cached,
    }
    if result.dpi is not None:
        meta["dpi"] = result.dpi
    if result.error is not None:
        meta["ocr_error"] = f"{result.error.error_type}: {result.error.error}"
        meta["ocr_attempts"] = result.error.attempts
    return meta


@dataclass
class OCRReport:
    """What a run did: counts, tokens spent, and every failure.

    Attributes:
        model: the model asked.
        sources: the documents of the run.
        pages_total: pages selected in the documents opened so far.
        pages_done: pages finished (in any way).
        pages_ok: pages transcribed (blank and cached ones included).
        pages_failed: pages that failed (raised, skipped or placeholders).
        pages_skipped: failed pages left out of the results (``on_page_error="skip"``).
        pages_blank: pages detected as blank and not sent.
        pages_cached: pages answered from the cache.
        pages_truncated: pages whose answer stayed cut off by ``max_tokens``.
        pages_left_out: selected pages not transcribed because of ``max_pages``.
        prompt_tokens: prompt tokens spent in this run (cached pages cost nothing).
        completion_tokens: completion tokens spent in this run.
        requests: requests sent, retries included.
        failures: every failure, in page order of discovery.
        elapsed: seconds from the start of the run to its end (or to now).
        finished: whether the run is over.
    """

    model: str
    sources: list[str] = field(default_factory=list)
    pages_total: int = 0
    pages_done: int = 0
    pages_ok: int = 0
    pages_failed: int = 0
    pages_skipped: int = 0
    pages_blank: int = 0
    pages_cached: int = 0
    pages_truncated: int = 0
    pages_left_out: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    failures: list[PageFailure] = field(default_factory=list)
    elapsed: float = 0.0
    finished: bool = False
    _started: float = field(default_factory=time.monotonic, repr=False)

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failures

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens spent in this run."""
        return self.prompt_tokens + self.completion_tokens

    def _page_done(self, result: PageResult) -> None:
        self.pages_done += 1
        self.requests += result.attempts
        if result.error is not None:
            self.pages_failed += 1
        else:
            self.pages_ok += 1
        self.pages_blank += result.blank
        self.pages_truncated += result.truncated
        if result.cached:
            self.pages_cached += 1
        else:
            self.prompt_tokens += result.usage.prompt_tokens
            self.completion_tokens += result.usage.completion_tokens

    def _finish(self) -> None:
        self.elapsed = time.monotonic() - self._started
        self.finished = True

    def summary(self) -> str:
        """One paragraph for people: counts, tokens, and the failed pages."""
        head = (
            f"OCR with {self.model}: {self.pages_ok} of {self.pages_total} page"
            f"{'s' if self.pages_total != 1 else ''} transcribed"
        )
        parts = [head]
        for count, what in (
            (self.pages_failed, "failed"),
            (self.pages_blank, "blank"),
            (self.pages_cached, "from the cache"),
            (self.pages_truncated, "truncated"),
            (self.pages_left_out, "left out (max_pages)"),
        ):
            if count:
                parts.append(f"{count} {what}")
        text = ", ".join(parts)
        text += (
            f"; {self.prompt_tokens} prompt + {self.completion_tokens} completion tokens, "
            f"{self.requests} request{'s' if self.requests != 1 else ''}"
        )
        elapsed = self.elapsed if self.finished else time.monotonic() - self._started
        text += f", {elapsed:.1f} s."
        for failure in self.failures:
            where = f"page {failure.page_label}" if failure.page is not None else "the document"
            text += f"\n  {failure.source} {where}: {failure.error_type}: {failure.error}"
        return text

    def as_dict(self) -> dict[str, Any]:
        """The report as a JSON-serializable dict."""
        out = {k: v for k, v in dataclasses.asdict(self).items() if not k.startswith("_")}
        out["failures"] = [f.as_dict() for f in self.failures]
        return out


@dataclass
class OCRResult:
    """The pages of a finished run (in page order) and its report.

    Attributes:
        pages: the page results (failed pages are included with ``"placeholder"`` only).
        report: the run's report.
    """

    pages: list[PageResult]
    report: OCRReport

    def __iter__(self) -> Iterator[PageResult]:
        return iter(self.pages)

    def __len__(self) -> int:
        return len(self.pages)

    def __getitem__(self, index: int) -> PageResult:
        return self.pages[index]

    def text(self, delimiter: str = "\n\n") -> str:
        """Every page's text joined by ``delimiter``."""
        return delimiter.join(p.text for p in self.pages)


def apply_cache_entry(result: PageResult, entry: Mapping[str, Any]) -> None:
    """Fill ``result`` from a cache entry (see :func:`cache_entry`) and mark it cached."""
    result.text = str(entry.get("text", ""))
    result.finish_reason = entry.get("finish_reason")
    result.model = str(entry.get("model") or result.model)
    result.usage = Usage(
        prompt_tokens=int(entry.get("prompt_tokens", 0)),
        completion_tokens=int(entry.get("completion_tokens", 0)),
        total_tokens=int(entry.get("prompt_tokens", 0)) + int(entry.get("completion_tokens", 0)),
    )
    result.truncated = bool(entry.get("truncated", False))
    result.repetition = bool(entry.get("repetition", False))
    result.warnings = [str(w) for w in entry.get("warnings", [])]
    result.cached = True
    result.cached_attempts = int(entry.get("attempts", 0))


def cache_entry(result: PageResult) -> dict[str, Any]:
    """The cache entry of a transcribed page (JSON-serializable)."""
    return {
        "text": result.text,
        "finish_reason": result.finish_reason,
        "model": result.model,
        "prompt_tokens": result.usage.prompt_tokens,
        "completion_tokens": result.usage.completion_tokens,
        "truncated": result.truncated,
        "repetition": result.repetition,
        "warnings": list(result.warnings),
        "attempts": result.attempts,
        "stored_at": time.time(),
    }

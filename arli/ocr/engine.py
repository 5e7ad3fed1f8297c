"""OCR through a vision chat model: documents in, ordered page transcriptions out.

:class:`OCREngine` renders pages lazily (:mod:`arli.ocr.render`), sends each page as one
user message holding the prompt and the page image through the same chat request builder
as ``ChatArli`` (:func:`arli.text.payload.plan_chat`: every sampler extra works here too),
and yields :class:`PageResult` objects **in page order**, whatever order the answers come
back in.

How a run behaves:

- **Bounded work.** At most ``max_concurrency`` requests are in flight (default: the
  process-wide limit for the key when one is set, else 4), and at most
  ``max_concurrency + 2`` rendered pages exist at any time: a 1000-page PDF takes the
  memory of a few pages.
- **Retries.** The transport retries 408, 429, 5xx, timeouts and connection errors with
  exponential backoff, honouring ``Retry-After`` (``max_retries``, default 4; a timed-out
  page is re-sent, which is safe here). 400, 401, 403, 404 and 422 are never retried.
  The engine adds what only it can judge: an answer cut off by ``max_tokens``
  (``finish_reason == "length"``) is asked again once with ``length_retry_factor`` times
  the tokens, then kept and marked ``truncated``; an answer stuck in a repetition loop is
  asked again at each of ``retry_temperatures``.
- **Failures are never silent.** ``on_page_error="raise"`` (default) raises
  :class:`~arli.OCRPageError` naming the page (the pages before it are yielded first,
  pages under way finish, no further page is started). ``"skip"`` leaves the page out,
  ``"placeholder"`` yields it with empty text and its ``error`` set. Either way the
  failure (page, label, error, attempts) is in the run's :class:`OCRReport` and in the
  log, and error text never goes into page text. Configuration errors that would fail
  every page (401, 403, 404: a wrong key or model) end the run with their own typed error.
- **Blank pages** (``skip_blank_pages=True``) are detected from pixel statistics and not
  sent at all; they come back with empty text and ``blank=True``.
- **Cache.** With ``cache="dir/"`` each finished page is stored under the SHA-256 of its
  image and request (:mod:`arli.ocr.cache`); a re-run after an interruption pays only for
  the pages not done yet.
- **Sync and async.** :meth:`OCREngine.aocr` / :meth:`OCREngine.aiter_pages` are native
  async; :meth:`OCREngine.ocr` / :meth:`OCREngine.iter_pages` run the same code on a
  private event loop in a worker thread, so they also work inside a running loop
  (Jupyter, FastAPI) without ``nest_asyncio``.

Example:
    .. code-block:: python

        from arli.ocr import OCREngine

        with OCREngine(model="Qwen/Qwen3.5-VL", on_page_error="placeholder") as engine:
            result = engine.ocr("scan.pdf", pages="1-3,7")
        for page in result:
            print(page.page, page.page_label, page.finish_reason, page.text[:80])
        print(result.report.summary())
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import functools
import importlib
import logging
import os
import sys
import time
from collections.abc import AsyncGenerator, Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

import httpx
from pydantic import SecretStr

from arli._errors import (
    ArliConfigError,
    ArliConnectionError,
    ArliError,
    ArliResponseError,
    ArliStatusError,
    ArliValidationError,
    AuthenticationError,
    NotFoundError,
    OCRDependencyError,
    OCRPageError,
    OCRSourceError,
    PermissionDeniedError,
)
from arli._kwargs import checks_arguments
from arli._limits import Limiter
from arli._providers import get_provider
from arli._settings import SETTINGS_ARGUMENTS, ArliSettings
from arli._transport import PooledClient, RetryPolicy, Transport, shared_limiter
from arli.media import afetch_url
from arli.ocr._sync import shared_loop
from arli.ocr.cache import DirectoryCache, OCRCache, cache_key
from arli.ocr.prompts import (
    OutputFormat,
    build_messages,
    looks_repetitive,
    resolve_prompt,
    strip_code_fences,
)
from arli.ocr.render import (
    DEFAULT_MAX_DOWNLOAD_BYTES,
    Document,
    ImageFormat,
    OCRSource,
    PageImage,
    RawPage,
    RenderOptions,
    as_sources,
    encode_executor,
    open_document,
    parse_page_spec,
    render_executor,
    select_pages,
)
from arli.text.calls import CallOptions, TextCalls
from arli.text.client import TextClient
from arli.text.parse import Usage
from arli.text.payload import RequestPlan

__all__ = [
    "DEFAULT_OCR_MODEL",
    "DOCUMENTED_VISION_MODELS",
    "OCREngine",
    "OCRReport",
    "OCRResult",
    "OnPageError",
    "PageFailure",
    "PageResult",
    "aocr",
    "ocr",
    "page_metadata",
]

logger = logging.getLogger("arli.ocr")

#: The vision models each provider's documents list (seed 002, "Vision / OCR Guide": Arli's
#: take images as base64 only, which is how pages are always sent; Featherless's take both).
DOCUMENTED_VISION_MODELS: dict[str, tuple[str, ...]] = {
    "arli": ("Qwen/Qwen3.5-VL", "Qwen/Qwen3.5-27B-Derestricted"),
    "arli-proxy": ("Qwen/Qwen3.5-VL", "Qwen/Qwen3.5-27B-Derestricted"),
    "featherless": (
        "google/gemma-3-27b-it",
        "google/gemma-3-12b-it",
        "google/gemma-3-4b-it",
        "mistralai/Mistral-Small-3.1-24B-Instruct-2503",
        "mistralai/Mistral-Small-3.2-24B-Instruct-2506",
        "mistralai/Magistral-Small-2506-24B-Instruct",
    ),
}
#: The vision model used when none is given (``ARLI_OCR_MODEL`` overrides it): Arli's
#: documented "Document/vision" model.
DEFAULT_OCR_MODEL = "Qwen/Qwen3.5-VL"
#: The default vision model per provider (Featherless recommends gemma-3-27b-it for OCR).
DEFAULT_OCR_MODELS = {"featherless": "google/gemma-3-27b-it"}
#: Pages in flight when neither ``max_concurrency`` nor a process-wide limit is set.
DEFAULT_CONCURRENCY = 4
_RENDER_AHEAD = 2

OnPageError = Literal["raise", "skip", "placeholder"]
PageCallback = Callable[["PageResult", int, "int | None"], None]

# The engine's transport takes one limiter slot per attempt: counting the slots a page takes
# tells how many requests it sent (retries included) without a second retry loop.
_ATTEMPTS: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "arli_ocr_attempts", default=None
)
_FATAL = (AuthenticationError, PermissionDeniedError, NotFoundError, ArliConfigError)


class _AttemptCounter(Limiter):
    """Counts requests per page for the engine's transport; defers to the shared limiter."""

    def __init__(self, inner: Limiter | None):
        super().__init__(1)
        self._inner = inner

    @staticmethod
    def _count() -> None:
        counter = _ATTEMPTS.get()
        if counter is not None:
            counter[0] += 1

    def acquire(self) -> None:
        """Count the attempt, then take a slot of the shared limiter (if any)."""
        self._count()
        if self._inner is not None:
            self._inner.acquire()

    async def aacquire(self) -> None:
        """Count the attempt, then await a slot of the shared limiter (if any)."""
        self._count()
        if self._inner is not None:
            await self._inner.aacquire()

    def release(self) -> None:
        """Give the shared limiter's slot back."""
        if self._inner is not None:
            self._inner.release()


class _OCRTextClient(TextClient):
    """A :class:`TextClient` over the engine's own transport (OCR retry policy, counting)."""

    def __init__(
        self,
        settings: ArliSettings,
        transport: Transport,
        http_async_client: httpx.AsyncClient | None,
    ):
        super().__init__(settings=settings, http_async_client=http_async_client)
        self._transport = transport


# -- results ---------------------------------------------------------------------------------


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
        page: the 1-based page number in the document (never renumbered).
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

    @property
    def ok(self) -> bool:
        """Whether the page was transcribed (a blank page counts as transcribed)."""
        return self.error is None

    @property
    def page_index(self) -> int:
        """The 0-based page number (LangChain's ``page`` metadata)."""
        return self.page - 1

    def as_dict(self) -> dict[str, Any]:
        """The result as a JSON-serializable dict (without :attr:`exception`)."""
        out = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "exception"
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

    Keys: ``page_label``, ``total_pages``, ``model``, ``prompt_tokens``,
    ``completion_tokens``, ``finish_reason`` (``""`` when no model answered),
    ``image_width``, ``image_height``, ``truncated``, ``blank``, ``cached``; ``dpi`` for
    PDF pages; ``ocr_error`` and ``ocr_attempts`` for a failed page. No value is ``None``
    (several vector stores reject ``None`` metadata).
    """
    meta: dict[str, Any] = {
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


# -- the run ---------------------------------------------------------------------------------


@dataclass
class _Answer:
    text: str
    finish_reason: str | None
    model: str
    temperature: float | None


class _Progress:
    """A tqdm bar when tqdm is installed, else one line on stderr that rewrites itself."""

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
        self._total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def advance(self) -> None:
        self._done += 1
        if self._bar is not None:
            self._bar.update(1)
        elif self._stream is not None:
            of = f"/{self._total}" if self._total is not None else ""
            self._stream.write(f"\rOCR: {self._done}{of} pages")
            self._stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._stream is not None and self._done:
            self._stream.write("\n")
            self._stream.flush()


class _Run:
    """The state of one run: limits, report, progress, and the stop flag."""

    def __init__(self, engine: OCREngine, report: OCRReport, concurrency: int):
        self.report = report
        self.requests = asyncio.Semaphore(concurrency)
        self.rendered = asyncio.Semaphore(concurrency + _RENDER_AHEAD)
        self._stopped = False
        self.tasks: set[asyncio.Task[PageResult]] = set()
        self.known_total: int | None = None
        self.progress = _Progress(engine.show_progress)
        self.callback = engine.on_page_done
        self.single_source = False

    def is_stopped(self) -> bool:
        """Whether no further page may start (a page failed under ``"raise"``, or the end)."""
        return self._stopped

    def stop(self) -> None:
        self._stopped = True

    def add_pages(self, count: int) -> None:
        self.report.pages_total += count

    def all_open(self) -> None:
        self.known_total = self.report.pages_total
        self.progress.total(self.report.pages_total)

    def page_done(self, result: PageResult) -> None:
        self.report._page_done(result)
        self.progress.advance()
        if self.callback is not None:
            self.callback(result, self.report.pages_done, self.known_total)


@dataclass
class _End:
    pass


@dataclass
class _Fatal:
    error: BaseException


@dataclass
class _SourceFailed:
    index: int
    source: OCRSource
    error: OCRSourceError


# -- the engine ------------------------------------------------------------------------------


@checks_arguments(passes_to=SETTINGS_ARGUMENTS, extras="extra_body")
class OCREngine(PooledClient):
    """Transcribe images and PDFs page by page with a vision model (see the module docstring).

    Args:
        model: the vision model (else ``ARLI_OCR_MODEL``, else :data:`DEFAULT_OCR_MODEL`).
        api_key: the text API key (else ``ARLI_TEXT_KEY`` or ``ARLIAI_API_KEY``).
        base_url: any OpenAI-compatible endpoint that accepts base64 images (else
            ``ARLI_TEXT_BASE_URL``/``ARLI_BASE_URL``, else Arli's), e.g. Featherless.
        settings: complete settings (``api_key``, ``base_url`` and ``client_options``
            are then ignored).
        http_async_client: an httpx async client to use (not closed by us).
        output_format: ``"markdown"`` (verbatim, tables as Markdown) or ``"text"``.
        prompt: a prompt replacing the preset (sent as the text next to the image).
        system_prompt: an optional system message.
        max_tokens: completion tokens allowed per page.
        temperature: sampling temperature (0: deterministic transcription).
        model_kwargs: other sampler parameters (``top_p``, ``repetition_penalty``,
            ``min_p``, ``dry_multiplier``...), validated like ``ChatArli``'s.
        extra_body: fields merged into every request body last.
        dpi: PDF rendering resolution.
        max_side_px: the longest side of a page image in pixels.
        image_format: ``"jpeg"`` (default, quality ``jpeg_quality``) or ``"png"``.
        jpeg_quality: JPEG quality, 1-95.
        max_image_bytes: the largest page image sent (pages are downscaled to fit).
        max_input_pixels: the largest input image decoded (decompression-bomb guard).
        passthrough: send JPEG/PNG inputs that need no change as they are.
        skip_blank_pages: do not send pages that look blank (they come back empty).
        blank_threshold: the share of ink pixels under which a page is blank (default
            0.005 %: about two characters on an A4 page at 150 DPI).
        max_concurrency: requests in flight at most (default: the key's process-wide
            limit when ``text_max_concurrency`` is set, else 4).
        max_retries: transport retries per request (429, 5xx, timeouts, connection errors).
        timeout: read timeout in seconds per request (default: the text timeout, 300 s).
        on_page_error: ``"raise"``, ``"skip"`` or ``"placeholder"`` (see the module doc).
        length_retry_factor: ``max_tokens`` multiplier for the one retry of a cut-off
            answer (``1`` disables that retry).
        retry_temperatures: temperatures tried, in order, when an answer loops.
        cache: a directory (or an :class:`~arli.ocr.cache.OCRCache`) keeping finished pages.
        show_progress: draw a progress bar (tqdm when installed, else a line on stderr).
        on_page_done: ``callback(result, done, total)`` after each page, in completion
            order (``total`` is ``None`` until every document is open). It runs on the
            event loop: keep it quick.
        max_pages: transcribe at most this many pages per document (after ``pages``); the
            rest are counted in :attr:`OCRReport.pages_left_out`. A cost guard.
        max_download_bytes: the largest document read from a URL or a file object.
        download_timeout: seconds allowed to download a URL.
        **client_options: other :class:`~arli.ArliSettings` fields (``require_key``,
            ``connect_timeout``, ``text_max_concurrency``, ``default_headers``...).

    Raises:
        ArliConfigError: no API key (unless ``require_key=False``).
        ArliValidationError: a parameter out of range or unknown.
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        settings: ArliSettings | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        output_format: OutputFormat = "markdown",
        prompt: str | None = None,
        system_prompt: str | None = None,
        max_tokens: int = 4096,
        temperature: float = 0.0,
        model_kwargs: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        dpi: float = 150.0,
        max_side_px: int = 2000,
        image_format: ImageFormat = "jpeg",
        jpeg_quality: int = 90,
        max_image_bytes: int = 4 * 2**20,
        max_input_pixels: int = 64_000_000,
        passthrough: bool = True,
        skip_blank_pages: bool = False,
        blank_threshold: float = 5e-5,
        max_concurrency: int | None = None,
        max_retries: int = 4,
        timeout: float | None = None,
        on_page_error: OnPageError = "raise",
        length_retry_factor: float = 2.0,
        retry_temperatures: Sequence[float] = (0.3, 0.7),
        cache: str | os.PathLike[str] | OCRCache | None = None,
        show_progress: bool = False,
        on_page_done: PageCallback | None = None,
        max_pages: int | None = None,
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        download_timeout: float = 60.0,
        **client_options: Any,
    ):
        if on_page_error not in ("raise", "skip", "placeholder"):
            msg = f"on_page_error must be 'raise', 'skip' or 'placeholder', not {on_page_error!r}"
            raise ArliValidationError(
                msg, field="on_page_error", allowed="raise, skip, placeholder"
            )
        for name, value, low in (
            ("max_concurrency", max_concurrency, 1),
            ("max_retries", max_retries, 0),
            ("max_tokens", max_tokens, 1),
            ("max_pages", max_pages, 1),
        ):
            if value is not None and (isinstance(value, bool) or value < low):
                msg = f"{name}={value!r} is out of range: allowed >= {low}"
                raise ArliValidationError(msg, field=name, allowed=f">= {low}")
        if length_retry_factor < 1:
            msg = f"length_retry_factor={length_retry_factor!r} is out of range: allowed >= 1"
            raise ArliValidationError(msg, field="length_retry_factor", allowed=">= 1")
        try:
            self._prompt = resolve_prompt(output_format, prompt)
        except ValueError as exc:
            raise ArliValidationError(
                str(exc), field="output_format", allowed="markdown, text"
            ) from None
        self.settings = settings or ArliSettings.resolve(
            api_key=api_key, text_base_url=base_url, **client_options
        )
        self._provider = get_provider(self.settings.provider)
        self.model = (
            model
            or os.environ.get("ARLI_OCR_MODEL")
            or DEFAULT_OCR_MODELS.get(self.settings.provider, DEFAULT_OCR_MODEL)
        )
        self.output_format = output_format
        self.system_prompt = system_prompt
        self.render_options = RenderOptions(
            dpi=dpi,
            max_side_px=max_side_px,
            image_format=image_format,
            jpeg_quality=jpeg_quality,
            max_image_bytes=max_image_bytes,
            max_input_pixels=max_input_pixels,
            passthrough=passthrough,
            blank_threshold=blank_threshold if skip_blank_pages else None,
        )
        self.on_page_error: OnPageError = on_page_error
        self.length_retry_factor = float(length_retry_factor)
        self.retry_temperatures = tuple(float(t) for t in retry_temperatures)
        self.show_progress = show_progress
        self.on_page_done = on_page_done
        self.max_pages = max_pages
        self.max_download_bytes = max_download_bytes
        self.download_timeout = download_timeout
        self._params: dict[str, Any] = {
            "temperature": temperature,
            "max_tokens": max_tokens,
            **dict(model_kwargs or {}),
        }
        self._extra_body = dict(extra_body) if extra_body else None
        if cache is None or isinstance(cache, OCRCache):
            self.cache: OCRCache | None = cache
        else:
            self.cache = DirectoryCache(cache)

        url = self.settings.base_url_for("text")
        shared = shared_limiter(self.settings, "text", base_url=url)
        self.max_concurrency = max_concurrency or (
            shared.limit if shared is not None else DEFAULT_CONCURRENCY
        )
        self._transport = Transport(
            base_url=url,
            api="text",
            authorization=self.settings.authorization_for("text"),
            connect_timeout=self.settings.connect_timeout,
            read_timeouts={
                "text": timeout or self.settings.text_timeout,
                "image": self.settings.image_timeout,
                "listing": self.settings.listing_timeout,
            },
            retry=RetryPolicy(
                max_retries=max_retries,
                initial_backoff=self.settings.retry_initial_backoff,
                max_backoff=self.settings.retry_max_backoff,
                max_retry_after=self.settings.max_retry_after,
                retry_read_timeouts=True,
            ),
            limiter=_AttemptCounter(shared),
            headers=self.settings.default_headers,
            http_async_client=http_async_client,
        )
        self.client: TextClient = _OCRTextClient(self.settings, self._transport, http_async_client)
        self._calls = TextCalls(self.client)
        self._plan("data:image/png;base64,")  # validates every parameter now, not per page
        self.last_report: OCRReport | None = None

    @classmethod
    def from_options(
        cls,
        engine: OCREngine | None,
        *,
        model: str | None = None,
        api_key: Any = None,
        base_url: str | None = None,
        **options: Any,
    ) -> OCREngine:
        """``engine`` when one is given, else a new engine built from the options.

        For loaders and readers that take either a configured engine or its options.

        Raises:
            ValueError: both an engine and engine options were given.
        """
        if engine is None:
            return cls(model=model, api_key=api_key, base_url=base_url, **options)
        if model or api_key or base_url or options:
            msg = "pass either engine=... or engine options (model, api_key, ...), not both"
            raise ValueError(msg)
        return engine

    def __repr__(self) -> str:
        return (
            f"OCREngine(model={self.model!r}, base_url={self._transport.base_url!r}, "
            f"output_format={self.output_format!r}, max_concurrency={self.max_concurrency}, "
            f"on_page_error={self.on_page_error!r})"
        )

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the engine's connections (it reopens them if used again)."""
        loop = shared_loop()
        if loop.started and not loop.in_loop_thread():
            with contextlib.suppress(RuntimeError):  # another loop's client: closed below
                loop.run(self._transport.aclose())
        self._transport.close()

    async def aclose(self) -> None:
        """Close the connections of the running loop (and those of the sync API)."""
        await self._transport.aclose()
        loop = shared_loop()
        if loop.started and not loop.in_loop_thread():
            await asyncio.to_thread(loop.run, self._transport.aclose())

    async def _explain_not_found(self, exc: BaseException) -> BaseException:
        """A 404 for our model, told with the vision models ``/v1/models`` does list.

        Any other error (or a listing that cannot be read, or one that lists the model)
        comes back unchanged.
        """
        if not isinstance(exc, NotFoundError):
            return exc
        try:
            served = [m.id for m in await self.client.alist_models()]
        except ArliError:
            return exc
        if self.model in served:
            return exc
        documented = DOCUMENTED_VISION_MODELS.get(self._provider.name, ())
        vision = [name for name in served if name in documented]
        if vision:
            hint = f"the vision models it lists: {', '.join(vision)}"
        else:
            shown = ", ".join(served[:20]) + (", ..." if len(served) > 20 else "")
            hint = (
                f"it lists none of the vision models {self._provider.label} documents "
                f"({', '.join(documented) or 'none'}); it lists: {shown or 'nothing'}"
            )
        clone = exc.__class__.__new__(exc.__class__)
        clone.__dict__.update(exc.__dict__)
        text = (
            f"{exc}. The OCR model {self.model!r} is not served by {self._provider.label} "
            f"(/v1/models); {hint}. Pass one as model=... (or set ARLI_OCR_MODEL)"
        )
        clone.args = (text,)
        if isinstance(clone, ArliStatusError):
            clone.message = text
        return clone

    # -- public API ----------------------------------------------------------------------

    async def aiter_pages(
        self,
        sources: Any,
        *,
        pages: str | int | Sequence[int] | None = None,
        password: str | None = None,
        report: OCRReport | None = None,
    ) -> AsyncGenerator[PageResult, None]:
        """Transcribe documents, yielding page results in order as they are ready.

        Args:
            sources: a path, URL, bytes, binary file object or PIL image, or a list of them.
            pages: the 1-based pages to transcribe in each document (``"1-3,7"``, ``"5-"``,
                ``[1, 2]``); checked against each document's page count.
            password: the password of encrypted PDFs.
            report: a report to fill (else a new one; it is also :attr:`last_report`).

        Raises:
            OCRPageError: a page failed and ``on_page_error="raise"``.
            OCRSourceError: a document could not be read and ``on_page_error="raise"``.
            ArliValidationError: a bad source or page selection.
            AuthenticationError: the key was rejected (also 403 and 404: every page would fail).
        """
        srcs = as_sources(sources, max_bytes=self.max_download_bytes)
        spec = parse_page_spec(pages)
        report = report if report is not None else OCRReport(model=self.model)
        report.model = self.model
        report.sources = [s.name for s in srcs]
        self.last_report = report
        run = _Run(self, report, self.max_concurrency)
        order: asyncio.Queue[Any] = asyncio.Queue(maxsize=max(16, 4 * self.max_concurrency))
        producer = asyncio.create_task(self._produce(run, srcs, spec, password, order))
        try:
            while True:
                item = await order.get()
                if isinstance(item, _End):
                    break
                if isinstance(item, _Fatal):
                    raise await self._explain_not_found(item.error)
                if isinstance(item, _SourceFailed):
                    self._source_failed(run, item)
                    continue
                try:
                    result: PageResult = await item
                except NotFoundError as exc:
                    raise await self._explain_not_found(exc) from exc
                if result.error is not None:
                    if self.on_page_error == "raise":
                        raise self._page_error(result, report)
                    self._log_failure(result)
                    if self.on_page_error == "skip":
                        report.pages_skipped += 1
                        continue
                yield result
            await producer
        finally:
            run.stop()
            producer.cancel()
            pending = [t for t in run.tasks if not t.done()]
            for task in pending:
                task.cancel()
            await asyncio.gather(producer, *run.tasks, return_exceptions=True)
            report._finish()
            run.progress.close()

    def iter_pages(
        self,
        sources: Any,
        *,
        pages: str | int | Sequence[int] | None = None,
        password: str | None = None,
        report: OCRReport | None = None,
    ) -> Generator[PageResult, None, None]:
        """Sync :meth:`aiter_pages` (runs on a private event loop; fine inside a running one)."""
        return shared_loop().iterate(
            self.aiter_pages(sources, pages=pages, password=password, report=report)
        )

    async def aocr(
        self,
        sources: Any,
        *,
        pages: str | int | Sequence[int] | None = None,
        password: str | None = None,
    ) -> OCRResult:
        """Transcribe documents and return every page with the run's report.

        See :meth:`aiter_pages` for the arguments and errors. An :class:`OCRPageError`
        carries the report of the run so far (``error.report``).
        """
        report = OCRReport(model=self.model)
        results: list[PageResult] = []
        agen = self.aiter_pages(sources, pages=pages, password=password, report=report)
        async with contextlib.aclosing(agen) as stream:
            async for result in stream:
                results.append(result)
        return OCRResult(results, report)

    def ocr(
        self,
        sources: Any,
        *,
        pages: str | int | Sequence[int] | None = None,
        password: str | None = None,
    ) -> OCRResult:
        """Sync :meth:`aocr` (runs on a private event loop; fine inside a running one)."""
        return shared_loop().run(self.aocr(sources, pages=pages, password=password))

    # -- internals -----------------------------------------------------------------------

    def _plan(
        self, data_uri: str, *, temperature: float | None = None, max_tokens: int | None = None
    ) -> RequestPlan:
        params = dict(self._params)
        if temperature is not None:
            params["temperature"] = temperature
        if max_tokens is not None:
            params["max_tokens"] = max_tokens
        messages = build_messages(self._prompt, data_uri, system_prompt=self.system_prompt)
        return self._calls.plan_chat(self._call_options(), messages, params)

    def _call_options(self) -> CallOptions:
        # transcriptions: not checked against a guided constraint (model_kwargs may hold one)
        return CallOptions(model=self.model, extra_body=self._extra_body, check_output=False)

    async def _fetch(self, source: OCRSource) -> bytes | None:
        if source.url is None:
            return None
        try:
            data, _ = await afetch_url(
                source.url, max_bytes=self.max_download_bytes, timeout=self.download_timeout
            )
        except (ArliValidationError, ArliConnectionError, ArliStatusError) as exc:
            # The document could not be read; ``cause`` says why (refused, unreachable, status).
            raise OCRSourceError(str(exc), source=source.name, cause=exc) from exc
        return data

    async def _produce(
        self,
        run: _Run,
        sources: list[OCRSource],
        spec: Any,
        password: str | None,
        order: asyncio.Queue[Any],
    ) -> None:
        """Open the documents and render their pages in order, one page task per page.

        Rendering waits for a free slot (at most ``max_concurrency + 2`` rendered pages
        exist), and ``order`` is bounded, so a slow consumer slows the producer down.
        """
        loop = asyncio.get_running_loop()
        executor = render_executor()
        try:
            for index, source in enumerate(sources):
                if run.is_stopped():
                    break
                try:
                    data = await self._fetch(source)
                    document: Document = await loop.run_in_executor(
                        executor,
                        functools.partial(
                            open_document,
                            source,
                            data=data,
                            password=password,
                            options=self.render_options,
                        ),
                    )
                except OCRSourceError as exc:
                    await order.put(_SourceFailed(index, source, exc))
                    continue
                try:
                    numbers = select_pages(spec, document.page_count, source=source.name)
                    if self.max_pages is not None and len(numbers) > self.max_pages:
                        run.report.pages_left_out += len(numbers) - self.max_pages
                        numbers = numbers[: self.max_pages]
                    run.add_pages(len(numbers))
                    if index == len(sources) - 1:
                        run.all_open()
                    for number in numbers:
                        if run.is_stopped():
                            break
                        await run.rendered.acquire()
                        try:
                            label, page = await loop.run_in_executor(
                                executor, _render_one, document, number, self.render_options
                            )
                        except BaseException:
                            run.rendered.release()
                            raise
                        task = asyncio.create_task(
                            self._page(run, index, source, document.page_count, number, label, page)
                        )
                        run.tasks.add(task)
                        await order.put(task)
                finally:
                    await loop.run_in_executor(executor, document.close)
            run.all_open()
            await order.put(_End())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            await order.put(_Fatal(exc))

    def _source_failed(self, run: _Run, item: _SourceFailed) -> None:
        failure = PageFailure(
            source=item.source.name,
            page=None,
            page_label=None,
            error=str(item.error),
            error_type=type(item.error).__name__,
        )
        run.report.failures.append(failure)
        if self.on_page_error == "raise":
            item.error.report = run.report
            raise item.error
        logger.warning("OCR skipped %s: %s", item.source.name, item.error)

    async def _page(
        self,
        run: _Run,
        index: int,
        source: OCRSource,
        total_pages: int,
        number: int,
        label: str,
        page: PageImage | RawPage | Exception,
    ) -> PageResult:
        """One page: encoding, blank check, cache, request and semantic retries.

        A page failure is recorded in the result, never raised; only fatal errors (a
        rejected key, an unknown model, a missing dependency) propagate.
        """
        result = PageResult(
            source=source.name,
            source_index=index,
            page=number,
            page_label=label,
            total_pages=total_pages,
            model=self.model,
        )
        started = time.monotonic()
        try:
            if isinstance(page, RawPage):  # encode off the renderer thread
                loop = asyncio.get_running_loop()
                try:
                    page = await loop.run_in_executor(
                        encode_executor(), page.finish, self.render_options
                    )
                except OCRDependencyError:
                    raise
                except Exception as exc:  # noqa: BLE001 - recorded as the page's failure
                    page = exc
            if isinstance(page, Exception):
                self._fail(run, result, page, 0)
            else:
                result.image_width, result.image_height = page.width, page.height
                result.image_mime = page.image.mime_type
                result.dpi = page.dpi
                if page.blank:
                    result.blank = True
                else:
                    async with run.requests:
                        await self._transcribe(run, result, page)
        finally:
            run.rendered.release()
        result.elapsed = time.monotonic() - started
        run.page_done(result)
        return result

    def _fail(self, run: _Run, result: PageResult, exc: Exception, attempts: int) -> None:
        status = exc.status_code if isinstance(exc, ArliStatusError) else None
        result.error = PageFailure(
            source=result.source,
            page=result.page,
            page_label=result.page_label,
            error=str(exc),
            error_type=type(exc).__name__,
            attempts=attempts,
            status_code=status,
        )
        result.exception = exc
        result.attempts = attempts
        result.text = ""
        result.finish_reason = None
        run.report.failures.append(result.error)
        if self.on_page_error == "raise":
            run.stop()  # pages under way finish; no further page is started

    async def _transcribe(self, run: _Run, result: PageResult, page: PageImage) -> None:
        data_uri = page.image.data_uri()
        plan = self._plan(data_uri)
        key = cache_key(page.image.data, plan.body) if self.cache is not None else None
        if key is not None and self.cache is not None:
            entry = self.cache.get(key)
            if entry is not None and isinstance(entry.get("text"), str):
                _apply_cached(result, entry)
                return
        counter = [0]
        token = _ATTEMPTS.set(counter)
        try:
            try:
                answer = await self._send(plan, result, self._params.get("temperature"))
            except _FATAL:
                raise
            except ArliError as exc:
                self._fail(run, result, exc, counter[0])
                return
            answer = await self._improve(answer, data_uri, result)
        finally:
            _ATTEMPTS.reset(token)
        result.attempts = counter[0]
        result.text = strip_code_fences(answer.text)
        result.finish_reason = answer.finish_reason
        result.model = answer.model or self.model
        result.truncated = answer.finish_reason == "length"
        if key is not None and self.cache is not None:
            self.cache.set(key, _cache_entry(result))

    async def _send(
        self, plan: RequestPlan, result: PageResult, temperature: float | None
    ) -> _Answer:
        completion = (await self._calls.asend_chat(self._call_options(), plan)).result
        if not completion.choices:
            msg = "the answer has no choices"
            raise ArliResponseError(msg, body=str(completion.raw)[:300])
        choice = completion.choices[0]
        if completion.usage is not None:
            usage = result.usage
            usage.prompt_tokens += completion.usage.prompt_tokens
            usage.completion_tokens += completion.usage.completion_tokens
            usage.total_tokens += completion.usage.total_tokens
        return _Answer(choice.content or "", choice.finish_reason, completion.model, temperature)

    async def _improve(self, answer: _Answer, data_uri: str, result: PageResult) -> _Answer:
        """The semantic retries: a repetition loop, then a cut-off answer."""
        max_tokens = int(self._params["max_tokens"])
        if looks_repetitive(answer.text):
            for temperature in self.retry_temperatures:
                try:
                    retry = await self._send(
                        self._plan(data_uri, temperature=temperature), result, temperature
                    )
                except _FATAL:
                    raise
                except ArliError as exc:
                    result.warnings.append(f"the retry of a looping answer failed: {exc}")
                    break
                if not looks_repetitive(retry.text):
                    answer = retry
                    break
            if looks_repetitive(answer.text):
                result.repetition = True
                result.warnings.append(
                    "the answer ends in a repetition loop; kept the first answer"
                )
                return answer
        if answer.finish_reason == "length" and self.length_retry_factor > 1:
            bigger = max(max_tokens + 1, int(max_tokens * self.length_retry_factor))
            try:
                retry = await self._send(
                    self._plan(data_uri, temperature=answer.temperature, max_tokens=bigger),
                    result,
                    answer.temperature,
                )
            except _FATAL:
                raise
            except ArliError as exc:
                result.warnings.append(
                    f"the retry of a cut-off answer with max_tokens={bigger} failed: {exc}"
                )
            else:
                answer = retry
            if answer.finish_reason == "length":
                result.warnings.append("the answer was cut off by max_tokens")
        return answer

    def _page_error(self, result: PageResult, report: OCRReport) -> OCRPageError:
        failure = result.error
        assert failure is not None
        cause = result.exception
        where = f"page {result.page}"
        if result.page_label != str(result.page):
            where += f" (label {result.page_label!r})"
        tries = (
            f" after {failure.attempts} attempt{'s' if failure.attempts != 1 else ''}"
            if failure.attempts
            else ""
        )
        msg = (
            f"OCR failed on {where} of {result.source}{tries}: {failure.error_type}: "
            f"{failure.error}. Pass on_page_error='skip' or 'placeholder' to keep going past "
            "failed pages."
        )
        error = OCRPageError(
            msg,
            source=result.source,
            page=result.page,
            page_label=result.page_label,
            attempts=failure.attempts,
            cause=cause,
            report=report,
        )
        error.__cause__ = cause
        return error

    def _log_failure(self, result: PageResult) -> None:
        failure = result.error
        assert failure is not None
        logger.warning(
            "OCR failed on page %s of %s after %d attempt(s) (%s): %s: %s",
            result.page_label,
            result.source,
            failure.attempts,
            "left out" if self.on_page_error == "skip" else "kept as an empty placeholder",
            failure.error_type,
            failure.error,
        )


def _render_one(
    document: Document, number: int, options: RenderOptions
) -> tuple[str, PageImage | RawPage | Exception]:
    """Rasterize one page on the renderer thread; a failure is returned, not raised."""
    try:
        label = document.label(number)
    except Exception:  # noqa: BLE001 - a broken label must not lose the page
        label = str(number)
    try:
        return label, document.rasterize(number, options)
    except OCRDependencyError:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded as the page's failure
        return label, exc


def _apply_cached(result: PageResult, entry: Mapping[str, Any]) -> None:
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


def _cache_entry(result: PageResult) -> dict[str, Any]:
    return {
        "text": result.text,
        "finish_reason": result.finish_reason,
        "model": result.model,
        "prompt_tokens": result.usage.prompt_tokens,
        "completion_tokens": result.usage.completion_tokens,
        "truncated": result.truncated,
        "repetition": result.repetition,
        "warnings": list(result.warnings),
        "stored_at": time.time(),
    }


# -- one-call helpers ------------------------------------------------------------------------


def ocr(
    sources: Any,
    *,
    pages: str | int | Sequence[int] | None = None,
    password: str | None = None,
    **options: Any,
) -> OCRResult:
    """Transcribe documents with a one-off :class:`OCREngine` (``options`` are its arguments).

    Works inside a running event loop too.

    Example:
        .. code-block:: python

            from arli.ocr import ocr

            result = ocr("invoice.pdf", model="Qwen/Qwen3.5-VL", pages="1-2")
            print(result.text())
    """
    with OCREngine(**options) as engine:
        return engine.ocr(sources, pages=pages, password=password)


async def aocr(
    sources: Any,
    *,
    pages: str | int | Sequence[int] | None = None,
    password: str | None = None,
    **options: Any,
) -> OCRResult:
    """Async :func:`ocr`."""
    async with OCREngine(**options) as engine:
        return await engine.aocr(sources, pages=pages, password=password)

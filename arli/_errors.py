"""Every error this package raises, in one hierarchy.

Catch :class:`ArliError` to handle anything that went wrong talking to Arli (or one of
the other supported systems); catch a narrower class to act on a specific cause::

    ArliError
    ├── ArliConfigError            a setting is missing or wrong (no key, bad URL); nothing sent
    ├── ArliValidationError        a value out of range or mistyped, a name unknown; nothing sent
    ├── ArliConnectionError        the server could not be reached, or the connection broke
    │   └── ArliTimeoutError       connect, read, write or pool timeout
    │       ├── GenerationTimeoutError  a polled job (AiArt video) not ready in time
    │       └── StreamStalledError      a started stream sent nothing for too long
    ├── ArliResponseError          the server answered 2xx, but not with something we can use
    │   ├── IncompleteResponseError    a stream ended before `[DONE]` or a finish reason
    │   └── ConstraintViolationError   a guided-decoding answer that breaks its constraint
    ├── ArliStatusError            an error answer (status, message, request id, raw body)
    │   ├── BadRequestError            400
    │   ├── AuthenticationError        401
    │   ├── PermissionDeniedError      403
    │   ├── NotFoundError              404
    │   ├── UnprocessableEntityError   422
    │   ├── RateLimitError             429 (``retry_after`` seconds when the server said)
    │   └── InternalServerError        5xx
    └── OCRError                   an OCR run could not complete (``arli.ocr``)
        ├── OCRSourceError             a document could not be read (missing, corrupt, password)
        ├── OCRPageError               a page failed for good (page number, label, attempts, cause)
        └── OCRDependencyError         the ``ocr`` extra (Pillow, pypdfium2) is not installed

:class:`ArliConfigError` and :class:`ArliValidationError` also subclass :class:`ValueError`,
:class:`ArliTimeoutError` also subclasses :class:`TimeoutError` and :class:`OCRDependencyError`
:class:`ImportError`, so code written against the standard exceptions keeps working.

The server's message is extracted from every error envelope the engines behind Arli emit
(see :func:`extract_error_message`): the OpenAI-style nested ``{"error": {...}}``, the flat
legacy ``{"object": "error", ...}``, ``{"error": "Unauthorized"}``, FastAPI ``detail`` strings
and lists, SDNext's ``{"error", "code", "detail", "errors"}`` and HTML error pages (reduced to
a short text). No error message or attribute ever contains request headers, so an API key
cannot leak through an exception or its traceback.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

__all__ = [
    "ArliConfigError",
    "ArliConnectionError",
    "ArliError",
    "ArliResponseError",
    "ArliStatusError",
    "ArliTimeoutError",
    "ArliValidationError",
    "AuthenticationError",
    "GenerationTimeoutError",
    "ConstraintViolationError",
    "BadRequestError",
    "IncompleteResponseError",
    "InternalServerError",
    "NotFoundError",
    "OCRDependencyError",
    "OCRError",
    "OCRPageError",
    "OCRSourceError",
    "PermissionDeniedError",
    "RateLimitError",
    "StreamStalledError",
    "UnprocessableEntityError",
    "error_from_stream_event",
    "extract_error_message",
    "status_error_from_response",
]

#: How much of a raw body an error message quotes at most.
_MAX_QUOTED = 300


class ArliError(Exception):
    """Base class of every error raised by this package.

    Attributes:
        retries_taken: the retries the transport made before it raised this error (0: it
            ended the first attempt, or no request was sent).
    """

    retries_taken: int = 0


class ArliConfigError(ArliError, ValueError):
    """A setting is missing or invalid (for example no API key); nothing was sent."""


class ArliValidationError(ArliError, ValueError):
    """A request value is invalid, or an argument unknown; raised before any request is sent.

    Attributes:
        field: the name of the offending field, as the user wrote it.
        allowed: a short description of what is allowed (for example ``"[0, 1]"``).
    """

    def __init__(self, message: str, *, field: str | None = None, allowed: str | None = None):
        super().__init__(message)
        self.field = field
        self.allowed = allowed


class ArliConnectionError(ArliError):
    """The server could not be reached, or the connection broke during the exchange.

    Attributes:
        method: the HTTP method of the request.
        url: the request URL (never with credentials).
    """

    def __init__(self, message: str, *, method: str | None = None, url: str | None = None):
        super().__init__(message)
        self.method = method
        self.url = url


class ArliTimeoutError(ArliConnectionError, TimeoutError):
    """A connect, read, write or pool timeout expired.

    Attributes:
        phase: ``"connect"``, ``"read"``, ``"write"`` or ``"pool"``.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        phase: str = "read",
    ):
        super().__init__(message, method=method, url=url)
        self.phase = phase


class GenerationTimeoutError(ArliTimeoutError):
    """A video was not ready within the polling budget; it may still be generated.

    Resume with :meth:`arli.AiArtClient.video_result` (or ``avideo_result``) and
    :attr:`generation_id`.

    Attributes:
        generation_id: the id to resume polling with.
        polls: how many times the result was polled.
        elapsed: seconds spent polling.
    """

    def __init__(
        self,
        message: str,
        *,
        generation_id: str,
        polls: int,
        elapsed: float,
        url: str | None = None,
    ):
        super().__init__(message, method="GET", url=url, phase="poll")
        self.generation_id = generation_id
        self.polls = polls
        self.elapsed = elapsed


class StreamStalledError(ArliTimeoutError):
    """A started event stream sent no event for ``stall_timeout`` seconds.

    Set the limit per call (``stall_timeout=``) or with ``ARLI_STREAM_STALL_TIMEOUT``
    (seconds; ``0`` turns the check off); the default is 120 s.

    Attributes:
        chunks_received: the stream events that arrived before it stalled.
        stall_timeout: the limit in seconds.
    """

    def __init__(
        self,
        message: str,
        *,
        chunks_received: int,
        stall_timeout: float,
        method: str | None = None,
        url: str | None = None,
    ):
        super().__init__(message, method=method, url=url, phase="stream")
        self.chunks_received = chunks_received
        self.stall_timeout = stall_timeout


class ArliResponseError(ArliError):
    """The server answered with a success status but the body could not be used.

    Attributes:
        body: the start of the raw body (at most a few hundred characters).
    """

    def __init__(self, message: str, *, body: str | None = None):
        super().__init__(message)
        self.body = body


class IncompleteResponseError(ArliResponseError):
    """A streamed response ended before ``data: [DONE]`` or a finish reason arrived."""


class ConstraintViolationError(ArliResponseError):
    """A guided-decoding answer does not satisfy its constraint.

    Usually the server ignored the constraint (vLLM >= 0.12 silently ignores the legacy
    ``guided_*`` fields; old servers ignore ``structured_outputs``), or the answer was cut
    off by ``max_tokens``. The message says which, and what to change.

    Attributes:
        kind: ``"json"``, ``"regex"``, ``"choice"``, ``"grammar"`` or ``"json_object"``.
        answer: the text the model returned.
        problems: what was wrong with it.
        finish_reason: the choice's finish reason.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        answer: str,
        problems: list[str],
        finish_reason: str | None = None,
    ):
        super().__init__(message, body=answer[:300])
        self.kind = kind
        self.answer = answer
        self.problems = problems
        self.finish_reason = finish_reason


class ArliStatusError(ArliError):
    """The server answered with an error status.

    Attributes:
        status_code: the HTTP status code.
        message: the server's own message, extracted from its error envelope.
        error_type: the envelope's ``type`` (``"BadRequestError"``...) when given.
        param: the envelope's ``param`` (the offending field) when given.
        code: the envelope's ``code`` when given.
        request_id: the ``x-request-id`` response header when given.
        body: the raw response body (text), unparsed.
        retry_after: seconds the server asked us to wait (``Retry-After``), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: str = "",
        request_id: str | None = None,
        error_type: str | None = None,
        param: str | None = None,
        code: Any = None,
        retry_after: float | None = None,
        method: str | None = None,
        url: str | None = None,
    ):
        self.status_code = status_code
        self.message = message
        self.body = body
        self.request_id = request_id
        self.error_type = error_type
        self.param = param
        self.code = code
        self.retry_after = retry_after
        self.method = method
        self.url = url
        super().__init__(self._render())

    def _render(self) -> str:
        where = f" ({self.method} {self.url})" if self.method and self.url else ""
        rid = f" [request id {self.request_id}]" if self.request_id else ""
        return f"HTTP {self.status_code}{where}: {self.message}{rid}"


class BadRequestError(ArliStatusError):
    """400: the server rejected the request (invalid parameter, context too long...)."""


class AuthenticationError(ArliStatusError):
    """401: the API key is missing, wrong or revoked."""

    def _render(self) -> str:
        return (
            super()._render()
            + " (check the API key: pass api_key=... or set ARLIAI_API_KEY,"
            + " ARLI_TEXT_KEY or ARLI_IMAGE_KEY)"
        )


class PermissionDeniedError(ArliStatusError):
    """403: the key has no access to this model or endpoint."""


class NotFoundError(ArliStatusError):
    """404: unknown model, endpoint or resource."""


class UnprocessableEntityError(ArliStatusError):
    """422: the request body failed the server's schema validation."""


class RateLimitError(ArliStatusError):
    """429: too many requests or too many in parallel; ``retry_after`` says how long to wait."""


class InternalServerError(ArliStatusError):
    """5xx: the server or an upstream failed."""


class OCRError(ArliError):
    """An OCR run (:mod:`arli.ocr`) could not complete.

    Attributes:
        source: the document it is about (a path, URL or name; never file contents).
        report: the run's :class:`~arli.ocr.OCRReport` up to the failure, when there was a run.
    """

    def __init__(self, message: str, *, source: str | None = None, report: Any = None):
        super().__init__(message)
        self.source = source
        self.report = report


class OCRSourceError(OCRError):
    """A document could not be read: missing, unsupported, corrupt, or the wrong password.

    Attributes:
        cause: the underlying exception, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        cause: BaseException | None = None,
        report: Any = None,
    ):
        super().__init__(message, source=source, report=report)
        self.cause = cause


class OCRPageError(OCRError):
    """A page could not be transcribed (raised with ``on_page_error="raise"``).

    Attributes:
        page: the 1-based page number in the document.
        page_label: the page's label (the PDF page label, else the number as text).
        attempts: how many requests were sent for the page (0: it failed before sending).
        cause: the last error (a typed :class:`ArliError` for server answers).
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        page: int,
        page_label: str | None = None,
        attempts: int = 0,
        cause: BaseException | None = None,
        report: Any = None,
    ):
        super().__init__(message, source=source, report=report)
        self.page = page
        self.page_label = page_label if page_label is not None else str(page)
        self.attempts = attempts
        self.cause = cause


class OCRDependencyError(OCRError, ImportError):
    """The ``ocr`` extra is missing: ``pip install "arli-integrations[ocr]"``."""


_STATUS_CLASSES: dict[int, type[ArliStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[ArliStatusError]:
    """Return the exception class for an HTTP status code."""
    cls = _STATUS_CLASSES.get(status_code)
    if cls is not None:
        return cls
    if status_code >= 500:
        return InternalServerError
    return ArliStatusError


_TAG_RE = re.compile(r"<[^>]+>")
_WS_RE = re.compile(r"\s+")
_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_H1_RE = re.compile(r"<h1[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)
_DROP_RE = re.compile(r"<(script|style|head)[^>]*>.*?</\1>", re.IGNORECASE | re.DOTALL)


def _shorten(text: str, limit: int = _MAX_QUOTED) -> str:
    text = _WS_RE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _html_message(body: str) -> str:
    """Reduce an HTML error page to a short text: its title, its first heading, or its text."""
    parts: list[str] = []
    for regex in (_TITLE_RE, _H1_RE):
        m = regex.search(body)
        if m:
            text = _shorten(html.unescape(_TAG_RE.sub(" ", m.group(1))), 120)
            if text and text not in parts:
                parts.append(text)
    if not parts:
        stripped = _DROP_RE.sub(" ", body)
        parts.append(_shorten(html.unescape(_TAG_RE.sub(" ", stripped)), 160))
    return " — ".join(parts) + " (HTML error page)"


def _looks_like_html(body: str) -> bool:
    head = body.lstrip()[:200].lower()
    return head.startswith(("<!doctype html", "<html")) or "<html" in head or "<body" in head


def _detail_list_message(detail: list[Any]) -> str:
    """FastAPI validation errors: ``[{"loc": ["body", "x"], "msg": "..."}]`` → ``"body.x: ..."``."""
    items: list[str] = []
    for entry in detail:
        if isinstance(entry, dict):
            loc = entry.get("loc")
            msg = str(entry.get("msg", "")).strip() or json.dumps(entry)[:120]
            if isinstance(loc, (list, tuple)) and loc:
                items.append(f"{'.'.join(str(p) for p in loc)}: {msg}")
            else:
                items.append(msg)
        else:
            items.append(str(entry))
    return "; ".join(items)


def _envelope_fields(data: Any) -> tuple[str | None, str | None, str | None, Any]:
    """Return ``(message, type, param, code)`` from a parsed error body, or Nones."""
    if not isinstance(data, dict):
        if isinstance(data, str) and data.strip():
            return data.strip(), None, None, None
        return None, None, None, None
    err = data.get("error")
    # Nested OpenAI/vLLM >= 0.10.1: {"error": {"message", "type", "param", "code"}}
    if isinstance(err, dict):
        msg = err.get("message") or err.get("detail") or err.get("msg")
        return (
            str(msg) if msg not in (None, "") else None,
            _opt_str(err.get("type")),
            _opt_str(err.get("param")),
            err.get("code"),
        )
    detail = data.get("detail")
    # SDNext: {"error": "HTTPException", "code": 404, "detail": "...", "errors": "404: ..."}
    if isinstance(err, str) and ("errors" in data or "detail" in data):
        if isinstance(detail, str) and detail:
            msg = detail
        elif isinstance(detail, list) and detail:
            msg = _detail_list_message(detail)
        elif isinstance(detail, dict) and _envelope_fields(detail)[0]:
            # a gateway wrapping the upstream error: {"error": "Upstream error", "detail": {...}}
            msg = f"{err}: {_envelope_fields(detail)[0]}"
        elif isinstance(data.get("errors"), str) and data["errors"]:
            msg = data["errors"]
        else:
            msg = err
        return msg, err, None, data.get("code")
    # {"error": "Unauthorized"} (vLLM auth) or {"error": "Init image is none"} (SDNext img2img)
    if isinstance(err, str) and err:
        return err, None, None, data.get("code")
    # Flat legacy: {"object": "error", "message", "type", "param", "code"}
    if isinstance(data.get("message"), str) and data["message"]:
        return (
            data["message"],
            _opt_str(data.get("type")),
            _opt_str(data.get("param")),
            data.get("code"),
        )
    # FastAPI: {"detail": "Not Found"} or {"detail": [{...}]}
    if isinstance(detail, str) and detail:
        return detail, None, None, None
    if isinstance(detail, list) and detail:
        return _detail_list_message(detail), "validation_error", _first_loc(detail), None
    return None, None, None, None


def _first_loc(detail: list[Any]) -> str | None:
    first = detail[0]
    if isinstance(first, dict) and isinstance(first.get("loc"), (list, tuple)):
        loc = [str(p) for p in first["loc"] if p != "body"]
        return ".".join(loc) or None
    return None


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def extract_error_message(body: str | bytes, *, reason: str = "") -> str:
    """Extract a human-readable message from an error body, whatever the envelope.

    Args:
        body: the raw response body.
        reason: the HTTP reason phrase, used when the body says nothing.

    Returns:
        A short message. HTML pages become their title or heading, never the whole page.
    """
    return _parse_error_body(body, reason=reason)[0]


def _parse_error_body(
    body: str | bytes, *, reason: str = ""
) -> tuple[str, str | None, str | None, Any]:
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    stripped = text.strip()
    if not stripped:
        return (reason or "empty response body"), None, None, None
    if stripped[0] in '{["':
        try:
            data = json.loads(stripped)
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            data = None
        else:
            msg, etype, param, code = _envelope_fields(data)
            if msg:
                return _shorten(msg, 1000), etype, param, code
            return f"{reason or 'error'}: {_shorten(stripped)}", etype, param, code
    if _looks_like_html(stripped):
        return _html_message(stripped), None, None, None
    return _shorten(stripped), None, None, None


def status_error_from_response(
    status_code: int,
    body: str | bytes,
    *,
    reason: str = "",
    request_id: str | None = None,
    retry_after: float | None = None,
    method: str | None = None,
    url: str | None = None,
) -> ArliStatusError:
    """Build the typed :class:`ArliStatusError` for an error response.

    Args:
        status_code: the HTTP status.
        body: the raw body.
        reason: the HTTP reason phrase.
        request_id: the request id header, if any.
        retry_after: parsed ``Retry-After`` seconds, if any.
        method: the request method (for the message).
        url: the request URL (for the message; never carries credentials).
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    message, etype, param, code = _parse_error_body(text, reason=reason)
    cls = status_error_class(status_code)
    return cls(
        message,
        status_code=status_code,
        body=text,
        request_id=request_id,
        error_type=etype,
        param=param,
        code=code,
        retry_after=retry_after,
        method=method,
        url=url,
    )


def error_from_stream_event(
    data: dict[str, Any],
    *,
    request_id: str | None = None,
    method: str | None = None,
    url: str | None = None,
) -> ArliStatusError:
    """Build the status error for an error object sent inside an SSE stream.

    vLLM sends ``data: {"error": {"message", "type", "param", "code"}}`` and keeps HTTP 200;
    the envelope's ``code`` (the status it would have used) picks the exception class.
    """
    message, etype, param, code = _envelope_fields(data)
    status = code if isinstance(code, int) and 400 <= code <= 599 else 500
    cls = status_error_class(status)
    return cls(
        (message or "error inside the event stream") + " (sent inside the event stream)",
        status_code=status,
        body=json.dumps(data, ensure_ascii=False),
        request_id=request_id,
        error_type=etype,
        param=param,
        code=code,
        method=method,
        url=url,
    )

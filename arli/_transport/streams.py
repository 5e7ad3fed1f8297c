"""Event streams: what a stream request's answer is, and how a stream ends."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import httpx

from arli._errors import (
    ArliConfigError,
    ArliConnectionError,
    ArliError,
    ArliResponseError,
    ArliStatusError,
    ArliTimeoutError,
    IncompleteResponseError,
    StreamStalledError,
)
from arli._settings import check_seconds
from arli._transport.wire import refusal, status_error

__all__ = [
    "DEFAULT_STALL_TIMEOUT",
    "STALL_TIMEOUT_ENV",
    "ended",
    "incomplete",
    "is_event_stream",
    "limit_reads",
    "mid_stream",
    "not_a_stream",
    "read_limit",
    "stall_seconds",
    "stalled",
    "stream_refusal",
]

#: Seconds a started stream may go without an event before :class:`~arli.StreamStalledError`.
DEFAULT_STALL_TIMEOUT = 120.0
#: The environment variable that sets the stall limit (seconds; ``0`` turns it off).
STALL_TIMEOUT_ENV = "ARLI_STREAM_STALL_TIMEOUT"


def is_event_stream(response: httpx.Response) -> bool:
    """A 2xx ``text/event-stream`` answer (anything else is read whole, as an error)."""
    return 200 <= response.status_code < 300 and "event-stream" in response.headers.get(
        "content-type", ""
    )


def stream_refusal(
    response: httpx.Response, content: bytes, method: str, url: str
) -> ArliStatusError:
    """The status error of a stream request answered with an error status.

    Raises:
        ArliError: a 2xx answer that is not an event stream (never retried).
    """
    if 200 <= response.status_code < 300:
        raise not_a_stream(response.status_code, response.headers, content, method, url)
    return refusal(response, content, method, url)


def not_a_stream(
    status: int, headers: httpx.Headers, content: bytes, method: str, url: str
) -> ArliError:
    """A 2xx answer to a stream request that is not an event stream.

    An error envelope sent with a 2xx status is the server error it describes.
    """
    ctype = headers.get("content-type", "")
    if "json" in ctype:
        try:
            data = json.loads(content)
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict) and ("error" in data or data.get("object") == "error"):
            return status_error(method, url, 500, headers, content, "error")
    text = content[:200].decode("utf-8", errors="replace")
    msg = (
        f"{method} {url} asked for a stream but the server answered HTTP {status} with "
        f"content-type {ctype or '?'}: {text!r}"
    )
    return ArliResponseError(msg, body=text)


def ended(on_eof: Callable[[], None] | None, method: str, url: str, events: int) -> None:
    """A stream ended without ``[DONE]``: ``on_eof`` decides, else it is incomplete.

    Raises:
        IncompleteResponseError: without ``on_eof``.
    """
    if on_eof is None:
        raise incomplete(method, url, events)
    on_eof()


def stall_seconds(call: float | None, default: float | None) -> float | None:
    """The stall limit of one stream: the call's, else the transport's, else the environment's.

    ``None`` or ``0`` (at whichever level decides) means no limit.

    Raises:
        ArliConfigError: ``ARLI_STREAM_STALL_TIMEOUT`` is not a number of seconds >= 0.
        ArliValidationError: the call's limit is not (:func:`arli._settings.check_seconds`).
    """
    if call is not None:
        check_seconds(call, "stall_timeout", zero="no limit")
    value = call if call is not None else default
    if value is None:
        raw = os.environ.get(STALL_TIMEOUT_ENV)
        if raw is None or not raw.strip():
            return DEFAULT_STALL_TIMEOUT
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not value >= 0:  # also NaN
            msg = f"{STALL_TIMEOUT_ENV}={raw!r} is not allowed: give seconds >= 0 (0: no limit)"
            raise ArliConfigError(msg) from None
    return value or None


def limit_reads(request: httpx.Request, stall: float) -> None:
    """Make each further read of ``request``'s response wait at most ``stall`` seconds.

    httpcore takes the read timeout from the request's ``timeout`` extension when the body
    is first read, so lowering it once the headers arrived bounds every body read.
    """
    timeouts = request.extensions.get("timeout")
    if isinstance(timeouts, dict):
        read = timeouts.get("read")
        if read is None or read > stall:
            timeouts["read"] = stall


def read_limit(request: httpx.Request, stall: float) -> float:
    """The read timeout a stream's body reads had (``stall`` when unknown)."""
    timeouts = request.extensions.get("timeout")
    read = timeouts.get("read") if isinstance(timeouts, dict) else None
    return read if isinstance(read, (int, float)) else stall


def stalled(method: str, url: str, events: int, limit: float) -> StreamStalledError:
    """The error of a started stream that sent no event for ``limit`` seconds."""
    msg = (
        f"the stream from {method} {url} stalled: no event for {limit:g} s after {events} "
        f"chunk{'s' if events != 1 else ''} arrived; raise `stall_timeout` (or "
        f"{STALL_TIMEOUT_ENV}) if the model is that slow"
    )
    return StreamStalledError(
        msg, chunks_received=events, stall_timeout=limit, method=method, url=url
    )


def mid_stream(err: ArliError, events: int) -> ArliError:
    """Say how far a broken stream got; the cause stays the same type."""
    if not events or isinstance(err, StreamStalledError):  # a stall says it already
        return err
    note = f" (after {events} event{'s' if events != 1 else ''} of the stream; not retried)"
    if isinstance(err, ArliTimeoutError):
        return ArliTimeoutError(str(err) + note, method=err.method, url=err.url, phase=err.phase)
    if isinstance(err, ArliConnectionError):
        return ArliConnectionError(str(err) + note, method=err.method, url=err.url)
    return err


def incomplete(method: str, url: str, events: int) -> IncompleteResponseError:
    msg = (
        f"the stream from {method} {url} ended after {events} event"
        f"{'s' if events != 1 else ''} without `data: [DONE]` or a finish reason: "
        "the response is incomplete"
    )
    return IncompleteResponseError(msg)

"""Event streams: what a stream request's answer is, and how a stream ends."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from arli._errors import (
    ArliConnectionError,
    ArliError,
    ArliResponseError,
    ArliStatusError,
    ArliTimeoutError,
    IncompleteResponseError,
)
from arli._transport.wire import refusal, status_error

__all__ = ["ended", "incomplete", "is_event_stream", "mid_stream", "not_a_stream", "stream_refusal"]


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


def mid_stream(err: ArliError, events: int) -> ArliError:
    """Say how far a broken stream got; the cause stays the same type."""
    if not events:
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

"""What crosses the wire: bodies, results, and httpx failures translated into our errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from arli._errors import (
    ArliConnectionError,
    ArliError,
    ArliResponseError,
    ArliStatusError,
    ArliTimeoutError,
    ArliValidationError,
    status_error_from_response,
)
from arli._secrets import scrub_exception
from arli._transport.policy import parse_retry_after
from arli._version import __version__

__all__ = [
    "CREDENTIAL_HEADERS",
    "USER_AGENT",
    "HTTPResult",
    "LazyCookies",
    "Multipart",
    "display_url",
    "encode_json_body",
    "forget_credentials",
    "is_fatal",
    "map_httpx_error",
    "read_body",
    "aread_body",
    "read_seconds",
    "refusal",
    "status_error",
    "with_lazy_cookies",
]

USER_AGENT = f"arli-integrations/{__version__} httpx/{httpx.__version__}"
#: Request headers that carry credentials (dropped from a failed request kept by httpx).
CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "api-key", "x-api-key", "cookie")


@dataclass(frozen=True)
class HTTPResult:
    """A completed response: status, headers and the whole body.

    Attributes:
        status_code: the HTTP status.
        headers: the response headers.
        content: the raw body.
        url: the request URL.
        attempts: how many attempts it took (1 = no retry).
    """

    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str
    attempts: int = 1

    @property
    def retries_taken(self) -> int:
        """The retries made before this response (``attempts - 1``)."""
        return self.attempts - 1

    def json(self) -> Any:
        """Parse the body as JSON, raising :class:`~arli.ArliResponseError` when it is not."""
        try:
            return json.loads(self.content)
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            text = self.content[:300].decode("utf-8", errors="replace")
            ctype = self.headers.get("content-type", "?")
            msg = (
                f"the server answered HTTP {self.status_code} from {self.url} with a body that is "
                f"not valid JSON (content-type {ctype}): {text!r}"
            )
            raise ArliResponseError(msg, body=text) from None

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")


_Client = TypeVar("_Client", httpx.Client, httpx.AsyncClient)


class LazyCookies(httpx.Cookies):
    """httpx's cookie store, which skips reading a response that sets no cookie.

    httpx hands every response to the stdlib cookie jar, first wrapping it and its request
    in urllib objects; for a response without ``Set-Cookie`` or ``Set-Cookie2`` the jar
    finds nothing to keep, so that work is skipped (bench/results.md, 'cookie-less
    responses'). A response that sets a cookie is read exactly as before.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        """Keep the cookies ``response`` sets (none to read without a Set-Cookie header)."""
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


def with_lazy_cookies(client: _Client) -> _Client:
    """``client`` (one the transport created) with a :class:`LazyCookies` store.

    httpx keeps a client's store in ``_cookies`` (what its ``cookies`` property returns);
    if that ever changes, the client is left as it is (only slower).
    """
    store = client.cookies
    if type(store) is httpx.Cookies and getattr(client, "_cookies", None) is store:
        client._cookies = LazyCookies(store)  # httpx private: see the docstring
    return client


def display_url(url: httpx.URL) -> str:
    if url.userinfo:
        url = url.copy_with(username=None, password=None)
    return str(url)


def map_httpx_error(
    exc: httpx.HTTPError, method: str, url: str, timeout: float | None
) -> ArliError:
    """Translate an httpx exception into our hierarchy (the message never has headers).

    The httpx exception stays chained as ``__cause__`` and keeps the failed request as an
    attribute: its credential headers are removed first, so an error tracker that dumps
    exception attributes cannot pick the key up. (Each attempt builds a new request.)
    """
    scrub_exception(exc, forget_credentials(exc))
    if isinstance(exc, httpx.TimeoutException):
        phase = {
            httpx.ConnectTimeout: "connect",
            httpx.ReadTimeout: "read",
            httpx.WriteTimeout: "write",
            httpx.PoolTimeout: "pool",
        }.get(type(exc), "read")
        limit = f" after {timeout:g} s" if timeout else ""
        verb = {
            "connect": "connecting",
            "read": "waiting for the response",
            "write": "sending",
            "pool": "waiting for a free connection",
        }[phase]
        msg = f"{method} {url} timed out{limit} while {verb}"
        return ArliTimeoutError(msg, method=method, url=url, phase=phase)
    if isinstance(exc, httpx.ConnectError):
        return ArliConnectionError(f"could not connect to {url}: {exc}", method=method, url=url)
    if isinstance(exc, httpx.RemoteProtocolError):
        return ArliConnectionError(
            f"{method} {url}: the server closed the connection unexpectedly: {exc}",
            method=method,
            url=url,
        )
    if isinstance(exc, httpx.TransportError):
        # anyio reports a reset as a ReadError without text: say what it means.
        detail = str(exc) or "the connection was closed or reset"
        return ArliConnectionError(
            f"{method} {url}: connection error: {type(exc).__name__}: {detail}",
            method=method,
            url=url,
        )
    return ArliConnectionError(
        f"{method} {url}: {type(exc).__name__}: {exc}", method=method, url=url
    )


def forget_credentials(exc: httpx.HTTPError) -> list[str]:
    """Drop the credential headers of the request an httpx exception carries.

    Returns:
        The values dropped (to scrub from messages), key only and whole header alike.
    """
    try:
        request = exc.request
    except RuntimeError:  # raised by httpx when the exception has no request
        return []
    dropped: list[str] = []
    for name in CREDENTIAL_HEADERS:
        value = request.headers.pop(name, None)
        if value:
            dropped.append(value)
            scheme, _, credential = value.partition(" ")
            if scheme.lower() in ("bearer", "basic") and credential:
                dropped.append(credential)
    return dropped


def is_fatal(exc: httpx.HTTPError) -> bool:
    """Errors that retrying cannot fix (bad URL scheme, local protocol misuse)."""
    return isinstance(exc, (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL))


def encode_json_body(body: Any) -> bytes:
    """Serialize a request body compactly; NaN/Infinity or unserializable values are rejected."""
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        msg = f"the request body cannot be sent as JSON: {exc}"
        raise ArliValidationError(msg) from None


@dataclass(frozen=True)
class Multipart:
    """A ``multipart/form-data`` body: text fields and files held as bytes.

    Files are ``(filename, bytes, content type)`` tuples, so a retry can send them again.
    """

    data: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, tuple[str, bytes, str]] = field(default_factory=dict)


def read_seconds(timeout: httpx.Timeout | Any) -> float | None:
    return timeout.read if isinstance(timeout, httpx.Timeout) else None


def status_error(
    method: str, url: str, status: int, headers: httpx.Headers, content: bytes, reason: str
) -> ArliStatusError:
    """The typed status error of an error answer (its message, request id, Retry-After)."""
    return status_error_from_response(
        status,
        content,
        reason=reason,
        request_id=headers.get("x-request-id") or headers.get("request-id"),
        retry_after=parse_retry_after(headers),
        method=method,
        url=url,
    )


def refusal(response: httpx.Response, content: bytes, method: str, url: str) -> ArliStatusError:
    """The status error of a non-2xx response whose body is ``content``."""
    return status_error(
        method, url, response.status_code, response.headers, content, response.reason_phrase
    )


def _too_large(url: str, limit: int, size: int | None) -> ArliResponseError:
    got = f" ({size} bytes)" if size is not None else ""
    msg = (
        f"the response from {url} exceeds the {limit} byte limit{got}; "
        "raise max_response_bytes if this is expected"
    )
    return ArliResponseError(msg)


def _check_length(response: httpx.Response, url: str, limit: int) -> None:
    length = response.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise _too_large(url, limit, int(length))


def read_body(response: httpx.Response, url: str, limit: int) -> bytes:
    """Read a streamed response's whole body, refusing more than ``limit`` bytes.

    Raises:
        ArliResponseError: the body (or its announced length) exceeds ``limit``.
    """
    _check_length(response, url, limit)
    parts: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise _too_large(url, limit, None)
        parts.append(chunk)
    return b"".join(parts)


async def aread_body(response: httpx.Response, url: str, limit: int) -> bytes:
    """Async :func:`read_body`."""
    _check_length(response, url, limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise _too_large(url, limit, None)
        parts.append(chunk)
    return b"".join(parts)

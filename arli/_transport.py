"""HTTP transport: pooled httpx clients, auth, timeouts, retries, limits and SSE streams.

One :class:`Transport` serves one API (text or image) of one configuration. It owns one
pooled :class:`httpx.Client` and one :class:`httpx.AsyncClient` per event loop (an async
client's connections belong to the loop that opened them), created lazily and reused by
every call; :func:`get_transport` shares transports between objects built from equal
settings. Injected ``http_client`` / ``http_async_client`` are used as they are (with their
own timeouts) and never closed by us.

Retries live here and nowhere else (see :class:`RetryPolicy`): 408, 429, 500, 502, 503,
504 and connection errors are retried with exponential backoff and jitter, honouring
``Retry-After`` (seconds or an HTTP-date, capped); other 4xx never are. A POST whose
response timed out is not re-sent unless asked (the server may still be working on it). A
stream is retried only before its first event.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

import httpx
from pydantic import SecretStr

from arli._errors import (
    ArliConnectionError,
    ArliError,
    ArliResponseError,
    ArliStatusError,
    ArliTimeoutError,
    ArliValidationError,
    IncompleteResponseError,
    status_error_from_response,
)
from arli._kwargs import checks_arguments
from arli._limits import Limiter, find_limiter, get_limiter
from arli._providers import get_provider
from arli._settings import Api, ArliSettings, TimeoutKind
from arli._sse import JSONEventStream, SSEDecoder
from arli._version import __version__

__all__ = [
    "HTTPResult",
    "Multipart",
    "PooledClient",
    "RetryPolicy",
    "Transport",
    "get_transport",
    "parse_retry_after",
]

logger = logging.getLogger("arli")

USER_AGENT = f"arli-integrations/{__version__} httpx/{httpx.__version__}"
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "PUT"})
#: Request headers that carry credentials (dropped from a failed request kept by httpx).
CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "api-key", "x-api-key", "cookie")
_DEFAULT_MAX_RESPONSE_BYTES: dict[Api, int] = {"text": 64 * 2**20, "image": 512 * 2**20}


@checks_arguments()
@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before re-sending a request.

    Attributes:
        max_retries: retries after the first attempt (0 disables retrying).
        initial_backoff: the first delay in seconds; doubled at each retry.
        max_backoff: the longest computed delay.
        jitter: the delay is reduced by up to this fraction, at random, so that many
            clients that failed together do not come back together.
        max_retry_after: the longest ``Retry-After`` honoured; a longer one is raised at
            once as a :class:`~arli.RateLimitError` (with ``retry_after`` set).
        retry_statuses: statuses that are retried.
        retry_read_timeouts: re-send a non-idempotent request whose response timed out.
    """

    max_retries: int = 2
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    jitter: float = 0.25
    max_retry_after: float = 60.0
    retry_statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
    retry_read_timeouts: bool = False

    def backoff(self, attempt: int) -> float:
        """The computed delay before retry number ``attempt + 1`` (no Retry-After)."""
        base = min(self.max_backoff, self.initial_backoff * (2.0**attempt))
        factor: float = 1.0 - self.jitter * random.random()  # noqa: S311 - jitter, not crypto
        return base * factor

    def delay_for_status(
        self, attempt: int, status: int, retry_after: float | None
    ) -> float | None:
        """The delay before retrying a response with ``status``, or ``None`` not to retry."""
        if attempt >= self.max_retries or status not in self.retry_statuses:
            return None
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            return retry_after
        return self.backoff(attempt)

    def delay_for_error(
        self, attempt: int, error: ArliConnectionError, method: str
    ) -> float | None:
        """The delay before retrying after a connection error or timeout, or ``None``."""
        if attempt >= self.max_retries:
            return None
        if (
            isinstance(error, ArliTimeoutError)
            and error.phase in ("read", "write")
            and method not in _IDEMPOTENT
            and not self.retry_read_timeouts
        ):
            return None
        return self.backoff(attempt)


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``Retry-After`` as seconds or an HTTP-date."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = -1.0
        if value >= 0:
            return value
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


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


def _display_url(url: httpx.URL) -> str:
    if url.userinfo:
        url = url.copy_with(username=None, password=None)
    return str(url)


def _map_httpx_error(
    exc: httpx.HTTPError, method: str, url: str, timeout: float | None
) -> ArliError:
    """Translate an httpx exception into our hierarchy (the message never has headers).

    The httpx exception stays chained as ``__cause__`` and keeps the failed request as an
    attribute: its credential headers are removed first, so an error tracker that dumps
    exception attributes cannot pick the key up. (Each attempt builds a new request.)
    """
    _forget_credentials(exc)
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


def _forget_credentials(exc: httpx.HTTPError) -> None:
    """Drop the credential headers of the request an httpx exception carries."""
    try:
        request = exc.request
    except RuntimeError:  # raised by httpx when the exception has no request
        return
    for name in CREDENTIAL_HEADERS:
        request.headers.pop(name, None)


def _is_fatal_transport_error(exc: httpx.HTTPError) -> bool:
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


@dataclass
class _Attempt:
    """Mutable state of one call across its attempts."""

    attempt: int = 0
    started: float = field(default_factory=time.monotonic)


@checks_arguments()
class Transport:
    """Sends requests for one API of one configuration (see the module docstring).

    Args:
        base_url: the API base URL (normalized, no trailing slash).
        api: ``"text"`` or ``"image"`` (picks the default response size cap).
        authorization: the whole ``Authorization`` header value, or ``None``.
        connect_timeout: seconds to connect.
        read_timeouts: read timeout per kind of request.
        retry: the retry policy.
        limiter: the in-flight limiter, or ``None`` for no limit of its own.
        limiter_key: ``(base URL, key fingerprint, scope)``: without a limiter of its own,
            the transport follows the process-wide one of that key when another client
            sets it (the account's limit binds every client of the key, set or not).
        headers: extra headers for every request.
        http_client: a client to use instead of our own (not closed by us).
        http_async_client: an async client to use instead of our own (not closed by us).
        max_response_bytes: the largest response body accepted.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api: Api = "text",
        authorization: SecretStr | None = None,
        connect_timeout: float = 10.0,
        read_timeouts: Mapping[TimeoutKind, float] | None = None,
        retry: RetryPolicy | None = None,
        limiter: Limiter | None = None,
        limiter_key: tuple[str, str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        max_response_bytes: int | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.api: Api = api
        self._authorization = authorization
        self.retry = retry or RetryPolicy()
        self._limiter = limiter
        self._limiter_key = limiter_key
        self.max_response_bytes = max_response_bytes or _DEFAULT_MAX_RESPONSE_BYTES[api]
        reads: dict[TimeoutKind, float] = {"text": 300.0, "image": 300.0, "listing": 30.0}
        reads.update(read_timeouts or {})
        self._timeouts: dict[TimeoutKind, httpx.Timeout] = {
            kind: httpx.Timeout(connect=connect_timeout, read=read, write=read, pool=read)
            for kind, read in reads.items()
        }
        base_headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        base_headers.update(headers or {})
        if authorization is not None:
            base_headers["Authorization"] = authorization.get_secret_value()
        self._headers = base_headers
        self._json_headers = {**base_headers, "Content-Type": "application/json"}
        self._user_client = http_client
        self._user_async_client = http_async_client
        self._client: httpx.Client | None = None
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]
        self._async_clients = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        # Our own clients' default headers merged with ours, [plain, JSON], and parsed URLs:
        # built once, so a request skips httpx's per-call merging and URL parsing.
        self._merged_headers: tuple[httpx.Headers, httpx.Headers] | None = None
        self._urls: dict[str, httpx.URL] = {}

    def __repr__(self) -> str:
        auth = "set" if self._authorization is not None else "none"
        return f"Transport(api={self.api!r}, base_url={self.base_url!r}, authorization={auth})"

    @property
    def limiter(self) -> Limiter | None:
        """The in-flight limiter requests take a slot of (``None``: no limit).

        Its own, else the process-wide one another client set for the same key and base
        URL (looked up per request, so the order the clients were made in does not matter).
        """
        if self._limiter is not None or self._limiter_key is None:
            return self._limiter
        return find_limiter(*self._limiter_key)

    # -- clients -------------------------------------------------------------------------

    @property
    def owns_clients(self) -> bool:
        """False when the caller injected its own httpx clients."""
        return self._user_client is None and self._user_async_client is None

    def _new_limits(self) -> httpx.Limits:
        return httpx.Limits(max_connections=100, max_keepalive_connections=32, keepalive_expiry=30)

    def sync_client(self) -> httpx.Client:
        """The pooled sync client (created on first use)."""
        if self._user_client is not None:
            return self._user_client
        client = self._client
        if client is None or client.is_closed:
            with self._lock:
                client = self._client
                if client is None or client.is_closed:
                    client = self._client = httpx.Client(
                        limits=self._new_limits(), follow_redirects=False
                    )
        return client

    def async_client(self) -> httpx.AsyncClient:
        """The pooled async client of the running event loop (created on first use)."""
        if self._user_async_client is not None:
            return self._user_async_client
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None or client.is_closed:
            with self._lock:
                client = self._async_clients.get(loop)
                if client is None or client.is_closed:
                    client = httpx.AsyncClient(limits=self._new_limits(), follow_redirects=False)
                    self._async_clients[loop] = client
        return client

    def close(self) -> None:
        """Close the clients this transport created (injected clients are left open).

        The transport stays usable: the next call opens a new pool.
        """
        with self._lock:
            client, self._client = self._client, None
            asyncs = list(self._async_clients.items())
            self._async_clients.clear()
        if client is not None:
            client.close()
        for loop, aclient in asyncs:
            if not loop.is_closed() and not loop.is_running():
                loop.run_until_complete(aclient.aclose())

    async def aclose(self) -> None:
        """Close the clients this transport created, including the running loop's async one."""
        loop = asyncio.get_running_loop()
        with self._lock:
            aclient = self._async_clients.pop(loop, None)
        if aclient is not None:
            await aclient.aclose()
        self.close()

    # -- helpers -------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (which starts with ``/``)."""
        return self.base_url + path

    def _timeout(self, kind: TimeoutKind, custom: float | None) -> httpx.Timeout | Any:
        if custom is not None:
            return httpx.Timeout(custom, connect=self._timeouts[kind].connect)
        if self._user_client is not None or self._user_async_client is not None:
            return httpx.USE_CLIENT_DEFAULT
        return self._timeouts[kind]

    def _build(
        self,
        client: httpx.Client | httpx.AsyncClient,
        method: str,
        path: str,
        body: bytes | Multipart | None,
        params: Mapping[str, Any] | None,
        timeout: httpx.Timeout | Any,
        headers: Mapping[str, str] | None,
    ) -> httpx.Request:
        if isinstance(body, Multipart):
            hdrs = {**self._headers, **(headers or {})}
            return client.build_request(
                method,
                self.url(path),
                data=dict(body.data),
                files=dict(body.files),
                params=params,
                headers=hdrs,
                timeout=timeout,
            )
        own = client is not self._user_client and client is not self._user_async_client
        if own and params is None and not client.cookies and isinstance(timeout, httpx.Timeout):
            return self._own_request(client, method, path, body, timeout, headers)
        hdrs = self._json_headers if body is not None else self._headers
        if headers:
            hdrs = {**hdrs, **headers}
        return client.build_request(
            method, self.url(path), content=body, params=params, headers=hdrs, timeout=timeout
        )

    def _own_request(
        self,
        client: httpx.Client | httpx.AsyncClient,
        method: str,
        path: str,
        body: bytes | None,
        timeout: httpx.Timeout,
        extra: Mapping[str, str] | None,
    ) -> httpx.Request:
        """What ``client.build_request`` gives for one of our clients, without re-merging.

        Our clients have no base URL, params or cookies of their own (the caller checks
        the cookies), so the request is our URL, the client's default headers updated
        with ours, and the timeout extension.
        """
        ours = self._json_headers if body is not None else self._headers
        if extra:
            headers = client.headers.copy()
            headers.update({**ours, **extra})
        else:
            merged = self._merged_headers
            if merged is None:
                plain, json_ = client.headers.copy(), client.headers.copy()
                plain.update(self._headers)
                json_.update(self._json_headers)
                merged = self._merged_headers = (plain, json_)
            headers = merged[body is not None]
        url = self._urls.get(path)
        if url is None:
            url = httpx.URL(self.url(path))
            if len(self._urls) < 64:  # the API's fixed routes; polled ids are not kept
                self._urls[path] = url
        return httpx.Request(
            method, url, content=body, headers=headers, extensions={"timeout": timeout.as_dict()}
        )

    def _status_error(
        self,
        method: str,
        url: str,
        status: int,
        headers: httpx.Headers,
        content: bytes,
        reason: str,
    ) -> ArliStatusError:
        return status_error_from_response(
            status,
            content,
            reason=reason,
            request_id=headers.get("x-request-id") or headers.get("request-id"),
            retry_after=parse_retry_after(headers),
            method=method,
            url=url,
        )

    def _too_large(self, url: str, size: int | None) -> ArliResponseError:
        got = f" ({size} bytes)" if size is not None else ""
        msg = (
            f"the response from {url} exceeds the {self.max_response_bytes} byte limit{got}; "
            "raise max_response_bytes if this is expected"
        )
        return ArliResponseError(msg)

    def _check_length(self, response: httpx.Response, url: str) -> None:
        length = response.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_response_bytes:
            raise self._too_large(url, int(length))

    def _read(self, response: httpx.Response, url: str) -> bytes:
        self._check_length(response, url)
        parts: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_response_bytes:
                raise self._too_large(url, None)
            parts.append(chunk)
        return b"".join(parts)

    async def _aread(self, response: httpx.Response, url: str) -> bytes:
        self._check_length(response, url)
        parts: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_response_bytes:
                raise self._too_large(url, None)
            parts.append(chunk)
        return b"".join(parts)

    def _log_retry(self, method: str, url: str, state: _Attempt, delay: float, why: str) -> None:
        logger.info(
            "Retrying %s %s in %.2f s (retry %d of %d): %s",
            method,
            url,
            delay,
            state.attempt + 1,
            self.retry.max_retries,
            why,
        )

    def _policy(self, max_retries: int | None, retry_read_timeouts: bool | None) -> RetryPolicy:
        policy = self.retry
        if max_retries is not None and max_retries != policy.max_retries:
            policy = RetryPolicy(**{**policy.__dict__, "max_retries": max_retries})
        if retry_read_timeouts is not None and retry_read_timeouts != policy.retry_read_timeouts:
            policy = RetryPolicy(**{**policy.__dict__, "retry_read_timeouts": retry_read_timeouts})
        return policy

    # -- plain requests --------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        timeout: TimeoutKind = "text",
        timeout_seconds: float | None = None,
        max_retries: int | None = None,
        retry_read_timeouts: bool | None = None,
        headers: Mapping[str, str] | None = None,
        multipart: Multipart | None = None,
    ) -> HTTPResult:
        """Send a request, retrying per the policy; return the successful response.

        Args:
            method: HTTP method.
            path: route path starting with ``/``.
            json_body: the JSON body (serialized once), or ``None`` for none.
            params: query parameters.
            timeout: which read timeout applies.
            timeout_seconds: an explicit read timeout for this call.
            max_retries: override the policy's retry count for this call.
            retry_read_timeouts: override whether a timed-out POST is re-sent.
            headers: extra headers for this call.
            multipart: a ``multipart/form-data`` body instead of JSON.

        Raises:
            ArliStatusError: the final error response (typed by status).
            ArliConnectionError: the server could not be reached (after retries).
            ArliResponseError: the body exceeded the size cap.
        """
        body: bytes | Multipart | None = multipart
        if json_body is not None:
            body = encode_json_body(json_body)
        policy = self._policy(max_retries, retry_read_timeouts)
        method = method.upper()
        client = self.sync_client()
        tmo = self._timeout(timeout, timeout_seconds)
        state = _Attempt()
        while True:
            request = self._build(client, method, path, body, params, tmo, headers)
            url = _display_url(request.url)
            limiter = self.limiter
            if limiter is not None:
                limiter.acquire()
            try:
                try:
                    response = client.send(request, stream=True)
                    try:
                        content = self._read(response, url)
                    finally:
                        response.close()
                except httpx.HTTPError as exc:
                    err = _map_httpx_error(exc, method, url, _read_seconds(tmo))
                    if _is_fatal_transport_error(exc) or not isinstance(err, ArliConnectionError):
                        raise err from exc
                    delay = policy.delay_for_error(state.attempt, err, method)
                    if delay is None:
                        raise err from exc
                    why = str(err)
                else:
                    status = response.status_code
                    if 200 <= status < 300:
                        logger.debug("%s %s -> %d", method, url, status)
                        return HTTPResult(status, response.headers, content, url, state.attempt + 1)
                    err_s = self._status_error(
                        method, url, status, response.headers, content, response.reason_phrase
                    )
                    delay = policy.delay_for_status(state.attempt, status, err_s.retry_after)
                    if delay is None:
                        raise err_s
                    why = f"HTTP {status}: {err_s.message}"
            finally:
                if limiter is not None:
                    limiter.release()
            self._log_retry(method, url, state, delay, why)
            time.sleep(delay)
            state.attempt += 1

    async def arequest(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        timeout: TimeoutKind = "text",
        timeout_seconds: float | None = None,
        max_retries: int | None = None,
        retry_read_timeouts: bool | None = None,
        headers: Mapping[str, str] | None = None,
        multipart: Multipart | None = None,
    ) -> HTTPResult:
        """Async :meth:`request` on the running loop's pooled client."""
        body: bytes | Multipart | None = multipart
        if json_body is not None:
            body = encode_json_body(json_body)
        policy = self._policy(max_retries, retry_read_timeouts)
        method = method.upper()
        client = self.async_client()
        tmo = self._timeout(timeout, timeout_seconds)
        state = _Attempt()
        while True:
            request = self._build(client, method, path, body, params, tmo, headers)
            url = _display_url(request.url)
            limiter = self.limiter
            if limiter is not None:
                await limiter.aacquire()
            try:
                try:
                    response = await client.send(request, stream=True)
                    try:
                        content = await self._aread(response, url)
                    finally:
                        await response.aclose()
                except httpx.HTTPError as exc:
                    err = _map_httpx_error(exc, method, url, _read_seconds(tmo))
                    if _is_fatal_transport_error(exc) or not isinstance(err, ArliConnectionError):
                        raise err from exc
                    delay = policy.delay_for_error(state.attempt, err, method)
                    if delay is None:
                        raise err from exc
                    why = str(err)
                else:
                    status = response.status_code
                    if 200 <= status < 300:
                        logger.debug("%s %s -> %d", method, url, status)
                        return HTTPResult(status, response.headers, content, url, state.attempt + 1)
                    err_s = self._status_error(
                        method, url, status, response.headers, content, response.reason_phrase
                    )
                    delay = policy.delay_for_status(state.attempt, status, err_s.retry_after)
                    if delay is None:
                        raise err_s
                    why = f"HTTP {status}: {err_s.message}"
            finally:
                if limiter is not None:
                    limiter.release()
            self._log_retry(method, url, state, delay, why)
            await asyncio.sleep(delay)
            state.attempt += 1

    # -- streams ---------------------------------------------------------------------------

    def _not_a_stream(
        self, status: int, headers: httpx.Headers, content: bytes, method: str, url: str
    ) -> ArliError:
        """A 2xx answer to a stream request that is not an event stream."""
        ctype = headers.get("content-type", "")
        if "json" in ctype:
            try:
                data = json.loads(content)
            except (ValueError, RecursionError):
                data = None
            if isinstance(data, dict) and ("error" in data or data.get("object") == "error"):
                return self._status_error(method, url, 500, headers, content, "error")
        text = content[:200].decode("utf-8", errors="replace")
        msg = (
            f"{method} {url} asked for a stream but the server answered HTTP {status} with "
            f"content-type {ctype or '?'}: {text!r}"
        )
        return ArliResponseError(msg, body=text)

    def stream_events(
        self,
        method: str,
        path: str,
        *,
        json_body: Any,
        timeout: TimeoutKind = "text",
        timeout_seconds: float | None = None,
        max_retries: int | None = None,
        on_eof: Callable[[], None] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Send a streaming request and yield the JSON payload of each SSE event.

        The request is retried (per the policy) only until the first event arrives. The
        iteration ends at ``data: [DONE]``. When the stream ends without it, ``on_eof`` is
        called (it may accept the ending, or raise); without ``on_eof`` an
        :class:`~arli.IncompleteResponseError` is raised.

        Raises:
            ArliStatusError: an error response, or an error object inside the stream.
            ArliConnectionError: the connection broke (after the first event: never retried).
            IncompleteResponseError: the stream ended early.
        """
        body = encode_json_body(json_body)
        policy = self._policy(max_retries, None)
        method = method.upper()
        client = self.sync_client()
        tmo = self._timeout(timeout, timeout_seconds)
        state = _Attempt()
        hdrs = {"Accept": "text/event-stream", **(headers or {})}
        while True:
            request = self._build(client, method, path, body, None, tmo, hdrs)
            url = _display_url(request.url)
            delay: float | None = None
            why = ""
            limiter = self.limiter
            if limiter is not None:
                limiter.acquire()
            try:
                stream = JSONEventStream(method=method, url=url)
                try:
                    response = client.send(request, stream=True)
                except httpx.HTTPError as exc:
                    err = _map_httpx_error(exc, method, url, _read_seconds(tmo))
                    if _is_fatal_transport_error(exc) or not isinstance(err, ArliConnectionError):
                        raise err from exc
                    delay = policy.delay_for_error(state.attempt, err, method)
                    if delay is None:
                        raise err from exc
                    why = str(err)
                else:
                    try:
                        status = response.status_code
                        if not 200 <= status < 300 or "event-stream" not in response.headers.get(
                            "content-type", ""
                        ):
                            try:
                                content = self._read(response, url)
                            except httpx.HTTPError as exc:
                                err = _map_httpx_error(exc, method, url, _read_seconds(tmo))
                                raise err from exc
                            if 200 <= status < 300:
                                raise self._not_a_stream(
                                    status, response.headers, content, method, url
                                )
                            err_s = self._status_error(
                                method,
                                url,
                                status,
                                response.headers,
                                content,
                                response.reason_phrase,
                            )
                            delay = policy.delay_for_status(
                                state.attempt, status, err_s.retry_after
                            )
                            if delay is None:
                                raise err_s
                            why = f"HTTP {status}: {err_s.message}"
                        else:
                            stream.request_id = response.headers.get("x-request-id")
                            decoder = SSEDecoder()
                            try:
                                for chunk in response.iter_bytes():
                                    for event in decoder.feed(chunk):
                                        payload = stream.decode(event)
                                        if stream.done:
                                            return
                                        if payload is not None:
                                            yield payload
                                for event in decoder.flush():
                                    payload = stream.decode(event)
                                    if stream.done:
                                        return
                                    if payload is not None:
                                        yield payload
                            except httpx.HTTPError as exc:
                                err = _map_httpx_error(exc, method, url, _read_seconds(tmo))
                                if stream.events or not isinstance(err, ArliConnectionError):
                                    raise _mid_stream(err, stream.events) from exc
                                delay = policy.delay_for_error(state.attempt, err, method)
                                if delay is None:
                                    raise err from exc
                                why = str(err)
                            except ArliStatusError as err_ev:
                                if stream.events:
                                    raise
                                delay = policy.delay_for_status(
                                    state.attempt, err_ev.status_code, None
                                )
                                if delay is None:
                                    raise
                                why = str(err_ev)
                            else:
                                if on_eof is not None:
                                    on_eof()
                                    return
                                raise _incomplete(method, url, stream.events)
                    finally:
                        response.close()
            finally:
                if limiter is not None:
                    limiter.release()
            assert delay is not None
            self._log_retry(method, url, state, delay, why)
            time.sleep(delay)
            state.attempt += 1

    async def astream_events(
        self,
        method: str,
        path: str,
        *,
        json_body: Any,
        timeout: TimeoutKind = "text",
        timeout_seconds: float | None = None,
        max_retries: int | None = None,
        on_eof: Callable[[], None] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Async :meth:`stream_events` on the running loop's pooled client."""
        body = encode_json_body(json_body)
        policy = self._policy(max_retries, None)
        method = method.upper()
        client = self.async_client()
        tmo = self._timeout(timeout, timeout_seconds)
        state = _Attempt()
        hdrs = {"Accept": "text/event-stream", **(headers or {})}
        while True:
            request = self._build(client, method, path, body, None, tmo, hdrs)
            url = _display_url(request.url)
            delay: float | None = None
            why = ""
            limiter = self.limiter
            if limiter is not None:
                await limiter.aacquire()
            try:
                stream = JSONEventStream(method=method, url=url)
                try:
                    response = await client.send(request, stream=True)
                except httpx.HTTPError as exc:
                    err = _map_httpx_error(exc, method, url, _read_seconds(tmo))
                    if _is_fatal_transport_error(exc) or not isinstance(err, ArliConnectionError):
                        raise err from exc
                    delay = policy.delay_for_error(state.attempt, err, method)
                    if delay is None:
                        raise err from exc
                    why = str(err)
                else:
                    try:
                        status = response.status_code
                        if not 200 <= status < 300 or "event-stream" not in response.headers.get(
                            "content-type", ""
                        ):
                            try:
                                content = await self._aread(response, url)
                            except httpx.HTTPError as exc:
                                err = _map_httpx_error(exc, method, url, _read_seconds(tmo))
                                raise err from exc
                            if 200 <= status < 300:
                                raise self._not_a_stream(
                                    status, response.headers, content, method, url
                                )
                            err_s = self._status_error(
                                method,
                                url,
                                status,
                                response.headers,
                                content,
                                response.reason_phrase,
                            )
                            delay = policy.delay_for_status(
                                state.attempt, status, err_s.retry_after
                            )
                            if delay is None:
                                raise err_s
                            why = f"HTTP {status}: {err_s.message}"
                        else:
                            stream.request_id = response.headers.get("x-request-id")
                            decoder = SSEDecoder()
                            try:
                                async for chunk in response.aiter_bytes():
                                    for event in decoder.feed(chunk):
                                        payload = stream.decode(event)
                                        if stream.done:
                                            return
                                        if payload is not None:
                                            yield payload
                                for event in decoder.flush():
                                    payload = stream.decode(event)
                                    if stream.done:
                                        return
                                    if payload is not None:
                                        yield payload
                            except httpx.HTTPError as exc:
                                err = _map_httpx_error(exc, method, url, _read_seconds(tmo))
                                if stream.events or not isinstance(err, ArliConnectionError):
                                    raise _mid_stream(err, stream.events) from exc
                                delay = policy.delay_for_error(state.attempt, err, method)
                                if delay is None:
                                    raise err from exc
                                why = str(err)
                            except ArliStatusError as err_ev:
                                if stream.events:
                                    raise
                                delay = policy.delay_for_status(
                                    state.attempt, err_ev.status_code, None
                                )
                                if delay is None:
                                    raise
                                why = str(err_ev)
                            else:
                                if on_eof is not None:
                                    on_eof()
                                    return
                                raise _incomplete(method, url, stream.events)
                    finally:
                        await response.aclose()
            finally:
                if limiter is not None:
                    limiter.release()
            assert delay is not None
            self._log_retry(method, url, state, delay, why)
            await asyncio.sleep(delay)
            state.attempt += 1


def _read_seconds(timeout: httpx.Timeout | Any) -> float | None:
    return timeout.read if isinstance(timeout, httpx.Timeout) else None


def _mid_stream(err: ArliError, events: int) -> ArliError:
    """Say how far a broken stream got; the cause stays the same type."""
    if not events:
        return err
    note = f" (after {events} event{'s' if events != 1 else ''} of the stream; not retried)"
    if isinstance(err, ArliTimeoutError):
        return ArliTimeoutError(str(err) + note, method=err.method, url=err.url, phase=err.phase)
    if isinstance(err, ArliConnectionError):
        return ArliConnectionError(str(err) + note, method=err.method, url=err.url)
    return err


def _incomplete(method: str, url: str, events: int) -> IncompleteResponseError:
    msg = (
        f"the stream from {method} {url} ended after {events} event"
        f"{'s' if events != 1 else ''} without `data: [DONE]` or a finish reason: "
        "the response is incomplete"
    )
    return IncompleteResponseError(msg)


def limiter_key(
    settings: ArliSettings, api: Api, *, base_url: str | None = None
) -> tuple[str, str, str]:
    """``(base URL, key fingerprint, scope)``: what one process-wide limiter is for.

    The scope is the API, or ``"all"`` when the provider has one limit for both (the
    keyless proxy's 6 counts text and image requests together).
    """
    scope = "all" if get_provider(settings.provider).shared_limit else api
    return (base_url or settings.base_url_for(api), settings.key_fingerprint(api), scope)


def shared_limiter(
    settings: ArliSettings, api: Api, *, base_url: str | None = None
) -> Limiter | None:
    """The process-wide in-flight limiter of ``(base URL, key, api)`` (``None``: no limit).

    Every client of the same key and base URL shares it, whatever adapter built it.
    Setting a limit (re)sets it for all of them.
    """
    limit = settings.max_concurrency_for(api)
    if limit is None:
        return None
    return get_limiter(*limiter_key(settings, api, base_url=base_url), limit)


_transports: weakref.WeakValueDictionary[tuple[Any, ...], Transport] = weakref.WeakValueDictionary()
_transports_lock = threading.Lock()


def get_transport(
    settings: ArliSettings,
    api: Api,
    *,
    http_client: httpx.Client | None = None,
    http_async_client: httpx.AsyncClient | None = None,
    base_url: str | None = None,
) -> Transport:
    """Return the shared transport for ``(settings, api)``, creating it when needed.

    Objects built from equal settings share one connection pool. Injected httpx clients
    always get a transport of their own. The in-flight limiter is shared more widely: by
    every transport of the same base URL, key and API (and of both APIs when the provider
    has one limit for all, as the keyless proxy does).

    Raises:
        ArliConfigError: when the API needs a key and none is configured.
    """
    authorization = settings.authorization_for(api)
    url = base_url or settings.base_url_for(api)
    fingerprint = settings.key_fingerprint(api)

    def build() -> Transport:
        limiter = shared_limiter(settings, api, base_url=url)
        return Transport(
            base_url=url,
            api=api,
            authorization=authorization,
            connect_timeout=settings.connect_timeout,
            read_timeouts={
                "text": settings.text_timeout,
                "image": settings.image_timeout,
                "listing": settings.listing_timeout,
            },
            retry=RetryPolicy(
                max_retries=settings.max_retries,
                max_retry_after=settings.max_retry_after,
                initial_backoff=settings.retry_initial_backoff,
                max_backoff=settings.retry_max_backoff,
                retry_read_timeouts=settings.retry_read_timeouts,
            ),
            limiter=limiter,
            limiter_key=limiter_key(settings, api, base_url=url),
            headers=settings.default_headers,
            http_client=http_client,
            http_async_client=http_async_client,
        )

    if http_client is not None or http_async_client is not None:
        return build()
    key = (
        api,
        url,
        fingerprint,
        settings.model_dump_json(exclude={"text_api_key", "image_api_key"}),
    )
    with _transports_lock:
        transport = _transports.get(key)
        if transport is None:
            transport = build()
            _transports[key] = transport
        return transport


class PooledClient:
    """What every client built on a :class:`Transport` shares: its lifecycle.

    ``close()``/``aclose()`` release the pooled connections (they reopen if the client is
    used again), and the client is a sync and async context manager.
    """

    _transport: Transport

    @property
    def transport(self) -> Transport:
        """The transport (pooled connections, retries, limiter) this client uses."""
        return self._transport

    def close(self) -> None:
        """Close the pooled connections (the client reopens them if used again)."""
        self._transport.close()

    async def aclose(self) -> None:
        """Close the pooled connections, including the running loop's async pool."""
        await self._transport.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

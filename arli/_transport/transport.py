"""The :class:`Transport`: pooled httpx clients, request building and the call entry points.

:meth:`Transport.request`, :meth:`Transport.stream_events` and their async twins each make
the call's attempt loop (:func:`~arli._transport.loop.attempt_loop`, one for all four) and
hand it to the sync or async runner of :mod:`arli._transport.loop`, which does its I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time  # noqa: F401 - tests patch ``arli._transport.transport.time.sleep``
import warnings
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from functools import partial
from typing import Any, SupportsIndex, TypedDict, TypeVar, cast

import httpx
from pydantic import SecretStr
from typing_extensions import Unpack

from arli._errors import ArliValidationError
from arli._kwargs import checks_arguments, warn_renamed
from arli._limits import Limiter, find_limiter
from arli._secrets import normalize_key
from arli._settings import Api, TimeoutKind, check_count, check_seconds
from arli._transport.attempts import Attempts, CallStats
from arli._transport.loop import Loop, arun, astream, attempt_loop, run, stream
from arli._transport.policy import RetryPolicy
from arli._transport.streams import stall_seconds
from arli._transport.wire import (
    USER_AGENT,
    HTTPResult,
    Multipart,
    encode_json_body,
    read_seconds,
    with_lazy_cookies,
)

__all__ = ["Transport"]

logger = logging.getLogger("arli")

_DEFAULT_MAX_RESPONSE_BYTES: dict[Api, int] = {"text": 64 * 2**20, "image": 512 * 2**20}
_STREAM_ACCEPT = {"Accept": "text/event-stream"}
_Client = TypeVar("_Client", httpx.Client, httpx.AsyncClient)


class RequestOptions(TypedDict, total=False):
    """The keyword options of :meth:`Transport.request` (and :meth:`Transport.arequest`)."""

    json_body: Any
    params: Mapping[str, Any] | None
    timeout: float | None
    timeout_kind: TimeoutKind
    timeout_seconds: float | None  # deprecated spelling of ``timeout``
    max_retries: int | None
    retry_read_timeouts: bool | None
    headers: Mapping[str, str] | None
    multipart: Multipart | None
    stats: CallStats | None


class StreamOptions(TypedDict, total=False):
    """The keyword options of :meth:`Transport.stream_events` (and its async twin)."""

    timeout: float | None
    timeout_kind: TimeoutKind
    timeout_seconds: float | None  # deprecated spelling of ``timeout``
    max_retries: int | None
    on_eof: Callable[[], None] | None
    headers: Mapping[str, str] | None
    stall_timeout: float | None
    stats: CallStats | None


@checks_arguments()
class Transport:
    """Sends requests for one API of one configuration (see the module docstring).

    Args:
        base_url: the API base URL (normalized, no trailing slash).
        api: ``"text"`` or ``"image"`` (picks the default response size cap).
        authorization: the whole ``Authorization`` header value (``str`` or ``SecretStr``,
            normalized like a key: held as a ``SecretStr``, surrounding whitespace
            stripped, a value no header can carry refused), or ``None``.
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
        stream_stall_timeout: seconds a started stream may go without an event
            (:class:`~arli.StreamStalledError`); ``None``: ``ARLI_STREAM_STALL_TIMEOUT``,
            else 120 s; ``0``: no limit. A call's ``stall_timeout=`` wins.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api: Api = "text",
        authorization: str | SecretStr | None = None,
        connect_timeout: float = 10.0,
        read_timeouts: Mapping[TimeoutKind, float] | None = None,
        retry: RetryPolicy | None = None,
        limiter: Limiter | None = None,
        limiter_key: tuple[str, str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        max_response_bytes: int | None = None,
        stream_stall_timeout: float | None = None,
    ):
        authorization = normalize_key(authorization, what="authorization")
        check_seconds(connect_timeout, "connect_timeout", label="Transport")
        for kind, seconds in (read_timeouts or {}).items():
            check_seconds(seconds, f"read_timeouts[{kind!r}]", label="Transport")
        if stream_stall_timeout is not None:
            check_seconds(
                stream_stall_timeout, "stream_stall_timeout", zero="no limit", label="Transport"
            )
        if max_response_bytes is not None:
            check_count(max_response_bytes, "max_response_bytes", low=1, label="Transport")
        self.base_url = base_url.rstrip("/")
        self.api: Api = api
        self._authorization = authorization
        self.retry = retry or RetryPolicy()
        self._limiter = limiter
        self._limiter_key = limiter_key
        self.max_response_bytes = max_response_bytes or _DEFAULT_MAX_RESPONSE_BYTES[api]
        self.stream_stall_timeout = stream_stall_timeout
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
        #: per loop, the async generator that closes its client when the loop shuts down
        self._loop_closers: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, AsyncGenerator[None, None]
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        # Our own clients' default headers merged with ours, [plain, JSON], and parsed URLs:
        # built once, so a request skips httpx's per-call merging and URL parsing.
        self._merged_headers: tuple[httpx.Headers, httpx.Headers] | None = None
        self._urls: dict[str, httpx.URL] = {}

    def __repr__(self) -> str:
        auth = "set" if self._authorization is not None else "none"
        return f"Transport(api={self.api!r}, base_url={self.base_url!r}, authorization={auth})"

    def __deepcopy__(self, memo: dict[int, Any]) -> Transport:
        # A connection pool is shared, not copied (as clients built from the same
        # settings share it): a deep copy of a client uses the same transport.
        return self

    def __reduce_ex__(self, protocol: SupportsIndex) -> str | tuple[Any, ...]:
        msg = (
            "Transport cannot be pickled: it holds connection pools and locks of this "
            "process. Pickle the framework model (ChatArli, Arli...) or the settings "
            "(ArliSettings) and build the client in the other process"
        )
        raise TypeError(msg)

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
                    client = self._client = with_lazy_cookies(
                        httpx.Client(limits=self._new_limits(), follow_redirects=False)
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
                    client = with_lazy_cookies(
                        httpx.AsyncClient(limits=self._new_limits(), follow_redirects=False)
                    )
                    self._async_clients[loop] = client
                    self._loop_closers[loop] = _close_with_loop(self, client)
        return client

    def close(self) -> None:
        """Close the clients this transport created (injected clients are left open).

        The transport stays usable: the next call opens a new pool.
        """
        with self._lock:
            client, self._client = self._client, None
            asyncs = list(self._async_clients.items())
            self._async_clients.clear()
            closers = dict(self._loop_closers)
            self._loop_closers.clear()
        if client is not None:
            client.close()
        for loop, aclient in asyncs:
            closer = closers.get(loop)
            if not loop.is_closed() and not loop.is_running():
                loop.run_until_complete(closer.aclose() if closer else aclient.aclose())
            # else: a running loop closes it when the dropped closer is finalized

    async def aclose(self) -> None:
        """Close the clients this transport created, including the running loop's async one."""
        loop = asyncio.get_running_loop()
        with self._lock:
            aclient = self._async_clients.pop(loop, None)
            closer = self._loop_closers.pop(loop, None)
        if closer is not None:
            await closer.aclose()  # closes the client
        elif aclient is not None:
            await aclient.aclose()
        self.close()

    # -- helpers -------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (which starts with ``/``)."""
        return self.base_url + path

    def _timeout(self, kind: TimeoutKind, custom: float | None) -> httpx.Timeout | Any:
        if custom is not None:
            check_seconds(custom, "timeout")
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
        merged = self._merged_headers
        if merged is None:
            plain, json_ = client.headers.copy(), client.headers.copy()
            plain.update(self._headers)
            json_.update(self._json_headers)
            merged = self._merged_headers = (plain, json_)
        headers = merged[body is not None]
        if extra:  # the idempotency key at least: set on a copy, not re-merged from scratch
            headers = headers.copy()  # (a copy of Headers is a list copy; update() re-parses)
            for name, value in extra.items():
                headers[name] = value
        url = self._urls.get(path)
        if url is None:
            url = httpx.URL(self.url(path))
            if len(self._urls) < 64:  # the API's fixed routes; polled ids are not kept
                self._urls[path] = url
        return httpx.Request(
            method, url, content=body, headers=headers, extensions={"timeout": timeout.as_dict()}
        )

    def _policy(self, max_retries: int | None, retry_read_timeouts: bool | None) -> RetryPolicy:
        policy = self.retry
        if max_retries is not None and max_retries != policy.max_retries:
            policy = RetryPolicy(**{**policy.__dict__, "max_retries": max_retries})
        if retry_read_timeouts is not None and retry_read_timeouts != policy.retry_read_timeouts:
            policy = RetryPolicy(**{**policy.__dict__, "retry_read_timeouts": retry_read_timeouts})
        return policy

    def _loop(
        self,
        client: httpx.Client | httpx.AsyncClient,
        method: str,
        path: str,
        options: RequestOptions | StreamOptions,
        *,
        stream: bool = False,
        stream_body: Any = None,
    ) -> Loop:
        """The attempt loop of one call (:func:`~arli._transport.loop.attempt_loop`).

        ``stream_body`` is the JSON body of a stream (``stream=True``); a request's is in
        ``options``.
        """
        method = method.upper()
        get = cast("Mapping[str, Any]", options).get
        seconds, kind = get("timeout"), get("timeout_kind", "text")
        if isinstance(seconds, str) or "timeout_seconds" in options:
            seconds, kind = _old_timeout_names(options)
        tmo = self._timeout(kind, seconds)
        policy = self._policy(get("max_retries"), get("retry_read_timeouts"))
        attempts = Attempts(policy, method, read_seconds(tmo), get("stats"))
        if stream:
            body: bytes | Multipart | None = encode_json_body(stream_body)
            extra = get("headers")
            headers: Mapping[str, str] | None = (
                {**_STREAM_ACCEPT, **extra} if extra else _STREAM_ACCEPT
            )
            stall = stall_seconds(get("stall_timeout"), self.stream_stall_timeout)
        else:
            json_body = get("json_body")
            body = get("multipart") if json_body is None else encode_json_body(json_body)
            headers, stall = get("headers"), None
        params = get("params")

        def build() -> httpx.Request:
            hdrs = attempts.headers(headers)
            return self._build(client, method, path, body, params, tmo, hdrs)

        return attempt_loop(
            build, self._current_limiter, attempts, stream=stream, on_eof=get("on_eof"),
            stall_timeout=stall,
        )  # fmt: skip

    def _stream_loop(
        self,
        client_of: Callable[[], _Client],
        method: str,
        path: str,
        json_body: Any,
        options: StreamOptions,
    ) -> tuple[Loop, _Client]:
        """The attempt loop of one event stream and the client to run it on.

        Made when the stream is first iterated (a stream call does nothing before).
        """
        client = client_of()
        loop = self._loop(client, method, path, options, stream=True, stream_body=json_body)
        return loop, client

    def _current_limiter(self) -> Limiter | None:
        return self.limiter

    # -- plain requests --------------------------------------------------------------------

    def request(self, method: str, path: str, **options: Unpack[RequestOptions]) -> HTTPResult:
        """Send a request, retrying per the policy; return the successful response.

        Args:
            method: HTTP method.
            path: route path starting with ``/``.
            **options: (:class:`RequestOptions`)

                * ``json_body``: the JSON body (serialized once), or ``None`` for none;
                * ``params``: query parameters;
                * ``timeout``: this call's read timeout in seconds, per attempt (``None``:
                  the one of its kind);
                * ``timeout_kind``: which read-timeout setting applies when ``timeout``
                  is not given, ``"text"`` (default), ``"image"`` or ``"listing"``;
                * ``max_retries``: override the policy's retry count for this call;
                * ``retry_read_timeouts``: override whether a timed-out POST is re-sent;
                * ``headers``: extra headers for this call;
                * ``multipart``: a ``multipart/form-data`` body instead of JSON;
                * ``stats``: a :class:`CallStats` to record the retries in.

        Raises:
            ArliStatusError: the final error response (typed by status).
            ArliConnectionError: the server could not be reached (after retries).
            ArliResponseError: the body exceeded the size cap.
        """
        client = self.sync_client()
        return run(self._loop(client, method, path, options), client, self.max_response_bytes)

    async def arequest(
        self, method: str, path: str, **options: Unpack[RequestOptions]
    ) -> HTTPResult:
        """Async :meth:`request` on the running loop's pooled client."""
        client = self.async_client()
        loop = self._loop(client, method, path, options)
        return await arun(loop, client, self.max_response_bytes)

    # -- streams ---------------------------------------------------------------------------

    def stream_events(
        self, method: str, path: str, *, json_body: Any, **options: Unpack[StreamOptions]
    ) -> Iterator[dict[str, Any]]:
        """Send a streaming request and yield the JSON payload of each SSE event.

        The request is retried (per the policy) only until the first event arrives. The
        iteration ends at ``data: [DONE]``. When the stream ends without it, ``on_eof`` is
        called (it may accept the ending, or raise); without ``on_eof`` an
        :class:`~arli.IncompleteResponseError` is raised.

        Args:
            method: HTTP method.
            path: route path starting with ``/``.
            json_body: the JSON body.
            **options: (:class:`StreamOptions`) ``timeout``, ``timeout_kind``,
                ``max_retries``, ``headers`` and ``stats`` as for :meth:`request`;
                ``on_eof`` (above); ``stall_timeout``: the longest wait in seconds for the
                next event once the stream started (default: the transport's
                ``stream_stall_timeout``; ``0``: no limit).

        Raises:
            ArliStatusError: an error response, or an error object inside the stream.
            ArliConnectionError: the connection broke (after the first event: never retried).
            IncompleteResponseError: the stream ended early.
            StreamStalledError: no event for ``stall_timeout`` seconds.
        """
        start = partial(self._stream_loop, self.sync_client, method, path, json_body, options)
        return stream(start, self.max_response_bytes)

    def astream_events(
        self, method: str, path: str, *, json_body: Any, **options: Unpack[StreamOptions]
    ) -> AsyncIterator[dict[str, Any]]:
        """Async :meth:`stream_events` on the running loop's pooled client."""
        start = partial(self._stream_loop, self.async_client, method, path, json_body, options)
        return astream(start, self.max_response_bytes)


def _old_timeout_names(options: RequestOptions | StreamOptions) -> tuple[Any, Any]:
    """``(seconds, kind)`` from the deprecated spellings (each warns).

    Before one name per idea, ``timeout=`` named the kind (``"text"``, ``"image"``,
    ``"listing"``) and ``timeout_seconds=`` the seconds.
    """
    get = cast("Mapping[str, Any]", options).get
    seconds, kind = get("timeout"), get("timeout_kind", "text")
    if isinstance(seconds, str):
        msg = (
            f"Transport: timeout={seconds!r} naming a kind is deprecated, use "
            f"timeout_kind={seconds!r} (timeout= is the seconds of this call)"
        )
        warnings.warn(msg, DeprecationWarning, stacklevel=4)
        if "timeout_kind" in options:
            msg = "Transport: timeout= is the seconds of this call; timeout_kind= its kind"
            raise ArliValidationError(msg, field="timeout", allowed="seconds > 0 or None")
        seconds, kind = None, seconds
    if "timeout_seconds" in options:
        warn_renamed("Transport", "timeout_seconds", "timeout", stacklevel=5)
        if seconds is not None:
            msg = "Transport: give timeout= only (timeout_seconds= is its old spelling)"
            raise ArliValidationError(msg, field="timeout_seconds", allowed="timeout")
        seconds = get("timeout_seconds")
    return seconds, kind


def _close_with_loop(transport: Transport, client: httpx.AsyncClient) -> AsyncGenerator[None, None]:
    """Close ``client`` when the running loop shuts down (``asyncio.run`` ending).

    A per-loop client would otherwise outlive its loop with open sockets (a
    ``ResourceWarning`` per connection after every ``asyncio.run``). The loop closes the
    async generators it knows before it closes (``shutdown_asyncgens``, which
    ``asyncio.run`` and ``asyncio.Runner`` call): this one, started here inside the loop
    so that the loop knows it, closes the client then. The transport keeps it alive.
    """

    async def closer() -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            loop = asyncio.get_running_loop()
            with transport._lock:
                if transport._async_clients.get(loop) is client:
                    del transport._async_clients[loop]
                    transport._loop_closers.pop(loop, None)
            await client.aclose()

    agen = closer()
    with contextlib.suppress(StopIteration):
        agen.asend(None).send(None)  # run to its ``yield``: the loop's hooks register it
    return agen

"""The :class:`Transport`: pooled httpx clients, request building and the attempt drivers.

The drivers (:meth:`Transport.request`, :meth:`Transport.stream_events` and their async
twins) only do I/O: build the attempt, take a limiter slot, send, read; every decision
about a failure is :class:`~arli._transport.attempts.Attempts`'s, shared by all four.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from arli._errors import ArliStatusError
from arli._kwargs import checks_arguments
from arli._limits import Limiter, find_limiter
from arli._settings import Api, TimeoutKind
from arli._sse import JSONEventStream, SSEDecoder
from arli._transport.attempts import Attempts
from arli._transport.policy import RetryPolicy
from arli._transport.streams import ended, is_event_stream, stream_refusal
from arli._transport.wire import (
    USER_AGENT,
    HTTPResult,
    Multipart,
    aread_body,
    display_url,
    encode_json_body,
    read_body,
    read_seconds,
    refusal,
)

__all__ = ["Transport"]

logger = logging.getLogger("arli")

_DEFAULT_MAX_RESPONSE_BYTES: dict[Api, int] = {"text": 64 * 2**20, "image": 512 * 2**20}
_STREAM_ACCEPT = {"Accept": "text/event-stream"}


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

    def _policy(self, max_retries: int | None, retry_read_timeouts: bool | None) -> RetryPolicy:
        policy = self.retry
        if max_retries is not None and max_retries != policy.max_retries:
            policy = RetryPolicy(**{**policy.__dict__, "max_retries": max_retries})
        if retry_read_timeouts is not None and retry_read_timeouts != policy.retry_read_timeouts:
            policy = RetryPolicy(**{**policy.__dict__, "retry_read_timeouts": retry_read_timeouts})
        return policy

    def _start(
        self,
        method: str,
        timeout: TimeoutKind,
        timeout_seconds: float | None,
        max_retries: int | None,
        retry_read_timeouts: bool | None,
    ) -> tuple[str, httpx.Timeout | Any, Attempts]:
        """What every driver starts a call with: the method, the timeout and its attempts."""
        method = method.upper()
        tmo = self._timeout(timeout, timeout_seconds)
        policy = self._policy(max_retries, retry_read_timeouts)
        return method, tmo, Attempts(policy, method, read_seconds(tmo))

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
        body = multipart if json_body is None else encode_json_body(json_body)
        method, tmo, attempts = self._start(
            method, timeout, timeout_seconds, max_retries, retry_read_timeouts
        )
        client = self.sync_client()
        while True:
            request = self._build(client, method, path, body, params, tmo, headers)
            url = display_url(request.url)
            limiter = self.limiter
            if limiter is not None:
                limiter.acquire()
            try:
                try:
                    response = client.send(request, stream=True)
                    try:
                        content = read_body(response, url, self.max_response_bytes)
                    finally:
                        response.close()
                except httpx.HTTPError as exc:
                    delay = attempts.after_exception(exc, url)
                else:
                    if 200 <= response.status_code < 300:
                        return self._result(response, content, method, url, attempts)
                    refused = refusal(response, content, method, url)
                    delay = attempts.after_status(refused, url)
            finally:
                if limiter is not None:
                    limiter.release()
            time.sleep(delay)

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
        body = multipart if json_body is None else encode_json_body(json_body)
        method, tmo, attempts = self._start(
            method, timeout, timeout_seconds, max_retries, retry_read_timeouts
        )
        client = self.async_client()
        while True:
            request = self._build(client, method, path, body, params, tmo, headers)
            url = display_url(request.url)
            limiter = self.limiter
            if limiter is not None:
                await limiter.aacquire()
            try:
                try:
                    response = await client.send(request, stream=True)
                    try:
                        content = await aread_body(response, url, self.max_response_bytes)
                    finally:
                        await response.aclose()
                except httpx.HTTPError as exc:
                    delay = attempts.after_exception(exc, url)
                else:
                    if 200 <= response.status_code < 300:
                        return self._result(response, content, method, url, attempts)
                    refused = refusal(response, content, method, url)
                    delay = attempts.after_status(refused, url)
            finally:
                if limiter is not None:
                    limiter.release()
            await asyncio.sleep(delay)

    def _result(
        self, response: httpx.Response, content: bytes, method: str, url: str, attempts: Attempts
    ) -> HTTPResult:
        status = response.status_code
        logger.debug("%s %s -> %d", method, url, status)
        return HTTPResult(status, response.headers, content, url, attempts.attempt + 1)

    # -- streams ---------------------------------------------------------------------------

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
        method, tmo, attempts = self._start(method, timeout, timeout_seconds, max_retries, None)
        client = self.sync_client()
        hdrs = {**_STREAM_ACCEPT, **headers} if headers else _STREAM_ACCEPT
        while True:
            request = self._build(client, method, path, body, None, tmo, hdrs)
            url = display_url(request.url)
            limiter = self.limiter
            if limiter is not None:
                limiter.acquire()
            try:
                try:
                    response = client.send(request, stream=True)
                except httpx.HTTPError as exc:
                    delay = attempts.after_exception(exc, url)
                else:
                    try:
                        if not is_event_stream(response):
                            try:
                                content = read_body(response, url, self.max_response_bytes)
                            except httpx.HTTPError as exc:
                                raise attempts.error(exc, url) from exc
                            refused = stream_refusal(response, content, method, url)
                            delay = attempts.after_status(refused, url)
                        else:
                            stream = JSONEventStream(method=method, url=url)
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
                                delay = attempts.after_exception(exc, url, stream.events)
                            except ArliStatusError as err:
                                delay = attempts.after_event_error(err, url, stream.events)
                            else:
                                ended(on_eof, method, url, stream.events)
                                return
                    finally:
                        response.close()
            finally:
                if limiter is not None:
                    limiter.release()
            time.sleep(delay)

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
        method, tmo, attempts = self._start(method, timeout, timeout_seconds, max_retries, None)
        client = self.async_client()
        hdrs = {**_STREAM_ACCEPT, **headers} if headers else _STREAM_ACCEPT
        while True:
            request = self._build(client, method, path, body, None, tmo, hdrs)
            url = display_url(request.url)
            limiter = self.limiter
            if limiter is not None:
                await limiter.aacquire()
            try:
                try:
                    response = await client.send(request, stream=True)
                except httpx.HTTPError as exc:
                    delay = attempts.after_exception(exc, url)
                else:
                    try:
                        if not is_event_stream(response):
                            try:
                                content = await aread_body(response, url, self.max_response_bytes)
                            except httpx.HTTPError as exc:
                                raise attempts.error(exc, url) from exc
                            refused = stream_refusal(response, content, method, url)
                            delay = attempts.after_status(refused, url)
                        else:
                            stream = JSONEventStream(method=method, url=url)
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
                                delay = attempts.after_exception(exc, url, stream.events)
                            except ArliStatusError as err:
                                delay = attempts.after_event_error(err, url, stream.events)
                            else:
                                ended(on_eof, method, url, stream.events)
                                return
                    finally:
                        await response.aclose()
            finally:
                if limiter is not None:
                    limiter.release()
            await asyncio.sleep(delay)

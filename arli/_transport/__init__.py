"""HTTP transport: pooled httpx clients, auth, timeouts, retries, limits and SSE streams.

One :class:`Transport` serves one API (text or image) of one configuration. It owns one
pooled :class:`httpx.Client` and one :class:`httpx.AsyncClient` per event loop (an async
client's connections belong to the loop that opened them), created lazily and reused by
every call; :func:`get_transport` shares transports between objects built from equal
settings. Injected ``http_client`` / ``http_async_client`` are used as they are (with their
own timeouts) and never closed by us.

Retries live here and nowhere else (see :class:`RetryPolicy`): 408, 429, 500, 502, 503,
504 and connection errors are retried with exponential backoff and jitter, honouring
``Retry-After`` (``retry-after-ms``, seconds or an HTTP-date) and ``x-should-retry:
true|false``; other 4xx never are. **The longest Retry-After we wait for is 60 s**
(``RetryPolicy.max_retry_after``, the ``max_retry_after`` setting): a longer one raises
:class:`~arli.RateLimitError` at once with ``retry_after`` set, so the caller decides when
to come back instead of a call that blocks for minutes (the openai SDK's limit is 120 s,
above which it does not retry either; a chat turn blocked for two minutes looks hung). A
POST whose response timed out is not re-sent unless asked (the server may still be working
on it). A stream is retried only before its first event, and raises
:class:`~arli.StreamStalledError` when it sends no event for 120 s. A retried attempt
carries ``x-arli-retry-count: N``; every attempt of a POST carries the call's one
``Idempotency-Key``; ``retries_taken`` is on the result (:class:`HTTPResult`,
:class:`CallStats`) and on the error that ends the call.

The package is split by concern:

* :mod:`~arli._transport.policy`: :class:`RetryPolicy` and ``Retry-After`` parsing;
* :mod:`~arli._transport.attempts`: the retry decisions of a call (no I/O);
* :mod:`~arli._transport.loop`: the one attempt loop of every call (a generator of I/O
  steps) and its sync and async runners, the only code that differs between the two;
* :mod:`~arli._transport.wire`: bodies, results, httpx errors translated into ours,
  bodies read under the size cap;
* :mod:`~arli._transport.streams`: what a stream request's answer is and how a stream ends;
* :mod:`~arli._transport.transport`: :class:`Transport` (pooled clients, request building,
  the sync and async entry points of plain requests and event streams);
* :mod:`~arli._transport.shared`: :func:`get_transport`, the process-wide limiters and
  :class:`PooledClient`, the lifecycle every client shares.
"""

from __future__ import annotations

import time  # noqa: F401 - tests patch ``arli._transport.time.sleep``

from arli._transport.attempts import Attempts, CallStats
from arli._transport.policy import RetryPolicy, parse_retry_after
from arli._transport.shared import PooledClient, get_transport, limiter_key, shared_limiter
from arli._transport.transport import Transport
from arli._transport.wire import (
    CREDENTIAL_HEADERS,
    USER_AGENT,
    HTTPResult,
    Multipart,
    encode_json_body,
)

# The public classes are documented (and pickled) as ``arli._transport.X``.
for _cls in (CallStats, HTTPResult, Multipart, PooledClient, RetryPolicy, Transport):
    _cls.__module__ = __name__
del _cls

__all__ = [
    "CREDENTIAL_HEADERS",
    "USER_AGENT",
    "Attempts",
    "CallStats",
    "HTTPResult",
    "Multipart",
    "PooledClient",
    "RetryPolicy",
    "Transport",
    "encode_json_body",
    "get_transport",
    "limiter_key",
    "parse_retry_after",
    "shared_limiter",
]

"""One call's retry decisions, written once for sync and async.

The decisions do no I/O. The attempt loop (:func:`~arli._transport.loop.attempt_loop`)
sends each attempt, holding a limiter slot, and hands every failure to :class:`Attempts`,
which answers with the delay to sleep before the next attempt or raises the error that
ends the call:

* an httpx failure is translated (:func:`~arli._transport.wire.map_httpx_error`); errors
  retrying cannot fix (a bad URL scheme, local protocol misuse) end the call, connection
  errors and timeouts are retried per :meth:`RetryPolicy.delay_for_error` (a POST whose
  response timed out is not re-sent unless asked);
* an error status is retried per :meth:`RetryPolicy.delay_for_status` (``Retry-After``
  honoured up to its cap);
* in a stream, the same rules hold only before the first event: a stream broken after it
  ends the call, saying how far it got;
* a response's ``x-should-retry: true|false`` overrides the status rule.

It also writes what each attempt sends on top of the call's headers (the idempotency key
of the call, the retry number of a retried attempt, :meth:`Attempts.headers`), and counts
the retries: :attr:`Attempts.attempt` ends up as ``retries_taken`` on the result, in the
call's :class:`CallStats` and on the error that ends the call.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from arli._errors import ArliConnectionError, ArliError, ArliStatusError
from arli._transport.policy import RetryPolicy
from arli._transport.streams import mid_stream
from arli._transport.wire import is_fatal, map_httpx_error

__all__ = ["Attempts", "CallStats", "idempotency_key"]

logger = logging.getLogger("arli")


#: Methods that get an idempotency key (the others have no side effect to repeat).
_KEYED = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _KeySource:
    """Idempotency keys: a random prefix drawn once per process, and a counter.

    A key must never repeat, across calls, processes and machines that share an API key:
    the prefix is 128 random bits (as many as a uuid4 has), the counter tells the calls of
    one process apart. A forked child draws a new prefix before it runs (a child that kept
    its parent's would send the parent's next keys). Cheaper than a ``uuid.uuid4()`` per
    call: bench line 'idempotency keys'.
    """

    __slots__ = ("counter", "prefix")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Draw a new prefix and restart the counter."""
        self.prefix = f"arli-{secrets.token_hex(16)}-"
        self.counter = itertools.count(1)


_KEYS = _KeySource()
if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_KEYS.reset)


def idempotency_key() -> str:
    """A new idempotency key, unique to this call (``arli-<32 hex>-<n>``)."""
    keys = _KEYS
    return f"{keys.prefix}{next(keys.counter)}"


@dataclass(slots=True)
class CallStats:
    """What one call's attempts took, filled in by the transport as they happen.

    Pass one as ``stats=`` to a :class:`~arli._transport.Transport` call to read it for a
    stream (whose iterator returns no result object) or after an error.

    Attributes:
        retries_taken: the retries made so far (0: the first attempt).
    """

    retries_taken: int = 0


class Attempts:
    """The retry decisions of one call across its attempts (no I/O).

    Args:
        policy: the call's retry policy.
        method: the HTTP method (upper case).
        read_timeout: the read timeout in seconds, named in timeout errors.
        stats: where to record the retries (``None``: nowhere but :attr:`attempt`).

    Attributes:
        attempt: attempts that failed and were retried so far (0 during the first).
        idempotency_key: the key every attempt of this call sends (``None``: none).
    """

    __slots__ = ("attempt", "idempotency_key", "method", "policy", "read_timeout", "stats")

    def __init__(
        self,
        policy: RetryPolicy,
        method: str,
        read_timeout: float | None,
        stats: CallStats | None = None,
    ) -> None:
        self.policy = policy
        self.method = method
        self.read_timeout = read_timeout
        self.attempt = 0
        self.stats = stats
        self.idempotency_key: str | None = None
        if policy.idempotency_header is not None and method in _KEYED:
            self.idempotency_key = idempotency_key()

    def headers(self, extra: Mapping[str, str] | None) -> Mapping[str, str] | None:
        """The headers of this attempt on top of the transport's.

        ``extra`` (the call's own), the call's idempotency key and, on a retry, its number;
        a header the caller set is not replaced.
        """
        policy = self.policy
        key = self.idempotency_key
        count = policy.retry_count_header if self.attempt else None
        if key is None and count is None:
            return extra
        out = {**extra} if extra else {}
        names = {name.lower() for name in out}
        if key is not None and policy.idempotency_header.lower() not in names:  # type: ignore[union-attr]
            out[policy.idempotency_header] = key  # type: ignore[index]
        if count is not None and count.lower() not in names:
            out[count] = str(self.attempt)
        return out

    def ended(self, err: ArliError) -> ArliError:
        """``err``, the error that ends the call, with :attr:`ArliError.retries_taken` set."""
        err.retries_taken = self.attempt
        return err

    def error(self, exc: httpx.HTTPError, url: str) -> ArliError:
        """``exc`` as our error, never retried (raise it ``from exc``)."""
        return map_httpx_error(exc, self.method, url, self.read_timeout)

    def after_exception(self, exc: httpx.HTTPError, url: str, events: int = 0) -> float:
        """The delay before the next attempt after ``exc``; raises the error that ends the call.

        Args:
            exc: what httpx raised while sending or reading the attempt.
            url: the request URL (for messages and the log).
            events: the stream events already delivered (a stream is not retried after one).

        Raises:
            ArliConnectionError: the translated error, when it is not retried.
        """
        return self.after_error(
            map_httpx_error(exc, self.method, url, self.read_timeout), exc, url, events
        )

    def after_error(self, err: ArliError, exc: httpx.HTTPError, url: str, events: int = 0) -> float:
        """:meth:`after_exception` for an httpx failure already translated into ``err``."""
        if events:
            raise mid_stream(err, events) from exc
        if is_fatal(exc) or not isinstance(err, ArliConnectionError):
            raise err from exc
        delay = self.policy.delay_for_error(self.attempt, err, self.method)
        if delay is None:
            raise err from exc
        return self._retry(url, delay, str(err))

    def after_status(
        self, err: ArliStatusError, url: str, should_retry: bool | None = None
    ) -> float:
        """The delay before the next attempt after an error response; else raises ``err``.

        ``should_retry`` is the response's ``x-should-retry`` (``None``: absent).
        """
        delay = self.policy.delay_for_status(
            self.attempt, err.status_code, err.retry_after, should_retry
        )
        if delay is None:
            raise err
        return self._retry(url, delay, f"HTTP {err.status_code}: {err.message}")

    def after_event_error(self, err: ArliStatusError, url: str, events: int) -> float:
        """The delay after an error event inside a stream (retried only as its first event)."""
        if events:
            raise err
        delay = self.policy.delay_for_status(self.attempt, err.status_code, None)
        if delay is None:
            raise err
        return self._retry(url, delay, str(err))

    def _retry(self, url: str, delay: float, why: str) -> float:
        logger.info(
            "Retrying %s %s in %.2f s (retry %d of %d): %s",
            self.method,
            url,
            delay,
            self.attempt + 1,
            self.policy.max_retries,
            why,
        )
        self.attempt += 1
        if self.stats is not None:
            self.stats.retries_taken = self.attempt
        return delay

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
  ends the call, saying how far it got.
"""

from __future__ import annotations

import logging

import httpx

from arli._errors import ArliConnectionError, ArliError, ArliStatusError
from arli._transport.policy import RetryPolicy
from arli._transport.streams import mid_stream
from arli._transport.wire import is_fatal, map_httpx_error

__all__ = ["Attempts"]

logger = logging.getLogger("arli")


class Attempts:
    """The retry decisions of one call across its attempts (no I/O).

    Args:
        policy: the call's retry policy.
        method: the HTTP method (upper case).
        read_timeout: the read timeout in seconds, named in timeout errors.

    Attributes:
        attempt: attempts that failed and were retried so far (0 during the first).
    """

    __slots__ = ("attempt", "method", "policy", "read_timeout")

    def __init__(self, policy: RetryPolicy, method: str, read_timeout: float | None) -> None:
        self.policy = policy
        self.method = method
        self.read_timeout = read_timeout
        self.attempt = 0

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
        err = map_httpx_error(exc, self.method, url, self.read_timeout)
        if events:
            raise mid_stream(err, events) from exc
        if is_fatal(exc) or not isinstance(err, ArliConnectionError):
            raise err from exc
        delay = self.policy.delay_for_error(self.attempt, err, self.method)
        if delay is None:
            raise err from exc
        return self._retry(url, delay, str(err))

    def after_status(self, err: ArliStatusError, url: str) -> float:
        """The delay before the next attempt after an error response; else raises ``err``."""
        delay = self.policy.delay_for_status(self.attempt, err.status_code, err.retry_after)
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
        return delay

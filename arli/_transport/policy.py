"""The retry policy: which failures are retried, after how long, and ``Retry-After``."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC

from arli._errors import ArliConnectionError, ArliTimeoutError, ArliValidationError
from arli._kwargs import checks_arguments
from arli._settings import check_count, check_seconds

__all__ = ["IDEMPOTENT", "RetryPolicy", "parse_retry_after", "parse_should_retry"]

#: Methods that may be re-sent after their response timed out.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "PUT"})


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
        max_retry_after: the longest ``Retry-After`` honoured, 60 s by default; a longer
            one is raised at once as a :class:`~arli.RateLimitError` (with ``retry_after``
            set) so that the caller, not a call blocked for minutes, decides when to come
            back. (The openai SDK waits up to 120 s and, above it, does not retry either.)
        retry_statuses: statuses that are retried.
        retry_read_timeouts: re-send a non-idempotent request whose response timed out.
        retry_count_header: the request header that carries the retry number on a retried
            attempt (``1`` on the first retry; absent from the first attempt); ``None``
            sends none. A caller's own header of that name is left as it is.
        idempotency_header: the request header that carries one key per logical POST (or
            PUT, PATCH, DELETE), the same on each of its retries, so a server that honours
            it can tell a retry from a new request; ``None`` sends none. A caller's own
            header of that name is sent instead of ours.

    A response header ``x-should-retry: true`` makes a failed response retried whatever its
    status (within ``max_retries``); ``x-should-retry: false`` stops any retry of it.
    """

    max_retries: int = 2
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    jitter: float = 0.25
    max_retry_after: float = 60.0
    retry_statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
    retry_read_timeouts: bool = False
    retry_count_header: str | None = "x-arli-retry-count"
    idempotency_header: str | None = "Idempotency-Key"

    def __post_init__(self) -> None:
        label = type(self).__name__
        check_count(self.max_retries, "max_retries", label=label)
        for name in ("initial_backoff", "max_backoff"):
            check_seconds(getattr(self, name), name, zero="no wait", label=label)
        check_seconds(self.max_retry_after, "max_retry_after", zero="never wait", label=label)
        if isinstance(self.jitter, bool) or not 0 <= self.jitter <= 1:
            msg = f"{label}: jitter={self.jitter!r} is out of range: allowed a fraction from 0 to 1"
            raise ArliValidationError(msg, field="jitter", allowed="from 0 to 1")

    def backoff(self, attempt: int) -> float:
        """The computed delay before retry number ``attempt + 1`` (no Retry-After)."""
        base = min(self.max_backoff, self.initial_backoff * (2.0**attempt))
        factor: float = 1.0 - self.jitter * random.random()  # noqa: S311 - jitter, not crypto
        return base * factor

    def delay_for_status(
        self,
        attempt: int,
        status: int,
        retry_after: float | None,
        should_retry: bool | None = None,
    ) -> float | None:
        """The delay before retrying a response with ``status``, or ``None`` not to retry.

        Args:
            attempt: retries taken so far.
            status: the response status.
            retry_after: the seconds the server asked for (``Retry-After``), if any.
            should_retry: the server's ``x-should-retry`` (``None``: it sent none). True
                retries any status; a ``Retry-After`` over the cap is then not waited for
                (the computed backoff is). False never retries.
        """
        if attempt >= self.max_retries or should_retry is False:
            return None
        if should_retry is None and status not in self.retry_statuses:
            return None
        if retry_after is not None:
            if retry_after <= self.max_retry_after:
                return retry_after
            if not should_retry:
                return None
        return self.backoff(attempt)

    def delay_for_error(
        self, attempt: int, error: ArliConnectionError, method: str
    ) -> float | None:
        """The delay before retrying after a connection error or timeout, or ``None``."""
        if attempt >= self.max_retries:
            return None
        if (
            isinstance(error, ArliTimeoutError)
            and error.phase in ("read", "write", "stream")
            and method not in IDEMPOTENT
            and not self.retry_read_timeouts
        ):
            return None
        return self.backoff(attempt)


#: The wall clock an HTTP-date ``Retry-After`` is measured against (tests freeze it).
clock = time.time


def parse_should_retry(headers: Mapping[str, str]) -> bool | None:
    """The server's ``x-should-retry: true|false`` (``None`` when absent or neither)."""
    value = headers.get("x-should-retry")
    if value is None:
        return None
    value = value.strip().lower()
    return True if value == "true" else False if value == "false" else None


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
    current = clock() if now is None else now
    return max(0.0, when.timestamp() - current)

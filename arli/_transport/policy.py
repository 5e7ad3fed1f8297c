"""The retry policy: which failures are retried, after how long, and ``Retry-After``."""

from __future__ import annotations

import email.utils
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from arli._errors import ArliConnectionError, ArliTimeoutError
from arli._kwargs import checks_arguments

__all__ = ["IDEMPOTENT", "RetryPolicy", "parse_retry_after"]

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
            and method not in IDEMPOTENT
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

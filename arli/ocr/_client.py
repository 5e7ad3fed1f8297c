"""The engine's text client: the core :class:`~arli.text.client.TextClient` with OCR's policy.

OCR differs from other text calls in three ways, all expressed here and nowhere else:

- its retry policy: ``max_retries`` of its own (default 4) and a timed-out page is re-sent
  (``retry_read_timeouts``: a transcription has no side effect), with its own read timeout;
- it counts the requests each page sends, retries included: its transport's limiter is an
  :class:`AttemptCounter` that counts every slot taken (one per attempt) and defers to the
  process-wide limiter of the key, so the transport's one retry loop stays the only one;
- that transport is the engine's own (not shared): its counter is per engine.

The transport is built by :func:`~arli._transport.get_transport` like every client's: the
key, base URL, timeouts, backoff, ``Retry-After`` cap and headers come from the settings.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import httpx

from arli._limits import Limiter
from arli._settings import ArliSettings
from arli._transport import Transport, get_transport, shared_limiter
from arli.text.client import TextClient

__all__ = [
    "AttemptCounter",
    "SlotLimiter",
    "counting_attempts",
    "ocr_settings",
    "ocr_text_client",
]


@runtime_checkable
class SlotLimiter(Protocol):
    """A limit on requests in flight: one slot per request (retries take a slot each).

    :class:`arli._limits.Limiter` is one (for one process); a Ray runner passes one
    backed by a named actor, so a whole cluster shares the account's limit.
    """

    def acquire(self) -> None:
        """Wait for a slot (blocking)."""

    async def aacquire(self) -> None:
        """Wait for a slot (async)."""

    def release(self) -> None:
        """Give the slot back."""


# The requests of the page being transcribed (one list per page task; ``None``: not counted).
_ATTEMPTS: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "arli_ocr_attempts", default=None
)


@contextlib.contextmanager
def counting_attempts() -> Iterator[list[int]]:
    """Count the requests sent inside the block (in this task): ``counter[0]``."""
    counter = [0]
    token = _ATTEMPTS.set(counter)
    try:
        yield counter
    finally:
        _ATTEMPTS.reset(token)


class AttemptCounter(Limiter):
    """Counts requests per page for the engine's transport; defers to the shared limiter.

    Args:
        inner: the process-wide limiter of the key (``None``: no limit).
    """

    def __init__(self, inner: SlotLimiter | None):
        super().__init__(1)
        self._inner = inner

    @staticmethod
    def _count() -> None:
        counter = _ATTEMPTS.get()
        if counter is not None:
            counter[0] += 1

    def acquire(self) -> None:
        """Count the attempt, then take a slot of the shared limiter (if any)."""
        self._count()
        if self._inner is not None:
            self._inner.acquire()

    async def aacquire(self) -> None:
        """Count the attempt, then await a slot of the shared limiter (if any)."""
        self._count()
        if self._inner is not None:
            await self._inner.aacquire()

    def release(self) -> None:
        """Give the shared limiter's slot back."""
        if self._inner is not None:
            self._inner.release()


def ocr_settings(
    settings: ArliSettings, *, max_retries: int, timeout: float | None
) -> ArliSettings:
    """``settings`` with OCR's retry policy and read timeout (see the module docstring).

    The values were checked by the engine (``max_retries >= 0``); they are not re-validated,
    so an engine may retry more often than the settings' own bound allows.
    """
    return settings.model_copy(
        update={
            "max_retries": max_retries,
            "retry_read_timeouts": True,
            "text_timeout": timeout or settings.text_timeout,
        }
    )


class _OCRTextClient(TextClient):
    """A :class:`TextClient` over the engine's own transport (OCR retry policy, counting)."""

    def __init__(
        self,
        settings: ArliSettings,
        transport: Transport,
        http_async_client: httpx.AsyncClient | None,
    ):
        super().__init__(settings=settings, http_async_client=http_async_client)
        self._transport = transport


def ocr_text_client(
    settings: ArliSettings,
    *,
    http_async_client: httpx.AsyncClient | None = None,
    limiter: SlotLimiter | None = None,
) -> TextClient:
    """A text client for ``settings`` (from :func:`ocr_settings`) on a counting transport.

    Args:
        settings: the engine's settings.
        http_async_client: an httpx client of the caller's.
        limiter: the slots every request takes (a bulk job's or a cluster's limit;
            ``None``: the process-wide limiter of the key, if any).

    Raises:
        ArliConfigError: no API key for the text API (unless ``require_key=False``).
    """
    transport = get_transport(
        settings,
        "text",
        http_async_client=http_async_client,
        limiter=AttemptCounter(limiter or shared_limiter(settings, "text")),
    )
    return _OCRTextClient(settings, transport, http_async_client)

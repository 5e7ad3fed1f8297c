"""A process-wide limit on requests in flight, shared by threads and asyncio tasks.

Arli allows a fixed number of parallel requests per key (6 for images); a seventh gets a
429. :class:`Limiter` is a FIFO semaphore that threads (blocking) and coroutines (awaiting,
on any event loop) can share, so ``batch``/``abatch``, thread pools and several event loops
in one process never exceed the limit together. :func:`get_limiter` returns the one limiter
for a ``(base URL, key fingerprint, API)`` triple, and :func:`check_limit` is the one rule
for the limits users set (an integer from 1, at most what the service allows).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import Any, SupportsIndex

from arli._errors import ArliConfigError
from arli._kwargs import checks_arguments

__all__ = ["Limiter", "check_limit", "find_limiter", "get_limiter"]


class _Waiter:
    """One blocked acquirer: a thread (event) or a coroutine (future on its loop)."""

    __slots__ = ("event", "future", "handed", "loop")

    def __init__(
        self,
        *,
        event: threading.Event | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        future: asyncio.Future[None] | None = None,
    ):
        self.event = event
        self.loop = loop
        self.future = future
        self.handed = False

    def wake(self) -> bool:
        """Hand the slot to this waiter; return False if it can no longer take it."""
        if self.event is not None:
            self.handed = True
            self.event.set()
            return True
        assert self.loop is not None
        assert self.future is not None
        if self.loop.is_closed() or self.future.done():
            return False
        self.handed = True
        fut = self.future
        try:
            self.loop.call_soon_threadsafe(_resolve, fut)
        except RuntimeError:  # loop closed between the check and the call
            self.handed = False
            return False
        return True


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


@checks_arguments()
class Limiter:
    """A fair (FIFO) counting semaphore usable from threads and from any event loop.

    Args:
        limit: how many holders at most at the same time (>= 1).
    """

    def __init__(self, limit: int):
        if isinstance(limit, bool) or limit < 1:
            msg = f"limit must be >= 1, got {limit}"
            raise ArliConfigError(msg)
        self._limit = limit
        self._in_flight = 0
        self._max_in_flight = 0
        self._lock = threading.Lock()
        self._waiters: deque[_Waiter] = deque()

    def __repr__(self) -> str:
        return (
            f"Limiter(limit={self._limit}, in_flight={self._in_flight}, "
            f"waiting={len(self._waiters)})"
        )

    def __deepcopy__(self, memo: dict[int, object]) -> Limiter:
        # A limit is shared, not copied: a copy with its own count would let twice as
        # many requests through.
        return self

    def __reduce_ex__(self, protocol: SupportsIndex) -> str | tuple[Any, ...]:
        msg = (
            "Limiter cannot be pickled: it counts this process's requests in flight; "
            "build one in the other process"
        )
        raise TypeError(msg)

    @property
    def limit(self) -> int:
        """The current limit."""
        return self._limit

    @property
    def in_flight(self) -> int:
        """How many holders there are now."""
        return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """The most holders seen at once since creation (or :meth:`reset_stats`)."""
        return self._max_in_flight

    @property
    def waiting(self) -> int:
        """How many callers are queued."""
        return len(self._waiters)

    def reset_stats(self) -> None:
        """Reset :attr:`max_in_flight` to the current count."""
        with self._lock:
            self._max_in_flight = self._in_flight

    def set_limit(self, limit: int) -> None:
        """Change the limit; raising it wakes queued callers at once."""
        if limit < 1:
            msg = f"limit must be >= 1, got {limit}"
            raise ValueError(msg)
        with self._lock:
            self._limit = limit
            self._wake_locked()

    def _take_locked(self) -> None:
        self._in_flight += 1
        self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def _wake_locked(self) -> None:
        while self._waiters and self._in_flight < self._limit:
            waiter = self._waiters.popleft()
            if waiter.wake():
                self._take_locked()

    def acquire(self) -> None:
        """Block the calling thread until a slot is free, then take it."""
        with self._lock:
            if self._in_flight < self._limit and not self._waiters:
                self._take_locked()
                return
            waiter = _Waiter(event=threading.Event())
            self._waiters.append(waiter)
        assert waiter.event is not None
        waiter.event.wait()

    async def aacquire(self) -> None:
        """Wait (without blocking the event loop) until a slot is free, then take it."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._in_flight < self._limit and not self._waiters:
                self._take_locked()
                return
            future: asyncio.Future[None] = loop.create_future()
            waiter = _Waiter(loop=loop, future=future)
            self._waiters.append(waiter)
        try:
            await future
        except BaseException:
            with self._lock:
                handed = waiter.handed
                if not handed:
                    with suppress(ValueError):
                        self._waiters.remove(waiter)
            if handed:
                self.release()
            raise

    def release(self) -> None:
        """Give a slot back, handing it to the oldest waiter if there is one."""
        with self._lock:
            if self._in_flight <= 0:
                msg = "Limiter.release() called more times than acquire()"
                raise RuntimeError(msg)
            self._in_flight -= 1
            self._wake_locked()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a slot for the duration of a ``with`` block (threads)."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    @asynccontextmanager
    async def aslot(self) -> AsyncIterator[None]:
        """Hold a slot for the duration of an ``async with`` block (coroutines)."""
        await self.aacquire()
        try:
            yield
        finally:
            self.release()


# Weak: a limiter lives as long as a client (transport) holds it. A key's limit binds the
# clients that exist, not the ones of an earlier test or a finished job on the same URL.
_registry: weakref.WeakValueDictionary[tuple[str, str, str], Limiter] = (
    weakref.WeakValueDictionary()
)
_registry_lock = threading.Lock()


def find_limiter(base_url: str, key_fingerprint: str, api: str) -> Limiter | None:
    """The process-wide limiter for ``(base_url, key_fingerprint, api)``, if a client set one."""
    return _registry.get((base_url, key_fingerprint, api))


def get_limiter(base_url: str, key_fingerprint: str, api: str, limit: int) -> Limiter:
    """Return the process-wide limiter for ``(base_url, key_fingerprint, api)``.

    The first caller sets the limit; a later caller asking for a different limit changes
    it for everyone (the server's limit is one number per key).
    """
    key = (base_url, key_fingerprint, api)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = _registry[key] = Limiter(limit)
            return limiter
    if limiter.limit != limit:
        limiter.set_limit(limit)
    return limiter


_NONE = "None for the provider's documented limit (if any)"


def check_limit(
    value: object, *, name: str, most: int | None = None, service: str = "the service"
) -> int | None:
    """Validate a parallel-request limit a user set: ``None`` or an integer in ``[1, most]``.

    Args:
        value: the limit as given (``None``: no limit of our own).
        name: the setting's name as the user wrote it, for the message.
        most: the most parallel requests the service allows (``None``: not documented).
        service: the service's name, for the message.

    Returns:
        The limit.

    Raises:
        ArliConfigError: for anything but ``None`` or an integer from 1 to ``most``, naming
            the setting and what is allowed.
    """
    if value is None:
        return None
    allowed = f"an integer from 1 to {most}" if most is not None else "an integer >= 1"
    if isinstance(value, bool) or not isinstance(value, int):
        msg = (
            f"{name}={value!r} is not a number of requests: use {allowed} (how many "
            f"requests may be in flight at once), or {_NONE}"
        )
        raise ArliConfigError(msg)
    if value < 1:
        msg = (
            f"{name}={value} would let no request through: use {allowed} (how many requests "
            f"may be in flight at once), or {_NONE}"
        )
        raise ArliConfigError(msg)
    if most is not None and value > most:
        msg = (
            f"{name}={value} is more than {service} allows: it documents at most {most} "
            f"parallel requests (one more gets HTTP 429); use {allowed}"
        )
        raise ArliConfigError(msg)
    return value

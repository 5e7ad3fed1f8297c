"""The sync OCR API on a private event loop, so it works inside a running one.

``asyncio.run`` fails inside a running event loop (Jupyter, FastAPI handlers, anything under
uvloop), which is why so many loaders tell their users to install ``nest_asyncio``. The
sync API here never calls it: the async core runs on one private event loop in a daemon
thread, shared by the process, and the calling thread waits for the result. The same
thing happens whether or not the caller has a loop of its own, and the pooled connections
opened on the private loop are reused from one sync call to the next.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Generator
from typing import Any, TypeVar

__all__ = ["LoopThread", "shared_loop"]

T = TypeVar("T")


class LoopThread:
    """An event loop running forever in a daemon thread.

    Args:
        name: the thread's name.
    """

    def __init__(self, name: str = "arli-ocr-loop"):
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = "running" if self._thread is not None and self._thread.is_alive() else "idle"
        return f"LoopThread({self._name!r}, {state})"

    @property
    def started(self) -> bool:
        """Whether the thread is running."""
        return self._loop is not None

    def loop(self) -> asyncio.AbstractEventLoop:
        """The private loop (the thread starts on first use)."""
        loop = self._loop
        if loop is not None:
            return loop
        with self._lock:
            if self._loop is None:
                new = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(new)
                    new.call_soon(ready.set)
                    new.run_forever()

                thread = threading.Thread(target=run, name=self._name, daemon=True)
                thread.start()
                ready.wait()
                self._thread = thread
                self._loop = new
            return self._loop

    def in_loop_thread(self) -> bool:
        """Whether the caller runs on the private loop (a sync call from there would hang)."""
        return self._thread is not None and threading.current_thread() is self._thread

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the private loop and wait for its result in the calling thread.

        Raises:
            RuntimeError: when called from the private loop itself (for example from a
                progress callback): use the async API there.
        """
        if self.in_loop_thread():
            coro.close()
            msg = (
                "the sync OCR API was called from the OCR event loop (a callback?); "
                "use the async API (aocr / aiter_pages) there"
            )
            raise RuntimeError(msg)
        future = asyncio.run_coroutine_threadsafe(coro, self.loop())
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def iterate(self, agen: AsyncIterator[T]) -> Generator[T, None, None]:
        """Iterate an async iterator from sync code, one item at a time.

        Closing the returned generator (or leaving a ``for`` loop early) closes ``agen``
        on the private loop, which cancels its pending work.
        """
        current: list[asyncio.Task[Any]] = []

        async def step() -> tuple[bool, Any]:
            task = asyncio.current_task()
            if task is not None:
                current[:] = [task]
            try:
                return True, await agen.__anext__()
            except StopAsyncIteration:
                return False, None

        async def close() -> None:
            # a step interrupted in the calling thread (Ctrl-C) may still be running on
            # the loop: let its cancellation finish before the generator is closed
            pending = [t for t in current if not t.done()]
            if pending:
                await asyncio.wait(pending)
            aclose = getattr(agen, "aclose", None)
            if aclose is not None:
                await aclose()

        try:
            while True:
                more, item = self.run(step())
                if not more:
                    return
                yield item
        finally:
            if self._loop is not None and not self._loop.is_closed():
                self.run(close())


_shared = LoopThread()


def shared_loop() -> LoopThread:
    """The process-wide loop thread of the sync OCR API."""
    return _shared

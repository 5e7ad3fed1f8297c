"""What a bulk job does on Ctrl-C or SIGTERM: keep every page the server is already answering.

A page whose request has been sent is paid for (or about to be) whatever the client does
next; cancelling it there would throw the answer away and pay for it again on resume.
So the first interrupt *drains* the job instead of cancelling it:

- pages that have not sent a request yet (waiting for a slot, rendering, or not started)
  are cancelled: nothing was paid for them;
- pages that have sent one finish (their retries included), and their records reach
  ``pages.jsonl`` and the page cache like any other;
- then the outputs are written and the interrupt goes on (``KeyboardInterrupt``).

A second interrupt abandons the pages still in flight (the outputs are still written).

:class:`DrainGate` is the job's request limiter with that rule: once :meth:`~DrainGate.close`
is called it refuses a slot to a page that has not sent anything, and :func:`page_started`
tells the runner whether a page has. :func:`cancel_on_sigterm` makes SIGTERM act as the
first Ctrl-C does under :func:`asyncio.run` (cancel the main task), so ``kill PID`` drains
the job too.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import signal
import threading
from collections.abc import Iterator

from arli.ocr._client import SlotLimiter

__all__ = ["DrainGate", "cancel_on_sigterm", "new_page", "page_started"]

# The page the current task works on: [sent a request]. Set per page by the runner.
_SENT: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar(
    "arli_job_page_sent", default=None
)


def new_page() -> list[bool]:
    """Mark the start of a page in the current task; its "request sent" flag."""
    flag = [False]
    _SENT.set(flag)
    return flag


def page_started(flag: list[bool] | None) -> bool:
    """Whether the page of ``flag`` (:func:`new_page`) has sent a request."""
    return bool(flag and flag[0])


class DrainGate:
    """A request limiter that, once closed, gives slots only to pages already sending.

    Args:
        inner: the job's limiter (its slots are what bounds requests in flight).
    """

    def __init__(self, inner: SlotLimiter):
        self.inner = inner
        self.closed = False

    def __repr__(self) -> str:
        return f"DrainGate({self.inner!r}, closed={self.closed})"

    def close(self) -> None:
        """Refuse slots to pages that have not sent a request yet."""
        self.closed = True

    def _check(self) -> None:
        if self.closed and not page_started(_SENT.get()):
            msg = "the job is interrupted: this page sends nothing"
            raise asyncio.CancelledError(msg)

    def _took(self) -> None:
        flag = _SENT.get()
        if flag is not None:
            flag[0] = True

    def acquire(self) -> None:
        """Wait for a slot (blocking).

        Raises:
            asyncio.CancelledError: the gate is closed and this page has sent nothing.
        """
        self._check()
        self.inner.acquire()
        self._took()

    async def aacquire(self) -> None:
        """Wait for a slot.

        Raises:
            asyncio.CancelledError: the gate is closed and this page has sent nothing.
        """
        self._check()
        await self.inner.aacquire()
        self._took()

    def release(self) -> None:
        """Give the slot back."""
        self.inner.release()


@contextlib.contextmanager
def cancel_on_sigterm(task: asyncio.Task[object] | None) -> Iterator[None]:
    """While inside, SIGTERM cancels ``task`` (as Ctrl-C does under :func:`asyncio.run`).

    Only from the main thread of a loop that can take signal handlers; elsewhere it does
    nothing (the default SIGTERM, or the host's handler, stays).
    """
    if task is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGTERM)
    try:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    except (NotImplementedError, RuntimeError, ValueError):  # no signals on this loop
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)

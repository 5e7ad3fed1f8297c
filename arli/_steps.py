"""Sans-I/O calls: a call's logic as a generator of I/O steps, run blocking or awaiting.

A client method that has a sync and an async form writes its logic once, as a generator
that yields each I/O step as a tuple ``(kind, *args)`` and receives the step's outcome
(or, thrown in, its exception). :func:`run` executes the steps with blocking functions,
:func:`arun` with coroutine functions; the two forms of the method differ only in which
runner and which table of step functions they pass. This is the shape of
:mod:`arli._transport.loop` (the attempt loop), for the client layer.

Example:
    .. code-block:: python

        def _steps(self, path):
            result = yield "send", "GET", path, {}
            return parse(result.json())

        def get(self, path):
            return run(self._steps(path), {"send": self._send})

        async def aget(self, path):
            return await arun(self._steps(path), {"send": self._asend})
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any, TypeVar

from arli._settings import check_seconds

__all__ = ["Steps", "arun", "run", "transport_options"]

T = TypeVar("T")

#: A call's logic: yields ``(kind, *args)`` steps, receives their outcomes, returns the result.
Steps = Generator[tuple[Any, ...], Any, T]


def transport_options(
    kind: str,
    request_timeout: float | None = None,
    max_retries: int | None = None,
    retry_read_timeouts: bool | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The transport options of one call (a ``send`` step's options), the unset ones left out.

    The one place where the clients' per-call names meet the transport's: ``kind`` (the
    transport's ``timeout``: which read-timeout setting applies, ``"text"``, ``"image"``
    or ``"listing"``) and ``request_timeout`` (the transport's ``timeout_seconds``: this
    call's read timeout in seconds, overriding the setting).

    Args:
        kind: the timeout kind.
        request_timeout: this call's read timeout in seconds (``None``: the setting's).
        max_retries: this call's retries (``None``: the settings').
        retry_read_timeouts: re-send after a read timeout (``None``: the transport's rule).
        **options: other transport options, passed as they are (``json_body``, ``params``...).
    """
    out: dict[str, Any] = {"timeout": kind, **options}
    if request_timeout is not None:
        out["timeout_seconds"] = check_seconds(request_timeout, "request_timeout")
    if max_retries is not None:
        out["max_retries"] = max_retries
    if retry_read_timeouts is not None:
        out["retry_read_timeouts"] = retry_read_timeouts
    return out


class _Driver:
    """The one stepping of :func:`run` and :func:`arun`: the outcomes in, the steps out."""

    __slots__ = ("_failure", "_outcome", "_steps", "result")

    def __init__(self, steps: Steps[Any]) -> None:
        self._steps = steps
        self._outcome: Any = None
        self._failure: Exception | None = None
        self.result: Any = None

    def next(self) -> tuple[Any, ...] | None:
        """The next step (after sending the last outcome in); ``None`` once it returned."""
        steps, failure = self._steps, self._failure
        self._failure = None
        try:
            return steps.send(self._outcome) if failure is None else steps.throw(failure)
        except StopIteration as stop:
            self.result = stop.value
            return None

    def done(self, outcome: Any) -> None:
        """The last step's outcome."""
        self._outcome = outcome

    def failed(self, exc: Exception) -> None:
        """The last step's exception (thrown into the logic at its ``yield``)."""
        self._failure = exc

    def close(self) -> None:
        """Close the logic (a step failed in a way it is not told of, e.g. cancellation)."""
        self._steps.close()


def run(steps: Steps[T], ops: Mapping[str, Callable[..., Any]]) -> T:
    """Run ``steps`` to its result, executing each step with the blocking ``ops[kind]``.

    An exception of a step is thrown into the generator at the ``yield`` that asked for
    it (so the logic may catch it); one the generator does not catch propagates.
    """
    driver = _Driver(steps)
    try:
        while (step := driver.next()) is not None:
            try:
                driver.done(ops[step[0]](*step[1:]))
            except Exception as exc:  # noqa: BLE001  # thrown into the logic, which decides
                driver.failed(exc)
    finally:
        driver.close()
    return driver.result  # type: ignore[no-any-return]


async def arun(steps: Steps[T], ops: Mapping[str, Callable[..., Awaitable[Any]]]) -> T:
    """Async :func:`run`: each step is awaited (``ops`` are coroutine functions)."""
    driver = _Driver(steps)
    try:
        while (step := driver.next()) is not None:
            try:
                driver.done(await ops[step[0]](*step[1:]))
            except Exception as exc:  # noqa: BLE001  # thrown into the logic, which decides
                driver.failed(exc)
    finally:
        driver.close()
    return driver.result  # type: ignore[no-any-return]

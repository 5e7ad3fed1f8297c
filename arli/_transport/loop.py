"""The one attempt loop of every call, and the sync and async runners that do its I/O.

:func:`attempt_loop` is a generator holding the whole control flow of a call — build the
attempt, take a limiter slot, send, read, decide (through
:class:`~arli._transport.attempts.Attempts`), close, sleep, retry — for plain requests and
event streams alike. It does no I/O itself: it yields each I/O step as an :data:`Op`
``(kind, subject, url)`` and receives its outcome (``send``) or its exception (``throw``).
:func:`run` and :func:`arun` execute the ops, blocking or awaiting; that is all that differs
between sync and async.

Cleanup is the loop's too: its ``finally`` blocks yield :data:`CLOSE` and release the
limiter slot while an exception unwinds. A runner throws every exception of an op into the
loop, including the ``GeneratorExit`` of a stream consumer that stopped early and the
``CancelledError`` of a cancelled task, so the response is closed and the slot released on
every path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import Any

import httpx

from arli._errors import ArliError, ArliStatusError
from arli._limits import Limiter
from arli._sse import JSONEventStream, SSEDecoder
from arli._transport.attempts import Attempts
from arli._transport.policy import parse_should_retry
from arli._transport.streams import (
    ended,
    is_event_stream,
    limit_reads,
    read_limit,
    stalled,
    stream_refusal,
)
from arli._transport.wire import HTTPResult, aread_body, display_url, read_body, refusal

__all__ = ["Op", "arun", "astream", "attempt_loop", "run", "stream"]

# What an op asks for; the outcome sent back is in the comment.
ACQUIRE = 0  # take a slot of the limiter ``subject`` -> None
SEND = 1  # send the request ``subject`` (streamed) -> the response
READ = 2  # read the whole body of the response ``subject`` under the cap -> bytes
CHUNKS = 3  # open the byte iterator of the response ``subject`` -> the iterator
NEXT = 4  # the next chunk of the iterator ``subject`` -> bytes, or None at its end
CLOSE = 5  # close the response ``subject`` -> None
SLEEP = 6  # sleep ``subject`` seconds -> None
EMIT = 7  # hand the stream event ``subject`` to the consumer -> None

#: ``(kind, subject, url)``: one I/O step of the loop (``url`` names it in errors).
Op = tuple[int, Any, str]
#: The loop: yields ops, receives their outcomes, returns the result (``None`` for a stream).
Loop = Generator[Op, Any, HTTPResult | None]


def attempt_loop(
    build: Callable[[], httpx.Request],
    limiter: Callable[[], Limiter | None],
    attempts: Attempts,
    *,
    stream: bool = False,
    on_eof: Callable[[], None] | None = None,
    stall_timeout: float | None = None,
) -> Loop:
    """The attempts of one call, as I/O ops (see the module docstring).

    Args:
        build: builds the request of one attempt.
        limiter: the limiter to take a slot of for one attempt (``None``: no limit).
        attempts: the call's retry decisions.
        stream: an event stream (events are emitted) rather than one whole response.
        on_eof: for a stream, called when it ends without ``[DONE]`` (see
            :func:`~arli._transport.streams.ended`).
        stall_timeout: for a stream, the longest wait in seconds for its next event once
            its headers arrived (``None``: no limit but the read timeout).

    Returns:
        the successful response (``None`` for a stream, whose events were emitted).

    Raises:
        ArliError: the error that ends the call, its ``retries_taken`` set.
    """
    method = attempts.method
    try:
        while True:
            request = build()
            url = display_url(request.url)
            slot = limiter()
            if slot is not None:
                yield ACQUIRE, slot, url
            try:
                try:
                    response: httpx.Response = yield SEND, request, url
                except httpx.HTTPError as exc:
                    delay = attempts.after_exception(exc, url)
                else:
                    try:
                        if stream and is_event_stream(response):
                            events = yield from _events(
                                response, method, url, attempts, on_eof, stall_timeout
                            )
                            if events is None:
                                return None
                            delay = events
                        else:
                            try:
                                content: bytes = yield READ, response, url
                            except httpx.HTTPError as exc:
                                if stream:
                                    raise attempts.error(exc, url) from exc
                                delay = attempts.after_exception(exc, url)
                            else:
                                if stream:
                                    refused = stream_refusal(response, content, method, url)
                                elif 200 <= response.status_code < 300:
                                    return HTTPResult(
                                        response.status_code,
                                        response.headers,
                                        content,
                                        url,
                                        attempts.attempt + 1,
                                    )
                                else:
                                    refused = refusal(response, content, method, url)
                                should = parse_should_retry(response.headers)
                                delay = attempts.after_status(refused, url, should)
                    finally:
                        yield CLOSE, response, url
            finally:
                if slot is not None:
                    slot.release()
            yield SLEEP, delay, url
    except ArliError as err:
        raise attempts.ended(err)  # noqa: B904 - the same error, re-raised with its count


def _events(
    response: httpx.Response,
    method: str,
    url: str,
    attempts: Attempts,
    on_eof: Callable[[], None] | None,
    stall: float | None,
) -> Generator[Op, Any, float | None]:
    """Emit the events of one streamed attempt; the delay before a retry, or ``None`` at its end.

    With a ``stall`` limit, a read waits at most that long for bytes, and bytes that bring
    no event (comments, keep-alives) do not reset the clock: either way the stream raises
    :class:`~arli.StreamStalledError`.
    """
    decoder = JSONEventStream(method=method, url=url)
    decoder.request_id = response.headers.get("x-request-id")
    sse = SSEDecoder()
    if stall:
        limit_reads(response.request, stall)
        seen, last = 0, time.monotonic()
    try:
        chunks = yield CHUNKS, response, url
        while True:
            chunk: bytes | None = yield NEXT, chunks, url
            for event in sse.feed(chunk) if chunk is not None else sse.flush():
                payload = decoder.decode(event)
                if decoder.done:
                    yield from _tail(chunks, url)
                    return None
                if payload is not None:
                    yield EMIT, payload, url
            if chunk is None:
                break
            if stall:
                now = time.monotonic()
                if decoder.events != seen:
                    seen, last = decoder.events, now
                elif now - last > stall:
                    raise stalled(method, url, decoder.events, stall)
    except httpx.HTTPError as exc:
        if stall and isinstance(exc, httpx.ReadTimeout):
            err = stalled(method, url, decoder.events, read_limit(response.request, stall))
            return attempts.after_error(err, exc, url, decoder.events)
        return attempts.after_exception(exc, url, decoder.events)
    except ArliStatusError as err:
        return attempts.after_event_error(err, url, decoder.events)
    ended(on_eof, method, url, decoder.events)
    return None


#: Reads after ``[DONE]`` that wait for the end of the body (normally one: the end of the
#: chunked encoding). Only a body read to its end gives its connection back to the pool, so
#: without them every stream would open a new connection (tests/integration_tests/
#: test_stream_connection_reuse.py counts the connections).
_TAIL_READS = 4


def _tail(chunks: Any, url: str) -> Generator[Op, Any, None]:
    """Read what follows ``[DONE]``; the answer is complete, so a failure here is ignored."""
    try:
        for _ in range(_TAIL_READS):
            if (yield NEXT, chunks, url) is None:
                return
    except httpx.HTTPError:
        return  # the connection is not reused, nothing else


# -- runners: the I/O of the ops, blocking or awaiting ---------------------------------------


def _do(op: Op, client: httpx.Client, max_bytes: int) -> Any:
    kind, subject, url = op
    if kind == NEXT:  # first: a stream asks for it once per chunk
        return next(subject, None)
    if kind == SEND:
        return client.send(subject, stream=True)
    if kind == READ:
        return read_body(subject, url, max_bytes)
    if kind == CLOSE:
        return subject.close()
    if kind == ACQUIRE:
        return subject.acquire()
    if kind == CHUNKS:
        return subject.iter_bytes()
    return time.sleep(subject)  # SLEEP


async def _ado(op: Op, client: httpx.AsyncClient, max_bytes: int) -> Any:
    kind, subject, url = op
    if kind == NEXT:  # first: a stream asks for it once per chunk
        return await anext(subject, None)
    if kind == SEND:
        return await client.send(subject, stream=True)
    if kind == READ:
        return await aread_body(subject, url, max_bytes)
    if kind == CLOSE:
        return await subject.aclose()
    if kind == ACQUIRE:
        return await subject.aacquire()
    if kind == CHUNKS:
        return subject.aiter_bytes()
    return await asyncio.sleep(subject)  # SLEEP


def _drive(
    start: Callable[[], tuple[Loop, httpx.Client]], max_bytes: int
) -> Generator[dict[str, Any], None, Any]:
    """Run the loop ``start`` makes (at the first ``next``) with blocking I/O.

    Yields the events the loop emits; returns its result.
    """
    loop, client = start()
    outcome: Any = None
    failure: BaseException | None = None
    while True:
        try:
            op = loop.send(outcome) if failure is None else loop.throw(failure)
        except StopIteration as stop:
            return stop.value
        finally:
            failure = outcome = None  # a raised error must not keep this frame alive
        try:
            if op[0] == EMIT:
                yield op[1]
            else:
                outcome = _do(op, client, max_bytes)
        except BaseException as exc:  # noqa: BLE001 - a consumer that stopped early too (GeneratorExit)
            failure = exc


async def _adrive(
    start: Callable[[], tuple[Loop, httpx.AsyncClient]],
    max_bytes: int,
    result: list[Any] | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Run the loop ``start`` makes (at the first ``anext``) with awaited I/O.

    Yields the events the loop emits; appends its result to ``result``.
    """
    loop, client = start()
    outcome: Any = None
    failure: BaseException | None = None
    while True:
        try:
            op = loop.send(outcome) if failure is None else loop.throw(failure)
        except StopIteration as stop:
            if result is not None:
                result.append(stop.value)
            return
        finally:
            failure = outcome = None  # a raised error must not keep this frame alive
        try:
            if op[0] == EMIT:
                yield op[1]
            else:
                outcome = await _ado(op, client, max_bytes)
        except BaseException as exc:  # noqa: BLE001 - a consumer that stopped early, a cancelled task
            failure = exc


def run(loop: Loop, client: httpx.Client, max_bytes: int) -> HTTPResult:
    """Run a request's loop with blocking I/O on ``client``; its result."""
    driver = _drive(lambda: (loop, client), max_bytes)
    while True:
        try:
            next(driver)  # a request's loop emits no event: this ends it
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


async def arun(loop: Loop, client: httpx.AsyncClient, max_bytes: int) -> HTTPResult:
    """Run a request's loop with awaited I/O on ``client``; its result."""
    result: list[HTTPResult] = []
    async for _ in _adrive(lambda: (loop, client), max_bytes, result):  # emits no event
        pass
    return result[0]


#: Run a stream's loop (made by ``start`` at the first ``next``) with blocking I/O.
stream: Callable[[Callable[[], tuple[Loop, httpx.Client]], int], Iterator[dict[str, Any]]] = _drive
#: Run a stream's loop (made by ``start`` at the first ``anext``) with awaited I/O.
astream: Callable[
    [Callable[[], tuple[Loop, httpx.AsyncClient]], int], AsyncIterator[dict[str, Any]]
] = _adrive

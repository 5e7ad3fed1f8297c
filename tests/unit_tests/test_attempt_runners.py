"""The one attempt loop and its two runners: same steps sync and async, cleanup on every path.

``arli._transport.loop.attempt_loop`` holds the control flow of every call; ``run`` /
``stream`` execute its I/O blocking, ``arun`` / ``astream`` awaiting. These tests record
the I/O steps each runner executes and check that the sync and async ones are the same
steps in the same order (the decisions are made once, in the loop), and that a consumer
that stops early or a cancelled task gives the limiter slot back and closes the response.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from arli import ArliConnectionError, ArliStatusError
from arli._limits import Limiter
from arli._transport import RetryPolicy, Transport
from arli._transport import loop as attempt_loop

POLICY = RetryPolicy(max_retries=3, initial_backoff=0.5, max_backoff=8.0, jitter=0.0)
EVENT = b'data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\n'
DONE = b"data: [DONE]\n\n"
STEP_NAMES = {
    getattr(attempt_loop, name): name
    for name in ("ACQUIRE", "SEND", "READ", "CHUNKS", "NEXT", "CLOSE", "SLEEP", "EMIT")
}


class Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that records whether it was closed; ``hang`` waits after the chunks."""

    def __init__(self, chunks: list[bytes], *, hang: asyncio.Event | None = None):
        self.chunks = chunks
        self.hang = hang
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.hang is not None:
            await self.hang.wait()

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


class Server:
    """Plays one scripted answer per attempt: an exception to raise, or (status, body)."""

    def __init__(self, script: list[Any]):
        self.script = script
        self.attempts = 0
        self.bodies: list[Body] = []

    def _answer(self, request: httpx.Request) -> httpx.Response:
        answer = self.script[self.attempts]
        self.attempts += 1
        if isinstance(answer, type):
            raise answer("failed", request=request)
        status, ctype, chunks = answer
        body = Body(list(chunks))
        self.bodies.append(body)
        return httpx.Response(status, headers={"content-type": ctype}, stream=body)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self._answer(request)


JSON_OK = (200, "application/json", [b'{"ok":true}'])
BUSY = (503, "application/json", [b'{"error":"busy"}'])
SSE_OK = (200, "text/event-stream", [EVENT, EVENT, DONE])
#: The steps of attempts that fail and are retried.
BUSY_THEN_SLEEP = ["ACQUIRE", "SEND", "READ", "CLOSE", "SLEEP"]
REFUSED_AT_CONNECT = ["ACQUIRE", "SEND", "SLEEP"]
ERROR_EVENT_THEN_SLEEP = ["ACQUIRE", "SEND", "CHUNKS", "NEXT", "CLOSE", "SLEEP"]


def _transport(server: Any, limiter: Limiter, *, sync: bool) -> Transport:
    mock = httpx.MockTransport(server)
    return Transport(
        base_url="http://api.test",
        retry=POLICY,
        limiter=limiter,
        http_client=httpx.Client(transport=mock) if sync else None,
        http_async_client=None if sync else httpx.AsyncClient(transport=mock),
    )


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The I/O steps the runners execute, by name (sleeps are recorded, not slept)."""
    seen: list[str] = []
    do, ado = attempt_loop._do, attempt_loop._ado

    def sync_do(op: attempt_loop.Op, client: httpx.Client, max_bytes: int) -> Any:
        seen.append(STEP_NAMES[op[0]])
        return None if op[0] == attempt_loop.SLEEP else do(op, client, max_bytes)

    async def async_do(op: attempt_loop.Op, client: httpx.AsyncClient, max_bytes: int) -> Any:
        seen.append(STEP_NAMES[op[0]])
        return None if op[0] == attempt_loop.SLEEP else await ado(op, client, max_bytes)

    monkeypatch.setattr(attempt_loop, "_do", sync_do)
    monkeypatch.setattr(attempt_loop, "_ado", async_do)
    return seen


SCRIPTS: dict[str, list[Any]] = {
    "retried status then success": [BUSY, httpx.ConnectError, JSON_OK],
    "gives up": [BUSY, BUSY, BUSY, BUSY],
}


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_request_runners_drive_the_same_steps(name: str, steps: list[str]) -> None:
    traces = []
    for sync in (True, False):
        limiter = Limiter(1)
        server = Server(SCRIPTS[name])
        transport = _transport(server, limiter, sync=sync)
        ending: str
        try:
            if sync:
                result = transport.request("POST", "/v1/x", json_body={})
            else:
                result = asyncio.run(transport.arequest("POST", "/v1/x", json_body={}))
            ending = f"ok after {result.attempts}"
        except ArliStatusError as err:
            ending = f"{type(err).__name__} {err.status_code}"
        traces.append((list(steps), ending))
        steps.clear()
        assert limiter.in_flight == 0
        assert server.bodies
        assert all(body.closed for body in server.bodies)
    assert traces[0] == traces[1]
    if name == "gives up":
        assert traces[0] == ((BUSY_THEN_SLEEP * 4)[:-1], "InternalServerError 503")  # no last sleep
    else:
        assert traces[0] == (
            [*BUSY_THEN_SLEEP, *REFUSED_AT_CONNECT, "ACQUIRE", "SEND", "READ", "CLOSE"],
            "ok after 3",
        )


def test_stream_runners_drive_the_same_steps(steps: list[str]) -> None:
    script = [
        BUSY,
        (200, "text/event-stream", [b'data: {"error":{"message":"x","code":503}}\n\n']),
        SSE_OK,
    ]
    traces = []
    for sync in (True, False):
        limiter = Limiter(1)
        transport = _transport(Server(script), limiter, sync=sync)
        if sync:
            events = list(transport.stream_events("POST", "/v1/x", json_body={}))
        else:

            async def collect(transport: Transport = transport) -> list[dict[str, Any]]:
                return [e async for e in transport.astream_events("POST", "/v1/x", json_body={})]

            events = asyncio.run(collect())
        traces.append((list(steps), len(events)))
        steps.clear()
        assert limiter.in_flight == 0
    assert traces[0] == traces[1]
    assert traces[0] == (
        [
            *BUSY_THEN_SLEEP,
            *ERROR_EVENT_THEN_SLEEP,
            *["ACQUIRE", "SEND", "CHUNKS"],
            *["NEXT"] * 3,
            "NEXT",  # after [DONE]: the end of the body, so the connection goes back to the pool
            "CLOSE",
        ],
        2,
    )


# -- cleanup: early stops and cancellation ---------------------------------------------------


def test_a_sync_consumer_that_stops_early_closes_the_response_and_frees_the_slot() -> None:
    limiter = Limiter(1)
    server = Server([SSE_OK])
    events = _transport(server, limiter, sync=True).stream_events("POST", "/v1/x", json_body={})
    next(events)
    assert limiter.in_flight == 1
    assert not server.bodies[0].closed
    events.close()  # type: ignore[attr-defined] # what a ``break`` out of a ``for`` does once the iterator is dropped
    assert limiter.in_flight == 0
    assert server.bodies[0].closed


def test_an_async_consumer_that_stops_early_closes_the_response_and_frees_the_slot() -> None:
    limiter = Limiter(1)
    server = Server([SSE_OK])

    async def main() -> None:
        transport = _transport(server, limiter, sync=False)
        events = transport.astream_events("POST", "/v1/x", json_body={})
        await events.__anext__()
        assert limiter.in_flight == 1
        assert not server.bodies[0].closed
        await events.aclose()  # type: ignore[attr-defined]

    asyncio.run(main())
    assert limiter.in_flight == 0
    assert server.bodies[0].closed


def test_a_cancelled_stream_closes_the_response_and_frees_the_slot() -> None:
    limiter = Limiter(1)

    async def main() -> Server:
        hang = asyncio.Event()
        server = Server([])
        server._answer = lambda request: _hanging(server, hang)  # type: ignore[method-assign]
        transport = _transport(server, limiter, sync=False)
        got: list[dict[str, Any]] = []

        async def consume() -> None:
            async for event in transport.astream_events("POST", "/v1/x", json_body={}):
                got.append(event)

        task = asyncio.create_task(consume())
        while not got:
            await asyncio.sleep(0)
        assert limiter.in_flight == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return server

    server = asyncio.run(main())
    assert limiter.in_flight == 0
    assert server.bodies[0].closed


def _hanging(server: Server, hang: asyncio.Event) -> httpx.Response:
    body = Body([EVENT], hang=hang)
    server.bodies.append(body)
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=body)


def test_a_request_cancelled_while_sending_frees_the_slot() -> None:
    limiter = Limiter(1)

    async def main() -> None:
        sent = asyncio.Event()

        async def handler(request: httpx.Request) -> httpx.Response:
            sent.set()
            await asyncio.Event().wait()
            raise AssertionError("never answered")

        transport = _transport(handler, limiter, sync=False)
        task = asyncio.create_task(transport.arequest("POST", "/v1/x", json_body={}))
        await sent.wait()
        assert limiter.in_flight == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert limiter.in_flight == 0


def test_a_request_cancelled_while_waiting_for_a_slot_takes_none() -> None:
    limiter = Limiter(1)

    async def main() -> None:
        transport = _transport(Server([JSON_OK]), limiter, sync=False)
        await limiter.aacquire()  # someone else holds the only slot
        task = asyncio.create_task(transport.arequest("POST", "/v1/x", json_body={}))
        while not limiter.waiting:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert limiter.in_flight == 1
        assert not limiter.waiting
        limiter.release()

    asyncio.run(main())
    assert limiter.in_flight == 0


def test_a_stream_broken_after_its_first_event_is_not_retried_and_frees_the_slot() -> None:
    limiter = Limiter(1)

    class Broken(Body):
        def __iter__(self) -> Iterator[bytes]:
            yield EVENT
            raise httpx.ReadError("reset")

    body = Broken([])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=body)

    events = _transport(handler, limiter, sync=True).stream_events("POST", "/v1/x", json_body={})
    assert next(events)
    with pytest.raises(ArliConnectionError, match="after 1 event of the stream; not retried"):
        next(events)
    assert limiter.in_flight == 0
    assert body.closed

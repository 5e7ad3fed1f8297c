"""The attempt loop's decisions: one table, driven through the sync and the async drivers.

Each row is a sequence of outcomes the server plays, attempt by attempt, and the decisions
the transport must take: the delays it sleeps before each retry, then how the call ends
(the result after N attempts, or the error class). The same row runs through
``Transport.request`` and ``Transport.arequest`` (and the stream rows through
``stream_events`` and ``astream_events``): both must decide exactly as the table says,
which also makes them decide identically.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from arli import ArliConnectionError
from arli._limits import Limiter
from arli._transport import RetryPolicy, Transport
from tests.unit_tests._bodies import BreakingBody

PATH = "/v1/chat/completions"
_REAL_SLEEP = asyncio.sleep
#: Deterministic delays: 0.5, 1.0, 2.0 ... (no jitter), Retry-After honoured up to 60 s.
POLICY = RetryPolicy(max_retries=2, initial_backoff=0.5, max_backoff=8.0, jitter=0.0)

# -- outcomes: what the server does with one attempt -----------------------------------------

EVENT = b'data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\n'
DONE = b"data: [DONE]\n\n"
ERROR_EVENT = b'data: {"error":{"message":"overloaded","code":503}}\n\n'


@dataclass(frozen=True)
class Outcome:
    """One attempt's fate: an answer (status, headers, body chunks) or an httpx failure."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunks: tuple[bytes, ...] = (b'{"ok":true}',)
    raises: type[httpx.HTTPError] | None = None  # raised when sending
    breaks_after: int | None = None  # the body raises ReadError after this many chunks


def ok() -> Outcome:
    return Outcome(headers={"content-type": "application/json"})


def status(code: int, **headers: str) -> Outcome:
    return Outcome(code, {"content-type": "application/json", **headers}, (b'{"error":"no"}',))


def fails(exc: type[httpx.HTTPError]) -> Outcome:
    return Outcome(raises=exc)


def stream(*chunks: bytes, breaks_after: int | None = None) -> Outcome:
    return Outcome(200, {"content-type": "text/event-stream"}, chunks, breaks_after=breaks_after)


class Server:
    """Plays the outcomes in order, one per attempt, and counts the attempts."""

    def __init__(self, outcomes: list[Outcome], limiter: Limiter):
        self.outcomes = list(outcomes)
        self.attempts = 0
        self.limiter = limiter

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert self.limiter.in_flight == 1  # every attempt holds a slot
        outcome = self.outcomes[self.attempts]
        self.attempts += 1
        if outcome.raises is not None:
            raise outcome.raises("failed", request=request)
        return httpx.Response(
            outcome.status,
            headers=outcome.headers,
            stream=BreakingBody(outcome.chunks, outcome.breaks_after),
        )


@dataclass
class Decisions:
    """What a driver did: the delays it slept, then how the call ended."""

    delays: list[float] = field(default_factory=list)
    ended: str = ""


def _transport(server: Server, *, sync: bool) -> Transport:
    mock = httpx.MockTransport(server)
    return Transport(
        base_url="http://api.test",
        retry=POLICY,
        limiter=server.limiter,
        http_client=httpx.Client(transport=mock) if sync else None,
        http_async_client=None if sync else httpx.AsyncClient(transport=mock),
    )


def _sleeps(monkeypatch: pytest.MonkeyPatch, server: Server) -> list[float]:
    delays: list[float] = []

    def sleep(delay: float) -> None:
        assert server.limiter.in_flight == 0  # the slot is given back before waiting
        delays.append(delay)

    async def asleep(delay: float) -> None:
        sleep(delay)
        await _REAL_SLEEP(0)

    monkeypatch.setattr("arli._transport.transport.time.sleep", sleep)
    monkeypatch.setattr("arli._transport.transport.asyncio.sleep", asleep)
    return delays


def _ending(error: BaseException | None, value: str) -> str:
    return value if error is None else type(error).__name__


def drive_sync(outcomes: list[Outcome], method: str, monkeypatch: pytest.MonkeyPatch) -> Decisions:
    server = Server(outcomes, Limiter(1))
    delays = _sleeps(monkeypatch, server)
    try:
        result = _transport(server, sync=True).request(method, PATH, json_body={"a": 1})
    except Exception as exc:
        ended = _ending(exc, "")
    else:
        ended = f"result after {result.attempts}"
    assert server.attempts == len(delays) + 1
    assert server.limiter.in_flight == 0
    return Decisions(delays, ended)


def drive_async(outcomes: list[Outcome], method: str, monkeypatch: pytest.MonkeyPatch) -> Decisions:
    server = Server(outcomes, Limiter(1))
    delays = _sleeps(monkeypatch, server)

    async def call() -> str:
        try:
            result = await _transport(server, sync=False).arequest(method, PATH, json_body={"a": 1})
        except Exception as exc:
            return _ending(exc, "")
        return f"result after {result.attempts}"

    ended = asyncio.run(call())
    assert server.attempts == len(delays) + 1
    assert server.limiter.in_flight == 0
    return Decisions(delays, ended)


# -- plain requests ----------------------------------------------------------------------------

REQUESTS: dict[str, tuple[str, list[Outcome], list[float], str]] = {
    # name: (method, outcomes, delays slept, how the call ends)
    "success at once": ("POST", [ok()], [], "result after 1"),
    "503 twice then success": (
        "POST",
        [status(503), status(503), ok()],
        [0.5, 1.0],
        "result after 3",
    ),
    "retries exhausted": (
        "POST",
        [status(503), status(502), status(504)],
        [0.5, 1.0],
        "InternalServerError",
    ),
    "Retry-After seconds": (
        "POST",
        [status(429, **{"retry-after": "3"}), ok()],
        [3.0],
        "result after 2",
    ),
    "retry-after-ms wins": (
        "POST",
        [status(503, **{"retry-after-ms": "250", "retry-after": "9"}), ok()],
        [0.25],
        "result after 2",
    ),
    "Retry-After over the cap": (
        "POST",
        [status(429, **{"retry-after": "120"})],
        [],
        "RateLimitError",
    ),
    "400 is never retried": ("POST", [status(400)], [], "BadRequestError"),
    "404 is never retried": ("GET", [status(404)], [], "NotFoundError"),
    "connection refused then success": (
        "POST",
        [fails(httpx.ConnectError), ok()],
        [0.5],
        "result after 2",
    ),
    "connect timeout is retried": (
        "POST",
        [fails(httpx.ConnectTimeout), ok()],
        [0.5],
        "result after 2",
    ),
    "a POST whose response timed out is not re-sent": (
        "POST",
        [fails(httpx.ReadTimeout)],
        [],
        "ArliTimeoutError",
    ),
    "a GET whose response timed out is": (
        "GET",
        [fails(httpx.ReadTimeout), ok()],
        [0.5],
        "result after 2",
    ),
    "a reset while reading the body is retried": (
        "POST",
        [Outcome(chunks=(b"{", b"}"), breaks_after=1), ok()],
        [0.5],
        "result after 2",
    ),
    "an unsupported scheme is fatal": (
        "GET",
        [fails(httpx.UnsupportedProtocol)],
        [],
        "ArliConnectionError",
    ),
    "errors mixed": (
        "POST",
        [fails(httpx.ConnectError), status(500), fails(httpx.ConnectError)],
        [0.5, 1.0],
        "ArliConnectionError",
    ),
}


@pytest.mark.parametrize("name", REQUESTS)
def test_request_decisions_are_the_same_sync_and_async(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    method, outcomes, delays, ended = REQUESTS[name]
    expected = Decisions(delays, ended)
    sync = drive_sync(outcomes, method, monkeypatch)
    asynchronous = drive_async(outcomes, method, monkeypatch)
    assert sync == expected
    assert asynchronous == sync


# -- streams -----------------------------------------------------------------------------------


def drive_stream(
    outcomes: list[Outcome], monkeypatch: pytest.MonkeyPatch, *, sync: bool
) -> Decisions:
    server = Server(outcomes, Limiter(1))
    delays = _sleeps(monkeypatch, server)
    events: list[dict[str, Any]] = []
    transport = _transport(server, sync=sync)

    async def consume() -> None:
        async for payload in transport.astream_events("POST", PATH, json_body={"a": 1}):
            events.append(payload)

    run: Callable[[], None]
    if sync:

        def run() -> None:
            events.extend(transport.stream_events("POST", PATH, json_body={"a": 1}))

    else:

        def run() -> None:
            asyncio.run(consume())

    try:
        run()
    except Exception as exc:
        ended = f"{type(exc).__name__} after {len(events)} events"
        if isinstance(exc, ArliConnectionError) and events:
            assert "not retried" in str(exc)
    else:
        ended = f"{len(events)} events"
    assert server.attempts == len(delays) + 1
    assert server.limiter.in_flight == 0
    return Decisions(delays, ended)


STREAMS: dict[str, tuple[list[Outcome], list[float], str]] = {
    "a whole stream": ([stream(EVENT, EVENT, DONE)], [], "2 events"),
    "503 before the stream": ([status(503), stream(EVENT, DONE)], [0.5], "1 events"),
    "connection refused before the stream": (
        [fails(httpx.ConnectError), stream(EVENT, DONE)],
        [0.5],
        "1 events",
    ),
    "broken before the first event: retried": (
        [stream(EVENT, DONE, breaks_after=0), stream(EVENT, DONE)],
        [0.5],
        "1 events",
    ),
    "broken after the first event: never retried": (
        [stream(EVENT, EVENT, DONE, breaks_after=1), stream(EVENT, DONE)],
        [],
        "ArliConnectionError after 1 events",
    ),
    "an error event first: retried": (
        [stream(ERROR_EVENT), stream(EVENT, DONE)],
        [0.5],
        "1 events",
    ),
    "an error event after one: not retried": (
        [stream(EVENT, ERROR_EVENT), stream(EVENT, DONE)],
        [],
        "InternalServerError after 1 events",
    ),
    "ended without [DONE]": ([stream(EVENT)], [], "IncompleteResponseError after 1 events"),
    "a 2xx that is not a stream": ([ok()], [], "ArliResponseError after 0 events"),
    "400 before the stream": ([status(400)], [], "BadRequestError after 0 events"),
    "retries exhausted": (
        [status(503), fails(httpx.ConnectError), status(429, **{"retry-after": "2"})],
        [0.5, 1.0],
        "RateLimitError after 0 events",
    ),
}


@pytest.mark.parametrize("name", STREAMS)
def test_stream_decisions_are_the_same_sync_and_async(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes, delays, ended = STREAMS[name]
    expected = Decisions(delays, ended)
    sync = drive_stream(outcomes, monkeypatch, sync=True)
    asynchronous = drive_stream(outcomes, monkeypatch, sync=False)
    assert sync == expected
    assert asynchronous == sync

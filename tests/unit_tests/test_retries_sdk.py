"""SDK-grade retry semantics, tested the way the openai SDK tests its own client.

* a parametrised ``Retry-After`` table on a frozen clock (no real sleeping: the sleeps are
  recorded, the wall clock an HTTP-date is measured against is fixed);
* ``x-should-retry: true|false`` overriding the status rule;
* ``retries_taken`` on results and errors for every fault kind, with the retry-count
  header on retried attempts only and one idempotency key per logical POST;
* a stream that stalls raises :class:`~arli.StreamStalledError` saying how many chunks
  arrived (on a fake monotonic clock).

Every row runs through the sync and the async entry points of :class:`Transport`.
"""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from arli import (
    ArliConfigError,
    ArliConnectionError,
    ArliError,
    ArliTimeoutError,
    InternalServerError,
    RateLimitError,
    StreamStalledError,
)
from arli._transport import CallStats, RetryPolicy, Transport
from tests.unit_tests._bodies import BreakingBody

PATH = "/v1/chat/completions"
FROZEN = 1_696_004_797.0  # the openai SDK's frozen time.time()
_REAL_SLEEP = asyncio.sleep
#: Deterministic backoff: 0.5, 1.0, 2.0 ... (no jitter); Retry-After honoured up to 60 s.
POLICY = RetryPolicy(max_retries=2, initial_backoff=0.5, max_backoff=8.0, jitter=0.0)
JSON = {"content-type": "application/json"}
EVENT = b'data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\n'
DONE = b"data: [DONE]\n\n"


@dataclass
class Reply:
    """One attempt's fate: an answer, or an httpx failure raised when sending."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))
    chunks: tuple[bytes, ...] = (b'{"ok":true}',)
    raises: type[httpx.HTTPError] | None = None
    breaks_after: int | None = None  # the body raises ReadError after this many chunks


class Server:
    """Plays the replies in order (the last one again when they run out); keeps requests."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = replies
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        reply = self.replies[min(len(self.requests), len(self.replies) - 1)]
        self.requests.append(request)
        if reply.raises is not None:
            raise reply.raises("failed", request=request)
        return httpx.Response(
            reply.status,
            headers=reply.headers,
            stream=BreakingBody(reply.chunks, reply.breaks_after),
        )

    def header(self, name: str) -> list[str | None]:
        return [r.headers.get(name) for r in self.requests]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the retry sleeps instead of sleeping; freeze the wall clock."""
    delays: list[float] = []

    async def asleep(delay: float) -> None:
        delays.append(delay)
        await _REAL_SLEEP(0)

    monkeypatch.setattr("arli._transport.loop.time.sleep", delays.append)
    monkeypatch.setattr("arli._transport.loop.asyncio.sleep", asleep)
    monkeypatch.setattr("arli._transport.policy.clock", lambda: FROZEN)
    return delays


def transport(server: Server, *, sync: bool, policy: RetryPolicy = POLICY) -> Transport:
    mock = httpx.MockTransport(server)
    return Transport(
        base_url="http://api.test",
        retry=policy,
        http_client=httpx.Client(transport=mock) if sync else None,
        http_async_client=None if sync else httpx.AsyncClient(transport=mock),
    )


def call(
    server: Server, *, sync: bool, method: str = "POST", **options: Any
) -> tuple[int | None, BaseException | None]:
    """Send one request; ``(retries_taken of the result, None)`` or ``(None, the error)``."""
    policy = options.pop("policy", POLICY)
    t = transport(server, sync=sync, policy=policy)
    body = {"a": 1} if method == "POST" else None
    try:
        if sync:
            result = t.request(method, PATH, json_body=body, **options)
        else:
            result = asyncio.run(t.arequest(method, PATH, json_body=body, **options))
    except ArliError as exc:
        return None, exc
    return result.retries_taken, None


def http_date(offset: float) -> str:
    return email.utils.formatdate(FROZEN + offset, usegmt=True)


# -- the Retry-After table ---------------------------------------------------------------------

#: headers of a 429 -> the delay slept before the retry (``None``: raised at once).
RETRY_AFTER: dict[str, tuple[dict[str, str], float | None]] = {
    "seconds": ({"retry-after": "20"}, 20.0),
    "fractional seconds": ({"retry-after": "1.5"}, 1.5),
    "zero: at once": ({"retry-after": "0"}, 0.0),
    "at the cap": ({"retry-after": "60"}, 60.0),
    "over the cap": ({"retry-after": "61"}, None),
    "huge": ({"retry-after": "100000000"}, None),
    "an overflowing numeral": ({"retry-after": "1" + "0" * 400}, None),
    "negative: backoff": ({"retry-after": "-10"}, 0.5),
    "empty: backoff": ({"retry-after": ""}, 0.5),
    "garbage: backoff": ({"retry-after": "soon"}, 0.5),
    "nan: backoff": ({"retry-after": "nan"}, 0.5),
    "HTTP-date ahead": ({"retry-after": http_date(30)}, 30.0),
    "HTTP-date passed": ({"retry-after": http_date(-30)}, 0.0),
    "HTTP-date past the cap": ({"retry-after": http_date(7200)}, None),
    "HTTP-date garbled": ({"retry-after": "Fri, 32 Foo 2023 99:99:99 GMT"}, 0.5),
    "retry-after-ms wins": ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
    "retry-after-ms garbage": ({"retry-after-ms": "x", "retry-after": "3"}, 3.0),
    "retry-after-ms negative": ({"retry-after-ms": "-5"}, 0.5),
    "retry-after-ms over the cap": ({"retry-after-ms": "61000"}, None),
    "none: backoff": ({}, 0.5),
}


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
@pytest.mark.parametrize("name", RETRY_AFTER)
def test_retry_after_table(name: str, sync: bool, sleeps: list[float]) -> None:
    headers, expected = RETRY_AFTER[name]
    server = Server([Reply(429, {**JSON, **headers}), Reply()])
    taken, error = call(server, sync=sync)
    if expected is None:
        assert isinstance(error, RateLimitError)
        assert error.retry_after is not None
        assert error.retry_after > 60
        assert error.retries_taken == 0
        assert sleeps == []
        assert len(server.requests) == 1
    else:
        assert error is None
        assert taken == 1
        assert sleeps == [pytest.approx(expected)]


def test_the_cap_is_60_seconds_and_configurable(sleeps: list[float]) -> None:
    assert RetryPolicy().max_retry_after == 60.0
    server = Server([Reply(429, {**JSON, "retry-after": "90"}), Reply()])
    taken, _ = call(server, sync=True, policy=RetryPolicy(max_retry_after=120, jitter=0))
    assert taken == 1
    assert sleeps == [90.0]


# -- x-should-retry ----------------------------------------------------------------------------

SHOULD_RETRY: dict[str, tuple[Reply, list[float], str]] = {
    # name: (the first reply, the delays slept, how the call ends)
    "true retries a 409": (Reply(409, {**JSON, "x-should-retry": "true"}), [0.5], "ok"),
    "true retries a 400": (Reply(400, {**JSON, "x-should-retry": "TRUE"}), [0.5], "ok"),
    "true keeps a Retry-After under the cap": (
        Reply(409, {**JSON, "x-should-retry": "true", "retry-after": "2"}),
        [2.0],
        "ok",
    ),
    "true with a Retry-After over the cap backs off": (
        Reply(429, {**JSON, "x-should-retry": "true", "retry-after": "600"}),
        [0.5],
        "ok",
    ),
    "false forbids a 503 retry": (
        Reply(503, {**JSON, "x-should-retry": "false"}),
        [],
        "InternalServerError",
    ),
    "false forbids a 429 retry": (
        Reply(429, {**JSON, "x-should-retry": "false", "retry-after": "1"}),
        [],
        "RateLimitError",
    ),
    "neither true nor false: the status rule": (
        Reply(409, {**JSON, "x-should-retry": "maybe"}),
        [],
        "ArliStatusError",
    ),
}


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
@pytest.mark.parametrize("name", SHOULD_RETRY)
def test_x_should_retry(name: str, sync: bool, sleeps: list[float]) -> None:
    first, delays, ended = SHOULD_RETRY[name]
    server = Server([first, Reply()])
    taken, error = call(server, sync=sync)
    assert (type(error).__name__ if error else "ok") == ended
    assert sleeps == delays
    assert taken == (1 if error is None else None)


def test_x_should_retry_true_still_counts_against_max_retries(sleeps: list[float]) -> None:
    server = Server([Reply(409, {**JSON, "x-should-retry": "true"})])
    _, error = call(server, sync=True)
    assert error is not None
    assert error.retries_taken == 2
    assert len(server.requests) == 3


# -- retries_taken x every fault kind ----------------------------------------------------------


def _fault(kind: str) -> Reply:
    return {
        "429": Reply(429, {**JSON, "retry-after": "0"}),
        "503": Reply(503),
        "connect error": Reply(raises=httpx.ConnectError),
        "read timeout": Reply(raises=httpx.ReadTimeout),
        "reset mid-body": Reply(chunks=(b"{", b"}"), breaks_after=1),
    }[kind]


FAULTS = ["429", "503", "connect error", "read timeout", "reset mid-body"]


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
@pytest.mark.parametrize("failures", [0, 1, 2])
@pytest.mark.parametrize("kind", FAULTS)
def test_retries_taken_on_the_result(
    kind: str, failures: int, sync: bool, sleeps: list[float]
) -> None:
    server = Server([_fault(kind)] * failures + [Reply()])
    taken, error = call(server, sync=sync, retry_read_timeouts=True)
    assert error is None
    assert taken == failures
    assert server.header("x-arli-retry-count") == [None] + [str(n) for n in range(1, failures + 1)]
    keys = server.header("idempotency-key")
    assert keys[0] is not None
    assert keys[0].startswith("arli-")
    assert set(keys) == {keys[0]}  # one key, reused by every retry


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
@pytest.mark.parametrize("kind", FAULTS)
def test_retries_taken_on_the_error(kind: str, sync: bool, sleeps: list[float]) -> None:
    server = Server([_fault(kind)])
    taken, error = call(server, sync=sync, retry_read_timeouts=True)
    assert taken is None
    assert isinstance(error, (RateLimitError, InternalServerError, ArliConnectionError))
    assert error.retries_taken == 2
    assert len(server.requests) == 3


def test_an_error_not_retried_has_retries_taken_zero(sleeps: list[float]) -> None:
    server = Server([Reply(raises=httpx.ReadTimeout)])
    _, error = call(server, sync=True)  # a POST whose response timed out: not re-sent
    assert isinstance(error, ArliTimeoutError)
    assert error.retries_taken == 0


def test_each_logical_post_gets_its_own_key(sleeps: list[float]) -> None:
    server = Server([Reply()])
    t = transport(server, sync=True)
    t.request("POST", PATH, json_body={"a": 1})
    t.request("POST", PATH, json_body={"a": 1})
    t.request("GET", "/v1/models")
    first, second, get = server.header("idempotency-key")
    assert first
    assert second
    assert first != second
    assert get is None  # a GET has nothing to repeat


def test_headers_can_be_turned_off_or_set_by_the_caller(sleeps: list[float]) -> None:
    quiet = RetryPolicy(jitter=0, retry_count_header=None, idempotency_header=None)
    server = Server([Reply(503), Reply()])
    call(server, sync=True, policy=quiet)
    assert server.header("x-arli-retry-count") == [None, None]
    assert server.header("idempotency-key") == [None, None]

    renamed = RetryPolicy(jitter=0, idempotency_header="X-Request-Key")
    server = Server([Reply(503), Reply()])
    call(server, sync=True, policy=renamed)
    assert server.header("x-request-key")[0] == server.header("x-request-key")[1] is not None

    server = Server([Reply(503), Reply()])
    mine = {"Idempotency-Key": "mine", "X-Arli-Retry-Count": "custom"}
    call(server, sync=True, headers=mine)
    assert server.header("idempotency-key") == ["mine", "mine"]
    assert server.header("x-arli-retry-count") == ["custom", "custom"]


# -- streams: retries_taken, and the stall timeout ---------------------------------------------


def _stream(*chunks: bytes, breaks_after: int | None = None) -> Reply:
    return Reply(200, {"content-type": "text/event-stream"}, chunks, breaks_after=breaks_after)


def consume(t: Transport, *, sync: bool, **options: Any) -> tuple[list[Any], BaseException | None]:
    events: list[Any] = []

    async def agen() -> None:
        async for event in t.astream_events("POST", PATH, json_body={"a": 1}, **options):
            events.append(event)

    try:
        if sync:
            events.extend(t.stream_events("POST", PATH, json_body={"a": 1}, **options))
        else:
            asyncio.run(agen())
    except ArliError as exc:
        return events, exc
    return events, None


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
@pytest.mark.parametrize("kind", ["429", "503", "connect error", "reset before the first chunk"])
def test_stream_retries_taken(kind: str, sync: bool, sleeps: list[float]) -> None:
    first = (
        _stream(EVENT, DONE, breaks_after=0)
        if kind == "reset before the first chunk"
        else _fault(kind)
    )
    server = Server([first, first, _stream(EVENT, DONE)])
    stats = CallStats()
    events, error = consume(transport(server, sync=sync), sync=sync, stats=stats)
    assert error is None
    assert len(events) == 1
    assert stats.retries_taken == 2
    assert server.header("x-arli-retry-count") == [None, "1", "2"]


def test_a_stream_broken_after_its_first_event_keeps_the_retries_before(
    sleeps: list[float],
) -> None:
    server = Server([Reply(503), _stream(EVENT, EVENT, DONE, breaks_after=1)])
    events, error = consume(transport(server, sync=True), sync=True)
    assert len(events) == 1
    assert isinstance(error, ArliConnectionError)
    assert error.retries_taken == 1


class FakeMonotonic:
    """A monotonic clock that moves ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
def test_a_stream_of_keepalives_without_events_stalls(
    sync: bool, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("arli._transport.loop.time.monotonic", FakeMonotonic(50.0))
    pings = (b": ping\n\n",) * 10
    server = Server([_stream(EVENT, EVENT, *pings, DONE)])
    events, error = consume(transport(server, sync=sync), sync=sync, stall_timeout=120)
    assert len(events) == 2
    assert isinstance(error, StreamStalledError)
    assert isinstance(error, ArliTimeoutError)
    assert error.chunks_received == 2
    assert error.stall_timeout == 120
    assert "after 2 chunks" in str(error)
    assert "ARLI_STREAM_STALL_TIMEOUT" in str(error)
    assert len(server.requests) == 1  # broken after an event: never re-sent


def test_the_stall_limit_comes_from_the_call_then_the_environment(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("arli._transport.loop.time.monotonic", FakeMonotonic(50.0))
    pings = (b": ping\n\n",) * 2  # 100 s without an event, then the end
    server = Server([_stream(EVENT, *pings, DONE)])
    t = transport(server, sync=True)
    assert consume(t, sync=True)[1] is None  # the default: 120 s
    monkeypatch.setenv("ARLI_STREAM_STALL_TIMEOUT", "60")
    _, error = consume(t, sync=True)
    assert isinstance(error, StreamStalledError)
    assert error.stall_timeout == 60
    assert consume(t, sync=True, stall_timeout=0)[1] is None  # 0: no limit
    assert consume(t, sync=True, stall_timeout=1000)[1] is None  # the call wins
    monkeypatch.setenv("ARLI_STREAM_STALL_TIMEOUT", "0")
    assert consume(t, sync=True)[1] is None
    monkeypatch.setenv("ARLI_STREAM_STALL_TIMEOUT", "soon")
    sent = len(server.requests)
    _events, error = consume(t, sync=True)
    assert isinstance(error, ArliConfigError)
    assert "ARLI_STREAM_STALL_TIMEOUT" in str(error)
    assert len(server.requests) == sent  # refused before anything was sent


def test_a_read_timeout_inside_a_stream_is_a_stall(sleeps: list[float]) -> None:
    class Stalls(BreakingBody):
        def _chunks(self) -> Iterator[bytes]:
            yield EVENT
            raise httpx.ReadTimeout("timed out")

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=Stalls(()))

    t = Transport(
        base_url="http://api.test",
        retry=POLICY,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    events, error = consume(t, sync=True, stall_timeout=5)
    assert len(events) == 1
    assert isinstance(error, StreamStalledError)
    assert error.chunks_received == 1

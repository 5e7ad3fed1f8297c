"""Retries against the reference server: no pooled connection left checked out, stalls,
``retries_taken`` through the core call layer and both skins, the retry headers on the wire.

The pool checks look at httpcore's own books (the pool's active requests and each
connection's state), as the openai SDK's ``test_retrying_*_doesnt_leak`` tests do.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from arli import (
    ArliConnectionError,
    ArliError,
    IncompleteResponseError,
    InternalServerError,
    StreamStalledError,
    TextClient,
)
from arli.text.calls import CallOptions, TextCalls
from tests.reference_server import Fault, ReferenceServer

MODEL = "Mistral-Nemo-12B-Instruct-2407"
CHAT = "/v1/chat/completions"
KEY = "test-key"
MESSAGES = [{"role": "user", "content": "Hello"}]
BODY = {"model": MODEL, "messages": MESSAGES, "max_tokens": 16}
FAST = {"retry_initial_backoff": 0.01, "retry_max_backoff": 0.02}


def client_for(server: ReferenceServer, **options: Any) -> TextClient:
    return TextClient(api_key=KEY, base_url=server.url, **{**FAST, **options})


def checked_out(http: httpx.Client | httpx.AsyncClient) -> tuple[int, int]:
    """``(requests the pool still serves, connections neither idle nor closed)``."""
    pool = http._transport._pool  # type: ignore[attr-defined]
    busy = [c for c in pool.connections if not (c.is_idle() or c.is_closed())]
    return len(pool._requests), len(busy)


#: name -> (the fault, stream?, call options, the error class)
LEAKS: dict[str, tuple[Fault, bool, dict[str, Any], type[ArliError]]] = {
    "read timeouts, retried": (
        Fault(path=CHAT, kind="hang", times=3),
        False,
        {"timeout": 0.3, "retry_read_timeouts": True},
        ArliConnectionError,
    ),
    "5xx until retries run out": (
        Fault(path=CHAT, kind="status", status=503, times=3),
        False,
        {},
        InternalServerError,
    ),
    "a stream reset after an event": (
        Fault(path=CHAT, kind="drop_mid_stream", after_events=1),
        True,
        {},
        ArliConnectionError,
    ),
    "a stream reset before its first event, every time": (
        Fault(path=CHAT, kind="drop_mid_stream", after_events=0, times=3),
        True,
        {},
        ArliConnectionError,
    ),
    "a truncated stream": (
        Fault(path=CHAT, kind="truncate_sse", after_events=1),
        True,
        {},
        IncompleteResponseError,
    ),
    "a stalled stream": (
        Fault(path=CHAT, kind="stall_mid_stream", after_events=2, delay=5.0),
        True,
        {"stall_timeout": 0.3},
        StreamStalledError,
    ),
    "a 503 stream": (
        Fault(path=CHAT, kind="status", status=503, times=3),
        True,
        {},
        InternalServerError,
    ),
}


@pytest.mark.parametrize("name", LEAKS)
def test_no_connection_left_checked_out_sync(name: str, reference_server: ReferenceServer) -> None:
    fault, streamed, options, error = LEAKS[name]
    client = client_for(reference_server)
    transport = client._transport
    transport.request("GET", "/v1/models")  # open the pool
    reference_server.add_fault(fault)

    def send() -> None:
        if streamed:
            body = {**BODY, "stream": True}
            list(transport.stream_events("POST", CHAT, json_body=body, **options))
        else:
            transport.request("POST", CHAT, json_body=BODY, **options)

    with pytest.raises(error):
        send()
    assert checked_out(transport.sync_client()) == (0, 0)
    assert transport.request("POST", CHAT, json_body=BODY).status_code == 200  # still usable
    client.close()


@pytest.mark.parametrize("name", LEAKS)
def test_no_connection_left_checked_out_async(name: str, reference_server: ReferenceServer) -> None:
    fault, streamed, options, error = LEAKS[name]
    client = client_for(reference_server)
    transport = client._transport

    async def send() -> None:
        if streamed:
            body = {**BODY, "stream": True}
            async for _ in transport.astream_events("POST", CHAT, json_body=body, **options):
                pass
        else:
            await transport.arequest("POST", CHAT, json_body=BODY, **options)

    async def scenario() -> tuple[int, int]:
        await transport.arequest("GET", "/v1/models")
        reference_server.add_fault(fault)
        with pytest.raises(error):
            await send()
        books = checked_out(transport.async_client())
        assert (await transport.arequest("POST", CHAT, json_body=BODY)).status_code == 200
        await client.aclose()
        return books

    assert asyncio.run(scenario()) == (0, 0)


def test_a_consumer_that_stops_early_returns_its_connection(
    reference_server: ReferenceServer,
) -> None:
    client = client_for(reference_server)
    transport = client._transport
    events = transport.stream_events("POST", CHAT, json_body={**BODY, "stream": True})
    next(iter(events))
    events.close()  # type: ignore[attr-defined]
    assert checked_out(transport.sync_client()) == (0, 0)
    client.close()


def test_a_stalled_stream_says_how_many_chunks_arrived(
    reference_server: ReferenceServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARLI_STREAM_STALL_TIMEOUT", "0.3")
    reference_server.add_fault(Fault(path=CHAT, kind="stall_mid_stream", after_events=3, delay=5))
    client = client_for(reference_server)
    got: list[Any] = []
    with pytest.raises(StreamStalledError) as info:
        got.extend(client.stream_chat(BODY))
    assert info.value.chunks_received == 3 == len(got)
    assert info.value.stall_timeout == pytest.approx(0.3)
    assert len(reference_server.requests_for(CHAT)) == 1  # after an event: never re-sent
    client.close()


def _retry_headers(server: ReferenceServer) -> tuple[list[str | None], set[str | None]]:
    sent = server.requests_for(CHAT)
    counts = [r.headers.get("x-arli-retry-count") for r in sent]
    return counts, {r.headers.get("idempotency-key") for r in sent}


def _two_503s(server: ReferenceServer) -> None:
    server.add_fault(Fault(path=CHAT, kind="status", status=503, times=2))


def test_the_wire_carries_the_retry_count_and_one_idempotency_key(
    reference_server: ReferenceServer,
) -> None:
    _two_503s(reference_server)
    client = client_for(reference_server)
    calls = TextCalls(client)
    result = calls.chat(CallOptions(model=MODEL), list(MESSAGES), {"max_tokens": 8})
    assert result.retries_taken == 2
    counts, keys = _retry_headers(reference_server)
    assert counts == [None, "1", "2"]
    assert len(keys) == 1
    assert None not in keys
    client.close()


def test_core_stream_retries_taken(reference_server: ReferenceServer) -> None:
    _two_503s(reference_server)
    client = client_for(reference_server)
    stream = TextCalls(client).stream_chat(CallOptions(model=MODEL), list(MESSAGES), {})
    assert stream.retries_taken == 0
    assert list(stream)
    assert stream.retries_taken == 2
    client.close()


def test_core_async_retries_taken(reference_server: ReferenceServer) -> None:
    _two_503s(reference_server)
    client = client_for(reference_server)

    async def go() -> int:
        result = await TextCalls(client).achat(CallOptions(model=MODEL), list(MESSAGES), {})
        await client.aclose()
        return result.retries_taken

    assert asyncio.run(go()) == 2


@contextlib.contextmanager
def fast_retries(client: TextClient) -> Iterator[None]:
    """The skins take ``max_retries`` but no backoff: shorten their (shared) policy a while."""
    transport = client.transport
    policy = transport.retry
    transport.retry = dataclasses.replace(policy, initial_backoff=0.01, max_backoff=0.02)
    try:
        yield
    finally:
        transport.retry = policy


def test_langchain_response_metadata_has_retries_taken(reference_server: ReferenceServer) -> None:
    from langchain_arli import ChatArli

    llm = ChatArli(model=MODEL, api_key=KEY, base_url=reference_server.url)
    with fast_retries(llm.client):
        assert llm.invoke("Hello").response_metadata["retries_taken"] == 0
        _two_503s(reference_server)
        assert llm.invoke("Hello").response_metadata["retries_taken"] == 2


def test_llama_index_additional_kwargs_have_retries_taken(
    reference_server: ReferenceServer,
) -> None:
    from llama_index.core.llms import ChatMessage

    from llama_index_arli import Arli

    llm = Arli(model=MODEL, api_key=KEY, base_url=reference_server.url)
    _two_503s(reference_server)
    with fast_retries(llm.client):
        response = llm.chat([ChatMessage(role="user", content="Hello")])
    assert response.additional_kwargs["retries_taken"] == 2


def test_the_error_after_retries_says_how_many(reference_server: ReferenceServer) -> None:
    from langchain_arli import ChatArli

    reference_server.add_fault(Fault(path=CHAT, kind="status", status=503, times=-1))
    llm = ChatArli(model=MODEL, api_key=KEY, base_url=reference_server.url)
    with fast_retries(llm.client), pytest.raises(InternalServerError) as info:
        llm.invoke("Hello")
    assert info.value.retries_taken == 2

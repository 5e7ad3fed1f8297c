"""The text call layer (arli.text.calls) and the streams of TextClient, over a mock transport."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from arli import ConstraintViolationError, IncompleteResponseError, TextClient
from arli.text.calls import CallOptions, TextCalls


def _sse(*events: dict[str, Any], done: bool = True) -> bytes:
    out = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    return out + (b"data: [DONE]\n\n" if done else b"")


class _Server:
    """Answers every request with ``body``; remembers the request bodies it got."""

    def __init__(self, body: bytes, content_type: str = "text/event-stream") -> None:
        self.body = body
        self.content_type = content_type
        self.requests: list[dict[str, Any]] = []
        self.timeouts: list[float | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(json.loads(request.content))
        self.timeouts.append(request.extensions.get("timeout", {}).get("read"))
        return httpx.Response(200, content=self.body, headers={"content-type": self.content_type})


def _client(server: _Server) -> TextClient:
    return TextClient(
        api_key="k",
        base_url="http://arli.test",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(server)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
    )


_TWO_COMPLETION_CHUNKS = _sse(
    {"id": "c", "choices": [{"index": 0, "text": "Once"}]},
    {"id": "c", "choices": [{"index": 0, "text": " upon"}]},
    done=False,
)


def test_a_completion_stream_that_ends_early_says_how_many_chunks_came() -> None:
    client = _client(_Server(_TWO_COMPLETION_CHUNKS))
    with pytest.raises(IncompleteResponseError, match="ended after 2 chunks without"):
        list(client.stream_complete({"model": "m", "prompt": "x"}))


async def test_an_async_completion_stream_that_ends_early_says_how_many_chunks_came() -> None:
    client = _client(_Server(_TWO_COMPLETION_CHUNKS))
    with pytest.raises(IncompleteResponseError, match="ended after 2 chunks without"):
        _ = [c async for c in client.astream_complete({"model": "m", "prompt": "x"})]


def test_a_chat_stream_that_ends_early_says_one_chunk() -> None:
    body = _sse({"id": "c", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}, done=False)
    client = _client(_Server(body))
    with pytest.raises(IncompleteResponseError, match="ended after 1 chunk without"):
        list(client.stream_chat({"model": "m", "messages": []}))


_JSON_CHAT_STREAM = _sse(
    {"id": "c", "choices": [{"index": 0, "delta": {"content": '{"a": '}}]},
    {"id": "c", "choices": [{"index": 0, "delta": {"content": "1}"}, "finish_reason": "stop"}]},
    {"id": "c", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}},
)


def test_a_streamed_call_is_planned_once_accumulated_once_and_checked() -> None:
    server = _Server(_JSON_CHAT_STREAM)
    calls = TextCalls(_client(server))
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    stream = calls.stream_chat(
        CallOptions(model="m"), [{"role": "user", "content": "x"}], {"guided_json": schema}
    )
    assert server.requests == []  # planned, not sent yet
    chunks = list(stream)
    assert len(chunks) == 3
    assert stream.accumulator.chunks == 3  # the one accumulator saw every chunk
    assert stream.result().choices[0].content == '{"a": 1}'
    assert stream.result().usage is not None
    assert stream.parsed == [{"a": 1}]
    sent = server.requests[0]
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}  # decided by the plan, once


async def test_an_async_streamed_call_checks_the_answer_at_the_end() -> None:
    server = _Server(_JSON_CHAT_STREAM)
    calls = TextCalls(_client(server))
    schema = {"type": "object", "properties": {"b": {"type": "string"}}, "required": ["b"]}
    stream = await calls.astream_chat(
        CallOptions(model="m", stream_usage=False), [{"role": "user", "content": "x"}],
        {"guided_json": schema},
    )  # fmt: skip
    with pytest.raises(ConstraintViolationError):
        _ = [c async for c in stream]
    assert "stream_options" not in server.requests[0]


def test_a_callers_own_stream_options_win() -> None:
    server = _Server(_JSON_CHAT_STREAM)
    calls = TextCalls(_client(server))
    own = {"include_usage": True, "continuous_usage_stats": True}
    list(
        calls.stream_chat(
            CallOptions(model="m"), [{"role": "user", "content": "x"}], {"stream_options": own}
        )
    )
    assert server.requests[0]["stream_options"] == own


def test_unchecked_calls_parse_nothing() -> None:
    body = json.dumps(
        {"id": "c", "choices": [{"index": 0, "message": {"content": "no json"}}]}
    ).encode()
    server = _Server(body, "application/json")
    calls = TextCalls(_client(server))
    options = CallOptions(model="m", check_output=False)
    call = calls.chat(options, [{"role": "user", "content": "x"}], {"guided_json": {}})
    assert call.parsed is None
    assert call.result.text == "no json"
    assert server.requests[0]["stream"] is False


def test_image_urls_follow_the_provider_unless_set() -> None:
    calls = TextCalls(TextClient(api_key="k", provider="featherless"))
    url = "https://example.com/cat.png"

    def message() -> list[dict[str, Any]]:
        return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]

    kept = calls.messages(CallOptions(model="m"), message())  # Featherless takes URLs
    assert kept[0]["content"][0]["image_url"]["url"] == url


def test_timeout_is_the_read_timeout_of_every_kind_of_call() -> None:
    chat = json.dumps({"id": "c", "choices": [{"index": 0, "message": {"content": "hi"}}]})
    server = _Server(chat.encode(), "application/json")
    calls = TextCalls(_client(server))
    options = CallOptions(model="m", timeout=7.5)
    calls.chat(options, [{"role": "user", "content": "x"}], {})
    server.body, server.content_type = _JSON_CHAT_STREAM, "text/event-stream"
    list(calls.stream_chat(options, [{"role": "user", "content": "x"}], {}))
    list(calls.stream_chat(CallOptions(model="m"), [{"role": "user", "content": "x"}], {}))
    assert server.timeouts[:2] == [7.5, 7.5]
    assert server.timeouts[2] != 7.5  # without it: the client's own timeouts

"""The core TextClient against a real vLLM server (structure only: the model is random)."""

from __future__ import annotations

import asyncio

import pytest

from arli import BadRequestError, IncompleteResponseError, NotFoundError, TextClient


@pytest.fixture
def client(live_base_url: str) -> TextClient:
    # vLLM here runs without --api-key; a key is still sent, as it would be to Arli
    return TextClient(api_key="live-test-key", base_url=live_base_url)


def _body(model: str, **extra: object) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": "Hello there"}], **extra}


def test_chat(client: TextClient, live_model: str) -> None:
    answer = client.chat(_body(live_model, max_tokens=8))
    assert answer.id.startswith("chatcmpl-")
    assert answer.model == live_model
    assert answer.choices[0].finish_reason in ("stop", "length")
    assert answer.usage is not None
    assert 0 < answer.usage.completion_tokens <= 8


def test_stream_with_usage(client: TextClient, live_model: str) -> None:
    chunks = list(client.stream_chat(_body(live_model, max_tokens=8)))
    assert chunks[0].choices[0].role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_tokenize_uses_the_vllm_path(client: TextClient, live_model: str) -> None:
    result = client.tokenize(model=live_model, prompt="hello world")
    assert result.count == len(result.tokens) > 0
    assert result.max_model_len == 1024
    assert client._tokenize_path == "/tokenize"  # vLLM has no /v1/tokenize


def test_models(client: TextClient, live_model: str) -> None:
    models = client.list_models()
    assert live_model in [m.id for m in models]
    assert next(m for m in models if m.id == live_model).max_model_len == 1024


def test_completions_stream(client: TextClient, live_model: str) -> None:
    body = {"model": live_model, "prompt": "one two", "max_tokens": 6}
    chunks = list(client.stream_complete(body))
    assert chunks[-1].usage is not None
    assert client.complete(body).choices[0].finish_reason in ("stop", "length")


def test_errors_are_typed(client: TextClient, live_model: str) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        client.chat(_body("no-such-model", max_tokens=4))
    with pytest.raises(BadRequestError) as info:
        client.chat(_body(live_model, max_tokens=5000))
    assert info.value.param == "max_tokens"


def test_async_and_concurrency(client: TextClient, live_model: str) -> None:
    async def main() -> list[int]:
        answers = await asyncio.gather(
            *(client.achat(_body(live_model, max_tokens=4, seed=i)) for i in range(6))
        )
        streamed = [c async for c in client.astream_chat(_body(live_model, max_tokens=4))]
        assert streamed[-1].usage is not None
        return [a.usage.completion_tokens for a in answers if a.usage]

    assert len(asyncio.run(main())) == 6


def test_stream_is_complete(client: TextClient, live_model: str) -> None:
    try:
        list(client.stream_chat(_body(live_model, max_tokens=4)))
    except IncompleteResponseError:  # pragma: no cover - would be a real bug
        pytest.fail("a real vLLM stream was reported incomplete")

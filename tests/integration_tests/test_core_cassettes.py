"""The core TextClient replayed from cassettes recorded against real vLLM 0.32 (structure only).

Re-record with ``make record TARGET=vllm`` (starts the live vLLM server).
"""

from __future__ import annotations

import pytest

from arli import NotFoundError, TextClient
from tests.conftest import Target

pytestmark = [pytest.mark.vcr, pytest.mark.recorded_against("vllm")]


@pytest.fixture
def client(cassette_target: Target) -> TextClient:
    return TextClient(api_key=cassette_target.api_key, base_url=cassette_target.base_url)


def _messages() -> list[dict[str, str]]:
    return [{"role": "user", "content": "Say hello in three words."}]


def test_chat(client: TextClient, cassette_target: Target) -> None:
    answer = client.chat(
        {"model": cassette_target.model, "messages": _messages(), "max_tokens": 12, "seed": 7}
    )
    assert answer.id.startswith("chatcmpl-")
    assert answer.model == cassette_target.model
    (choice,) = answer.choices
    assert isinstance(choice.content, str)
    assert choice.finish_reason in ("stop", "length")
    assert answer.usage is not None
    assert answer.usage.completion_tokens <= 12
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_chat_stream_with_usage(client: TextClient, cassette_target: Target) -> None:
    body = {"model": cassette_target.model, "messages": _messages(), "max_tokens": 12, "seed": 7}
    chunks = list(client.stream_chat(body))
    assert chunks[0].choices[0].role == "assistant"
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finish) == 1
    assert chunks[-1].choices == []
    usage = chunks[-1].usage
    assert usage is not None
    content_chunks = sum(1 for c in chunks if c.choices and c.choices[0].content)
    assert 0 < content_chunks <= usage.completion_tokens <= 12
    assert [c for c in chunks if c.usage is not None] == [chunks[-1]]


def test_completions_and_stream(client: TextClient, cassette_target: Target) -> None:
    body = {"model": cassette_target.model, "prompt": "The sky is", "max_tokens": 8, "seed": 3}
    answer = client.complete(body)
    assert answer.id.startswith("cmpl-")
    assert answer.choices[0].finish_reason in ("stop", "length")
    assert answer.usage is not None
    chunks = list(client.stream_complete(body))
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert "".join(c.choices[0].text for c in chunks if c.choices) == answer.text


def test_tokenize_prompt_and_messages(client: TextClient, cassette_target: Target) -> None:
    plain = client.tokenize(model=cassette_target.model, prompt="Hello world")
    assert plain.count == len(plain.tokens) > 0
    assert plain.max_model_len == 1024
    chat = client.tokenize(model=cassette_target.model, messages=_messages())
    assert chat.count > plain.count  # the chat template adds tokens


def test_models(client: TextClient, cassette_target: Target) -> None:
    models = client.list_models()
    assert [m.id for m in models] == [cassette_target.model]
    assert models[0].max_model_len == 1024
    assert models[0].owned_by == "vllm"


def test_unknown_model_error(client: TextClient) -> None:
    with pytest.raises(NotFoundError) as info:
        client.chat({"model": "nope", "messages": _messages(), "max_tokens": 4})
    assert "does not exist" in info.value.message
    assert info.value.param == "model"


def test_structured_outputs_are_honoured(client: TextClient, cassette_target: Target) -> None:
    body = {
        "model": cassette_target.model,
        "messages": [{"role": "user", "content": "Pick one."}],
        "max_tokens": 10,
        "structured_outputs": {"choice": ["yes", "no"]},
    }
    assert client.chat(body).text in ("yes", "no")

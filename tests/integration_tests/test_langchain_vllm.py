"""ChatArli and ArliLLM replayed from cassettes recorded against real vLLM 0.32 (structure only).

The model is random (see cassettes/README.md): these tests check shapes, usage, finish
reasons, stream framing and that constraints are honoured or detected — never content.
Re-record with ``make record TARGET=vllm``.
"""

from __future__ import annotations

from typing import Literal

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from arli import ConstraintViolationError
from langchain_arli import ArliLLM, ChatArli
from tests.conftest import Target

pytestmark = [pytest.mark.vcr, pytest.mark.recorded_against("vllm")]


class City(BaseModel):
    """A city and its climate."""

    name: str = Field(pattern="^[a-z]{1,10}$")
    climate: Literal["hot", "cold", "mild"]
    rank: int = Field(ge=1, le=9)


@tool
def get_weather(location: str, unit: Literal["celsius", "fahrenheit"]) -> str:
    """Get the weather for a location."""
    return f"20 {unit} in {location}"


def chat(target: Target, **kwargs: object) -> ChatArli:
    options: dict[str, object] = {"max_tokens": 12, "seed": 1, **kwargs}
    return ChatArli(model=target.model, api_key=target.api_key, base_url=target.base_url, **options)


@pytest.fixture
def llm(cassette_target: Target) -> ChatArli:
    return chat(cassette_target)


def test_invoke(llm: ChatArli) -> None:
    answer = llm.invoke("Hello there")
    assert isinstance(answer.content, str)
    assert answer.response_metadata["finish_reason"] in ("stop", "length")
    assert answer.response_metadata["system_fingerprint"].startswith("vllm-")
    assert answer.usage_metadata is not None
    assert 0 < answer.usage_metadata["output_tokens"] <= 12


def test_stream_with_usage(llm: ChatArli) -> None:
    chunks = list(llm.stream("Hello there"))
    assert sum(1 for c in chunks if c.usage_metadata) == 1
    assert chunks[-1].chunk_position == "last"
    assert sum(1 for c in chunks if c.response_metadata.get("finish_reason")) == 1


def test_n_logprobs_stop_seed(llm: ChatArli) -> None:
    result = llm.generate([[HumanMessage("Hello there")]], n=2, logprobs=True, top_logprobs=2)
    assert len(result.generations[0]) == 2
    content = result.generations[0][0].message.response_metadata["logprobs"]["content"]
    assert len(content[0]["top_logprobs"]) == 2
    first = llm.invoke("Count", seed=5, temperature=1.0)
    again = llm.invoke("Count", seed=5, temperature=1.0)
    assert first.content == again.content  # same seed, same text (recorded from vLLM)
    stopped = llm.invoke("Hello there", stop=[" "], max_tokens=40)
    assert stopped.response_metadata["finish_reason"] in ("stop", "length")


def test_structured_output_via_structured_outputs(cassette_target: Target) -> None:
    llm = chat(cassette_target, guided_decoding_style="structured_outputs", max_tokens=200)
    assert isinstance(llm.with_structured_output(City).invoke("Name a city"), City)
    # the default style sends guided_json too; vLLM 0.32 reads structured_outputs
    both = chat(cassette_target, max_tokens=200).with_structured_output(City)
    assert isinstance(both.invoke("Name a city"), City)


def test_legacy_guided_fields_are_ignored_by_vllm_and_we_say_so(cassette_target: Target) -> None:
    legacy = chat(cassette_target, guided_decoding_style="guided", max_tokens=60)
    with pytest.raises(ConstraintViolationError) as info:
        legacy.with_structured_output(City).invoke("Name a city")
    assert "guided_decoding_style='structured_outputs'" in str(info.value)


def test_named_and_required_tool_calls(llm: ChatArli) -> None:
    named = llm.bind_tools([get_weather], tool_choice="get_weather", strict=True)
    msg = named.invoke("weather in paris?", max_tokens=300)
    (call,) = msg.tool_calls
    assert call["name"] == "get_weather"
    assert set(call["args"]) == {"location", "unit"}
    assert call["args"]["unit"] in ("celsius", "fahrenheit")
    required = llm.bind_tools(
        [get_weather], tool_choice="any", parallel_tool_calls=False, strict=True
    )
    total: AIMessageChunk | None = None
    for chunk in required.stream("weather in paris?", max_tokens=300):
        assert isinstance(chunk, AIMessageChunk)
        total = chunk if total is None else total + chunk
    assert total is not None
    assert [c["name"] for c in total.tool_calls] == ["get_weather"]


def test_tokens_and_models(llm: ChatArli) -> None:
    assert llm.get_num_tokens("hello world") > 0
    assert llm.list_models()[0].max_model_len == 1024


def test_arli_llm(cassette_target: Target) -> None:
    llm = ArliLLM(
        model=cassette_target.model,
        api_key=cassette_target.api_key,
        base_url=cassette_target.base_url,
        max_tokens=8,
        seed=2,
    )
    text = llm.invoke("one two three")
    assert isinstance(text, str)
    assert "".join(llm.stream("one two three")) == text
    result = llm.generate(["a", "b"], logprobs=2)
    assert len(result.generations) == 2
    info = result.generations[1][0].generation_info
    assert info is not None
    assert info["logprobs"]["top_logprobs"]


def test_earlier_reasoning_is_accepted_by_vllm(cassette_target: Target) -> None:
    # send_reasoning=True puts the assistant turn's reasoning in `reasoning`, the field
    # vLLM reads on incoming assistant messages (recorded: vLLM 0.32 answers 200)
    llm = chat(cassette_target, send_reasoning=True)
    earlier = AIMessage("4", additional_kwargs={"reasoning_content": "2 and 2 make 4."})
    answer = llm.invoke([HumanMessage("2+2?"), earlier, HumanMessage("And 3+3?")])
    assert answer.response_metadata["finish_reason"] in ("stop", "length")
    assert answer.usage_metadata is not None
    # without it the prompt is never longer (this tiny Qwen2 template drops it: equal counts)
    bare = chat(cassette_target, send_reasoning=False)
    shorter = bare.invoke([HumanMessage("2+2?"), earlier, HumanMessage("And 3+3?")])
    assert shorter.usage_metadata is not None
    assert shorter.usage_metadata["input_tokens"] <= answer.usage_metadata["input_tokens"]


def test_v1_stream_framing_from_vllm(cassette_target: Target) -> None:
    llm = chat(cassette_target, output_version="v1")
    chunks = list(llm.stream("Hello there"))
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert isinstance(total.content, list)
    assert [b["type"] for b in total.content] == ["text"]  # one merged text block
    assert total.text == "".join(c.text for c in chunks)
    assert total.usage_metadata is not None
    assert total.response_metadata["model_provider"] == "arli"

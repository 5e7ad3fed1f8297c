"""``Arli`` (LlamaIndex) against a real vLLM server: structure only (the model is random).

What a random-weight model can show (see the live tier's notes): shapes, usage, finish
reasons, streams, schema-valid output under ``structured_outputs`` (strings bounded with
``pattern``/``enum``, never ``maxLength``), and one valid forced tool call with
``parallel_tool_calls: false``. It cannot pick a tool on its own or write sensible text.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel, Field

from llama_index_arli import Arli


class Pet(BaseModel):
    """A pet (every string bounded by a pattern or an enum)."""

    name: str = Field(pattern=r"^[a-z]{1,10}$")
    kind: Literal["cat", "dog", "fish"]
    age: int = Field(ge=0, le=30)


class WeatherQuery(BaseModel):
    location: str = Field(pattern=r"^[a-z]{1,10}$")
    unit: Literal["celsius", "fahrenheit"]


def get_weather(location: str, unit: str) -> str:
    """Get the weather in a city."""
    return f"sunny in {location} ({unit})"


@pytest.fixture
def llm(live_base_url: str, live_model: str) -> Arli:
    # vLLM here runs without --api-key; a key is still sent, as it would be to Arli
    return Arli(
        model=live_model,
        api_key="live-test-key",
        base_url=live_base_url,
        # vLLM 0.32 silently ignores the legacy guided_* fields
        guided_decoding_style="structured_outputs",
        seed=7,
    )


def _user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=text)]


def test_chat(llm: Arli) -> None:
    response = llm.chat(_user("Hello there"), max_tokens=8)
    assert response.message.role == MessageRole.ASSISTANT
    assert isinstance(response.message.content, str)
    extra = response.additional_kwargs
    assert extra["finish_reason"] in ("stop", "length")
    assert 0 < extra["completion_tokens"] <= 8
    assert extra["total_tokens"] == extra["prompt_tokens"] + extra["completion_tokens"]
    assert response.raw["id"].startswith("chatcmpl-")


def test_stream_with_usage(llm: Arli) -> None:
    chunks = list(llm.stream_chat(_user("Hello there"), max_tokens=8))
    text = "".join(c.delta or "" for c in chunks)
    assert chunks[-1].message.content == text
    usage = chunks[-1].additional_kwargs
    assert usage["completion_tokens"] > 0
    assert usage["finish_reason"] in ("stop", "length")
    assert sum(1 for c in chunks if "prompt_tokens" in c.additional_kwargs) == 1


def test_complete_both_endpoints(llm: Arli, live_base_url: str, live_model: str) -> None:
    assert llm.complete("one two", max_tokens=4).additional_kwargs["completion_tokens"] > 0
    raw = Arli(
        model=live_model,
        api_key="live-test-key",
        base_url=live_base_url,
        use_completions_endpoint=True,
    )
    chunks = list(raw.stream_complete("one two", max_tokens=4))
    assert chunks[-1].additional_kwargs["completion_tokens"] > 0
    assert chunks[-1].text == "".join(c.delta or "" for c in chunks)


def test_async(llm: Arli) -> None:
    async def main() -> None:
        answers = await asyncio.gather(
            *(llm.achat(_user("Hello there"), max_tokens=4, seed=i) for i in range(4))
        )
        assert all(a.additional_kwargs["completion_tokens"] > 0 for a in answers)
        chunks = [c async for c in await llm.astream_chat(_user("Hello"), max_tokens=4)]
        assert chunks[-1].additional_kwargs["completion_tokens"] > 0
        assert (await llm.acomplete("Hello", max_tokens=4)).additional_kwargs["total_tokens"] > 0

    asyncio.run(main())


def test_structured_output(llm: Arli) -> None:
    prompt = PromptTemplate("Describe a pet called {name}.")
    pet = llm.structured_predict(Pet, prompt, llm_kwargs={"max_tokens": 300}, name="rex")
    assert isinstance(pet, Pet)
    parts = list(
        llm.stream_structured_predict(Pet, prompt, llm_kwargs={"max_tokens": 300}, name="rex")
    )
    assert isinstance(parts[-1], Pet)


def test_forced_tool_call(llm: Arli) -> None:
    tool = FunctionTool.from_defaults(get_weather, fn_schema=WeatherQuery)
    response = llm.chat_with_tools(
        [tool],
        user_msg="weather in paris?",
        tool_required=True,
        allow_parallel_tool_calls=False,
        max_tokens=300,
    )
    calls = llm.get_tool_calls_from_response(response)
    assert len(calls) == 1
    assert calls[0].tool_name == "get_weather"
    assert calls[0].tool_id.startswith("chatcmpl-tool-")
    WeatherQuery.model_validate(calls[0].tool_kwargs)
    # and the call and its result go back into a history the chat template renders
    history = [
        *_user("weather in paris?"),
        response.message,
        ChatMessage(
            role=MessageRole.TOOL,
            content=str(tool(**calls[0].tool_kwargs).content),
            additional_kwargs={"tool_call_id": calls[0].tool_id},
        ),
    ]
    answer = llm.chat(history, max_tokens=8)
    assert answer.additional_kwargs["completion_tokens"] > 0


def test_tokenize(llm: Arli) -> None:
    tokens = llm.tokenize("hello world")
    assert tokens
    assert all(isinstance(t, int) for t in tokens)
    assert llm.count_tokens("hello world") == len(tokens)
    assert llm.count_tokens(_user("hello world")) > len(tokens)


def test_context_window_from_models(llm: Arli) -> None:
    meta = llm.metadata
    assert meta.context_window == 1024  # --max-model-len of the live server
    assert meta.is_function_calling_model is True
    assert meta.model_name == llm.model

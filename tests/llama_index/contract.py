"""A reusable contract suite for LlamaIndex LLM integrations.

LlamaIndex has no counterpart of ``langchain-tests``; this mirrors its chat-model
integration suite for LlamaIndex's ``LLM``/``FunctionCallingLLM`` API. Subclass
:class:`LLMContractTests`, give ``llm_class`` and ``llm_params``, and switch features
off with the ``supports_*`` properties::

    class TestMyLLM(LLMContractTests):
        @property
        def llm_class(self): return MyLLM

        @property
        def llm_params(self): return {"model": "m", "api_key": "k"}

The assertions check structure and the LlamaIndex contract (types, accumulation of
streams, usage keys, tool selections, agent loop, structured output), not wording, so
the suite can run against a real model. Hooks such as :meth:`check_image_answer` let a
subclass add content checks where its server's answers are known.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    ImageBlock,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel, Field

DATA = Path(__file__).parent / "data"

MAGIC_PROMPT = "What is the value of magic_function(3)? Use the tool."
WEATHER_PROMPT = "What is the weather in San Francisco, CA?"
JOKE_PROMPT = "Tell me a joke about {topic}."
JSON_PROMPT = (
    "Tell me a joke about cats. Return the result as JSON with 'setup' and 'punchline' keys."
)


def magic_function(input: int) -> int:
    """Apply a magic function to an input."""
    return input + 2


def get_weather(location: str) -> str:
    """Get the current weather in a location."""
    return f"It is sunny in {location}."


class Joke(BaseModel):
    """Joke to tell user."""

    setup: str = Field(description="question to set up a joke")
    punchline: str = Field(description="answer to resolve the joke")


class JokeWithRating(BaseModel):
    """Joke to tell user, with an optional rating."""

    setup: str = Field(description="question to set up a joke")
    punchline: str = Field(description="answer to resolve the joke")
    rating: int | None = Field(default=None, description="how funny the joke is, from 1 to 10")


def _user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=text)]


def _assert_usage(extra: dict[str, Any]) -> None:
    assert isinstance(extra.get("prompt_tokens"), int)
    assert isinstance(extra.get("completion_tokens"), int)
    assert extra["prompt_tokens"] > 0
    assert extra["completion_tokens"] > 0
    assert extra["total_tokens"] == extra["prompt_tokens"] + extra["completion_tokens"]


class LLMContractTests:
    """The contract every chat LLM integration should meet (see the module docstring)."""

    # -- configuration -------------------------------------------------------------------

    @property
    def llm_class(self) -> type[LLM]:
        raise NotImplementedError

    @property
    def llm_params(self) -> dict[str, Any]:
        return {}

    @property
    def supports_tool_calling(self) -> bool:
        return True

    @property
    def supports_tool_choice_required(self) -> bool:
        return True

    @property
    def supports_structured_output(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def returns_usage(self) -> bool:
        return True

    @property
    def supports_stop(self) -> bool:
        return True

    @property
    def supports_tokenize(self) -> bool:
        return False

    @property
    def structured_output_kwargs(self) -> dict[str, Any]:
        """Extra kwargs for structured-output calls (e.g. a larger ``max_tokens``)."""
        return {}

    def check_image_answer(self, answer: str, width: int, height: int) -> None:
        """Hook: check the answer to "describe this image" (no content check by default)."""

    def check_tool_answer(self, answer: str) -> None:
        """Hook: check the final answer after a tool result (no content check by default)."""

    @pytest.fixture
    def llm(self) -> LLM:
        return self.llm_class(**self.llm_params)

    # -- invoke --------------------------------------------------------------------------

    def test_metadata(self, llm: LLM) -> None:
        meta = llm.metadata
        assert meta.is_chat_model is True
        assert meta.context_window > 0
        assert meta.num_output > 0
        assert meta.model_name
        if self.supports_tool_calling:
            assert meta.is_function_calling_model is True
            assert isinstance(llm, FunctionCallingLLM)

    def test_chat(self, llm: LLM) -> None:
        response = llm.chat(_user("Hello"))
        assert isinstance(response, ChatResponse)
        assert response.message.role == MessageRole.ASSISTANT
        assert isinstance(response.message.content, str)
        assert response.message.content
        assert response.raw is not None

    def test_complete(self, llm: LLM) -> None:
        response = llm.complete("Hello")
        assert isinstance(response, CompletionResponse)
        assert response.text

    def test_stream_chat(self, llm: LLM) -> None:
        chunks = list(llm.stream_chat(_user("Hello")))
        assert chunks
        assert all(isinstance(c, ChatResponse) for c in chunks)
        text = "".join(c.delta or "" for c in chunks)
        assert text
        assert chunks[-1].message.content == text  # messages accumulate, deltas add up
        assert sum(1 for c in chunks if c.delta) > 1

    def test_stream_complete(self, llm: LLM) -> None:
        chunks = list(llm.stream_complete("Hello"))
        text = "".join(c.delta or "" for c in chunks)
        assert text
        assert chunks[-1].text == text

    async def test_achat(self, llm: LLM) -> None:
        response = await llm.achat(_user("Hello"))
        assert isinstance(response, ChatResponse)
        assert response.message.content

    async def test_acomplete(self, llm: LLM) -> None:
        response = await llm.acomplete("Hello")
        assert response.text

    async def test_astream_chat(self, llm: LLM) -> None:
        chunks = [c async for c in await llm.astream_chat(_user("Hello"))]
        text = "".join(c.delta or "" for c in chunks)
        assert text
        assert chunks[-1].message.content == text

    async def test_astream_complete(self, llm: LLM) -> None:
        chunks = [c async for c in await llm.astream_complete("Hello")]
        text = "".join(c.delta or "" for c in chunks)
        assert text
        assert chunks[-1].text == text

    async def test_concurrent_achat(self, llm: LLM) -> None:
        prompts = ["Hello", "How are you?", "Tell me a joke about cats."]
        responses = await asyncio.gather(*(llm.achat(_user(p)) for p in prompts))
        assert len(responses) == len(prompts)
        assert all(r.message.content for r in responses)

    def test_conversation(self, llm: LLM) -> None:
        messages = [
            ChatMessage(role=MessageRole.SYSTEM, content="You are a helpful assistant."),
            ChatMessage(role=MessageRole.USER, content="Hello"),
            ChatMessage(role=MessageRole.ASSISTANT, content="Hello! How can I help you today?"),
            ChatMessage(role=MessageRole.USER, content="How are you?"),
        ]
        response = llm.chat(messages)
        assert response.message.content

    def test_message_with_several_text_blocks(self, llm: LLM) -> None:
        message = ChatMessage(
            role=MessageRole.USER, blocks=[TextBlock(text="Hello"), TextBlock(text=" there")]
        )
        assert llm.chat([message]).message.content

    def test_stop(self, llm: LLM) -> None:
        if not self.supports_stop:
            pytest.skip("stop sequences not supported")
        full = llm.chat(_user("Hello")).message.content or ""
        words = full.split()
        if len(words) < 3:
            pytest.skip("the answer is too short to stop inside it")
        stop = words[2]
        response = llm.chat(_user("Hello"), stop=[stop])
        assert stop not in (response.message.content or "")

    def test_usage(self, llm: LLM) -> None:
        if not self.returns_usage:
            pytest.skip("no usage reported")
        _assert_usage(llm.chat(_user("Hello")).additional_kwargs)
        _assert_usage(llm.complete("Hello").additional_kwargs)

    def test_usage_streaming(self, llm: LLM) -> None:
        if not self.returns_usage:
            pytest.skip("no usage reported")
        chunks = list(llm.stream_chat(_user("Hello")))
        _assert_usage(chunks[-1].additional_kwargs)
        with_usage = [c for c in chunks if "prompt_tokens" in c.additional_kwargs]
        assert len(with_usage) == 1

    async def test_ausage_streaming(self, llm: LLM) -> None:
        if not self.returns_usage:
            pytest.skip("no usage reported")
        chunks = [c async for c in await llm.astream_chat(_user("Hello"))]
        _assert_usage(chunks[-1].additional_kwargs)

    def test_tokenize(self, llm: LLM) -> None:
        if not self.supports_tokenize:
            pytest.skip("no tokenizer endpoint")
        tokens = llm.tokenize("hello world")  # type: ignore[attr-defined]
        assert tokens
        assert all(isinstance(t, int) for t in tokens)

    # -- tools ---------------------------------------------------------------------------

    def _function_llm(self, llm: LLM) -> FunctionCallingLLM:
        if not self.supports_tool_calling:
            pytest.skip("tool calling not supported")
        assert isinstance(llm, FunctionCallingLLM)
        return llm

    def test_tool_calling_forced(self, llm: LLM) -> None:
        fllm = self._function_llm(llm)
        if not self.supports_tool_choice_required:
            pytest.skip("tool_required not supported")
        tool = FunctionTool.from_defaults(magic_function)
        response = fllm.chat_with_tools([tool], user_msg=MAGIC_PROMPT, tool_required=True)
        calls = fllm.get_tool_calls_from_response(response)
        assert len(calls) == 1
        assert calls[0].tool_name == "magic_function"
        assert calls[0].tool_kwargs == {"input": 3}
        assert calls[0].tool_id
        assert any(isinstance(b, ToolCallBlock) for b in response.message.blocks)

    def test_tool_calling_auto(self, llm: LLM) -> None:
        fllm = self._function_llm(llm)
        tools = [
            FunctionTool.from_defaults(get_weather),
            FunctionTool.from_defaults(magic_function),
        ]
        response = fllm.chat_with_tools(tools, user_msg=WEATHER_PROMPT)
        calls = fllm.get_tool_calls_from_response(response, error_on_no_tool_call=False)
        assert [c.tool_name for c in calls] == ["get_weather"]
        assert "San Francisco" in calls[0].tool_kwargs["location"]

    def test_no_tool_call(self, llm: LLM) -> None:
        fllm = self._function_llm(llm)
        tool = FunctionTool.from_defaults(magic_function)
        response = fllm.chat_with_tools([tool], user_msg="Hello")
        assert fllm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
        with pytest.raises(ValueError, match="tool call"):
            fllm.get_tool_calls_from_response(response)
        assert response.message.content

    async def test_atool_calling(self, llm: LLM) -> None:
        fllm = self._function_llm(llm)
        tool = FunctionTool.from_defaults(magic_function)
        response = await fllm.achat_with_tools([tool], user_msg=MAGIC_PROMPT, tool_required=True)
        calls = fllm.get_tool_calls_from_response(response)
        assert calls[0].tool_kwargs == {"input": 3}

    def test_tool_calling_streaming(self, llm: LLM) -> None:
        fllm = self._function_llm(llm)
        tool = FunctionTool.from_defaults(magic_function)
        chunks = list(
            fllm.stream_chat_with_tools([tool], user_msg=MAGIC_PROMPT, tool_required=True)
        )
        calls = fllm.get_tool_calls_from_response(chunks[-1])
        assert calls[0].tool_name == "magic_function"
        assert calls[0].tool_kwargs == {"input": 3}

    async def test_atool_calling_streaming(self, llm: LLM) -> None:
        fllm = self._function_llm(llm)
        tool = FunctionTool.from_defaults(magic_function)
        stream = await fllm.astream_chat_with_tools(
            [tool], user_msg=MAGIC_PROMPT, tool_required=True
        )
        chunks = [c async for c in stream]
        calls = fllm.get_tool_calls_from_response(chunks[-1])
        assert calls[0].tool_kwargs == {"input": 3}

    def test_tool_message_history(self, llm: LLM) -> None:
        """A history with the assistant's tool call and the tool's result gets an answer."""
        fllm = self._function_llm(llm)
        tool = FunctionTool.from_defaults(magic_function)
        first = fllm.chat_with_tools([tool], user_msg=MAGIC_PROMPT, tool_required=True)
        call = fllm.get_tool_calls_from_response(first)[0]
        result = tool(**call.tool_kwargs)
        history = [
            *_user(MAGIC_PROMPT),
            first.message,
            ChatMessage(
                role=MessageRole.TOOL,
                content=str(result.content),
                additional_kwargs={"tool_call_id": call.tool_id, "name": call.tool_name},
            ),
        ]
        answer = fllm.chat_with_tools([tool], chat_history=history)
        assert answer.message.content
        self.check_tool_answer(answer.message.content)

    def test_tool_message_history_legacy_format(self, llm: LLM) -> None:
        """Tool calls given only as OpenAI dicts in additional_kwargs (older LlamaIndex code)."""
        fllm = self._function_llm(llm)
        tool = FunctionTool.from_defaults(magic_function)
        call = {
            "id": "call_legacy_1",
            "type": "function",
            "function": {"name": "magic_function", "arguments": json.dumps({"input": 3})},
        }
        history = [
            *_user(MAGIC_PROMPT),
            ChatMessage(
                role=MessageRole.ASSISTANT, content="", additional_kwargs={"tool_calls": [call]}
            ),
            ChatMessage(
                role=MessageRole.TOOL,
                content="5",
                additional_kwargs={"tool_call_id": "call_legacy_1"},
            ),
        ]
        answer = fllm.chat_with_tools([tool], chat_history=history)
        assert answer.message.content
        self.check_tool_answer(answer.message.content)

    def test_predict_and_call(self, llm: LLM) -> None:
        fllm = self._function_llm(llm)
        tool = FunctionTool.from_defaults(magic_function)
        output = fllm.predict_and_call([tool], user_msg=MAGIC_PROMPT, tool_required=True)
        assert output.response == "5"
        assert output.sources[0].tool_name == "magic_function"

    @pytest.mark.parametrize("streaming", [True, False], ids=["streaming", "non-streaming"])
    @pytest.mark.filterwarnings(  # llama-index-workflows inspects the agent's pydantic fields
        "ignore::pydantic.warnings.PydanticDeprecatedSince20",
        "ignore::pydantic.warnings.PydanticDeprecatedSince211",
    )
    async def test_agent_loop(self, llm: LLM, streaming: bool) -> None:
        """``FunctionAgent`` calls the tool, feeds the result back and answers."""
        from llama_index.core.agent.workflow import FunctionAgent

        self._function_llm(llm)
        calls: list[int] = []

        def tracked_magic_function(input: int) -> int:
            """Apply a magic function to an input."""
            calls.append(input)
            return input + 2

        tool = FunctionTool.from_defaults(tracked_magic_function, name="magic_function")
        agent = FunctionAgent(tools=[tool], llm=llm, streaming=streaming)
        output = await agent.run(user_msg=MAGIC_PROMPT)
        assert calls == [3]
        assert output.response.content
        self.check_tool_answer(output.response.content)

    # -- structured output ---------------------------------------------------------------

    def _structured(self) -> None:
        if not self.supports_structured_output:
            pytest.skip("structured output not supported")

    def test_structured_predict(self, llm: LLM) -> None:
        self._structured()
        joke = llm.structured_predict(
            Joke,
            PromptTemplate(JOKE_PROMPT),
            llm_kwargs=self.structured_output_kwargs,
            topic="cats",
        )
        assert isinstance(joke, Joke)
        assert joke.setup
        assert joke.punchline

    async def test_astructured_predict(self, llm: LLM) -> None:
        self._structured()
        joke = await llm.astructured_predict(
            Joke,
            PromptTemplate(JOKE_PROMPT),
            llm_kwargs=self.structured_output_kwargs,
            topic="cats",
        )
        assert isinstance(joke, Joke)

    def test_structured_predict_optional_field(self, llm: LLM) -> None:
        self._structured()
        joke = llm.structured_predict(
            JokeWithRating,
            PromptTemplate(JOKE_PROMPT),
            llm_kwargs=self.structured_output_kwargs,
            topic="cats",
        )
        assert isinstance(joke, JokeWithRating)
        assert joke.rating is None or isinstance(joke.rating, int)

    def test_stream_structured_predict(self, llm: LLM) -> None:
        self._structured()
        parts = list(
            llm.stream_structured_predict(
                Joke,
                PromptTemplate(JOKE_PROMPT),
                llm_kwargs=self.structured_output_kwargs,
                topic="cats",
            )
        )
        assert parts
        assert isinstance(parts[-1], Joke)

    async def test_astream_structured_predict(self, llm: LLM) -> None:
        self._structured()
        stream = await llm.astream_structured_predict(
            Joke,
            PromptTemplate(JOKE_PROMPT),
            llm_kwargs=self.structured_output_kwargs,
            topic="cats",
        )
        parts = [p async for p in stream]
        assert isinstance(parts[-1], Joke)

    def test_as_structured_llm(self, llm: LLM) -> None:
        self._structured()
        sllm = llm.as_structured_llm(Joke)
        response = sllm.chat(_user("Tell me a joke about cats."), **self.structured_output_kwargs)
        assert isinstance(response.raw, Joke)
        assert Joke.model_validate_json(response.message.content or "") == response.raw

    def test_json_mode(self, llm: LLM) -> None:
        if not self.supports_json_mode:
            pytest.skip("JSON mode not supported")
        response = llm.chat(
            _user(JSON_PROMPT),
            response_format={"type": "json_object"},
            **self.structured_output_kwargs,
        )
        value = json.loads(response.message.content or "")
        assert isinstance(value, dict)
        assert {"setup", "punchline"} <= set(value)

    # -- images --------------------------------------------------------------------------

    def _images(self) -> None:
        if not self.supports_image_inputs:
            pytest.skip("image inputs not supported")

    def _describe(self, llm: LLM, image: ImageBlock) -> str:
        message = ChatMessage(
            role=MessageRole.USER, blocks=[TextBlock(text="Describe this image."), image]
        )
        answer = llm.chat([message]).message.content
        assert answer
        return answer

    def test_image_from_path(self, llm: LLM) -> None:
        self._images()
        llm.allow_local_files = True  # type: ignore[attr-defined]  # this test's own message
        answer = self._describe(llm, ImageBlock(path=DATA / "square-64x48.png"))
        self.check_image_answer(answer, 64, 48)

    def test_image_from_bytes(self, llm: LLM) -> None:
        self._images()
        image = ImageBlock(image=(DATA / "green-40x30.jpg").read_bytes())
        self.check_image_answer(self._describe(llm, image), 40, 30)

    def test_image_from_data_url(self, llm: LLM) -> None:
        self._images()
        import base64

        b64 = base64.b64encode((DATA / "square-64x48.png").read_bytes()).decode()
        image = ImageBlock(url=f"data:image/png;base64,{b64}")
        self.check_image_answer(self._describe(llm, image), 64, 48)

    async def test_aimage_from_path(self, llm: LLM) -> None:
        self._images()
        llm.allow_local_files = True  # type: ignore[attr-defined]  # this test's own message
        message = ChatMessage(
            role=MessageRole.USER,
            blocks=[
                TextBlock(text="Describe this image."),
                ImageBlock(path=DATA / "square-64x48.png"),
            ],
        )
        answer = (await llm.achat([message])).message.content
        assert answer
        self.check_image_answer(answer, 64, 48)

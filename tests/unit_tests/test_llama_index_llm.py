"""``Arli`` without a server: validation, merging, tools plumbing, metadata, secrets.

Requests go to an ``httpx.MockTransport`` (injected as ``http_client``), which records
the bodies; nothing leaves the process.
"""

from __future__ import annotations

import json
import pickle
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.base import BaseLLM
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel, SecretStr, ValidationError

from arli import ArliConfigError, ArliValidationError
from llama_index_arli import Arli

FAKE_KEY = "sk-arli-UNIT-7e57k3y-abcdef0123456789"
ANSWER = {
    "id": "chatcmpl-1",
    "model": "m",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
MODELS = {"object": "list", "data": [{"id": "m", "max_model_len": 32768}, {"id": "other"}]}


class Recorder:
    """A MockTransport handler that answers chat and /v1/models and keeps the requests."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/v1/models":
            return httpx.Response(200, json=MODELS)
        return httpx.Response(200, json=ANSWER)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.content]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def make(recorder: Recorder, **kwargs: Any) -> Arli:
    params: dict[str, Any] = {
        "model": "m",
        "api_key": FAKE_KEY,
        "base_url": "http://arli.test",
        "http_client": httpx.Client(transport=httpx.MockTransport(recorder)),
        "async_http_client": httpx.AsyncClient(transport=httpx.MockTransport(recorder)),
    }
    params.update(kwargs)
    return Arli(**params)


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=text)]


def test_class_contract(recorder: Recorder) -> None:
    assert issubclass(Arli, FunctionCallingLLM)
    assert BaseLLM.__name__ in [b.__name__ for b in Arli.__mro__]
    assert Arli.class_name() == "Arli"
    llm = make(recorder, discover_context_window=False, max_tokens=64)
    meta = llm.metadata
    assert (meta.is_chat_model, meta.is_function_calling_model) == (True, True)
    assert (meta.context_window, meta.num_output, meta.model_name) == (3900, 64, "m")
    other = make(recorder, is_function_calling_model=False, discover_context_window=False)
    assert other.metadata.is_function_calling_model is False
    assert recorder.requests == []


def test_context_window_is_looked_up_once_and_not_by_the_constructor(recorder: Recorder) -> None:
    llm = make(recorder)
    assert recorder.requests == []
    assert llm.to_payload()["context_window"] == 3900  # instrumentation never looks it up
    assert recorder.requests == []
    assert llm.metadata.context_window == 32768
    assert llm.metadata.context_window == 32768
    assert [r.url.path for r in recorder.requests] == ["/v1/models"]
    assert llm.to_payload()["context_window"] == 32768
    assert make(recorder, model="other").metadata.context_window == 3900  # no max_model_len


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"temperature": -1}, r"temperature=-1.0 is out of range: allowed >= 0"),
        ({"top_p": 0}, r"top_p=0.0 is out of range: allowed \(0, 1\]"),
        ({"min_p": 1.5}, r"min_p=1.5 is out of range: allowed \[0, 1\]"),
        ({"mirostat_mode": 1}, r"mirostat_mode=1 is out of range: allowed one of 0, 2"),
        ({"dry_base": 1.0}, r"dry_base=1.0 is out of range: allowed > 1"),
        ({"max_tokens": 0}, r"max_tokens=0 is out of range: allowed >= 1"),
        (
            {"min_tokens": 9, "max_tokens": 4},
            r"min_tokens=9 is out of range: allowed <= max_tokens",
        ),
        ({"top_logprobs": 2}, r"only together with logprobs=True"),
        ({"guided_regex": "(", "max_tokens": 3}, r"not a valid regular expression"),
        ({"timeout": 0}, r"timeout"),
        ({"additional_kwargs": {"min_p": 2}}, r"min_p=2.0 is out of range"),
        ({"additional_kwargs": {"top_q": 1}}, r"unknown parameter 'top_q'.*extra_body"),
    ],
)
def test_construction_validates_with_field_and_range(
    recorder: Recorder, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make(recorder, **params)


def test_alias_and_every_sampler_is_a_typed_field(recorder: Recorder) -> None:
    llm = make(recorder, mirostat=2, dry_multiplier=0.8, sampler_priority=None)
    assert llm.mirostat_mode == 2
    llm.chat(user("Hello"))
    body = recorder.bodies()[-1]
    assert (body["mirostat_mode"], body["dry_multiplier"]) == (2, 0.8)


def test_per_call_overrides_and_validation(recorder: Recorder) -> None:
    llm = make(recorder, temperature=0.1, max_tokens=50)
    llm.chat(user("Hello"), temperature=1.2, mirostat=2)
    body = recorder.bodies()[-1]
    assert (body["temperature"], body["max_tokens"], body["mirostat_mode"]) == (1.2, 50, 2)
    sent = len(recorder.requests)
    with pytest.raises(ArliValidationError, match=r"top_k=-5 is out of range: allowed >= -1"):
        llm.chat(user("Hello"), top_k=-5)
    with pytest.raises(ArliValidationError, match=r"min_tokens=60 is out of range"):
        llm.chat(user("Hello"), min_tokens=60)  # checked against the instance's max_tokens
    with pytest.raises(ArliValidationError, match="Did you mean 'min_p'"):
        llm.stream_chat(user("Hello"), minp=0.1)  # raised by the call, not the first next()
    assert len(recorder.requests) == sent


def test_additional_kwargs_and_extra_body_deep_merge(recorder: Recorder) -> None:
    llm = make(
        recorder,
        top_k=20,
        extra_body={"chat_template_kwargs": {"enable_thinking": False}, "a": 1},
        additional_kwargs={"top_k": 30, "extra_body": {"chat_template_kwargs": {"x": 1}, "b": 2}},
    )
    llm.chat(user("Hello"), extra_body={"chat_template_kwargs": {"y": 2}, "c": 3})
    body = recorder.bodies()[-1]
    assert body["top_k"] == 30  # instance field < additional_kwargs < per call
    assert body["chat_template_kwargs"] == {"enable_thinking": False, "x": 1, "y": 2}
    assert (body["a"], body["b"], body["c"]) == (1, 2, 3)
    llm.chat(user("Hello"), top_k=40)
    assert recorder.bodies()[-1]["top_k"] == 40


async def test_async_methods_use_the_async_client() -> None:
    sync_calls: list[httpx.Request] = []
    async_recorder = Recorder()

    def no_sync(request: httpx.Request) -> httpx.Response:
        sync_calls.append(request)
        return httpx.Response(500)

    llm = Arli(
        model="m",
        api_key=FAKE_KEY,
        base_url="http://arli.test",
        http_client=httpx.Client(transport=httpx.MockTransport(no_sync)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(async_recorder)),
    )
    assert (await llm.achat(user("Hello"))).message.content == "hi"
    assert (await llm.acomplete("Hello")).text == "hi"
    assert await llm.aget_context_window() == 32768
    assert sync_calls == []
    assert len(async_recorder.requests) == 3


# -- tools plumbing ------------------------------------------------------------------------------


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def mul(a: int, b: int) -> int:
    """Multiply two numbers."""
    return a * b


def test_prepare_chat_with_tools(recorder: Recorder) -> None:
    llm = make(recorder)
    tools = [FunctionTool.from_defaults(add), FunctionTool.from_defaults(mul)]
    history = user("before")
    out = llm._prepare_chat_with_tools(tools, user_msg="What is 2 + 3?", chat_history=history)
    assert [m.content for m in out["messages"]] == ["before", "What is 2 + 3?"]
    assert len(history) == 1
    assert [t["function"]["name"] for t in out["tools"]] == ["add", "mul"]
    assert (out["tool_choice"], out["parallel_tool_calls"]) == ("auto", False)
    assert "strict" not in out["tools"][0]["function"]
    out = llm._prepare_chat_with_tools(tools, allow_parallel_tool_calls=True, tool_required=True)
    assert (out["tool_choice"], "parallel_tool_calls" in out) == ("required", False)
    out = llm._prepare_chat_with_tools(tools, tool_choice="mul", strict=True, temperature=0)
    assert out["tool_choice"] == {"type": "function", "function": {"name": "mul"}}
    assert out["tools"][1]["function"]["strict"] is True
    assert out["temperature"] == 0
    out = llm._prepare_chat_with_tools(
        tools, tool_choice={"type": "function", "function": {"name": "add"}}
    )
    assert out["tool_choice"]["function"]["name"] == "add"
    with pytest.raises(ArliValidationError, match="not among the tools"):
        llm._prepare_chat_with_tools(tools, tool_choice="div")
    with pytest.raises(ArliValidationError, match="needs tools"):
        llm._prepare_chat_with_tools([], user_msg="x", tool_required=True)
    assert llm._prepare_chat_with_tools([], user_msg="x") == {"messages": user("x")}


def _with_calls(n: int) -> ChatResponse:
    blocks: list[Any] = [TextBlock(text="")]
    blocks += [
        ToolCallBlock(tool_call_id=f"c{i}", tool_name="add", tool_kwargs={"a": i, "b": 1})
        for i in range(n)
    ]
    calls = [{"id": f"c{i}", "function": {"name": "add", "arguments": "{}"}} for i in range(n)]
    return ChatResponse(
        message=ChatMessage(
            role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs={"tool_calls": calls}
        )
    )


def test_single_tool_call_unless_parallel_allowed(recorder: Recorder) -> None:
    llm = make(recorder)
    tools = [FunctionTool.from_defaults(add)]
    one = llm._validate_chat_with_tools_response(_with_calls(3), tools)
    assert [s.tool_id for s in llm.get_tool_calls_from_response(one)] == ["c0"]
    assert len(one.message.additional_kwargs["tool_calls"]) == 1
    many = llm._validate_chat_with_tools_response(
        _with_calls(3), tools, allow_parallel_tool_calls=True
    )
    assert [s.tool_kwargs["a"] for s in llm.get_tool_calls_from_response(many)] == [0, 1, 2]


def test_no_tool_call(recorder: Recorder) -> None:
    llm = make(recorder)
    empty = _with_calls(0)
    assert llm.get_tool_calls_from_response(empty, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="Expected at least one tool call"):
        llm.get_tool_calls_from_response(empty)


class Pet(BaseModel):
    name: str
    age: int | None = None


def test_structured_kwargs_never_carry_tool_choice_without_tools(recorder: Recorder) -> None:
    kwargs = Arli._structured_kwargs(
        Pet,
        {
            "tool_choice": "required",
            "parallel_tool_calls": False,
            "tool_required": True,
            "top_k": 3,
        },
    )
    assert kwargs == {"top_k": 3, "guided_json": Pet}
    with_tools = Arli._structured_kwargs(
        Pet, {"tools": [{"type": "function"}], "tool_choice": "auto"}
    )
    assert with_tools["tool_choice"] == "auto"
    llm = make(recorder)
    from llama_index.core.prompts import PromptTemplate

    recorder_answer = {"name": "Rex"}
    ANSWER["choices"][0]["message"]["content"] = json.dumps(recorder_answer)  # type: ignore[index]
    try:
        pet = llm.structured_predict(
            Pet, PromptTemplate("A pet"), llm_kwargs={"tool_choice": "required"}
        )
    finally:
        ANSWER["choices"][0]["message"]["content"] = "hi"  # type: ignore[index]
    assert pet == Pet(name="Rex")
    body = recorder.bodies()[-1]
    assert "tool_choice" not in body
    assert body["guided_json"]["title"] == "Pet"
    assert body["structured_outputs"]["json"] == body["guided_json"]


class _PetParsedOnce(BaseModel):
    """A model whose JSON parser must not run: the constraint check already parsed it."""

    name: str

    @classmethod
    def model_validate_json(cls, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        msg = "the answer was parsed a second time"
        raise AssertionError(msg)


@pytest.mark.parametrize("use_async", [False, True])
async def test_a_structured_answer_is_parsed_once(recorder: Recorder, use_async: bool) -> None:
    from llama_index.core.prompts import PromptTemplate

    llm = make(recorder)
    ANSWER["choices"][0]["message"]["content"] = '{"name": "Rex"}'  # type: ignore[index]
    try:
        if use_async:
            pet = await llm.astructured_predict(_PetParsedOnce, PromptTemplate("A pet"))
        else:
            pet = llm.structured_predict(_PetParsedOnce, PromptTemplate("A pet"))
        unchecked = make(recorder, check_guided_output=False)  # nothing checked: parsed here
        with pytest.raises(AssertionError, match="second time"):
            unchecked.structured_predict(_PetParsedOnce, PromptTemplate("A pet"))
    finally:
        ANSWER["choices"][0]["message"]["content"] = "hi"  # type: ignore[index]
    assert pet == _PetParsedOnce(name="Rex")


def _sse_answer(text: str) -> httpx.Response:
    """A streamed chat answer whose content is ``text``, in two chunks and a stop."""
    half = len(text) // 2
    events = [
        {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": part}}]}
        for part in (text[:half], text[half:])
    ]
    events.append(
        {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    )
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})


@pytest.mark.parametrize("use_async", [False, True])
async def test_a_streamed_structured_answer_is_parsed_once(use_async: bool) -> None:
    from llama_index.core.prompts import PromptTemplate

    def answer(request: httpx.Request) -> httpx.Response:
        return _sse_answer('{"name": "Rex"}')

    llm = Arli(
        model="m",
        api_key=FAKE_KEY,
        base_url="http://arli.test",
        http_client=httpx.Client(transport=httpx.MockTransport(answer)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(answer)),
    )
    prompt = PromptTemplate("A pet")
    if use_async:
        stream = await llm.astream_structured_predict(_PetParsedOnce, prompt)
        values = [value async for value in stream]
    else:
        values = list(llm.stream_structured_predict(_PetParsedOnce, prompt))
    assert values[-1] == _PetParsedOnce(name="Rex")  # the final one, from the checked value
    unchecked = llm.model_copy(update={"check_guided_output": False})
    with pytest.raises(AssertionError, match="second time"):  # nothing checked: parsed here
        list(unchecked.stream_structured_predict(_PetParsedOnce, prompt))


def test_fenced_json_is_accepted_for_structured_output(recorder: Recorder) -> None:
    response = ChatResponse(
        message=ChatMessage(role=MessageRole.ASSISTANT, content='```json\n{"name": "Rex\x01"}\n```')
    )
    assert Arli._parse_structured(Pet, response) == Pet(name="Rex\x01")
    bad = ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content="no"))
    with pytest.raises(ValueError, match="validation error"):
        Arli._parse_structured(Pet, bad)


# -- secrets -------------------------------------------------------------------------------------


def test_the_key_is_not_serialized_or_shown(recorder: Recorder) -> None:
    llm = make(recorder, guided_json=Pet)
    assert llm.api_key is not None
    assert llm.api_key.get_secret_value() == FAKE_KEY
    data = llm.to_dict()
    assert "api_key" not in data
    assert "http_client" not in data
    assert data["class_name"] == "Arli"
    assert data["guided_json"]["title"] == "Pet"  # a model class is serialized as its schema
    for text in (
        repr(llm),
        str(llm),
        llm.to_json(),
        json.dumps(llm.to_payload()),
        llm.model_dump_json(),
    ):
        assert FAKE_KEY not in text
        assert "7e57k3y" not in text
    assert FAKE_KEY.encode() not in pickle.dumps(llm.to_dict())


@pytest.mark.parametrize(
    "params", [{"top_logprobs": 2}, {"temperature": -1}, {"additional_kwargs": {"x": 1}}]
)
def test_validation_errors_do_not_show_the_key(params: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as info:
        Arli(api_key=FAKE_KEY, model="m", **params)
    assert "7e57k3y" not in str(info.value)
    assert "7e57k3y" not in repr(info.value)
    # a single error of ours is raised as itself (raise_arli_errors), not wrapped by pydantic
    assert isinstance(info.value, ArliValidationError)
    wrapped = info.value.__context__  # pydantic's error stays in the chain: without the key
    assert isinstance(wrapped, ValidationError)
    assert "7e57k3y" not in str(wrapped.errors())


def test_sampling_params_subclasses_hide_their_input_in_errors() -> None:
    """Core: a model-level error would print the whole input (a key field too) otherwise."""
    from arli.text.params import SamplingParams

    class WithKey(SamplingParams):
        secret: str

    with pytest.raises(ValueError, match="only together with logprobs") as info:
        WithKey(secret=FAKE_KEY, top_logprobs=2)
    assert "7e57k3y" not in str(info.value)


def test_missing_key_names_the_environment_variables() -> None:
    with pytest.raises(ArliConfigError, match="ARLI_TEXT_KEY or ARLIAI_API_KEY"):
        Arli(model="m")


def test_environment_key_and_base_url(monkeypatch: pytest.MonkeyPatch, recorder: Recorder) -> None:
    monkeypatch.setenv("ARLIAI_API_KEY", "shared")
    monkeypatch.setenv("ARLI_TEXT_KEY", FAKE_KEY)
    monkeypatch.setenv("ARLI_BASE_URL", "http://from-env.test/v1")
    llm = Arli(model="m", http_client=httpx.Client(transport=httpx.MockTransport(recorder)))
    llm.chat(user("Hello"))
    request = recorder.requests[-1]
    assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert str(request.url) == "http://from-env.test/v1/chat/completions"


# -- LlamaIndex instrumentation ------------------------------------------------------------------


def test_instrumentation_spans_and_events_see_the_calls(recorder: Recorder) -> None:
    """Spans get each call's bound arguments; events carry the payload (never the key)."""
    import inspect

    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.instrumentation.span_handlers import SimpleSpanHandler

    class Spans(SimpleSpanHandler):
        seen: list[Any] = []

        def new_span(
            self, id_: str, bound_args: inspect.BoundArguments, *args: Any, **kw: Any
        ) -> Any:
            self.seen.append((id_, dict(bound_args.arguments)))
            return super().new_span(id_, bound_args, *args, **kw)

    class Events(BaseEventHandler):
        seen: list[Any] = []

        def handle(self, event: Any, **kwargs: Any) -> None:
            self.seen.append(event)

    root = get_dispatcher()
    spans, events = Spans(), Events()
    root.add_span_handler(spans)
    root.add_event_handler(events)
    try:
        llm = make(recorder, discover_context_window=False)
        llm.chat(user("Hello"), temperature=0.5)
        llm.complete("Hi")
    finally:
        root.span_handlers.remove(spans)
        root.event_handlers.remove(events)
    chat_spans = [args for id_, args in spans.seen if id_.startswith("Arli.chat-")]
    assert chat_spans
    assert chat_spans[0]["messages"][0].content == "Hello"
    assert chat_spans[0]["kwargs"] == {"temperature": 0.5}
    assert any(id_.startswith("Arli.complete-") for id_, _ in spans.seen)
    names = [type(e).__name__ for e in events.seen]
    assert "LLMChatStartEvent" in names
    assert "LLMChatEndEvent" in names
    start = next(e for e in events.seen if type(e).__name__ == "LLMChatStartEvent")
    assert start.model_dict["class_name"] == "Arli"
    assert "7e57k3y" not in str([e.model_dump() for e in events.seen])


def test_copies_get_their_own_client(recorder: Recorder) -> None:
    import copy

    llm = make(recorder, temperature=0.3)
    assert llm.metadata.context_window == 32768
    deep = copy.deepcopy(llm)
    assert deep.client is not llm.client
    assert deep.http_client is llm.http_client  # injected clients are shared, not copied
    assert deep.temperature == 0.3
    moved = llm.model_copy(update={"base_url": "http://other.test", "api_key": "k2", "model": "x"})
    assert moved.client.transport.base_url == "http://other.test"
    assert isinstance(moved.api_key, SecretStr)
    assert moved.to_payload()["model_name"] == "x"
    assert moved.metadata.context_window == 3900  # looked up again: "x" is not served
    assert llm.metadata.context_window == 32768
    assert llm.model_copy().client is llm.client  # a plain copy shares the pool


def test_pickle_round_trip(caplog: pytest.LogCaptureFixture) -> None:
    llm = Arli(model="m", api_key=FAKE_KEY, base_url="http://arli.test", min_p=0.1)
    restored = pickle.loads(pickle.dumps(llm))
    assert restored.min_p == 0.1
    assert restored.client is not llm.client
    assert restored.client.transport.base_url == "http://arli.test"
    assert "unpickleable" not in caplog.text

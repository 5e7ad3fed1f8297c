"""``arli._stamp.Stamp``: stamped objects are the constructor's, or the constructor is used.

The skins' stamps (LangChain ``AIMessageChunk``/``ChatGenerationChunk``, LlamaIndex
``ChatMessage``/``ChatResponse``) must be active on the installed versions and give what
the frameworks' constructors give; a model a shallow copy can't reproduce must fall back
to its constructor.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field, PrivateAttr, model_validator

from arli._stamp import Stamp


def _same(a: BaseModel, b: BaseModel) -> None:
    assert type(a) is type(b)
    assert a == b
    assert a.__dict__ == b.__dict__
    assert a.model_fields_set == b.model_fields_set
    assert a.__pydantic_extra__ == b.__pydantic_extra__
    assert a.__pydantic_private__ == b.__pydantic_private__
    assert a.model_dump() == b.model_dump()
    assert a.model_dump_json() == b.model_dump_json()


_TEXTS = ["", " tok", "é\u00e9 \n", "x" * 5000, '{"json": 1}']


def test_the_langchain_stamps_give_the_constructors_objects() -> None:
    from langchain_core.messages import AIMessageChunk
    from langchain_core.outputs import ChatGenerationChunk

    from langchain_arli import _convert

    assert _convert._TEXT_MESSAGE.stamps
    assert _convert._TEXT_GENERATION.stamps
    for text in _TEXTS:
        for message_id in ("chatcmpl-1", ""):
            ours = _convert.text_generation(text, message_id)
            metadata = {"model_provider": "arli"}
            message = AIMessageChunk(
                content=text, id=message_id or None, response_metadata=metadata
            )
            theirs = ChatGenerationChunk(message=message)
            _same(ours, theirs)
            _same(ours.message, theirs.message)
            assert (ours + theirs).text == text + text  # they merge like constructed ones


def test_the_llama_index_stamps_give_the_constructors_objects() -> None:
    from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole, TextBlock

    from arli.text.accumulate import ChatStreamAccumulator
    from llama_index_arli import _convert

    assert _convert._TEXT_MESSAGE.stamps
    assert _convert._TEXT_RESPONSE.stamps
    for text in _TEXTS:
        raw = {"id": "chatcmpl-1", "choices": [{"delta": {"content": text}}]}
        ours = _convert.ChatStream(ChatStreamAccumulator()).add_text(text, raw)
        message = ChatMessage(role=MessageRole.ASSISTANT, blocks=[TextBlock(text=text)])
        theirs = ChatResponse(message=message, delta=text, raw=raw)
        _same(ours, theirs)
        _same(ours.message, theirs.message)
        assert ours.message.content == text


def test_a_llama_index_text_answer_is_the_constructed_message() -> None:
    from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock

    from llama_index_arli._convert import assistant_message

    for text in _TEXTS:
        ours = assistant_message(text)
        theirs = ChatMessage(
            role=MessageRole.ASSISTANT, blocks=[TextBlock(text=text)], additional_kwargs={}
        )
        assert ours == theirs
        assert ours.model_dump() == theirs.model_dump()
        assert ours.content == text
        ours.additional_kwargs["x"] = 1
        assert assistant_message(text).additional_kwargs == {}


def test_no_two_stamped_objects_share_a_mutable_field() -> None:
    from langchain_arli._convert import text_generation

    first, second = text_generation("a", "c"), text_generation("b", "c")
    first.message.response_metadata["x"] = 1
    first.message.additional_kwargs["y"] = 2
    first.message.tool_call_chunks.append({"name": "f", "args": "", "id": "1", "index": 0})
    first.message.tool_calls.append({"name": "f", "args": {}, "id": "1"})
    first.message.invalid_tool_calls.append(
        {"name": "f", "args": "", "id": "1", "error": None, "type": "invalid_tool_call"}
    )
    assert second.message.response_metadata == {"model_provider": "arli"}
    assert second.message.additional_kwargs == {}
    assert second.message.tool_call_chunks == second.message.tool_calls == []
    assert second.message.invalid_tool_calls == []
    assert text_generation("c", "c").message.response_metadata == {"model_provider": "arli"}


class _Plain(BaseModel):
    text: str
    tags: list[str] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)


def test_a_plain_model_is_stamped_with_fresh_containers() -> None:
    stamp = Stamp(_Plain, {"text": ""}, {"text": "probe"})
    assert stamp.stamps
    one, two = stamp.make({"text": "a"}), stamp.make({"text": "b"})
    _same(one, _Plain(text="a"))
    one.tags.append("x")
    one.meta["k"] = 1
    assert two.tags == []
    assert two.meta == {}


class _Derived(BaseModel):
    text: str
    length: int = 0

    @model_validator(mode="after")
    def _count(self) -> _Derived:
        self.length = len(self.text)
        return self


class _Private(BaseModel):
    text: str
    _secret: str = PrivateAttr(default="s")


class _Shared(BaseModel):
    text: str
    tags: list[str] = Field(default_factory=lambda: ["kept"])


class _Extra(BaseModel, extra="allow"):
    text: str


@pytest.mark.parametrize(
    ("model", "template"),
    [
        (_Derived, {"text": ""}),  # a field computed from the varied one
        (_Private, {"text": ""}),  # private state
        (_Shared, {"text": ""}),  # a non-empty list a copy would share
        (_Extra, {"text": "", "other": 1}),  # extras
    ],
)
def test_a_model_a_copy_cannot_reproduce_falls_back_to_its_constructor(
    model: type[BaseModel], template: dict[str, Any]
) -> None:
    probe = {**template, "text": "probe"}
    stamp = Stamp(model, template, probe)
    assert stamp.stamps is False
    made = stamp.make({"text": "abc"})  # the template's other values are kept
    _same(made, model(**{**template, "text": "abc"}))


def test_a_fallen_back_llama_index_message_keeps_the_assistant_role() -> None:
    """Calls name only the varied fields: the constructor gets the template's others."""
    from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock

    from llama_index_arli import _convert

    stamp = _convert._TEXT_MESSAGE
    blocks = [TextBlock(text="hi")]
    assert stamp.construct({"blocks": blocks}).role == MessageRole.ASSISTANT
    _same(stamp.construct({"blocks": blocks}), stamp.make({"blocks": blocks}))
    _same(stamp.make({"blocks": blocks}), ChatMessage(role="assistant", blocks=blocks))


def test_a_template_and_probe_must_name_the_same_fields() -> None:
    with pytest.raises(ValueError, match="other fields"):
        Stamp(_Plain, {"text": ""}, {"text": "p", "tags": ["x"]})


def _recorded_completions() -> list[dict[str, Any]]:
    """Every non-streamed chat completion the repository has recorded (captures, cassettes)."""
    import json
    from pathlib import Path

    import yaml

    from tests.helpers import CAPTURES, WIRE, parse_raw_response

    bodies = [parse_raw_response(p).body for p in sorted(CAPTURES.glob("*.resp"))]
    bodies += [p.read_bytes() for p in sorted(WIRE.glob("*.json"))]
    for path in sorted((Path(__file__).resolve().parents[2] / "cassettes").rglob("*.yaml")):
        text = path.read_text()
        if '\\"chat.completion\\"' not in text and '"chat.completion"' not in text:
            continue
        for interaction in yaml.safe_load(text).get("interactions", []):
            bodies.append(interaction["response"]["body"].get("string", "").encode())
    found = []
    for body in bodies:
        try:
            data = json.loads(body)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("object") == "chat.completion":
            found.append(data)
    return found


def test_a_recorded_text_answer_is_the_message_langchain_users_read() -> None:
    """Every recorded completion translates to what LangChain's constructors give."""
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration

    from arli.text.parse import parse_chat_completion
    from langchain_arli import _convert

    assert _convert._ANSWER.stamps
    assert _convert._ANSWER_GENERATION.stamps
    completions = [parse_chat_completion(data) for data in _recorded_completions()]
    text_answers = [c for c in completions if all(not x.tool_calls for x in c.choices)]
    assert len(text_answers) > 50  # the recordings are all there
    for completion in text_answers:
        ours = _convert.completion_to_result(completion, retries_taken=1)
        usage = completion.usage
        for mine, choice in zip(ours.generations, completion.choices, strict=True):
            metadata: dict[str, Any] = {
                "model_name": completion.model,
                "model_provider": "arli",
                "finish_reason": choice.finish_reason,
                "stop_reason": choice.stop_reason,
                "system_fingerprint": completion.system_fingerprint,
                "id": completion.id,
                "retries_taken": 1,
            }
            info: dict[str, Any] = {"finish_reason": choice.finish_reason}
            if choice.logprobs is not None:
                metadata["logprobs"] = info["logprobs"] = choice.logprobs
            extra = {"additional_kwargs": {"reasoning_content": choice.reasoning}}
            message = AIMessage(
                content=choice.content or "",
                **(extra if choice.reasoning else {}),
                usage_metadata=None if usage is None else _convert.usage_metadata(usage),
                response_metadata=metadata,
                id=completion.id or None,
            )
            built = ChatGeneration(message=message, generation_info=info)
            _same(mine, built)
            _same(mine.message, built.message)
            assert mine.text == (choice.content or "")
    first, second = (_convert.completion_to_result(c).generations[0] for c in text_answers[:2])
    first.message.response_metadata["x"] = 1
    first.message.tool_calls.append({"name": "f", "args": {}, "id": "1"})
    first.message.additional_kwargs["y"] = 1
    assert "x" not in second.message.response_metadata
    assert second.message.tool_calls == []
    assert "y" not in second.message.additional_kwargs

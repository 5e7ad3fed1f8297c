"""The per-call and per-chunk shortcuts of the hot path give what the long way gives.

Each shortcut is there for a figure in bench/results.md; these tests hold it to the
result of the general way, so it can never change an answer:

- ``arli._kwargs.unchecked``: the skins build their ``CallOptions`` on every call without
  the typo checks of ``checks_arguments`` (the object is the same; a user's
  ``CallOptions(...)`` is still checked);
- ``llama_index_arli._convert.assistant_message``: a text-only message is built from the
  text as LlamaIndex builds one (the same message as from a ``TextBlock``).
"""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from arli import ArliValidationError
from arli._kwargs import unchecked
from arli.text.calls import CallOptions
from arli.text.parse import ToolCall
from langchain_arli import ChatArli
from llama_index_arli import Arli
from llama_index_arli._convert import assistant_message

OPTIONS: dict[str, Any] = {
    "model": "m",
    "instance": {"temperature": 0.5},
    "extra_body": {"x": 1},
    "style": "both",
    "stream_usage": False,
    "check_output": True,
    "allow_local_files": False,
    "allowed_image_hosts": ["img.test"],
    "timeout": 3.0,
    "stall_timeout": 4.0,
}


def test_unchecked_builds_the_same_options_as_the_class() -> None:
    assert unchecked(CallOptions)(**OPTIONS) == CallOptions(**OPTIONS)
    assert type(unchecked(CallOptions)(model="m")) is CallOptions


def test_a_users_call_options_are_still_checked() -> None:
    with pytest.raises(ArliValidationError, match=r"unknown parameter 'modle'"):
        CallOptions(modle="m")  # type: ignore[call-arg]
    with pytest.raises(ArliValidationError, match=r"stream_usage"):
        CallOptions(model="m", stream_usage="yes please")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make",
    [
        lambda: ChatArli(model="m", api_key="k", base_url="http://x.test", temperature=0.5),
        lambda: Arli(model="m", api_key="k", base_url="http://x.test", temperature=0.5),
    ],
    ids=["ChatArli", "LlamaIndex Arli"],
)
def test_the_skins_options_follow_their_fields(make: Any) -> None:
    llm = make()
    assert llm._options().instance == {"temperature": 0.5}
    llm.temperature = 0.25
    llm.check_guided_output = False
    options = llm._options()
    assert options.instance == {"temperature": 0.25}
    assert options.check_output is False
    assert options.model == "m"


@pytest.mark.parametrize("text", ["", "Hello", " world \n"])
def test_a_text_only_message_is_the_message_of_its_text_block(text: str) -> None:
    fast = assistant_message(text)
    general = ChatMessage(
        role=MessageRole.ASSISTANT, blocks=[TextBlock(text=text)], additional_kwargs={}
    )
    assert fast == general
    assert fast.model_dump() == general.model_dump()
    assert fast.content == text


def test_reasoning_and_tool_calls_still_take_the_general_way() -> None:
    thought = assistant_message("4", reasoning="2+2")
    assert [type(b) for b in thought.blocks] == [ThinkingBlock, TextBlock]
    call = ToolCall(id="c1", name="add", arguments='{"a": 1}', index=0)
    called = assistant_message("", tool_calls=[call])
    assert [type(b) for b in called.blocks] == [TextBlock, ToolCallBlock]
    assert called.additional_kwargs["tool_calls"][0]["function"]["name"] == "add"

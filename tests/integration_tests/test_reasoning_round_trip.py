"""Earlier reasoning sent back (``send_reasoning``) in a multi-turn tool loop, both skins.

Against the reference server (vllm-0.33 flavour: reasoning arrives as ``reasoning``): the
first turn answers with reasoning and a tool call; the second request, carrying the tool
result, must hold that reasoning on the assistant message exactly when ``send_reasoning``
(or, with ``"auto"``, the model's template) asks for it.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from llama_index.core.base.llms.types import (
    ChatMessage,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.tools import FunctionTool

from langchain_arli import ChatArli
from llama_index_arli import Arli
from tests.reference_server import ReferenceServer, ScriptEntry

KEY = "test-key"
CHAT = "/v1/chat/completions"
PLAIN = "Mistral-Nemo-12B-Instruct-2407"
INTERLEAVED = "MiniMaxAI/MiniMax-M2"
THOUGHT = "The user wants the weather; I should call get_weather for Paris."
SCRIPT = [
    ScriptEntry(
        match="weather in paris",
        tool_call=("get_weather", {"location": "Paris"}),
        reasoning=THOUGHT,
    ),
    ScriptEntry(match="", reply="It is sunny in Paris.", when_tool_result=True),
]

# (send_reasoning, model, whether the second request carries the reasoning)
CASES = [
    (True, PLAIN, True),
    (False, INTERLEAVED, False),
    ("auto", INTERLEAVED, True),
    ("auto", PLAIN, False),
]


def get_weather(location: str) -> str:
    """Get the weather for a city."""
    return f"sunny in {location}"


@pytest.fixture
def server() -> Any:
    with ReferenceServer(
        api_key=KEY, flavor="vllm-0.33", models=(PLAIN, INTERLEAVED), script=SCRIPT
    ) as srv:
        yield srv


def _assistant_turns(server: ReferenceServer) -> list[dict[str, Any]]:
    body = server.requests_for(CHAT)[-1].json
    assert isinstance(body, dict)
    return [m for m in body["messages"] if m["role"] == "assistant"]


@pytest.mark.parametrize(("send", "model", "sent"), CASES)
def test_langchain_tool_loop_resends_reasoning_when_asked(
    server: ReferenceServer, send: Any, model: str, sent: bool
) -> None:
    llm = ChatArli(model=model, api_key=KEY, base_url=server.url, send_reasoning=send)
    bound = llm.bind_tools([tool(get_weather)])
    question = HumanMessage("What is the weather in Paris?")
    first = bound.invoke([question])
    assert isinstance(first, AIMessage)
    assert first.tool_calls
    assert first.additional_kwargs["reasoning_content"] == THOUGHT
    result = ToolMessage("sunny in Paris", tool_call_id=first.tool_calls[0]["id"])
    final = bound.invoke([question, first, result])
    assert final.content == "It is sunny in Paris."
    (assistant,) = _assistant_turns(server)
    assert assistant.get("reasoning") == (THOUGHT if sent else None)
    assert assistant["tool_calls"][0]["function"]["name"] == "get_weather"


def test_langchain_v1_reasoning_blocks_are_sent_back(server: ReferenceServer) -> None:
    llm = ChatArli(model=PLAIN, api_key=KEY, base_url=server.url, send_reasoning=True)
    earlier = AIMessage(
        content=[{"type": "reasoning", "reasoning": "step one. "}, {"type": "text", "text": "ok"}],
        additional_kwargs={"reasoning_content": "not this copy"},
    )
    llm.invoke([HumanMessage("hi"), earlier, HumanMessage("hello")])
    (assistant,) = _assistant_turns(server)
    assert assistant["reasoning"] == "step one. "
    assert assistant["content"] == "ok"


@pytest.mark.parametrize(("send", "model", "sent"), CASES)
async def test_llamaindex_tool_loop_resends_thinking_blocks_when_asked(
    server: ReferenceServer, send: Any, model: str, sent: bool
) -> None:
    llm = Arli(model=model, api_key=KEY, base_url=server.url, send_reasoning=send)
    weather = FunctionTool.from_defaults(fn=get_weather)
    first = await llm.achat_with_tools([weather], user_msg="What is the weather in Paris?")
    blocks = first.message.blocks
    assert [b.content for b in blocks if isinstance(b, ThinkingBlock)] == [THOUGHT]
    (call,) = llm.get_tool_calls_from_response(first)
    history = [
        ChatMessage(role=MessageRole.USER, content="What is the weather in Paris?"),
        first.message,
        ChatMessage(
            role=MessageRole.TOOL,
            blocks=[TextBlock(text="sunny in Paris")],
            additional_kwargs={"tool_call_id": call.tool_id, "name": call.tool_name},
        ),
    ]
    final = await llm.achat(history)
    assert final.message.content == "It is sunny in Paris."
    (assistant,) = _assistant_turns(server)
    assert assistant.get("reasoning") == (THOUGHT if sent else None)
    assert [b for b in first.message.blocks if isinstance(b, ToolCallBlock)]


async def test_llamaindex_reasoning_streams_as_thinking_deltas_with_tool_calls(
    server: ReferenceServer,
) -> None:
    llm = Arli(model=PLAIN, api_key=KEY, base_url=server.url)
    weather = FunctionTool.from_defaults(fn=get_weather)
    stream = await llm.astream_chat_with_tools([weather], user_msg="What is the weather in Paris?")
    chunks = [c async for c in stream]
    assert "".join(c.additional_kwargs.get("thinking_delta", "") for c in chunks) == THOUGHT
    final = chunks[-1].message.blocks
    kinds = [type(b).__name__ for b in final if not (isinstance(b, TextBlock) and not b.text)]
    assert kinds == ["ThinkingBlock", "ToolCallBlock"]
    assert llm.get_tool_calls_from_response(chunks[-1])[0].tool_kwargs == {"location": "Paris"}


def test_llamaindex_sync_chat_and_stream_carry_thinking_blocks(server: ReferenceServer) -> None:
    llm = Arli(model=PLAIN, api_key=KEY, base_url=server.url)
    weather = FunctionTool.from_defaults(fn=get_weather)
    answer = llm.chat_with_tools([weather], user_msg="What is the weather in Paris?")
    assert [b.content for b in answer.message.blocks if isinstance(b, ThinkingBlock)] == [THOUGHT]
    chunks = list(llm.stream_chat_with_tools([weather], user_msg="What is the weather in Paris?"))
    assert "".join(c.additional_kwargs.get("thinking_delta", "") for c in chunks) == THOUGHT
    thinking = [b for b in chunks[-1].message.blocks if isinstance(b, ThinkingBlock)]
    assert [b.content for b in thinking] == [THOUGHT]

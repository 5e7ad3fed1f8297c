"""Standard content blocks on ``ChatArli`` messages: ``content_blocks``, ``output_version="v1"``
in invoke/stream/astream, ``stream_events(version="v3")``, and v1 messages fed back.

Against the reference server (vllm-0.33 flavour, reasoning in ``reasoning``), with answers
that mix reasoning, text and tool calls — the case where stream chunks' block indexes used
to collide (a tool call's index 0 merged into the reasoning block).
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_tests.utils.stream_lifecycle import assert_valid_event_stream

from langchain_arli import ChatArli
from tests.reference_server import ReferenceServer, ScriptEntry

KEY = "test-key"
MODEL = "Mistral-Nemo-12B-Instruct-2407"
CHAT = "/v1/chat/completions"
THOUGHT = "They want the weather, so I call the tool."
RIDDLE_THOUGHT = "Keys but no locks: a keyboard."
SCRIPT = [
    ScriptEntry(
        match="weather in paris",
        tool_call=("get_weather", {"location": "Paris"}),
        reasoning=THOUGHT,
    ),
    ScriptEntry(match="riddle", reply="A keyboard.", reasoning=RIDDLE_THOUGHT),
    ScriptEntry(match="", reply="It is sunny in Paris.", when_tool_result=True),
]


@tool
def get_weather(location: str) -> str:
    """Get the weather for a city."""
    return f"sunny in {location}"


@pytest.fixture(scope="module")
def server() -> Any:
    with ReferenceServer(api_key=KEY, flavor="vllm-0.33", script=SCRIPT) as srv:
        yield srv


def _llm(server: ReferenceServer, **kwargs: Any) -> ChatArli:
    return ChatArli(model=MODEL, api_key=KEY, base_url=server.url, **kwargs)


def _kinds(blocks: list[Any]) -> list[str]:
    return [b["type"] for b in blocks]


def _strip_index(blocks: list[Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in b.items() if k != "index"} for b in blocks]


def test_content_blocks_of_a_default_message(server: ReferenceServer) -> None:
    answer = _llm(server).invoke("Solve this riddle")
    assert answer.content == "A keyboard."  # v0: vLLM's shape is kept
    assert answer.content_blocks == [
        {"type": "reasoning", "reasoning": RIDDLE_THOUGHT},
        {"type": "text", "text": "A keyboard."},
    ]
    called = _llm(server).bind_tools([get_weather]).invoke("What is the weather in Paris?")
    assert _kinds(called.content_blocks) == ["reasoning", "tool_call"]
    assert called.content_blocks[1]["args"] == {"location": "Paris"}  # type: ignore[typeddict-item]


def test_v1_invoke_writes_standard_blocks(server: ReferenceServer) -> None:
    answer = _llm(server, output_version="v1").invoke("Solve this riddle")
    assert answer.content == [
        {"type": "reasoning", "reasoning": RIDDLE_THOUGHT},
        {"type": "text", "text": "A keyboard."},
    ]
    assert answer.text == "A keyboard."
    called = (
        _llm(server, output_version="v1")
        .bind_tools([get_weather])
        .invoke("What is the weather in Paris?")
    )
    assert isinstance(called.content, list)
    assert _kinds(called.content) == ["reasoning", "tool_call"]
    assert called.tool_calls[0]["args"] == {"location": "Paris"}


def _sum(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    return total


def test_v1_stream_keeps_reasoning_and_tool_call_blocks_apart(server: ReferenceServer) -> None:
    llm = _llm(server, output_version="v1").bind_tools([get_weather])
    chunks = list(llm.stream("What is the weather in Paris?"))
    total = _sum(chunks)  # type: ignore[arg-type]
    assert isinstance(total.content, list)
    assert _kinds(total.content) == ["reasoning", "tool_call"]
    assert total.content[0]["reasoning"] == THOUGHT  # type: ignore[index]
    assert total.tool_calls == [
        {
            "name": "get_weather",
            "args": {"location": "Paris"},
            "id": total.tool_calls[0]["id"],
            "type": "tool_call",
        }
    ]


async def test_v1_astream_text_and_reasoning(server: ReferenceServer) -> None:
    llm = _llm(server, output_version="v1")
    chunks = [c async for c in llm.astream("Solve this riddle")]
    total = _sum(chunks)
    assert isinstance(total.content, list)
    assert _strip_index(total.content) == [
        {"type": "reasoning", "reasoning": RIDDLE_THOUGHT},
        {"type": "text", "text": "A keyboard."},
    ]


def _check_v3(events: list[Any], message: AIMessage) -> None:
    assert_valid_event_stream(events)
    finish = [e for e in events if e["event"] == "message-finish"]
    assert len(finish) == 1
    assert finish[0]["usage"]["output_tokens"] > 0  # usage rides on the finish event
    started = [e["content"]["type"] for e in events if e["event"] == "content-block-start"]
    assert started == ["reasoning", "tool_call_chunk"]  # reasoning is its own block
    done = [e["content"] for e in events if e["event"] == "content-block-finish"]
    assert done[0]["reasoning"] == THOUGHT
    assert done[1]["type"] == "tool_call"
    assert done[1]["args"] == {"location": "Paris"}  # the argument chunks merged by index
    assert message.tool_calls[0]["args"] == {"location": "Paris"}
    assert message.response_metadata.get("output_version") == "v1"


def test_stream_events_v3_with_reasoning_and_a_tool_call(server: ReferenceServer) -> None:
    stream = (
        _llm(server)
        .bind_tools([get_weather])
        .stream_events("What is the weather in Paris?", version="v3")
    )
    events = list(stream)
    _check_v3(events, stream.output)


async def test_astream_events_v3_with_reasoning_and_a_tool_call(server: ReferenceServer) -> None:
    stream = (
        await _llm(server)
        .bind_tools([get_weather])
        .astream_events("What is the weather in Paris?", version="v3")
    )
    events = [e async for e in stream]
    _check_v3(events, await stream.output)


def test_a_v1_message_fed_back_is_sent_losslessly(server: ReferenceServer) -> None:
    llm = _llm(server, output_version="v1", send_reasoning=True).bind_tools([get_weather])
    question = HumanMessage("What is the weather in Paris?")
    first = llm.invoke([question])
    # rebuilt from its v1 content alone, as an app that stores content would
    stored = AIMessage(content=first.content)  # no tool_calls field: only tool_call blocks
    result = ToolMessage("sunny in Paris", tool_call_id=first.tool_calls[0]["id"])
    final = llm.invoke([question, stored, result])
    assert final.text == "It is sunny in Paris."
    sent = server.requests_for(CHAT)[-1].json
    assert isinstance(sent, dict)
    assistant = sent["messages"][1]
    assert assistant["reasoning"] == THOUGHT
    assert assistant["content"] is None
    assert [c["function"]["name"] for c in assistant["tool_calls"]] == ["get_weather"]
    assert assistant["tool_calls"][0]["id"] == first.tool_calls[0]["id"]
    assert sent["messages"][2] == {
        "role": "tool",
        "tool_call_id": first.tool_calls[0]["id"],
        "content": "sunny in Paris",
    }

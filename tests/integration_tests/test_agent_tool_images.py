"""An agent sees the image its tool made: ``ChatArli`` + ``ArliImageGenerationTool``.

The model (reference server) asks for an image; the tool generates it (the same server's
SDNext API) and answers with text and an image block (``return_image_blocks=True``); on
the next turn the image reaches the model in a user turn after the tool message, because
the chat templates vLLM serves cannot show images in tool results. Assertions are on the
request body the server received.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from PIL import Image

from langchain_arli import ArliImageGenerationTool, ChatArli
from tests.reference_server import ReferenceServer, ScriptEntry

KEY = "test-key"
MODEL = "Mistral-Nemo-12B-Instruct-2407"
CHAT = "/v1/chat/completions"
SCRIPT = [
    ScriptEntry(
        match="draw a fox",
        tool_call=(
            "arli_generate_image",
            {"prompt": "a red fox", "width": 96, "height": 64, "steps": 1, "seed": 7},
        ),
    ),
    # the relayed turn: only answered this way when it carries a 96x64 image
    ScriptEntry(match="returned by", has_image=True, image_size="96x64", reply="A red fox."),
]


@pytest.fixture
def server() -> Any:
    with ReferenceServer(api_key=KEY, script=SCRIPT) as srv:
        yield srv


def _agent_turns(
    llm: Any, tool: ArliImageGenerationTool, question: str
) -> tuple[list[BaseMessage], AIMessage]:
    history: list[BaseMessage] = [HumanMessage(question)]
    for _ in range(3):
        answer = llm.invoke(history)
        assert isinstance(answer, AIMessage)
        history.append(answer)
        if not answer.tool_calls:
            return history, answer
        history.extend(tool.invoke(call) for call in answer.tool_calls)
    raise AssertionError("the agent did not finish in three turns")


def test_the_model_receives_the_generated_image_in_its_next_turn(
    server: ReferenceServer, tmp_path: Path
) -> None:
    tool = ArliImageGenerationTool(
        model="FLUX.2-klein-4B",
        api_key=KEY,
        base_url=server.url,
        output_dir=tmp_path,
        return_image_blocks=True,
    )
    llm = ChatArli(model=MODEL, api_key=KEY, base_url=server.url).bind_tools([tool])
    history, final = _agent_turns(llm, tool, "Please draw a fox.")
    assert final.content == "A red fox."
    result = history[2]
    assert isinstance(result, ToolMessage)
    generated = result.artifact.image.data

    sent = server.requests_for(CHAT)[-1].json
    assert isinstance(sent, dict)
    roles = [m["role"] for m in sent["messages"]]
    assert roles == ["user", "assistant", "tool", "user"]
    tool_turn, relayed = sent["messages"][2], sent["messages"][3]
    assert tool_turn["tool_call_id"] == history[1].tool_calls[0]["id"]  # type: ignore[attr-defined]
    assert isinstance(tool_turn["content"], str)
    assert tool_turn["content"].startswith("Generated 1 image")
    images = [p for p in relayed["content"] if p["type"] == "image_url"]
    assert len(images) == 1
    url = images[0]["image_url"]["url"]
    assert url.startswith("data:image/")
    sent_bytes = base64.b64decode(url.split(",", 1)[1])
    assert sent_bytes == generated  # the very image the tool made, not a re-encode
    assert Image.open(io.BytesIO(sent_bytes)).size == (96, 64)

"""A ``FunctionAgent`` driven by ``Arli`` calls the image generation tool (reference server).

The reference server serves both APIs: its script makes the chat model call
``generate_image`` for the prompt below, and its image API renders a real picture, which the
tool saves; the test decodes the saved file.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from PIL import Image

from llama_index_arli import Arli, ArliImageToolSpec
from tests.reference_server import ReferenceServer, ScriptEntry

KEY = "test-key"
MODEL = "Mistral-Nemo-12B-Instruct-2407"
PROMPT = "Please draw a red fox sitting in the snow."


@pytest.mark.filterwarnings(  # llama-index-workflows inspects the agent's pydantic fields
    "ignore::pydantic.warnings.PydanticDeprecatedSince20",
    "ignore::pydantic.warnings.PydanticDeprecatedSince211",
)
@pytest.mark.parametrize("streaming", [True, False], ids=["streaming", "non-streaming"])
async def test_agent_generates_and_saves_an_image(tmp_path: Path, streaming: bool) -> None:
    script = [
        ScriptEntry(
            match="draw a red fox",
            tool_call=(
                "generate_image",
                {"prompt": "a red fox sitting in the snow", "aspect_ratio": "3:2"},
            ),
        )
    ]
    # in its own thread: FunctionAgent reads llm.metadata (a sync request, once) in the loop
    with ReferenceServer(api_key=KEY, script=script) as server:
        llm = Arli(model=MODEL, api_key=KEY, base_url=server.url)
        spec = ArliImageToolSpec(
            model="FLUX.2-klein-4B",
            api_key=KEY,
            base_url=server.url,
            output_dir=tmp_path,
            generation_params={"steps": 4},
        )
        agent = FunctionAgent(tools=spec.to_tool_list(), llm=llm, streaming=streaming)
        handler = agent.run(user_msg=PROMPT)
        results = [ev async for ev in handler.stream_events() if isinstance(ev, ToolCallResult)]
        output = await handler

        assert [r.tool_name for r in results] == ["generate_image"]
        assert results[0].tool_kwargs["prompt"] == "a red fox sitting in the snow"
        assert not results[0].tool_output.is_error
        saved = sorted(tmp_path.iterdir())
        assert len(saved) == 1
        with Image.open(saved[0]) as image:
            image.load()  # a real, decodable image
            width, height = image.size
        assert width > height  # the 3:2 aspect ratio the model asked for
        assert str(saved[0]) in results[0].tool_output.content  # the model was told the path
        # the tool's text went back to the model, which answered after it
        assert output.response.content
        txt2img = [r for r in server.requests if r.path.endswith("txt2img")]
        assert len(txt2img) == 1
        last_chat = server.requests_for("/v1/chat/completions")[-1].json
        assert last_chat is not None
        assert last_chat["messages"][-1]["role"] == "tool"
        assert str(saved[0]) in last_chat["messages"][-1]["content"]


@pytest.mark.filterwarnings(
    "ignore::pydantic.warnings.PydanticDeprecatedSince20",
    "ignore::pydantic.warnings.PydanticDeprecatedSince211",
)
async def test_agent_on_a_vision_model_sees_the_image_it_made(tmp_path: Path) -> None:
    script = [
        ScriptEntry(
            match="draw a red fox",
            tool_call=("generate_image", {"prompt": "a red fox", "width": 96, "height": 64}),
        ),
        # answered this way only when the relayed turn carries the 96x64 image
        ScriptEntry(match="returned by", has_image=True, image_size="96x64", reply="A fox."),
    ]
    with ReferenceServer(api_key=KEY, script=script) as server:
        llm = Arli(model=MODEL, api_key=KEY, base_url=server.url)
        spec = ArliImageToolSpec(
            model="FLUX.2-klein-4B",
            api_key=KEY,
            base_url=server.url,
            output_dir=tmp_path,
            generation_params={"steps": 1},
            return_image_blocks=True,
        )
        agent = FunctionAgent(tools=spec.to_tool_list(), llm=llm)
        output = await agent.run(user_msg=PROMPT)
        assert str(output).strip() == "A fox."

        sent = server.requests_for("/v1/chat/completions")[-1].json
        roles = [m["role"] for m in sent["messages"]]
        assert roles[-2:] == ["tool", "user"]
        assert isinstance(sent["messages"][-2]["content"], str)
        images = [p for p in sent["messages"][-1]["content"] if p["type"] == "image_url"]
        assert len(images) == 1
        (saved,) = sorted(tmp_path.iterdir())
        data = base64.b64decode(images[0]["image_url"]["url"].split(",", 1)[1])
        assert data == saved.read_bytes()  # the very image the tool made and saved

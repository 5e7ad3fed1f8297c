"""LangChain image tools against the reference server: agent-style calls, batches, errors.

An agent loop (``create_agent``'s tool node, ``AgentExecutor``) calls ``tool.invoke(tool_call)``
for each tool call of the model's answer and feeds the ToolMessage back; these tests do
the same without a model.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import BaseTool
from PIL import Image

from arli import ImageClient, ImageResult
from langchain_arli import (
    ArliImageEditTool,
    ArliImageGenerationTool,
    ArliImageToolkit,
    ArliImageUpscaleTool,
)
from tests.helpers import FIXTURES
from tests.reference_server import ReferenceServer

KEY = "test-key"
MASK = FIXTURES / "image_api" / "mask_96x64.png"


def run_tool_calls(message: AIMessage, tools: list[BaseTool]) -> list[ToolMessage]:
    """What an agent's tool node does with a model's tool calls."""
    by_name = {t.name: t for t in tools}
    return [by_name[call["name"]].invoke(call) for call in message.tool_calls]


def ai_calls(*calls: tuple[str, dict[str, Any]]) -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[
            {"name": name, "args": args, "id": f"call_{i}", "type": "tool_call"}
            for i, (name, args) in enumerate(calls)
        ],
    )


def test_generate_edit_upscale_chain_like_an_agent(
    reference_server: ReferenceServer, tmp_path: Path
) -> None:
    out = tmp_path / "images"
    tools = ArliImageToolkit(
        model="FLUX.2-klein-4B",
        api_key=KEY,
        base_url=reference_server.url,
        output_dir=out,
        generation_params={"steps": 4},
    ).get_tools()
    (generated,) = run_tool_calls(
        ai_calls(("arli_generate_image", {"prompt": "a fox", "width": 96, "height": 64})), tools
    )
    assert generated.status == "success"
    result = generated.artifact
    assert isinstance(result, ImageResult)
    path = result.paths[0]
    assert path.parent == out.resolve()
    assert str(path) in generated.content
    assert Image.open(path).size == (96, 64)  # a real, decodable image
    assert Image.open(path).format == "JPEG"
    assert path.suffix == ".jpg"

    # The model passes the path it was given back to the next tools.
    edited, upscaled = run_tool_calls(
        ai_calls(
            (
                "arli_edit_image",
                {
                    "image": str(path),
                    "prompt": "a fox at night",
                    "mask": str(MASK),
                    "strength": 0.5,
                },
            ),
            ("arli_upscale_image", {"image": str(path), "scale": 2}),
        ),
        tools,
    )
    assert edited.status == "error"  # the mask lives outside output_dir
    assert "outside the directories this tool may read" in edited.content
    assert upscaled.status == "success"
    assert Image.open(upscaled.artifact.paths[0]).size == (192, 128)
    (edited,) = run_tool_calls(
        ai_calls(("arli_edit_image", {"image": path.name, "prompt": "a fox at night"})), tools
    )
    assert edited.status == "success"
    assert Image.open(io.BytesIO(edited.artifact.data)).size == (96, 64)
    assert sorted(p.parent for p in out.iterdir()) == [out] * 3
    assert not any(p for p in tmp_path.iterdir() if p != out)


def test_unknown_model_and_sampler_come_back_with_the_choices(
    reference_server: ReferenceServer, tmp_path: Path
) -> None:
    tool = ArliImageGenerationTool(
        model="FLUX.2-klein-4B",
        api_key=KEY,
        base_url=reference_server.url,
        output_dir=tmp_path,
        params={"sampler_name": "DPM++ 2M Karras"},
    )
    msg = tool.invoke(
        ai_calls(("arli_generate_image", {"prompt": "p", "model": "nope"})).tool_calls[0]
    )
    assert msg.status == "error"
    assert "Checkpoint not found: nope" in msg.content
    assert "Use one of these for `model`: sdxl-base, FLUX.1-dev, FLUX.2-klein-4B" in msg.content
    msg = tool.invoke(ai_calls(("arli_generate_image", {"prompt": "p"})).tool_calls[0])
    assert "Sampler not found" in msg.content
    assert "Use one of these for `sampler`: UniPC, DDIM, Euler" in msg.content
    assert list(tmp_path.iterdir()) == []


def test_toolkit_fetches_the_model_enum(reference_server: ReferenceServer) -> None:
    tools = ArliImageToolkit(
        model="FLUX.2-klein-4B", api_key=KEY, base_url=reference_server.url, fetch_models=True
    ).get_tools()
    schema = tools[0].tool_call_schema.model_json_schema()
    assert "SDXL-zukiBestAnimeMix" in str(schema["properties"]["model"])


def test_batch_of_thirty_never_hits_the_cap(tmp_path: Path) -> None:
    with ReferenceServer(api_key=KEY, image_parallel_limit=6, image_latency=0.05) as srv:
        tool = ArliImageGenerationTool(
            model="FLUX.2-klein-4B",
            api_key=KEY,
            base_url=srv.url,
            output_dir=tmp_path,
            params={"steps": 2},
            client_options={"max_retries": 0},
        )
        outputs = tool.batch(
            [{"prompt": f"p{i}", "seed": i, "width": 64, "height": 64} for i in range(30)],
            config={"max_concurrency": 30},
        )
        assert srv.stats["rate_limited"] == 0
        assert srv.stats["max_in_flight_images"] == 6
    assert len(outputs) == 30
    assert len(list(tmp_path.iterdir())) == 30


async def test_abatch_of_thirty_never_hits_the_cap(tmp_path: Path) -> None:
    with ReferenceServer(api_key=KEY, image_parallel_limit=6, image_latency=0.05) as srv:
        client = ImageClient(model="FLUX.2-klein-4B", api_key=KEY, base_url=srv.url, max_retries=0)
        tool = ArliImageUpscaleTool(
            model="FLUX.2-klein-4B",
            client=client,
            output_dir=tmp_path,
            input_dirs=[FIXTURES / "image_api"],
        )
        image = str(FIXTURES / "image_api" / "init_96x64.png")
        outputs = await tool.abatch([{"image": image, "scale": 1 + i % 3} for i in range(30)])
        assert srv.stats["rate_limited"] == 0
        await client.aclose()
    assert all("Upscaled 1 image" in o for o in outputs)


def test_image_blocks_for_multimodal_models(
    reference_server: ReferenceServer, tmp_path: Path
) -> None:
    tool = ArliImageEditTool(
        model="FLUX.2-klein-4B",
        api_key=KEY,
        base_url=reference_server.url,
        output_dir=tmp_path,
        input_dirs=[FIXTURES / "image_api"],
        return_image_blocks=True,
    )
    call = ai_calls(
        (
            "arli_edit_image",
            {"image": str(FIXTURES / "image_api" / "init_96x64.png"), "prompt": "p", "steps": 2},
        )
    ).tool_calls[0]
    msg = tool.invoke(call)
    text, block = msg.content
    assert isinstance(text, dict)
    assert text["text"].startswith("Edited 1 image (96x64")
    assert isinstance(block, dict)
    assert block["type"] == "image"
    assert block["mime_type"] == "image/jpeg"
    assert block["base64"] == msg.artifact.image.b64()

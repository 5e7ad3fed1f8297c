"""ArliImageToolSpec against the reference server: sync and async tools, raw outputs, agents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.tools import FunctionTool, ToolOutput
from llama_index.core.tools.tool_spec.base import BaseToolSpec
from PIL import Image

from arli import ArliValidationError, ImageResult, NotFoundError
from llama_index_arli import ArliImageToolSpec
from tests.helpers import FIXTURES
from tests.reference_server import ReferenceServer

KEY = "test-key"
INIT = FIXTURES / "image_api" / "init_96x64.png"
MASK = FIXTURES / "image_api" / "mask_96x64.png"


def spec_for(server: ReferenceServer, out: Path, **kwargs: Any) -> ArliImageToolSpec:
    kwargs.setdefault("model", "sdxl-base")
    return ArliImageToolSpec(
        api_key=KEY,
        base_url=server.url,
        output_dir=out,
        generation_params={"steps": 4},
        input_dirs=[out, INIT.parent],
        **kwargs,
    )


def tools_of(spec: ArliImageToolSpec) -> dict[str, FunctionTool]:
    return {t.metadata.name or "": t for t in spec.to_tool_list()}


def test_is_a_tool_spec_with_sync_and_async_functions(tmp_path: Path) -> None:
    assert BaseToolSpec.__name__ in [b.__name__ for b in ArliImageToolSpec.__mro__]
    spec = ArliImageToolSpec(
        model="FLUX.2-klein-4B", api_key=KEY, base_url="http://x.invalid", output_dir=tmp_path
    )
    tools = tools_of(spec)
    assert set(tools) == {
        "generate_image",
        "edit_image",
        "upscale_image",
        "list_image_models",
        "list_samplers",
        "list_upscalers",
    }
    for tool in tools.values():
        assert tool.fn is not None
        assert tool.async_fn is not None
        assert tool.metadata.description
    params = tools["generate_image"].metadata.get_parameters_dict()
    assert params["required"] == ["prompt"]
    assert set(params["properties"]) == {
        "prompt",
        "negative_prompt",
        "aspect_ratio",
        "width",
        "height",
        "steps",
        "seed",
        "model",
    }
    assert all(p.get("description") for p in params["properties"].values())
    assert "16:9" in str(params["properties"]["aspect_ratio"])
    assert "test-key" not in repr(spec)


@pytest.mark.parametrize("backend", ["arli", "arli-proxy", "aiart"])
def test_every_tool_fits_openai_function_calling(backend: str, tmp_path: Path) -> None:
    """LlamaIndex refuses a description over 1024 characters in ``to_openai_tool()``."""
    spec = ArliImageToolSpec(
        api_key=KEY, base_url="http://x.invalid", output_dir=tmp_path, backend=backend
    )
    for name, tool in tools_of(spec).items():
        description = tool.metadata.description
        assert len(description) <= 1024, (name, len(description))
        assert description.startswith(f"{name}(")
        assert "    Args:" not in description  # the docstring is dedented
        function = tool.metadata.to_openai_tool()["function"]
        assert function["description"] == description


def test_sync_tools_keep_images_in_raw_output(
    reference_server: ReferenceServer, tmp_path: Path
) -> None:
    tools = tools_of(spec_for(reference_server, tmp_path))
    output = tools["generate_image"].call(prompt="a lighthouse", aspect_ratio="3:2", seed=11)
    assert isinstance(output, ToolOutput)
    result = output.raw_output
    assert isinstance(result, ImageResult)
    (path,) = result.paths
    assert path.parent == tmp_path.resolve()
    assert output.content == str(result)
    assert str(path) in output.content
    assert "seed 11" in output.content
    assert "model sdxl-base" in output.content
    assert Image.open(path).size == (1280, 832)  # 3:2 around 1024x1024, multiples of 64
    edited = tools["edit_image"].call(image=str(path), prompt="at night", mask=str(MASK))
    assert isinstance(edited.raw_output, ImageResult)
    assert edited.raw_output.image.to_pil().size == (1280, 832)
    upscaled = tools["upscale_image"].call(image=str(INIT), scale=2)
    assert upscaled.raw_output.image.width == 192
    listing = tools["list_image_models"].call()
    assert listing.content.startswith("Image models (pass one as `model`): sdxl-base")
    assert "Euler a" in tools["list_samplers"].call().content
    assert "ESRGAN_4x" in tools["list_upscalers"].call().content


async def test_async_tools(reference_server: ReferenceServer, tmp_path: Path) -> None:
    tools = tools_of(spec_for(reference_server, tmp_path))
    output = await tools["generate_image"].acall(prompt="a fox", width=64, height=64)
    assert isinstance(output.raw_output, ImageResult)
    path = output.raw_output.paths[0]
    edited = await tools["edit_image"].acall(image=path.name, prompt="a fox in snow")
    assert edited.raw_output.operation == "img2img"
    upscaled = await tools["upscale_image"].acall(image=str(path))
    assert upscaled.raw_output.image.width == 256  # ESRGAN_4x, upscale-img default x4
    assert "sdxl-base" in (await tools["list_image_models"].acall()).content
    assert (await tools["list_samplers"].acall()).content.startswith("Samplers: ")
    assert (await tools["list_upscalers"].acall()).content.startswith("Upscalers")


def test_errors_say_what_to_change(reference_server: ReferenceServer, tmp_path: Path) -> None:
    spec = spec_for(reference_server, tmp_path)
    with pytest.raises(NotFoundError) as info:
        spec.generate_image(prompt="p", model="nope")
    assert "Use one of these for `model`: sdxl-base" in str(info.value)
    assert info.value.status_code == 404
    with pytest.raises(ArliValidationError, match=r"steps=999 is out of range: allowed 1\.\.150"):
        spec.generate_image(prompt="p", steps=999)
    with pytest.raises(ArliValidationError, match="not base64"):
        spec.edit_image(image="data:image/png;base64,iVBORw0KGgo=", prompt="p")


async def test_function_agent_calls_the_generation_tool(
    reference_server: ReferenceServer, tmp_path: Path
) -> None:
    """Readiness check with LlamaIndex's mock function-calling LLM (no real model)."""

    def respond(messages: Any, **kwargs: Any) -> ChatMessage:
        if any(m.role == MessageRole.TOOL for m in messages):
            return ChatMessage(role=MessageRole.ASSISTANT, content="Here is your image.")
        call = ToolCallBlock(
            tool_call_id="call-1",
            tool_name="generate_image",
            tool_kwargs={"prompt": "a red fox", "width": 64, "height": 64, "seed": 5},
        )
        return ChatMessage(role=MessageRole.ASSISTANT, blocks=[call])

    spec = spec_for(reference_server, tmp_path)
    agent = FunctionAgent(
        tools=spec.to_tool_list(), llm=MockFunctionCallingLLM(response_generator=respond)
    )
    handler = agent.run(user_msg="Draw a red fox.")
    calls = []
    async for event in handler.stream_events():
        if type(event).__name__ == "ToolCallResult":
            calls.append(event)
    response = await handler
    assert "Here is your image." in str(response)
    (call,) = calls
    assert call.tool_name == "generate_image"
    assert not call.tool_output.is_error
    result = call.tool_output.raw_output
    assert isinstance(result, ImageResult)
    assert Image.open(result.paths[0]).size == (64, 64)
    assert str(result.paths[0]) in call.tool_output.content

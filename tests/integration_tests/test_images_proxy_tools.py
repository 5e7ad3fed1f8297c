"""The image tools on the keyless Arli proxy (``backend="arli-proxy"``).

Against the reference server in proxy mode (everything under ``/api``, images at
``/api/<name>/sdapi/v1/<name>``, upstream errors as 502): generate, edit, upscale and the
listings through the LangChain tools and the LlamaIndex spec, with the same arguments as
on Arli, and never an Authorization header, even with an Arli key in the environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from PIL import Image

from arli import ImageResult
from langchain_arli import ArliImageEditTool, ArliImageGenerationTool, ArliImageToolkit
from llama_index_arli import ArliImageToolSpec
from tests.helpers import FIXTURES
from tests.reference_server import ReferenceServer

INIT = FIXTURES / "image_api" / "init_96x64.png"
MASK = FIXTURES / "image_api" / "mask_96x64.png"


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReferenceServer]:
    monkeypatch.setenv("ARLIAI_API_KEY", "sk-arli-key-that-must-not-reach-the-proxy")
    monkeypatch.setenv("ARLI_IMAGE_KEY", "sk-arli-image-key-not-for-the-proxy")
    with ReferenceServer(provider="arli-proxy") as server:
        yield server


def call(tool: BaseTool, args: dict[str, Any]) -> ToolMessage:
    msg = tool.invoke({"type": "tool_call", "id": "c1", "name": tool.name, "args": args})
    assert isinstance(msg, ToolMessage)
    return msg


def no_auth(server: ReferenceServer) -> None:
    assert server.requests
    for request in server.requests:
        assert "authorization" not in request.headers, request.path


def test_generate_and_edit_through_the_tools(proxy: ReferenceServer, tmp_path: Path) -> None:
    common = {"backend": "arli-proxy", "base_url": f"{proxy.url}/api", "output_dir": tmp_path}
    gen = ArliImageGenerationTool(**common, params={"steps": 4})
    msg = call(gen, {"prompt": "a fox", "width": 96, "height": 64, "seed": 3})
    assert msg.status == "success", msg.content
    result = msg.artifact
    assert isinstance(result, ImageResult)
    assert result.seeds == [3]
    path = result.paths[0]
    assert Image.open(path).size == (96, 64)
    assert proxy.requests_for("/api/txt2img/sdapi/v1/txt2img")
    edit = ArliImageEditTool(**common, params={"steps": 4}, input_dirs=[tmp_path, MASK.parent])
    edited = call(edit, {"image": str(path), "prompt": "at night", "mask": str(MASK)})
    assert edited.status == "success", edited.content
    assert edited.artifact.operation == "img2img"
    assert proxy.requests_for("/api/img2img/sdapi/v1/img2img")
    no_auth(proxy)


def test_toolkit_upscale_and_listings(proxy: ReferenceServer, tmp_path: Path) -> None:
    tools = {
        t.name: t
        for t in ArliImageToolkit(
            backend="arli-proxy",
            base_url=f"{proxy.url}/api",
            output_dir=tmp_path,
            input_dirs=[INIT.parent],
            fetch_models=True,
        ).get_tools()
    }
    up = call(tools["arli_upscale_image"], {"image": str(INIT), "scale": 2})
    assert up.status == "success", up.content
    assert (up.artifact.image.width, up.artifact.image.height) == (192, 128)
    assert proxy.requests_for("/api/extra-single-image/sdapi/v1/extra-single-image")
    assert "sdxl-base" in tools["arli_list_image_models"].invoke({})
    assert "Euler a" in tools["arli_list_samplers"].invoke({})
    assert "ESRGAN_4x" in tools["arli_list_upscalers"].invoke({})
    schema = tools["arli_generate_image"].tool_call_schema.model_json_schema()
    assert "sdxl-base" in str(schema["properties"]["model"])
    no_auth(proxy)


def test_upstream_errors_come_back_as_actionable_text(
    proxy: ReferenceServer, tmp_path: Path
) -> None:
    gen = ArliImageGenerationTool(
        backend="arli-proxy", base_url=f"{proxy.url}/api", output_dir=tmp_path
    )
    msg = call(gen, {"prompt": "p", "model": "no-such-model", "width": 64, "height": 64})
    assert msg.status == "error"
    assert "Checkpoint not found: no-such-model" in msg.content
    no_auth(proxy)


async def test_llama_index_spec_on_the_proxy(proxy: ReferenceServer, tmp_path: Path) -> None:
    spec = ArliImageToolSpec(
        backend="arli-proxy",
        base_url=f"{proxy.url}/api",
        output_dir=tmp_path,
        input_dirs=[INIT.parent],
        generation_params={"steps": 4},
    )
    tools = {t.metadata.name: t for t in spec.to_tool_list()}
    out = await tools["generate_image"].acall(prompt="a fox", width=64, height=64, seed=1)
    assert "Saved to:" in out.content
    edited = tools["edit_image"].call(image=str(INIT), prompt="night", steps=4)
    assert edited.raw_output.operation == "img2img"
    upscaled = await tools["upscale_image"].acall(image=str(INIT), scale=2)
    assert upscaled.raw_output.image.width == 192
    assert "sdxl-base" in tools["list_image_models"].call().content
    no_auth(proxy)

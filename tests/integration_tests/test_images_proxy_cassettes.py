"""The keyless Arli proxy's image endpoints replayed from cassettes, client and tools.

Recorded against tests/reference_server in keyless-proxy mode
(``python -m tests.reference_server --provider arli-proxy``: everything under ``/api``,
images at ``/api/<name>/sdapi/v1/<name>``, upstream errors as 502 ``{"error": "Upstream
error", "status", "detail"}``; 64x64 generations). Re-record with
``scripts/record.sh arli-proxy``. No request carries an Authorization header.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from langchain_core.messages import ToolMessage

from arli import ImageClient, InternalServerError
from langchain_arli import ArliImageEditTool, ArliImageGenerationTool
from tests.conftest import CASSETTES, Target
from tests.helpers import FIXTURES

pytestmark = [pytest.mark.vcr, pytest.mark.recorded_against("arli-proxy")]

INIT = FIXTURES / "image_api" / "init_96x64.png"
MASK = FIXTURES / "image_api" / "mask_96x64.png"
SMALL = {"width": 64, "height": 64, "steps": 4}
_DIR = CASSETTES / Path(__file__).stem


def make(target: Target) -> ImageClient:
    return ImageClient(provider="arli-proxy", base_url=f"{target.base_url}/api", max_retries=0)


@functools.cache
def _output_dir() -> str:
    return tempfile.mkdtemp(prefix="arli-proxy-cassettes-")


def test_txt2img(cassette_target: Target) -> None:
    result = make(cassette_target).txt2img(prompt="a red square", seed=42, **SMALL)
    assert result.mime_type == "image/jpeg"
    assert result.seeds == [42]
    assert (result.image.width, result.image.height) == (64, 64)
    assert result.model == "sdxl-base"


def test_img2img_inpainting(cassette_target: Target) -> None:
    result = make(cassette_target).img2img(
        init_images=INIT, mask=MASK, prompt="a yellow door", seed=9, steps=4, mask_blur=2
    )
    assert result.operation == "img2img"
    assert (result.image.width, result.image.height) == (96, 64)
    assert result.info.extra_generation_params == {"Mask blur": 2, "Mask size": "96x64"}


def test_upscale_goes_to_extra_single_image(cassette_target: Target) -> None:
    result = make(cassette_target).upscale(image=INIT, upscaler_1="ESRGAN_4x", upscaling_resize=2)
    assert (result.image.width, result.image.height) == (192, 128)


def test_listings(cassette_target: Target) -> None:
    client = make(cassette_target)
    assert client.list_models()[0].name == "sdxl-base"
    assert "Euler a" in [s.name for s in client.list_samplers()]
    assert "ESRGAN_4x" in [u.name for u in client.list_upscalers()]
    assert client.get_options()["samples_format"] == "jpg"


def test_upstream_errors_are_502s(cassette_target: Target) -> None:
    with pytest.raises(InternalServerError) as info:
        make(cassette_target).txt2img(prompt="p", model="no-such-model", **SMALL)
    assert info.value.status_code == 502
    assert info.value.message == "Upstream error: Checkpoint not found: no-such-model"


async def test_async_generation(cassette_target: Target) -> None:
    client = make(cassette_target)
    result = await client.atxt2img(prompt="a blue circle", seed=5, **SMALL)
    assert result.seeds == [5]
    await client.aclose()


def test_tools_generate_and_edit(cassette_target: Target) -> None:
    common: dict[str, Any] = {
        "backend": "arli-proxy",
        "base_url": f"{cassette_target.base_url}/api",
        "client_options": {"max_retries": 0},
        "output_dir": _output_dir(),
        "input_dirs": [str(INIT.parent)],
        "params": {"steps": 4},
    }
    gen = ArliImageGenerationTool(**common)
    msg = gen.invoke(
        {
            "type": "tool_call",
            "id": "1",
            "name": gen.name,
            "args": {"prompt": "a fox", "width": 64, "height": 64, "seed": 7},
        }
    )
    assert isinstance(msg, ToolMessage)
    assert msg.status == "success"
    assert msg.artifact.seeds == [7]
    edit = ArliImageEditTool(**common)
    edited = edit.invoke(
        {
            "type": "tool_call",
            "id": "2",
            "name": edit.name,
            "args": {"image": str(INIT), "prompt": "a yellow door", "strength": 0.5, "seed": 3},
        }
    )
    assert edited.status == "success"
    assert edited.artifact.operation == "img2img"


def test_no_request_carried_a_key() -> None:
    for cassette in sorted(_DIR.glob("*.yaml")):
        for item in yaml.safe_load(cassette.read_text())["interactions"]:
            headers = {k.lower() for k in item["request"]["headers"]}
            assert "authorization" not in headers, cassette.name
            assert "/api/" in item["request"]["uri"], cassette.name

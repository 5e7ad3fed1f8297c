"""ImageClient replayed from cassettes: every endpoint, both route forms, every answer shape.

Recorded against tests/reference_server (SDNext wire format: JPEG images, ``info`` as a
JSON string, ``image`` + ``html_info`` from extra-single-image, ``images`` + ``info`` object
from Arli's upscale-img). 64x64 images keep the cassettes small. Re-record with
``scripts/record.sh reference -k test_images_cassettes``.
"""

from __future__ import annotations

import pytest

from arli import ImageClient, ImageRoutes, NotFoundError
from tests.conftest import Target
from tests.helpers import FIXTURES

pytestmark = [pytest.mark.vcr, pytest.mark.recorded_against("reference")]

INIT = FIXTURES / "image_api" / "init_96x64.png"
MASK = FIXTURES / "image_api" / "mask_96x64.png"
SMALL = {"width": 64, "height": 64, "steps": 4}


def make(target: Target, routes: ImageRoutes | None = None) -> ImageClient:
    # Arli's image API requires a model (seeds 001, 002): the server's default one here.
    return ImageClient(
        model="sdxl-base", api_key=target.api_key, base_url=target.base_url, routes=routes
    )


@pytest.mark.parametrize("form", ["arli", "sdapi"])
def test_txt2img(cassette_target: Target, form: str) -> None:
    routes = ImageRoutes.sdapi() if form == "sdapi" else ImageRoutes.arli()
    client = make(cassette_target, routes)
    result = client.txt2img(
        prompt="a red square", negative_prompt="blurry", seed=42, batch_size=2, **SMALL
    )
    assert [img.mime_type for img in result] == ["image/jpeg", "image/jpeg"]
    assert result.seeds == [42, 43]
    assert [(img.width, img.height) for img in result] == [(64, 64), (64, 64)]
    info = result.info
    assert info.all_seeds == [42, 43]
    assert (info.width, info.height, info.steps) == (64, 64, 4)
    assert info.negative_prompt == "blurry"
    assert result.model == "sdxl-base"
    assert result.parameters["seed"] == 42
    assert [img.to_pil().size for img in result] == [(64, 64), (64, 64)]


@pytest.mark.parametrize("form", ["arli", "sdapi"])
def test_img2img_inpainting(cassette_target: Target, form: str) -> None:
    routes = ImageRoutes.sdapi() if form == "sdapi" else ImageRoutes.arli()
    client = make(cassette_target, routes)
    result = client.img2img(
        init_images=INIT,
        mask=MASK,
        prompt="a yellow door",
        seed=9,
        steps=4,
        denoising_strength=0.7,
        mask_blur=2,
    )
    assert result.operation == "img2img"
    assert (result.image.width, result.image.height) == (96, 64)
    assert result.info.denoising_strength == 0.7
    assert result.info.extra_generation_params == {"Mask blur": 2, "Mask size": "96x64"}
    assert result.seeds == [9]


def test_upscale_img_answers_with_images_and_an_info_object(cassette_target: Target) -> None:
    result = make(cassette_target).upscale(image=INIT, upscaler_1="ESRGAN_4x", upscaling_resize=2)
    assert result.operation == "upscale"
    assert (result.image.width, result.image.height) == (192, 128)
    assert result.info.upscaler == "ESRGAN_4x"
    assert result.info.scale_factor == 2
    assert result.info.text is None


def test_extra_single_image_answers_with_image_and_html_info(cassette_target: Target) -> None:
    result = make(cassette_target).upscale(
        image=INIT,
        upscaler_1="Resize Lanczos",
        upscaler_2="None",
        extras_upscaler_2_visibility=0.3,
        upscaling_resize=2,
    )
    assert (result.image.width, result.image.height) == (192, 128)
    assert result.info.text == (
        "Size: 192x128, Postprocess upscale by: 2.0, Postprocess upscaler: Resize Lanczos"
    )
    assert result.info.upscaler == "Resize Lanczos"
    assert result.info.scale_factor == 2.0


@pytest.mark.parametrize("form", ["arli", "sdapi"])
def test_listings(cassette_target: Target, form: str) -> None:
    routes = ImageRoutes.sdapi() if form == "sdapi" else ImageRoutes.arli()
    client = make(cassette_target, routes)
    models = client.list_models()
    assert models[0].title == "sdxl/sdxl-base [31e35c80fc]"
    assert models[0].name == "sdxl-base"
    assert [s.name for s in client.list_samplers()][:4] == ["UniPC", "DDIM", "Euler", "Euler a"]
    assert "ESRGAN_4x" in [u.name for u in client.list_upscalers()]
    options = client.get_options()
    assert options["samples_format"] == "jpg"
    limit = client.parallel_requests()
    assert limit.parallel_requests == 6


def test_unknown_model_is_a_404_in_sdnexts_envelope(cassette_target: Target) -> None:
    with pytest.raises(NotFoundError) as info:
        make(cassette_target).txt2img(prompt="p", model="no-such-model", **SMALL)
    assert info.value.message == "Checkpoint not found: no-such-model"
    assert info.value.error_type == "HTTPException"


async def test_async_generation_replays(cassette_target: Target) -> None:
    client = make(cassette_target)
    result = await client.atxt2img(prompt="a blue circle", seed=5, **SMALL)
    assert result.seeds == [5]
    up = await client.aupscale(image=result.data, upscaler_1="ESRGAN_4x", upscaling_resize=2)
    assert (up.image.width, up.image.height) == (128, 128)
    await client.aclose()

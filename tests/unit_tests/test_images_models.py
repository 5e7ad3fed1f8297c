"""Image requests: documented ranges, pass-through extras, per-request model, request bodies.

In-range values reach the wire unchanged; out-of-range values fail before any request with
an ArliValidationError naming the field and the allowed range (checked with hypothesis).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arli import ArliValidationError, ImageClient, Img2ImgRequest, Txt2ImgRequest, UpscaleRequest
from arli.images import ImageRoutes
from tests.helpers import FIXTURES, SD_EXTRA, SD_TXT2IMG, SDNextRecorder

INIT = FIXTURES / "image_api" / "init_96x64.png"
TXT2IMG = SD_TXT2IMG
EXTRA = SD_EXTRA


MODEL = "FLUX.2-klein-4B"
#: What every generation body carries besides its own fields: the model, which Arli's image
#: API requires (seeds 001 and 002), sent as a field only here.
WITH_MODEL = {"sd_model_checkpoint": MODEL}


def make_client(recorder: SDNextRecorder, **kwargs: Any) -> ImageClient:
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    kwargs.setdefault("model", MODEL)
    kwargs.setdefault("model_in_override_settings", False)
    return ImageClient(api_key="k", base_url="http://sd.test", http_client=http, **kwargs)


RANGES: dict[str, tuple[Any, Any, str]] = {
    "steps": (1, 150, "1..150"),
    "width": (64, 2048, "64..2048"),
    "height": (64, 2048, "64..2048"),
    "cfg_scale": (1, 20, "1..20"),
    "batch_size": (1, 4, "1..4"),
    "denoising_strength": (0, 1, "0..1"),
}
INT_FIELDS = ("steps", "width", "height", "batch_size")


def in_range() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "steps": st.integers(1, 150),
            "width": st.integers(64, 2048),
            "height": st.integers(64, 2048),
            "cfg_scale": st.floats(1, 20, allow_nan=False),
            "batch_size": st.integers(1, 4),
            "denoising_strength": st.floats(0, 1, allow_nan=False),
            "seed": st.one_of(st.just(-1), st.integers(0, 2**63)),
            "subseed": st.one_of(st.just(-1), st.integers(0, 2**32)),
        },
    )


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(values=in_range())
def test_in_range_values_reach_the_request_unchanged(values: dict[str, Any]) -> None:
    recorder = SDNextRecorder()
    make_client(recorder).txt2img(prompt="a red square", **values)
    (body,) = recorder.bodies
    assert body == {"prompt": "a red square", **values, **WITH_MODEL}


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(values=in_range())
def test_in_range_img2img_values_reach_the_request_unchanged(values: dict[str, Any]) -> None:
    recorder = SDNextRecorder()
    make_client(recorder).img2img(init_images=INIT, prompt="p", **values)
    (body,) = recorder.bodies
    sent = {k: v for k, v in body.items() if k not in ("init_images", "width", "height")}
    expected = {k: v for k, v in values.items() if k not in ("width", "height")}
    assert sent == {"prompt": "p", **expected, **WITH_MODEL}
    assert len(body["init_images"]) == 1


def out_of_range() -> st.SearchStrategy[tuple[str, Any]]:
    cases = []
    for name, (lo, hi, _) in RANGES.items():
        if name in INT_FIELDS:
            bad = st.one_of(st.integers(max_value=lo - 1), st.integers(min_value=hi + 1))
        else:
            bad = st.one_of(
                st.floats(max_value=lo, exclude_max=True, allow_nan=False, allow_infinity=False),
                st.floats(min_value=hi, exclude_min=True, allow_nan=False, allow_infinity=False),
            )
        cases.append(st.tuples(st.just(name), bad))
    cases.append(st.tuples(st.just("seed"), st.integers(max_value=-2)))
    return st.one_of(*cases)


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(case=out_of_range())
def test_out_of_range_fails_before_any_request_naming_field_and_range(
    case: tuple[str, Any],
) -> None:
    name, value = case
    recorder = SDNextRecorder()
    client = make_client(recorder)
    with pytest.raises(ArliValidationError) as info:
        client.txt2img(prompt="p", **{name: value})
    assert recorder.requests == []
    assert info.value.field == name
    allowed = RANGES[name][2] if name in RANGES else "-1 (random) or an integer >= 0"
    assert info.value.allowed == allowed
    assert str(info.value) == f"{name}={value!r} is out of range: allowed {allowed}"


def test_the_documented_message() -> None:
    with pytest.raises(ArliValidationError, match=r"^steps=200 is out of range: allowed 1\.\.150$"):
        Txt2ImgRequest(prompt="p", steps=200)


async def test_async_validation_also_happens_before_any_request() -> None:
    recorder = SDNextRecorder()
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    client = ImageClient(
        model="FLUX.2-klein-4B", api_key="k", base_url="http://sd.test", http_async_client=http
    )
    with pytest.raises(ArliValidationError, match="cfg_scale=25"):
        await client.atxt2img(prompt="p", cfg_scale=25)
    with pytest.raises(ArliValidationError, match=r"denoising_strength=1\.5"):
        await client.aimg2img(init_images=INIT, prompt="p", denoising_strength=1.5)
    with pytest.raises(ArliValidationError, match="upscaling_resize=9"):
        await client.aupscale(image=INIT, upscaling_resize=9)
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("model", "kwargs", "field", "text"),
    [
        (Txt2ImgRequest, {"prompt": "p", "steps": "many"}, "steps", "steps='many' is not valid"),
        (Txt2ImgRequest, {}, "prompt", "prompt is required"),
        (Img2ImgRequest, {"prompt": "p"}, "init_images", "init_images is required"),
        (Img2ImgRequest, {"prompt": "p", "init_images": []}, "init_images", "init_images=[]"),
        (
            Img2ImgRequest,
            {"prompt": "p", "init_images": [b"x"], "mask_blur": -1},
            "mask_blur",
            ">= 0",
        ),
        (Img2ImgRequest, {"prompt": "p", "init_images": [b"x"], "scale_by": 0}, "scale_by", "> 0"),
        (
            UpscaleRequest,
            {"image": b"x", "extras_upscaler_2_visibility": 2},
            "extras_upscaler_2_visibility",
            "0..1",
        ),
        (
            UpscaleRequest,
            {"image": b"x", "resize_mode": 1},
            "upscaling_resize_w",
            "needs upscaling_resize_w",
        ),
        (UpscaleRequest, {}, "image", "image is required"),
    ],
)
def test_other_validation_messages(
    model: Any, kwargs: dict[str, Any], field: str, text: str
) -> None:
    with pytest.raises(ArliValidationError) as info:
        model(**kwargs)
    assert info.value.field == field
    assert text in str(info.value)


def test_model_alias_and_property() -> None:
    req = Txt2ImgRequest(prompt="p", model="FLUX.2-klein-4B")
    assert req.sd_model_checkpoint == "FLUX.2-klein-4B"
    assert req.model == "FLUX.2-klein-4B"
    assert req.wire_fields() == {"prompt": "p", "sd_model_checkpoint": "FLUX.2-klein-4B"}
    via_override = Txt2ImgRequest(prompt="p", override_settings={"sd_model_checkpoint": "x"})
    assert via_override.model == "x"


def test_sdnext_extras_pass_through_unchanged() -> None:
    recorder = SDNextRecorder()
    extras = {
        "enable_hr": True,
        "hr_scale": 1.5,
        "hr_upscaler": "ESRGAN_4x",
        "hr_second_pass_steps": 10,
        "detailer_enabled": True,
        "detailer_strength": 0.4,
        "styles": ["cinematic"],
        "script_args": [],
        "alwayson_scripts": {},
        "override_settings": {"CLIP_stop_at_last_layers": 2},
    }
    make_client(recorder).txt2img(prompt="p", **extras)
    assert recorder.bodies[0] == {"prompt": "p", **extras, **WITH_MODEL}


def test_model_is_chosen_per_request_never_by_posting_options() -> None:
    recorder = SDNextRecorder()
    client = make_client(recorder, model="sdxl-base", model_in_override_settings=True)
    client.txt2img(prompt="p")
    client.txt2img(prompt="p", model="FLUX.1-dev", override_settings={"sd_vae": "Automatic"})
    first, second = recorder.bodies
    assert first == {
        "prompt": "p",
        "sd_model_checkpoint": "sdxl-base",
        "override_settings": {"sd_model_checkpoint": "sdxl-base"},
        "override_settings_restore_afterwards": True,
    }
    assert second["sd_model_checkpoint"] == "FLUX.1-dev"
    assert second["override_settings"] == {
        "sd_vae": "Automatic",
        "sd_model_checkpoint": "FLUX.1-dev",
    }
    assert [r.method for r in recorder.requests] == ["POST", "POST"]
    assert all(r.url.path == "/v1/txt2img" for r in recorder.requests)


def test_model_only_as_a_field_when_asked() -> None:
    recorder = SDNextRecorder()
    make_client(recorder, model="m", model_in_override_settings=False).txt2img(prompt="p")
    assert recorder.bodies[0] == {"prompt": "p", "sd_model_checkpoint": "m"}


def test_build_merges_a_request_with_overrides() -> None:
    base = Txt2ImgRequest(prompt="p", steps=10, enable_hr=True)
    merged = Txt2ImgRequest.build(base, steps=20)
    assert merged.wire_fields() == {"prompt": "p", "steps": 20, "enable_hr": True}
    assert Txt2ImgRequest.build(base) is base
    assert Txt2ImgRequest.build({"prompt": "q"}, seed=3).wire_fields() == {"prompt": "q", "seed": 3}
    with pytest.raises(ArliValidationError, match="expected a Txt2ImgRequest"):
        Txt2ImgRequest.build(42)


def test_request_objects_are_accepted_by_the_client() -> None:
    recorder = SDNextRecorder()
    client = make_client(recorder)
    client.txt2img(Txt2ImgRequest(prompt="p", steps=7), seed=1)
    client.img2img(Img2ImgRequest(prompt="p", init_images=INIT, width=96, height=64))
    client.upscale(UpscaleRequest(image=INIT, upscaler_1="ESRGAN_4x"))
    bodies = recorder.bodies
    assert bodies[0] == {"prompt": "p", "steps": 7, "seed": 1, **WITH_MODEL}
    assert bodies[1]["width"] == 96
    assert bodies[2]["upscaler_1"] == "ESRGAN_4x"


def test_img2img_keeps_the_init_size_when_no_size_is_given() -> None:
    recorder = SDNextRecorder()
    client = make_client(recorder)
    client.img2img(init_images=INIT, prompt="p")
    client.img2img(init_images=[INIT], prompt="p", scale_by=2)
    client.img2img(init_images=INIT, prompt="p", width=512, height=512)
    first, second, third = recorder.bodies
    assert (first["width"], first["height"]) == (96, 64)
    assert "width" not in second  # the server derives it from scale_by
    assert (third["width"], third["height"]) == (512, 512)
    assert first["init_images"] == [__import__("base64").b64encode(INIT.read_bytes()).decode()]


@pytest.mark.parametrize(
    ("params", "endpoint", "path"),
    [
        ({"upscaler_1": "ESRGAN_4x"}, "auto", "/v1/upscale-img"),
        ({"upscaler_1": "ESRGAN_4x", "upscaling_resize": 2}, "auto", "/v1/upscale-img"),
        ({"upscaler_1": "A", "upscaler_2": "B"}, "auto", "/sdapi/v1/extra-single-image"),
        (
            {"resize_mode": 1, "upscaling_resize_w": 100, "upscaling_resize_h": 80},
            "auto",
            "/sdapi/v1/extra-single-image",
        ),
        ({"script_args": {}}, "auto", "/sdapi/v1/extra-single-image"),
        ({}, "extra-single-image", "/sdapi/v1/extra-single-image"),
        ({"upscaler_2": "B"}, "upscale-img", "/v1/upscale-img"),
    ],
)
def test_upscale_route_choice(params: dict[str, Any], endpoint: Any, path: str) -> None:
    recorder = SDNextRecorder()
    make_client(recorder).upscale(image=INIT, endpoint=endpoint, **params)
    (request,) = recorder.requests
    assert request.url.path == path
    body = json.loads(request.content)
    image = __import__("base64").b64encode(INIT.read_bytes()).decode()
    # No upscaler named: the documented default (seed 002) is sent.
    assert body == {"image": image, "upscaler_1": "ESRGAN_4x", **params}


def test_routes() -> None:
    arli = ImageRoutes.arli()
    assert (arli.txt2img, arli.img2img, arli.upscale) == (
        "/v1/txt2img",
        "/v1/img2img",
        "/v1/upscale-img",
    )
    sd = ImageRoutes.sdapi()
    assert sd.txt2img == "/sdapi/v1/txt2img"
    assert sd.models == "/sdapi/v1/sd-models"
    assert sd.options == "/sdapi/v1/options"
    assert arli.with_(txt2img="/api/txt2img/sdapi/v1/txt2img").txt2img.startswith("/api/")


def test_non_json_extras_fail_before_sending() -> None:
    recorder = SDNextRecorder()
    with pytest.raises(ArliValidationError, match="cannot be sent as JSON"):
        make_client(recorder).txt2img(prompt="p", detailer_models=object())  # an SDNext field
    with pytest.raises(ArliValidationError, match="cannot be sent as JSON"):
        make_client(recorder).txt2img(prompt="p", extra_fields={"extra_thing": object()})
    assert recorder.requests == []


def test_unreadable_inputs_name_the_field(tmp_path: Path) -> None:
    recorder = SDNextRecorder()
    client = make_client(recorder)
    with pytest.raises(ArliValidationError) as info:
        client.img2img(init_images=[INIT, tmp_path / "missing.png"], prompt="p")
    assert info.value.field == "init_images"
    assert str(info.value).startswith("init_images[1]: ")
    with pytest.raises(ArliValidationError) as info:
        client.upscale(image=b"not an image at all")
    assert info.value.field == "image"
    assert recorder.requests == []

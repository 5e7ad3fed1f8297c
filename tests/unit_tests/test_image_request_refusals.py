"""Image requests refuse what the server would silently drop or misread (issue 14 #14).

* a name neither declared nor one of SDNext's own fields (``stepz=10``) is refused with
  the closest name, before any request; ``extra_fields={...}`` sends a field newer than
  the list, which is SDNext's request model as echoed in a real response;
* a number field refuses ``True``/``False`` (pydantic reads ``steps=True`` as 1);
* ``.data`` / ``.mime_type`` / ``.to_pil()`` of a result with several images raise
  instead of quietly answering for the first.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import httpx
import pytest
from PIL import Image

from arli import ArliValidationError, ImageClient, Img2ImgRequest, Txt2ImgRequest, UpscaleRequest
from arli.images._sdnext_fields import SDNEXT_GENERATION_FIELDS
from arli.images.results import parse_image_response
from arli.images.tooling import ImageToolbox
from tests.helpers import FIXTURES, WIRE, SDNextRecorder

INIT = FIXTURES / "image_api" / "init_96x64.png"


def make_client(recorder: SDNextRecorder) -> ImageClient:
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    return ImageClient(api_key="k", base_url="http://sd.test", http_client=http, model="m")


def test_a_misspelt_field_is_refused_with_the_closest_name_before_sending() -> None:
    recorder = SDNextRecorder()
    client = make_client(recorder)
    with pytest.raises(ArliValidationError) as info:
        client.txt2img(prompt="p", stepz=10)
    assert str(info.value).startswith(
        "Txt2ImgRequest: unknown parameter 'stepz'. Did you mean 'steps'? "
        "Other server fields can be sent with extra_fields={'stepz': ...}"
    )
    assert (info.value.field, info.value.allowed) == ("stepz", "steps")
    with pytest.raises(ArliValidationError, match=r"'denoise_strength'\. Did you mean 'denoising_"):
        client.img2img(init_images=INIT, prompt="p", denoise_strength=0.5)
    with pytest.raises(ArliValidationError, match=r"'upscale_resize'\. Did you mean 'upscaling_"):
        client.upscale(image=INIT, upscale_resize=2)
    with pytest.raises(ArliValidationError, match=r"'Steps'\. Did you mean 'steps'"):
        Txt2ImgRequest.build({"prompt": "p"}, Steps=3)
    assert recorder.requests == []


def test_a_toolkits_default_parameters_are_checked_the_same_way() -> None:
    recorder = SDNextRecorder()
    with pytest.raises(ArliValidationError, match=r"'sampler'\. Did you mean 'sampler_"):
        ImageToolbox(make_client(recorder), generation_params={"sampler": "Euler a"})
    assert recorder.requests == []


def test_sdnext_fields_are_the_servers_request_model() -> None:
    echoed = json.loads((WIRE / "sd_txt2img_response.json").read_text())["parameters"]
    assert set(echoed) == SDNEXT_GENERATION_FIELDS
    assert len(SDNEXT_GENERATION_FIELDS) == 238
    # every one of them passes, as do declared fields that SDNext does not echo
    undeclared = SDNEXT_GENERATION_FIELDS - set(Img2ImgRequest.model_fields)
    every = dict.fromkeys(sorted(undeclared), 0)
    assert Txt2ImgRequest(prompt="p", **every).wire_fields()["xyz"] == 0
    assert Img2ImgRequest(init_images=[INIT], prompt="p", include_init_images=True)


def test_extra_fields_are_sent_as_they_are_and_survive_build() -> None:
    recorder = SDNextRecorder()
    client = make_client(recorder)
    client.txt2img(prompt="p", steps=4, extra_fields={"brand_new_field": [1, 2]})
    body = recorder.bodies[0]
    assert body["brand_new_field"] == [1, 2]
    assert body["steps"] == 4
    assert "extra_fields" not in body
    base = Txt2ImgRequest(prompt="p", extra_fields={"x": 1})
    assert Txt2ImgRequest.build(base, steps=5).wire_fields() == {"prompt": "p", "steps": 5, "x": 1}
    with pytest.raises(ArliValidationError, match="extra_fields must be a mapping"):
        Txt2ImgRequest(prompt="p", extra_fields=["x"])


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (Txt2ImgRequest, {"steps": True}),
        (Txt2ImgRequest, {"cfg_scale": False}),
        (Txt2ImgRequest, {"batch_size": True}),
        (Txt2ImgRequest, {"seed": True}),
        (Img2ImgRequest, {"init_images": ["x"], "mask_blur": True}),
        (UpscaleRequest, {"image": "x", "upscaling_resize": True}),
    ],
)
def test_a_number_field_refuses_a_boolean(model: type[Any], fields: dict[str, Any]) -> None:
    name, value = next((k, v) for k, v in fields.items() if isinstance(v, bool))
    with pytest.raises(ArliValidationError) as info:
        model(prompt="p", **fields) if model is not UpscaleRequest else model(**fields)
    assert str(info.value).startswith(
        f"{name}={value!r} is not valid: a number is expected, not True/False"
    )
    assert info.value.field == name


def test_boolean_fields_still_take_booleans() -> None:
    req = Img2ImgRequest(init_images=["x"], prompt="p", inpaint_full_res=True, enable_hr=False)
    assert req.wire_fields() == {"prompt": "p", "inpaint_full_res": True, "enable_hr": False}


def _png(color: str) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_data_of_a_result_with_several_images_is_not_the_first_ones() -> None:
    several = parse_image_response({"images": [_png("red"), _png("blue")], "info": {}})
    for attribute in ("data", "mime_type"):
        with pytest.raises(ArliValidationError, match=rf"holds 2 images, so result.{attribute} is"):
            getattr(several, attribute)
    with pytest.raises(ArliValidationError, match=r"use result.images\[i\].to_pil\(\)"):
        several.to_pil()
    assert [img.to_pil().getpixel((0, 0)) for img in several] == [(255, 0, 0), (0, 0, 255)]
    assert several.image is several.images[0]  # "the first" said explicitly
    one = parse_image_response({"images": [_png("red")], "info": {}})
    assert one.data == base64.b64decode(_png("red"))
    assert one.mime_type == "image/png"
    assert one.to_pil().size == (4, 4)

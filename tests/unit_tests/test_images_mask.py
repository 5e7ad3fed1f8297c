"""Inputs of img2img/inpainting/upscale: every source kind, mask conversion, empty masks."""

from __future__ import annotations

import base64
import io
import json
import sys
from typing import Any

import httpx
import pytest
from PIL import Image

from arli import ArliValidationError, ImageClient
from arli.images._inputs import prepare_mask
from arli.media import load_image
from tests.helpers import FIXTURES, WIRE

DIR = FIXTURES / "image_api"
INIT = DIR / "init_96x64.png"
MASK = DIR / "mask_96x64.png"
MASK_RGBA_SMALL = DIR / "mask_48x32_rgba.png"
MASK_EMPTY = DIR / "mask_empty_96x64.png"
ANSWER = json.loads((WIRE / "sd_txt2img_response.json").read_text())


def decode(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


class Capture:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        return httpx.Response(200, json=ANSWER)


def client_with(capture: Capture) -> ImageClient:
    http = httpx.Client(transport=httpx.MockTransport(capture))
    return ImageClient(
        model="FLUX.2-klein-4B", api_key="k", base_url="http://sd.test", http_client=http
    )


def as_jpeg(path: Any, size: tuple[int, int] | None = None) -> bytes:
    img = Image.open(path).convert("RGB")
    if size:
        img = img.resize(size)
    buf = io.BytesIO()
    img.save(buf, format="JPEG")
    return buf.getvalue()


@pytest.mark.parametrize(
    "make",
    [
        lambda: INIT,
        lambda: str(INIT),
        INIT.read_bytes,
        lambda: base64.b64encode(INIT.read_bytes()).decode(),
        lambda: "data:image/png;base64," + base64.b64encode(INIT.read_bytes()).decode(),
        lambda: Image.open(INIT),
        lambda: open(INIT, "rb"),  # noqa: SIM115 - closed by the test
    ],
    ids=["path", "str-path", "bytes", "base64", "data-uri", "pil", "file"],
)
def test_every_input_kind_reaches_the_body_as_bare_base64(make: Any) -> None:
    capture = Capture()
    source = make()
    try:
        client_with(capture).img2img(init_images=source, prompt="p", mask=MASK)
    finally:
        if hasattr(source, "close"):
            source.close()
    body = capture.bodies[0]
    (init,) = body["init_images"]
    assert not init.startswith("data:")
    assert decode(init).size == (96, 64)
    assert decode(body["mask"]).size == (96, 64)


def test_mask_already_right_is_kept_grayscale_at_the_init_size() -> None:
    out = prepare_mask(load_image(MASK), load_image(INIT))
    img = Image.open(io.BytesIO(out.data))
    assert out.mime_type == "image/png"
    assert (img.mode, img.size) == ("L", (96, 64))
    assert img.getextrema() == (0, 255)


def test_mask_of_another_size_and_mode_is_converted() -> None:
    rgb_mask = Image.new("RGB", (300, 200), (0, 0, 0))
    rgb_mask.paste((255, 255, 255), (100, 50, 200, 150))
    jpeg_init = as_jpeg(INIT, (160, 120))
    out = prepare_mask(load_image(rgb_mask), load_image(jpeg_init))
    img = Image.open(io.BytesIO(out.data))
    assert (img.mode, img.size) == ("L", (160, 120))
    assert img.getpixel((80, 60)) == 255
    assert img.getpixel((5, 5)) == 0


def test_transparent_mask_becomes_strokes_on_black() -> None:
    out = prepare_mask(load_image(MASK_RGBA_SMALL), load_image(INIT))
    img = Image.open(io.BytesIO(out.data))
    assert (img.mode, img.size) == ("L", (96, 64))
    assert img.getpixel((48, 32)) == 255  # the painted stroke
    assert img.getpixel((2, 2)) == 0  # transparent: kept


def test_empty_mask_is_rejected_before_any_request() -> None:
    capture = Capture()
    with pytest.raises(ArliValidationError) as info:
        client_with(capture).img2img(init_images=INIT, prompt="p", mask=MASK_EMPTY)
    assert info.value.field == "mask"
    assert "the mask is empty" in str(info.value)
    assert capture.bodies == []


def test_inverted_masks() -> None:
    white = Image.new("L", (96, 64), 255)
    with pytest.raises(ArliValidationError, match="all white"):
        prepare_mask(load_image(white), load_image(INIT), invert=True)
    # all black is a full repaint when inverted: accepted
    assert prepare_mask(load_image(MASK_EMPTY), load_image(INIT), invert=True).data
    capture = Capture()
    client_with(capture).img2img(
        init_images=INIT, prompt="p", mask=MASK_EMPTY, inpainting_mask_invert=1, mask_blur=8
    )
    body = capture.bodies[0]
    assert body["inpainting_mask_invert"] == 1
    assert body["mask_blur"] == 8


def test_undecodable_mask_names_the_mask() -> None:
    broken = b"\x89PNG\r\n\x1a\n" + b"\x00" * 30
    with pytest.raises(ArliValidationError) as info:
        prepare_mask(load_image(broken), load_image(INIT))
    assert info.value.field == "image"
    assert "the mask could not be decoded" in str(info.value)


def test_without_pillow_a_mask_of_the_right_size_is_sent_as_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    mask = load_image(MASK)
    assert prepare_mask(mask, load_image(INIT)) is mask
    with pytest.raises(ArliValidationError) as info:
        prepare_mask(load_image(MASK_RGBA_SMALL), load_image(INIT))
    message = str(info.value)
    assert "needs Pillow" in message
    assert "arli-integrations[ocr]" in message
    assert "exactly 96x64 pixels (it is 48x32)" in message
    assert info.value.field == "mask"


def test_without_pillow_the_client_still_sends_a_right_sized_mask(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    capture = Capture()
    client_with(capture).img2img(init_images=INIT.read_bytes(), prompt="p", mask=MASK)
    body = capture.bodies[0]
    assert body["mask"] == base64.b64encode(MASK.read_bytes()).decode()
    assert (body["width"], body["height"]) == (96, 64)

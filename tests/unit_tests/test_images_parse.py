"""Image responses in every shape the servers emit, listings, infotexts, sizes, bomb guard."""

from __future__ import annotations

import base64
import io
import json
import struct
import sys
import zlib
from typing import Any

import pytest
from PIL import Image

from arli import ArliResponseError, ArliValidationError, GenerationInfo
from arli.images import (
    image_size,
    parse_image_response,
    parse_infotext,
    parse_models,
    parse_parallel_requests,
    parse_samplers,
    parse_upscalers,
)
from arli.images._pixels import open_image
from tests.helpers import WIRE


def load(name: str) -> Any:
    return json.loads((WIRE / name).read_text())


def encode(fmt: str, size: tuple[int, int] = (40, 30), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, (200, 10, 10) if mode == "RGB" else 128).save(buf, format=fmt)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- generation responses --------------------------------------------------------------------


def test_sdnext_txt2img_fixture_info_as_a_json_string() -> None:
    data = load("sd_txt2img_response.json")
    assert isinstance(data["info"], str)
    result = parse_image_response(data, requested_model="ignored-when-info-names-one")
    assert len(result) == 1
    image = result.image
    assert image.mime_type == "image/png"
    assert image.extension == "png"
    assert (image.width, image.height) == (1, 1)
    assert image.seed == 1234567890
    info = result.info
    assert info.seed == 1234567890
    assert info.all_seeds == [1234567890]
    assert info.subseed == 987654321
    assert (info.width, info.height) == (64, 64)
    assert info.sampler_name == "Euler a"
    assert info.steps == 4
    assert info.cfg_scale == 6.0
    assert info.sd_model_hash == "31e35c80fc"
    assert info.model == "sdxl-base"  # from the infotext
    assert result.model == "sdxl-base"
    assert info.raw["job_timestamp"] == "20260101120000"
    assert image.infotext is not None
    assert image.infotext.startswith("a red square\nSteps: 4")
    assert result.parameters["prompt"] == "a red square"
    assert result.parameters["seed"] == -1  # the echo, not the seed used
    assert result.image.to_pil().size == (1, 1)


def test_info_as_an_object_and_jpeg_images() -> None:
    jpeg = encode("JPEG", (64, 48))
    data = {
        "images": [b64(jpeg), b64(jpeg)],
        "info": {
            "prompt": "a sunset over mountains",
            "seed": 7,
            "all_seeds": [7, 8],
            "steps": 20,
            "cfg_scale": 7,
            "sampler_name": "euler",
            "width": 64,
            "height": 48,
        },
    }
    result = parse_image_response(data, requested_model="FLUX.2-klein-4B")
    assert [i.mime_type for i in result] == ["image/jpeg", "image/jpeg"]
    assert [i.extension for i in result] == ["jpg", "jpg"]
    assert result.seeds == [7, 8]
    assert result.model == "FLUX.2-klein-4B"  # the info names none: the requested one
    assert (result[1].width, result[1].height) == (64, 48)
    assert result.info.cfg_scale == 7.0
    assert result.parameters == {}
    text = str(result)
    assert text.startswith("Generated 2 images (64x48, seeds 7, 8, model FLUX.2-klein-4B")


def test_arli_upscale_img_shape() -> None:
    png = encode("PNG", (8, 6))
    data = {"images": [b64(png)], "info": {"upscaler": "ESRGAN_4x", "scale_factor": 4}}
    result = parse_image_response(data, operation="upscale")
    assert result.operation == "upscale"
    assert result.info.upscaler == "ESRGAN_4x"
    assert result.info.scale_factor == 4
    assert result.image.seed is None
    assert str(result) == "Upscaled 1 image (upscaler ESRGAN_4x, x4, now 8x6)."


def test_sdnext_extra_single_image_fixture_single_image_and_html_info() -> None:
    data = load("sd_extra_single_image_response.json")
    result = parse_image_response(data, operation="upscale")
    assert len(result) == 1
    assert result.mime_type == "image/png"
    assert (result.image.width, result.image.height) == (2, 2)
    info = result.info
    assert info.text == data["html_info"]
    assert info.upscaler == "Resize Lanczos"
    assert info.scale_factor == 2.0
    assert (info.width, info.height) == (2, 2)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP"])
def test_format_detected_from_magic_bytes_and_size_from_the_header(fmt: str) -> None:
    raw = encode(fmt, (37, 23))
    result = parse_image_response({"images": [f"data:image/whatever;base64,{b64(raw)}"]})
    image = result.image
    assert image.mime_type == Image.MIME[fmt]
    assert (image.width, image.height) == (37, 23)
    assert image.data == raw
    assert image.to_pil().size == (37, 23)


def test_webp_lossless_and_extended_headers() -> None:
    buf = io.BytesIO()
    Image.new("RGBA", (301, 17), (1, 2, 3, 4)).save(buf, format="WEBP", lossless=True)
    assert image_size(buf.getvalue()) == (301, 17)
    buf = io.BytesIO()
    Image.new("RGBA", (5, 9), (1, 2, 3, 100)).save(buf, format="WEBP", quality=50)
    assert image_size(buf.getvalue()) == (5, 9)


def test_progressive_jpeg_and_unknown_formats() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (120, 77)).save(buf, format="JPEG", progressive=True)
    assert image_size(buf.getvalue()) == (120, 77)
    assert image_size(encode("TIFF")) is None
    assert image_size(b"hello") is None
    assert image_size(b"\xff\xd8\xff\xe0\x00") is None


def test_grid_first_shifts_the_seeds() -> None:
    png = b64(encode("PNG", (4, 4)))
    info = {"seed": 10, "all_seeds": [10, 11], "index_of_first_image": 1, "infotexts": ["a", "b"]}
    result = parse_image_response({"images": [png, png, png], "info": json.dumps(info)})
    assert result.seeds == [None, 10, 11]
    assert [i.infotext for i in result] == [None, "a", "b"]


def test_send_images_false_gives_an_empty_result_only_when_asked() -> None:
    data = {"images": [], "info": "{}"}
    assert len(parse_image_response(data, allow_empty=True)) == 0
    with pytest.raises(ArliResponseError, match="holds no image"):
        parse_image_response(data)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([1, 2], "not a JSON object"),
        ({"images": [123]}, "not a base64 string"),
        ({"images": ["bm90IGFuIGltYWdl"]}, "not a recognized image format"),
        ({"images": [b64(b"%PDF-1.7 hello")]}, "not a recognized image format"),
        ({"info": "{}"}, "holds no image"),
        ({"html_info": "Size: 1x1"}, "holds no image: Size: 1x1"),
    ],
)
def test_unusable_responses(data: Any, match: str) -> None:
    with pytest.raises(ArliResponseError, match=match):
        parse_image_response(data)


def test_info_plain_text_and_broken_values_do_not_fail_the_result() -> None:
    png = b64(encode("PNG", (4, 4)))
    plain = parse_image_response({"images": [png], "info": "not json at all"})
    assert plain.info.text == "not json at all"
    broken = parse_image_response(
        {"images": [png], "info": {"seed": "abc", "steps": 12, "all_seeds": "x", "extra": 1}}
    )
    assert broken.info.seed is None
    assert broken.info.steps == 12
    assert broken.info.all_seeds == []
    assert broken.info.raw["seed"] == "abc"
    assert broken.info.extra == 1  # type: ignore[attr-defined]


def test_generation_info_from_raw_variants() -> None:
    as_text = GenerationInfo.from_raw('{"seed": 5, "all_seeds": [5]}')
    as_obj = GenerationInfo.from_raw({"seed": 5, "all_seeds": [5]})
    assert as_text.seed == as_obj.seed == 5
    assert GenerationInfo.from_raw(None).seed is None
    assert GenerationInfo.from_raw(b'{"steps": 3}').steps == 3


def test_infotext_parsing() -> None:
    text = (
        "a cat, highly detailed\nsecond line\nNegative prompt: ugly, blurry\n"
        "Steps: 20, Size: 512x768, Sampler: DPM++ 2M, Seed: 7, CFG scale: 6.5, "
        'Model: sdxl-base, Lora hashes: "a: 1, b: 2", App: SD.Next'
    )
    params = parse_infotext(text)
    assert params["Prompt"] == "a cat, highly detailed\nsecond line"
    assert params["Negative prompt"] == "ugly, blurry"
    assert params["Steps"] == "20"
    assert params["Size"] == "512x768"
    assert params["Sampler"] == "DPM++ 2M"
    assert params["Lora hashes"] == "a: 1, b: 2"
    assert params["App"] == "SD.Next"
    info = GenerationInfo.from_raw({"infotexts": [text]})
    assert (info.width, info.height, info.seed, info.steps) == (512, 768, 7, 20)
    assert info.sampler_name == "DPM++ 2M"
    assert info.cfg_scale == 6.5
    assert info.model == "sdxl-base"
    assert parse_infotext("just a prompt") == {"Prompt": "just a prompt"}


# -- listings --------------------------------------------------------------------------------


def test_sd_models_as_objects_fixture() -> None:
    models = parse_models(load("sd_models.json"))
    assert [m.name for m in models] == ["sdxl-base", "FLUX.1-dev"]
    assert models[0].title == "sdxl/sdxl-base [31e35c80fc]"
    assert models[0].hash == "31e35c80fc"
    assert models[1].hash is None
    assert models[1].type == "diffusers"


def test_sd_models_as_names_and_as_arlis_short_objects() -> None:
    names = parse_models(["FLUX.2-klein-4B", "SDXL-zukiBestAnimeMix"])
    assert [(m.title, m.model_name) for m in names] == [
        ("FLUX.2-klein-4B", "FLUX.2-klein-4B"),
        ("SDXL-zukiBestAnimeMix", "SDXL-zukiBestAnimeMix"),
    ]
    short = parse_models([{"title": "LUMINA-Turbo", "model_name": "LUMINA-Turbo"}])
    assert short[0].name == "LUMINA-Turbo"
    titled = parse_models([{"title": "sd15/thing [abc]"}, {"name": "n"}, {}, 3])
    assert [m.name for m in titled] == ["sd15/thing", "n"]
    wrapped = parse_models({"data": ["a"]})
    assert wrapped[0].name == "a"
    with pytest.raises(ArliResponseError, match="not a list"):
        parse_models({"nope": 1})


def test_samplers_upscalers_and_parallel_requests() -> None:
    samplers = parse_samplers(load("sd_samplers.json"))
    assert [s.name for s in samplers] == ["UniPC", "DDIM", "Euler", "Euler a"]
    assert samplers[0].options["solver_order"] == 2
    assert samplers[0].aliases == []
    a1111 = parse_samplers([{"name": "Euler a", "aliases": ["k_euler_a"], "options": {}}, "DDIM"])
    assert a1111[0].aliases == ["k_euler_a"]
    assert a1111[1].name == "DDIM"
    upscalers = parse_upscalers(load("sd_upscalers.json"))
    assert [u.name for u in upscalers] == ["None", "Resize Lanczos", "ESRGAN 4x Ultrasharp"]
    assert upscalers[2].scale == 4.0
    assert parse_upscalers([{"name": "R-ESRGAN 4x+", "scale": 4.0}, "Nearest"])[1].name == "Nearest"
    limit = parse_parallel_requests(
        {"parallel_requests": 6, "remaining": 5, "message": "You can run up to 6"}
    )
    assert (limit.parallel_requests, limit.remaining) == (6, 5)
    with pytest.raises(ArliResponseError):
        parse_parallel_requests({"detail": "Not Found"})


# -- decompression-bomb guard and lazy Pillow -------------------------------------------------


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


def test_bomb_is_refused_before_decoding() -> None:
    bomb = _png_header(100_000, 100_000) + b"\x00" * 32
    result = parse_image_response({"images": [b64(bomb)]})
    assert (result.image.width, result.image.height) == (100_000, 100_000)
    with pytest.raises(ArliResponseError, match="decompression-bomb guard"):
        result.image.to_pil()
    with pytest.raises(ArliValidationError, match="decompression-bomb guard"):
        open_image(bomb, user_input=True)


def test_pixel_cap_applies_to_formats_without_a_header_parser() -> None:
    tiff = encode("TIFF", (50, 50))
    with pytest.raises(ArliResponseError, match="2500 pixels"):
        open_image(tiff, max_pixels=100)
    assert open_image(tiff).size == (50, 50)
    with pytest.raises(ArliResponseError, match="could not be decoded"):
        open_image(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)


def test_max_pixels_is_carried_to_the_images() -> None:
    png = b64(encode("PNG", (20, 20)))
    result = parse_image_response({"images": [png]}, max_pixels=100)
    with pytest.raises(ArliResponseError, match="400 pixels"):
        result.to_pil()


def test_to_pil_without_pillow_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    result = parse_image_response({"images": [b64(encode("PNG", (2, 2)))]})
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"arli-integrations\[ocr\]"):
        result.to_pil()
    # Everything else works without Pillow.
    assert result.image.width == 2
    assert result.data.startswith(b"\x89PNG")
    assert result.image.data_uri().startswith("data:image/png;base64,")


def test_reprs_hold_no_image_bytes() -> None:
    result = parse_image_response({"images": [b64(encode("PNG", (3, 3)))], "info": {"seed": 1}})
    text = repr(result)
    assert "GeneratedImage(image/png, 3x3" in text
    assert "iVBOR" not in text
    assert "\\x89PNG" not in text

"""The image modules were split by concern; every public name stays where users import it.

``arli.images.models`` and ``arli.images.aiart`` keep exporting what they exported before
the split (the same objects as their new homes), and ``arli.images`` / ``arli`` still
re-export the names they did.
"""

from __future__ import annotations

import importlib

import pytest

import arli
import arli.images

#: What ``arli.images.models`` exported before the split, and the module each name lives in.
MODELS_NAMES: dict[str, str] = {
    "DEFAULT_UPSCALER": "request_models",
    "GenerationRequest": "request_models",
    "Txt2ImgRequest": "request_models",
    "Img2ImgRequest": "request_models",
    "UpscaleRequest": "request_models",
    "describe_validation_error": "request_models",
    "GenerationInfo": "info",
    "parse_infotext": "info",
    "ImageModel": "listings",
    "Sampler": "listings",
    "Upscaler": "listings",
    "ParallelRequests": "listings",
    "parse_models": "listings",
    "parse_samplers": "listings",
    "parse_upscalers": "listings",
    "parse_parallel_requests": "listings",
    "GeneratedImage": "results",
    "ImageResult": "results",
    "Operation": "results",
    "parse_image_response": "results",
    "safe_filename": "results",
}

#: What ``arli.images.aiart`` exported before the split (plus ``AIART_MAX_SEED``, which
#: tests and the tool contract import from it), and the module each name lives in.
AIART_NAMES: dict[str, str] = {
    "AIART_ASPECT_RATIOS": "aiart_requests",
    "AIART_BASE_URL": "aiart_requests",
    "AIART_MAX_SEED": "aiart_requests",
    "AIART_MAX_UPLOAD_BYTES": "aiart_requests",
    "AIART_OUTPUT_FORMATS": "aiart_requests",
    "AIART_STYLE_PRESETS": "aiart_requests",
    "AiArtAspectRatio": "aiart_requests",
    "AiArtGenerateRequest": "aiart_requests",
    "AiArtImg2ImgRequest": "aiart_requests",
    "AiArtImg2VideoRequest": "aiart_requests",
    "AiArtOutputFormat": "aiart_requests",
    "AiArtStylePreset": "aiart_requests",
    "nearest_aspect_ratio": "aiart_requests",
    "VideoResult": "aiart_video",
    "VideoStatus": "aiart_video",
    "sniff_video": "aiart_video",
    "AiArtClient": "aiart",
    "GenerationTimeoutError": "aiart",
}


@pytest.mark.parametrize(
    ("old", "names"), [("models", MODELS_NAMES), ("aiart", AIART_NAMES)], ids=["models", "aiart"]
)
def test_the_old_modules_export_every_name_they_did(old: str, names: dict[str, str]) -> None:
    module = importlib.import_module(f"arli.images.{old}")
    missing = sorted(set(names) - set(module.__all__))
    assert missing == [], f"arli.images.{old}.__all__ lost {missing}"
    for name, home in names.items():
        new = importlib.import_module(f"arli.images.{home}")
        assert getattr(module, name) is getattr(new, name), f"{old}.{name} is not {home}.{name}"


def test_the_packages_still_re_export_the_image_names() -> None:
    for name in ("ImageResult", "GeneratedImage", "Txt2ImgRequest", "parse_image_response"):
        assert getattr(arli.images, name) is getattr(arli.images.models, name)
    for name in ("AiArtClient", "VideoResult", "VideoStatus"):
        assert getattr(arli.images, name) is getattr(arli.images.aiart, name)
    for name in ("ImageResult", "Txt2ImgRequest", "AiArtClient", "VideoResult"):
        assert getattr(arli, name) is getattr(arli.images, name)


def test_the_split_modules_stay_small() -> None:
    """Issue 13's shape: no image module over about 700 lines."""
    for name in ("models", "request_models", "listings", "info", "results", "aiart"):
        module = importlib.import_module(f"arli.images.{name}")
        assert module.__file__ is not None
        with open(module.__file__, encoding="utf-8") as fh:
            lines = sum(1 for _ in fh)
        assert lines <= 700, f"arli/images/{name}.py has {lines} lines"

"""AiArt's request models and documented values: presets, aspect ratios, formats, ranges.

Every value is checked before anything is sent, naming the field and what is allowed
(``style_preset='vaporwave' is not allowed: allowed 3d-model, analog-film, ...``).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from arli._errors import ArliValidationError
from arli._transport import Multipart
from arli.images.request_models import _short_repr
from arli.media import ImageData

__all__ = [
    "AIART_ASPECT_RATIOS",
    "AIART_BASE_URL",
    "AIART_MAX_SEED",
    "AIART_MAX_UPLOAD_BYTES",
    "AIART_OUTPUT_FORMATS",
    "AIART_STYLE_PRESETS",
    "AiArtAspectRatio",
    "AiArtGenerateRequest",
    "AiArtImg2ImgRequest",
    "AiArtImg2VideoRequest",
    "AiArtOutputFormat",
    "AiArtStylePreset",
    "nearest_aspect_ratio",
]
# The helpers of the client (check_upload, multipart, relabelled_load_errors, request_of)
# are imported by name; what is in __all__ is re-exported by arli.images.aiart as it is.

AIART_BASE_URL = "https://aiart-zroo.onrender.com"

AiArtStylePreset = Literal[
    "3d-model",
    "analog-film",
    "anime",
    "cinematic",
    "digital-art",
    "enhance",
    "fantasy-art",
    "isometric",
    "line-art",
    "low-poly",
    "modeling-compound",
    "neon-punk",
    "origami",
    "photographic",
    "pixel-art",
    "tile-texture",
]
"""The documented ``style_preset`` values."""

AiArtAspectRatio = Literal["1:1", "4:3", "16:9", "9:16", "3:4"]
"""The aspect ratios AiArt supports (``16:9`` is the default of generate, ``1:1`` of img2img)."""

AiArtOutputFormat = Literal["png", "jpg", "webp"]
"""The output formats AiArt supports (default ``png``)."""

AIART_STYLE_PRESETS: tuple[str, ...] = get_args(AiArtStylePreset)
AIART_ASPECT_RATIOS: tuple[str, ...] = get_args(AiArtAspectRatio)
AIART_OUTPUT_FORMATS: tuple[str, ...] = get_args(AiArtOutputFormat)

#: The documented upload limit ("Maximum file size: 10MB").
AIART_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: The largest seed (Stability AI's limit; AiArt forwards seeds to Stability's models).
AIART_MAX_SEED = 4294967294
_UPLOAD_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
_UPLOAD_ALLOWED = "JPG, PNG, WEBP"
_READ_CAP = 64 * 2**20  # read at most this much of an upload before refusing it
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,200}$")

_CHOICES: dict[str, tuple[str, ...]] = {
    "style_preset": AIART_STYLE_PRESETS,
    "aspect_ratio": AIART_ASPECT_RATIOS,
    "output_format": AIART_OUTPUT_FORMATS,
}
_RANGES: dict[str, str] = {
    "strength": "0..1",
    "cfg_scale": "0..10",
    "motion_bucket_id": "1..255",
    "seed": f"0 (random) .. {AIART_MAX_SEED}",
}
_RANGE_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})


def nearest_aspect_ratio(width: int, height: int) -> str:
    """The AiArt aspect ratio closest to ``width`` x ``height`` (``"1:1"`` for a bad size)."""
    if width <= 0 or height <= 0:
        return "1:1"
    target = math.log(width / height)

    def distance(ratio: str) -> float:
        a, _, b = ratio.partition(":")
        return abs(math.log(float(a) / float(b)) - target)

    return min(AIART_ASPECT_RATIOS, key=distance)


# -- requests ---------------------------------------------------------------------------------


def _describe(exc: ValidationError, model: type[BaseModel]) -> ArliValidationError:
    """An :class:`ArliValidationError` naming the field and what AiArt allows."""
    parts: list[str] = []
    first: tuple[str, str | None] | None = None
    names = ", ".join(model.model_fields)
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err.get("loc", ())]
        name = loc[0] if loc else "request"
        value = err.get("input")
        kind = err.get("type", "")
        allowed: str | None = None
        if kind == "literal_error" and name in _CHOICES:
            allowed = ", ".join(_CHOICES[name])
            text = f"{name}={value!r} is not allowed: allowed {allowed}"
        elif kind in _RANGE_ERRORS and name in _RANGES:
            allowed = _RANGES[name]
            text = f"{name}={value!r} is out of range: allowed {allowed}"
        elif kind == "missing":
            text = f"{name} is required"
        elif kind == "extra_forbidden":
            allowed = names
            text = f"{name} is not a parameter of this AiArt request: allowed {names}"
        elif kind == "string_too_short":
            text = f"{name} is empty"
        else:
            shown = _short_repr(value)
            allowed = _RANGES.get(name) or (", ".join(_CHOICES[name]) if name in _CHOICES else None)
            text = f"{name}={shown} is not valid: {err.get('msg', 'invalid value')}"
            if allowed:
                text += f" (allowed {allowed})"
        parts.append(text)
        if first is None:
            first = (name, allowed)
    name, allowed = first or ("request", None)
    return ArliValidationError("; ".join(parts), field=name, allowed=allowed)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class _AiArtRequest(BaseModel):
    """Validation errors as :class:`ArliValidationError`; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _describe(exc, type(self)) from None

    def form_fields(self) -> dict[str, str]:
        """The fields that are set, as ``multipart/form-data`` text values."""
        out: dict[str, str] = {}
        for name, value in self.model_dump(exclude_none=True).items():
            out[name] = _num(value) if isinstance(value, (int, float)) else str(value)
        return out


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        msg = "a number is expected, not a boolean"
        raise ValueError(msg)
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        msg = "the prompt is blank"
        raise ValueError(msg)
    return value


class AiArtGenerateRequest(_AiArtRequest):
    """``POST /api/generate`` (the prompt is sent as ``video_description``).

    Attributes:
        prompt: what the image shows (required, not empty).
        negative_prompt: what it must not show.
        style_preset: one of :data:`AIART_STYLE_PRESETS`.
        aspect_ratio: one of :data:`AIART_ASPECT_RATIOS` (server default ``16:9``).
        output_format: ``png`` (server default), ``jpg`` or ``webp``.
        seed: ``0`` for random (the server default), else 1..4294967294.
    """

    prompt: str = Field(min_length=1)
    negative_prompt: str | None = None
    style_preset: AiArtStylePreset | None = None
    aspect_ratio: AiArtAspectRatio | None = None
    output_format: AiArtOutputFormat | None = None
    seed: int | None = Field(default=None, ge=0, le=AIART_MAX_SEED)

    _checks = field_validator("seed", mode="before")(_no_bool)
    _not_blank = field_validator("prompt")(_not_blank)

    def wire(self) -> dict[str, Any]:
        """The JSON body: ``video_description`` plus every other field that is set."""
        body = self.model_dump(exclude_none=True)
        return {"video_description": body.pop("prompt"), **body}


class AiArtImg2ImgRequest(_AiArtRequest):
    """The text fields of ``POST /api/img2img`` (the image is uploaded beside them).

    Attributes:
        prompt: how to transform the image (required, not empty).
        negative_prompt: what the result must not show.
        strength: how much to change, 0..1 (server default 0.7).
        style_preset: one of :data:`AIART_STYLE_PRESETS`.
        aspect_ratio: one of :data:`AIART_ASPECT_RATIOS` (server default ``1:1``).
        output_format: ``png`` (server default), ``jpg`` or ``webp``.
        seed: ``0`` for random (the server default), else 1..4294967294.
    """

    prompt: str = Field(min_length=1)
    negative_prompt: str | None = None
    strength: float | None = Field(default=None, ge=0, le=1)
    style_preset: AiArtStylePreset | None = None
    aspect_ratio: AiArtAspectRatio | None = None
    output_format: AiArtOutputFormat | None = None
    seed: int | None = Field(default=None, ge=0, le=AIART_MAX_SEED)

    _checks = field_validator("seed", "strength", mode="before")(_no_bool)
    _not_blank = field_validator("prompt")(_not_blank)


class AiArtImg2VideoRequest(_AiArtRequest):
    """The text fields of ``POST /api/img2video`` (the image is uploaded beside them).

    Attributes:
        seed: ``0`` for random (the server default), else 1..4294967294.
        cfg_scale: how closely the video follows the image, 0..10 (server default 1.5).
        motion_bucket_id: amount of motion, 1..255 (server default 127).
    """

    seed: int | None = Field(default=None, ge=0, le=AIART_MAX_SEED)
    cfg_scale: float | None = Field(default=None, ge=0, le=10)
    motion_bucket_id: int | None = Field(default=None, ge=1, le=255)

    _checks = field_validator("seed", "cfg_scale", "motion_bucket_id", mode="before")(_no_bool)


_Request = TypeVar("_Request", bound=_AiArtRequest)


def request_of(model: type[_Request], arguments: Mapping[str, Any]) -> _Request:
    """The checked request ``model`` of a client call, from that call's arguments.

    The client methods take the request's fields as their own arguments (so type checkers
    and ``help()`` show them); the fields are the model's, read here by name, not listed a
    second time. Other arguments (``self``, ``image``, ``timeout``...) are left out.
    """
    return model(**{name: arguments[name] for name in model.model_fields})


# -- uploads ----------------------------------------------------------------------------------


def check_upload(image: ImageData) -> ImageData:
    """Check an upload as AiArt would: JPG, PNG or WEBP, at most 10 MB.

    Raises:
        ArliValidationError: naming the allowed types (the server's 415) or the size
            limit (the server's 413).
    """
    if image.mime_type not in _UPLOAD_TYPES:
        got = image.mime_type.split("/")[-1].upper()
        msg = (
            f"image: {image.source} is {got}; AiArt accepts JPG, PNG and WEBP images only "
            "(the server answers 415 Unsupported Media Type): convert it first"
        )
        raise ArliValidationError(msg, field="image", allowed=_UPLOAD_ALLOWED)
    if len(image.data) > AIART_MAX_UPLOAD_BYTES:
        msg = (
            f"image: {image.source} is {len(image.data)} bytes, more than AiArt's 10 MB "
            f"limit ({AIART_MAX_UPLOAD_BYTES} bytes; the server answers 413 Payload Too "
            "Large): downscale or recompress it"
        )
        raise ArliValidationError(msg, field="image", allowed="<= 10 MB")
    return image


def _relabel(exc: ArliValidationError) -> ArliValidationError:
    """Restate a loading error in AiArt's terms (its types, its size limit)."""
    text = str(exc)
    if exc.allowed and exc.allowed.endswith(" bytes"):  # not the pixel cap
        msg = f"{text.split(';', maxsplit=1)[0]}; AiArt accepts uploads of at most 10 MB"
        return ArliValidationError(msg, field="image", allowed="<= 10 MB")
    if exc.allowed == "PNG, JPEG, WEBP, GIF, BMP, TIFF":
        msg = text.split("; supported formats", maxsplit=1)[0] + "; AiArt accepts JPG, PNG and WEBP"
        return ArliValidationError(msg, field="image", allowed=_UPLOAD_ALLOWED)
    return exc


@contextmanager
def relabelled_load_errors() -> Iterator[None]:
    """Restate an image loading error raised inside the block in AiArt's terms."""
    try:
        yield
    except ArliValidationError as exc:
        raise _relabel(exc) from None


def multipart(fields: Mapping[str, str], image: ImageData) -> tuple[Multipart, dict[str, str]]:
    """The multipart body and its ``Content-Type`` header.

    The boundary is derived from the content, so the same request always has the same
    bytes (recorded cassettes replay; a retry sends the same body).
    """
    digest = hashlib.sha256()
    for name, value in sorted(fields.items()):
        digest.update(f"{name}={value}\n".encode())
    digest.update(image.data)
    boundary = f"arli-{digest.hexdigest()[:32]}"
    ext = _UPLOAD_TYPES[image.mime_type]
    body = Multipart(
        data=dict(fields), files={"image": (f"image.{ext}", image.data, image.mime_type)}
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}

"""Typed requests and results of the Arli image API (SDNext behind Arli's gateway).

Requests (:class:`Txt2ImgRequest`, :class:`Img2ImgRequest`, :class:`UpscaleRequest`) check
the documented ranges before anything is sent, and raise
:class:`~arli.ArliValidationError` naming the field and what is allowed
(``steps=200 is out of range: allowed 1..150``). Fields left unset are not sent, so the
server's own defaults apply; any other SDNext field (``override_settings``,
``detailer_*``, ``hr_*``, ``script_args``...) passes through unchanged.

Results are parsed from every shape the servers emit (see :func:`parse_image_response`):
``images`` (a list) or a single ``image``; ``info`` as a JSON string (SDNext), an object
(Arli's ``/v1/upscale-img``) or plain text (``html_info``). Image bytes are decoded once
and their format detected from magic bytes: SDNext answers with JPEG by default.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from arli._errors import ArliResponseError, ArliValidationError
from arli.images._pixels import DEFAULT_MAX_PIXELS, image_size, open_image
from arli.media import sniff_mime

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "DEFAULT_UPSCALER",
    "GeneratedImage",
    "GenerationInfo",
    "GenerationRequest",
    "ImageModel",
    "ImageResult",
    "Img2ImgRequest",
    "Operation",
    "ParallelRequests",
    "Sampler",
    "Txt2ImgRequest",
    "UpscaleRequest",
    "Upscaler",
    "describe_validation_error",
    "parse_infotext",
    "parse_image_response",
    "parse_models",
    "parse_parallel_requests",
    "parse_samplers",
    "parse_upscalers",
    "safe_filename",
]

Operation = Literal["txt2img", "img2img", "upscale"]
"""What produced an :class:`ImageResult`."""

_SEED_ALLOWED = "-1 (random) or an integer >= 0"
#: The upscaler used when a request names none: the default of Arli's ``/v1/upscale-img``
#: (seed 002: "Default: ESRGAN_4x", "Only upscaler available"). SDNext's own default
#: (``"None"``, seed 001) returns the image unchanged, which no upscale call wants.
DEFAULT_UPSCALER = "ESRGAN_4x"


# -- validation errors ---------------------------------------------------------------------


def _fmt_num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _allowed(model: type[BaseModel], name: str) -> str | None:
    """A short text of what a field allows (``"1..150"``, ``">= 0"``), from its constraints."""
    if name in ("seed", "subseed"):
        return _SEED_ALLOWED
    info = model.model_fields.get(name)
    if info is None:
        for candidate in model.model_fields.values():
            if candidate.alias == name:
                info = candidate
    lo = hi = None
    lo_op, hi_op = ">=", "<="
    for meta in info.metadata if info is not None else ():
        if getattr(meta, "ge", None) is not None:
            lo, lo_op = meta.ge, ">="
        elif getattr(meta, "gt", None) is not None:
            lo, lo_op = meta.gt, ">"
        if getattr(meta, "le", None) is not None:
            hi, hi_op = meta.le, "<="
        elif getattr(meta, "lt", None) is not None:
            hi, hi_op = meta.lt, "<"
    if lo is not None and hi is not None and lo_op == ">=" and hi_op == "<=":
        return f"{_fmt_num(lo)}..{_fmt_num(hi)}"
    bounds = []
    if lo is not None:
        bounds.append(f"{lo_op} {_fmt_num(lo)}")
    if hi is not None:
        bounds.append(f"{hi_op} {_fmt_num(hi)}")
    return " and ".join(bounds) or None


_RANGE_ERRORS = frozenset(
    {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "seed_range"}
)


def describe_validation_error(exc: ValidationError, model: type[BaseModel]) -> ArliValidationError:
    """Turn a pydantic error into an :class:`~arli.ArliValidationError` naming field and range.

    Args:
        exc: the pydantic error.
        model: the model that raised it (its field constraints give the allowed range).
    """
    parts: list[str] = []
    first_field: str | None = None
    first_allowed: str | None = None
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err.get("loc", ())]
        name = loc[0] if loc else "request"
        label = name + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc[1:])
        allowed = _allowed(model, name)
        value = err.get("input")
        kind = err.get("type", "")
        if kind in _RANGE_ERRORS:
            text = f"{label}={value!r} is out of range: allowed {allowed or err.get('msg')}"
        elif kind == "missing":
            text = f"{label} is required"
        else:
            shown = repr(value)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            text = f"{label}={shown} is not valid: {err.get('msg', 'invalid value')}"
            if allowed:
                text += f" (allowed {allowed})"
        parts.append(text)
        if first_field is None:
            first_field, first_allowed = name, allowed
    return ArliValidationError("; ".join(parts), field=first_field, allowed=first_allowed)


# -- requests ------------------------------------------------------------------------------


class _Request(BaseModel):
    """Common behaviour: errors as ArliValidationError, unset fields not sent, extras kept."""

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        arbitrary_types_allowed=True,
        protected_namespaces=(),
        validate_default=False,
    )

    #: Fields that hold image inputs (loaded by the client, not sent as they are).
    image_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise describe_validation_error(exc, type(self)) from None

    @classmethod
    def build(cls, request: Any = None, /, **params: Any) -> Any:
        """Return ``request`` as this model, updated with ``params`` (validated).

        Args:
            request: an instance, a mapping of fields, or ``None``.
            **params: fields to set (they win over ``request``'s).
        """
        if request is None:
            return cls(**params)
        if isinstance(request, cls):
            if not params:
                return request
            base = request.model_dump(exclude_unset=True)
            return cls(**{**base, **params})
        if isinstance(request, Mapping):
            return cls(**{**request, **params})
        msg = f"expected a {cls.__name__} or a mapping of its fields, got {type(request).__name__}"
        raise ArliValidationError(msg, field="request")

    def wire_fields(self) -> dict[str, Any]:
        """The JSON fields to send: every field that is set and not ``None``, images excluded."""
        body = self.model_dump(exclude_none=True, exclude=set(self.image_fields), by_alias=False)
        return {k: v for k, v in body.items() if v is not None}


def _check_seed(value: int | None) -> int | None:
    if value is not None and value < -1:
        raise PydanticCustomError("seed_range", "seed must be -1 (random) or >= 0")
    return value


class GenerationRequest(_Request):
    """Fields shared by txt2img and img2img (ranges from Arli's API reference).

    Any other SDNext field (``override_settings``, ``detailer_*``, ``hr_*``, ``styles``,
    ``script_args``, ``alwayson_scripts``...) may be passed and is sent unchanged.

    Attributes:
        prompt: what to draw.
        negative_prompt: what to avoid.
        sd_model_checkpoint: the model (alias ``model``); a name from ``list_models()``.
            Sent per request (also inside ``override_settings``), never as a global switch.
        steps: denoising steps, 1..150.
        width: output width in pixels, 64..2048.
        height: output height in pixels, 64..2048.
        cfg_scale: classifier-free guidance, 1..20.
        batch_size: images per request, 1..4.
        n_iter: sequential batches (>= 1).
        seed: ``-1`` for random, or >= 0.
        subseed: variation seed, ``-1`` or >= 0.
        subseed_strength: variation strength, 0..1.
        sampler_name: an SDNext sampler name from ``list_samplers()`` (``"Euler a"``...).
        denoising_strength: how much to change, 0..1 (img2img; hires fix for txt2img).
        override_settings: per-request SDNext option overrides.
        override_settings_restore_afterwards: restore the overridden options afterwards.
        send_images: return the images (default true on the server).
    """

    prompt: str
    negative_prompt: str | None = None
    sd_model_checkpoint: str | None = Field(default=None, alias="model")
    steps: int | None = Field(default=None, ge=1, le=150)
    width: int | None = Field(default=None, ge=64, le=2048)
    height: int | None = Field(default=None, ge=64, le=2048)
    cfg_scale: float | None = Field(default=None, ge=1, le=20)
    batch_size: int | None = Field(default=None, ge=1, le=4)
    n_iter: int | None = Field(default=None, ge=1)
    seed: int | None = None
    subseed: int | None = None
    subseed_strength: float | None = Field(default=None, ge=0, le=1)
    sampler_name: str | None = None
    denoising_strength: float | None = Field(default=None, ge=0, le=1)
    override_settings: dict[str, Any] | None = None
    override_settings_restore_afterwards: bool | None = None
    send_images: bool | None = None

    _seed = field_validator("seed", "subseed")(_check_seed)

    @property
    def model(self) -> str | None:
        """The requested model: ``sd_model_checkpoint`` or ``override_settings``'s."""
        if self.sd_model_checkpoint:
            return self.sd_model_checkpoint
        override = self.override_settings or {}
        value = override.get("sd_model_checkpoint")
        return str(value) if value else None


class Txt2ImgRequest(GenerationRequest):
    """A text-to-image request (``POST /v1/txt2img`` or ``/sdapi/v1/txt2img``).

    Example:
        .. code-block:: python

            Txt2ImgRequest(prompt="a lighthouse at dusk", steps=20, width=768, height=512,
                           model="FLUX.2-klein-4B", enable_hr=True, hr_scale=1.5)
    """


class Img2ImgRequest(GenerationRequest):
    """An image-to-image or inpainting request (``POST /v1/img2img``).

    ``init_images`` and ``mask`` accept any image input: a path, bytes, base64 text, a
    ``data:`` URI, a PIL image, an open binary file or an http(s) URL. The client loads
    them after the other fields are validated; the mask is converted to grayscale at the
    first init image's size, and a mask with nothing to repaint is rejected.

    Attributes:
        init_images: the source image(s) (one value or a list; at least one).
        mask: inpainting mask; white marks the area to repaint (black is kept), unless
            ``inpainting_mask_invert=1``.
        mask_blur: blur radius of the mask edge in pixels (>= 0).
        inpainting_fill: what fills the masked area first (0 fill, 1 original, 2 latent
            noise, 3 latent nothing).
        inpaint_full_res: repaint the masked area at full resolution.
        inpaint_full_res_padding: padding around the masked area in pixels (>= 0).
        inpainting_mask_invert: 1 to repaint the black area instead.
        resize_mode: how the init image is fitted to ``width``/``height`` (>= 0).
        scale_by: output size as a factor of the init image when no size is given.
        include_init_images: echo the init images back in ``parameters``.
    """

    image_fields: ClassVar[tuple[str, ...]] = ("init_images", "mask")

    init_images: list[Any] = Field(min_length=1)
    mask: Any | None = None
    mask_blur: int | None = Field(default=None, ge=0)
    inpainting_fill: int | None = Field(default=None, ge=0, le=3)
    inpaint_full_res: bool | None = None
    inpaint_full_res_padding: int | None = Field(default=None, ge=0)
    inpainting_mask_invert: int | None = Field(default=None, ge=0, le=1)
    resize_mode: int | None = Field(default=None, ge=0)
    scale_by: float | None = Field(default=None, gt=0)
    include_init_images: bool | None = None

    @field_validator("init_images", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        if value is None or isinstance(value, list):
            return value
        if isinstance(value, tuple):
            return list(value)
        return [value]


class UpscaleRequest(_Request):
    """An upscale request: ``POST /v1/upscale-img`` or ``/sdapi/v1/extra-single-image``.

    Attributes:
        image: the image to upscale (any image input, as for ``init_images``).
        upscaler_1: an upscaler name from ``list_upscalers()``; default
            :data:`DEFAULT_UPSCALER` (``"ESRGAN_4x"``, always sent).
        upscaler_2: a second upscaler blended in (extra-single-image only).
        upscaling_resize: scale factor, 1..8.
        resize_mode: 0 scales by ``upscaling_resize``; 1 scales to
            ``upscaling_resize_w`` x ``upscaling_resize_h``.
        upscaling_resize_w: target width for ``resize_mode=1`` (>= 1).
        upscaling_resize_h: target height for ``resize_mode=1`` (>= 1).
        upscaling_crop: crop to fit the target size.
        extras_upscaler_2_visibility: weight of ``upscaler_2``, 0..1.
    """

    image_fields: ClassVar[tuple[str, ...]] = ("image",)
    #: Fields only ``/sdapi/v1/extra-single-image`` understands.
    extra_only_fields: ClassVar[frozenset[str]] = frozenset(
        {
            "upscaler_2",
            "resize_mode",
            "upscaling_resize_w",
            "upscaling_resize_h",
            "upscaling_crop",
            "extras_upscaler_2_visibility",
            "show_extras_results",
        }
    )

    image: Any
    upscaler_1: str = Field(default=DEFAULT_UPSCALER, min_length=1)
    upscaler_2: str | None = None
    upscaling_resize: float | None = Field(default=None, ge=1, le=8)
    resize_mode: int | None = Field(default=None, ge=0, le=1)
    upscaling_resize_w: int | None = Field(default=None, ge=1)
    upscaling_resize_h: int | None = Field(default=None, ge=1)
    upscaling_crop: bool | None = None
    extras_upscaler_2_visibility: float | None = Field(default=None, ge=0, le=1)
    show_extras_results: bool | None = None

    def __init__(self, /, **data: Any) -> None:
        super().__init__(**data)
        if self.resize_mode == 1 and (
            self.upscaling_resize_w is None or self.upscaling_resize_h is None
        ):
            msg = "resize_mode=1 needs upscaling_resize_w and upscaling_resize_h (the target size)"
            raise ArliValidationError(msg, field="upscaling_resize_w", allowed=">= 1")

    def needs_extra_single_image(self) -> bool:
        """True when a field is set that only ``/sdapi/v1/extra-single-image`` supports."""
        wire = self.wire_fields()
        return any(k in self.extra_only_fields or k not in type(self).model_fields for k in wire)


# -- listings ------------------------------------------------------------------------------


class _Listed(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=(), frozen=True)


class ImageModel(_Listed):
    """An image model (checkpoint) from ``sd-models``.

    The server answers with objects (``{title, model_name, hash, ...}``) or, on Arli's
    gateway, with bare names; both become this type.

    Attributes:
        title: the SDNext title (``"sdxl/sdxl-base [31e35c80fc]"``) or the name.
        model_name: the short name (use it as ``model``).
        hash: the short hash, when known.
        sha256: the full hash, when known.
        filename: the server-side file, when given.
        type: ``safetensors``, ``diffusers``..., when given.
    """

    title: str
    model_name: str
    hash: str | None = None
    sha256: str | None = None
    filename: str | None = None
    type: str | None = None

    @property
    def name(self) -> str:
        """The name to pass as ``model`` (``model_name``)."""
        return self.model_name or self.title


class Sampler(_Listed):
    """A sampler from ``samplers`` (SDNext: ``{name, options}``; A1111 adds ``aliases``)."""

    name: str
    aliases: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)


class Upscaler(_Listed):
    """An upscaler from ``upscalers`` (``{name, model_name, model_path, model_url, scale}``)."""

    name: str
    model_name: str | None = None
    model_path: str | None = None
    model_url: str | None = None
    scale: float | None = None


class ParallelRequests(_Listed):
    """Arli's ``/v1/parallel-requests``: the key's parallel limit and what is free now.

    Attributes:
        parallel_requests: how many image requests may run at once.
        remaining: how many more may start now (at the time of the call).
        message: the server's text.
    """

    parallel_requests: int = Field(ge=1)
    remaining: int | None = None
    message: str | None = None


def _as_list(data: Any, what: str) -> list[Any]:
    if isinstance(data, dict):
        for key in ("data", "models", "items", what):
            if isinstance(data.get(key), list):
                return list(data[key])
    if isinstance(data, list):
        return data
    msg = f"the {what} listing is not a list: {json.dumps(data)[:200]}"
    raise ArliResponseError(msg, body=json.dumps(data)[:300])


_L = TypeVar("_L", bound=_Listed)


def _entry(cls: type[_L], data: dict[str, Any], required: str) -> _L | None:
    """A listing entry; fields of an unexpected type are dropped, ``None`` if ``required`` is."""
    data = dict(data)
    for _ in range(len(data) + 1):
        try:
            return cls(**data)
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")}
            if required in bad or not bad & set(data):
                return None
            for key in bad:
                data.pop(key, None)
    return None  # pragma: no cover - every pass drops a key


def parse_models(data: Any) -> list[ImageModel]:
    """Parse ``sd-models``: objects (``title``/``model_name``) or bare name strings."""
    out: list[ImageModel] = []
    for item in _as_list(data, "sd-models"):
        if isinstance(item, str):
            out.append(ImageModel(title=item, model_name=item))
        elif isinstance(item, dict):
            title = item.get("title") or item.get("model_name") or item.get("name")
            if not title:
                continue
            name = item.get("model_name") or str(title).split(" [", 1)[0]
            entry = _entry(
                ImageModel, {**item, "title": str(title), "model_name": str(name)}, "title"
            )
            if entry is not None:
                out.append(entry)
    return out


def parse_samplers(data: Any) -> list[Sampler]:
    """Parse ``samplers``: ``{name, options[, aliases]}`` objects or names."""
    out: list[Sampler] = []
    for item in _as_list(data, "samplers"):
        if isinstance(item, str):
            out.append(Sampler(name=item))
        elif isinstance(item, dict) and item.get("name"):
            aliases = item.get("aliases") or []
            options = item.get("options") or {}
            entry = _entry(
                Sampler,
                {
                    **item,
                    "name": str(item["name"]),
                    "aliases": [str(a) for a in aliases] if isinstance(aliases, list) else [],
                    "options": options if isinstance(options, dict) else {},
                },
                "name",
            )
            if entry is not None:
                out.append(entry)
    return out


def parse_upscalers(data: Any) -> list[Upscaler]:
    """Parse ``upscalers``: ``{name, scale, ...}`` objects or names."""
    out: list[Upscaler] = []
    for item in _as_list(data, "upscalers"):
        if isinstance(item, str):
            out.append(Upscaler(name=item))
        elif isinstance(item, dict) and item.get("name"):
            scale = item.get("scale")
            clean = {
                **item,
                "name": str(item["name"]),
                "scale": scale if isinstance(scale, (int, float)) else None,
            }
            entry = _entry(Upscaler, clean, "name")
            if entry is not None:
                out.append(entry)
    return out


def parse_parallel_requests(data: Any) -> ParallelRequests:
    """Parse ``/v1/parallel-requests``."""
    entry = None
    if isinstance(data, dict) and isinstance(data.get("parallel_requests"), int):
        entry = _entry(ParallelRequests, data, "parallel_requests")
    if entry is None:
        msg = f"unexpected /v1/parallel-requests answer: {json.dumps(data)[:200]}"
        raise ArliResponseError(msg, body=json.dumps(data)[:300])
    return entry


# -- generation info -----------------------------------------------------------------------

# A1111/SDNext infotext parameters: `Key: value` or `Key: "quoted, value"`, comma separated.
_INFOTEXT_PARAM = re.compile(r'\s*([\w][\w \-/+.()]*):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')


def parse_infotext(text: str) -> dict[str, str]:
    r"""Parse the parameter line of an SDNext/A1111 infotext into ``{key: value}``.

    ``"a cat\\nNegative prompt: ugly\\nSteps: 20, Size: 64x64, Seed: 7"`` gives
    ``{"Prompt": "a cat", "Negative prompt": "ugly", "Steps": "20", "Size": "64x64",
    "Seed": "7"}``.
    """
    lines = text.strip().split("\n")
    params: dict[str, str] = {}
    last = lines[-1] if lines else ""
    found = len(_INFOTEXT_PARAM.findall(last))
    if found >= 2 or (found == 1 and len(lines) == 1):
        lines = lines[:-1]
    else:
        last = ""
    prompt: list[str] = []
    negative: list[str] = []
    target = prompt
    for line in lines:
        if line.startswith("Negative prompt:"):
            target = negative
            target.append(line[len("Negative prompt:") :].strip())
        else:
            target.append(line)
    if prompt:
        params["Prompt"] = "\n".join(prompt).strip()
    if negative:
        params["Negative prompt"] = "\n".join(negative).strip()
    for key, raw_value in _INFOTEXT_PARAM.findall(last):
        value = raw_value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"')
        params[key.strip()] = value
    return params


class GenerationInfo(BaseModel):
    """What the server says it did: seeds, size, sampler, model; for upscales, the factor.

    Every key of the server's ``info`` is kept (unknown ones as extra attributes), and
    ``raw`` holds it as received. Fields the server did not send are ``None``/empty.

    Attributes:
        prompt: the prompt used.
        negative_prompt: the negative prompt used.
        seed: the seed of the first image (the real one, never ``-1``).
        all_seeds: the seed of every image.
        subseed: the variation seed of the first image.
        all_subseeds: every variation seed.
        width: output width.
        height: output height.
        sampler_name: the sampler used.
        cfg_scale: the guidance scale used.
        steps: the steps used.
        batch_size: images per batch.
        denoising_strength: the denoising strength used.
        sd_model_hash: the model's short hash.
        model: the model name (from the infotext's ``Model:``, or the one requested).
        infotexts: one A1111-style parameter text per image.
        styles: styles applied.
        clip_skip: CLIP skip used.
        extra_generation_params: extra parameters (``Mask blur``, ``Mask size``...).
        index_of_first_image: 1 when a grid comes first, else 0.
        job_timestamp: the server's job timestamp.
        upscaler: the upscaler used (upscale results).
        scale_factor: the upscale factor (upscale results).
        text: a plain-text info (``html_info``, or an ``info`` that is not JSON).
        raw: the ``info`` object as received.
    """

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    all_seeds: list[int] = Field(default_factory=list)
    subseed: int | None = None
    all_subseeds: list[int] = Field(default_factory=list)
    width: int | None = None
    height: int | None = None
    sampler_name: str | None = None
    cfg_scale: float | None = None
    steps: int | None = None
    batch_size: int | None = None
    denoising_strength: float | None = None
    sd_model_hash: str | None = None
    model: str | None = None
    infotexts: list[str] = Field(default_factory=list)
    styles: list[str] = Field(default_factory=list)
    clip_skip: float | None = None
    extra_generation_params: dict[str, Any] = Field(default_factory=dict)
    index_of_first_image: int = 0
    job_timestamp: str | None = None
    upscaler: str | None = None
    scale_factor: float | None = None
    text: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @classmethod
    def from_raw(cls, info: Any, *, text: str | None = None) -> GenerationInfo:
        """Build from the server's ``info`` (a JSON string, an object, or text).

        Values of an unexpected type are dropped rather than failing the whole result.
        """
        raw: dict[str, Any] = {}
        if isinstance(info, (bytes, str)):
            stripped = info.strip() if isinstance(info, str) else info.decode(errors="replace")
            parsed: Any = None
            if stripped[:1] == "{":
                try:
                    parsed = json.loads(stripped)
                except (ValueError, RecursionError):
                    parsed = None
            if isinstance(parsed, dict):
                raw = parsed
            elif stripped:
                text = stripped if text is None else text
        elif isinstance(info, dict):
            raw = info
        data: dict[str, Any] = {k: v for k, v in raw.items() if v is not None}
        data.pop("raw", None)
        data.pop("text", None)
        data["raw"] = raw
        if text is not None:
            data["text"] = text
        params = parse_infotext(str(data["infotexts"][0])) if _first_str(data, "infotexts") else {}
        if not params and text:
            params = parse_infotext(text)
        data.setdefault("model", params.get("Model"))
        if "upscaler" not in data and params.get("Postprocess upscaler"):
            data["upscaler"] = params["Postprocess upscaler"]
        if "scale_factor" not in data and params.get("Postprocess upscale by"):
            data["scale_factor"] = params["Postprocess upscale by"]
        size = params.get("Size", "")
        if "x" in size and "width" not in data:
            w, _, h = size.partition("x")
            data["width"], data["height"] = w.strip(), h.strip()
        for key in ("seed", "steps", "sampler_name", "cfg_scale"):
            label = {"seed": "Seed", "steps": "Steps", "sampler_name": "Sampler"}.get(
                key, "CFG scale"
            )
            if key not in data and params.get(label):
                data[key] = params[label]
        if data.get("model") is None:
            data.pop("model", None)
        for _ in range(len(data) + 1):
            try:
                return cls(**data)
            except ValidationError as exc:
                bad = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")}
                if not bad or not bad & set(data) or "raw" in bad:
                    break
                for key in bad:
                    data.pop(key, None)
        return cls(raw=raw, text=text)

    def seed_of(self, index: int) -> int | None:
        """The seed of image ``index`` of the response (accounting for a leading grid)."""
        pos = index - self.index_of_first_image
        if 0 <= pos < len(self.all_seeds):
            return self.all_seeds[pos]
        if pos == 0 and self.seed is not None:
            return self.seed
        return None

    def infotext_of(self, index: int) -> str | None:
        """The infotext of image ``index`` of the response, when the server sent it."""
        pos = index - self.index_of_first_image
        if 0 <= pos < len(self.infotexts):
            return self.infotexts[pos]
        return None


def _first_str(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key)
    return isinstance(value, list) and bool(value) and isinstance(value[0], str)


# -- results -------------------------------------------------------------------------------

_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
}
#: Suffixes that make a save destination a file name rather than a directory.
_IMAGE_SUFFIXES = frozenset({f".{e}" for e in _EXTENSIONS.values()} | {".jpeg", ".tif"})
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str, extension: str) -> str:
    """Validate a file name chosen by a caller (or a model) and give it ``extension``.

    The name must be a plain file name: no directory part, no ``..``, no absolute path or
    drive, no control characters. Other unusual characters become ``-``; any extension
    given is replaced by the one of the detected format.

    Raises:
        ArliValidationError: for a name that points anywhere but into the target directory.
    """
    raw = name.strip()
    if (
        not raw
        or "\x00" in raw
        or "/" in raw
        or "\\" in raw
        or raw in (".", "..")
        or ".." in raw
        or os.path.isabs(raw)
        or re.match(r"^[A-Za-z]:", raw)
        or any(ord(c) < 32 for c in raw)
    ):
        msg = (
            f"file name {name[:80]!r} is not allowed: give a plain name without directories, "
            "'..' or an absolute path"
        )
        raise ArliValidationError(msg, field="name", allowed="a plain file name")
    stem = raw.rsplit(".", 1)[0] if "." in raw.lstrip(".") else raw
    stem = _SAFE_NAME.sub("-", stem).strip(".-")[:120] or "image"
    return f"{stem}.{extension}"


def _write_new(directory: Path, name: str, data: bytes, overwrite: bool) -> Path:
    """Write ``data`` to ``directory/name`` without following symlinks; a unique name if taken."""
    base = directory.resolve()
    stem, dot, ext = name.rpartition(".")
    for attempt in range(1000):
        candidate = name if attempt == 0 else f"{stem}-{attempt}{dot}{ext}"
        path = base / candidate
        if path.parent != base:  # pragma: no cover - names are plain, checked above
            msg = f"refusing to write outside {base}"
            raise ArliValidationError(msg, field="name")
        if os.path.islink(path):
            continue  # never write through a symlink, whatever it points to
        flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        flags |= os.O_TRUNC if overwrite else os.O_EXCL
        try:
            fd = os.open(path, flags, 0o644)
        except FileExistsError:
            try:
                if path.is_file() and not path.is_symlink() and path.read_bytes() == data:
                    return path  # the same image was saved before
            except OSError:
                pass
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return path
    msg = f"could not find a free file name for {name!r} in {base}"
    raise ArliValidationError(msg, field="name")


@dataclass(eq=False)
class GeneratedImage:
    """One image of a result: its bytes, detected format, size and seed.

    Attributes:
        data: the encoded image, exactly as the server sent it (JPEG by default on SDNext).
        mime_type: detected from the bytes (``image/jpeg``, ``image/png``, ``image/webp``...).
        index: its position in the response.
        seed: the seed that produced it, when known.
        width: width in pixels (read from the header), when known.
        height: height in pixels, when known.
        infotext: the A1111-style parameter text for this image, when sent.
        path: where :meth:`save` wrote it (``None`` until saved).
    """

    data: bytes = field(repr=False)
    mime_type: str
    index: int = 0
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    infotext: str | None = field(default=None, repr=False)
    path: Path | None = None
    max_pixels: int = field(default=DEFAULT_MAX_PIXELS, repr=False)

    def __repr__(self) -> str:
        size = f"{self.width}x{self.height}" if self.width and self.height else "?"
        saved = f", path={str(self.path)!r}" if self.path else ""
        return (
            f"GeneratedImage({self.mime_type}, {size}, {len(self.data)} bytes, "
            f"seed={self.seed}{saved})"
        )

    @property
    def extension(self) -> str:
        """The file extension of the detected format (``jpg``, ``png``, ``webp``...)."""
        return _EXTENSIONS.get(self.mime_type, self.mime_type.split("/")[-1])

    @property
    def sha256(self) -> str:
        """The SHA-256 of the bytes (hex)."""
        return hashlib.sha256(self.data).hexdigest()

    def b64(self) -> str:
        """The bytes as base64 (no ``data:`` prefix)."""
        return base64.b64encode(self.data).decode("ascii")

    def data_uri(self) -> str:
        """The bytes as a ``data:<mime>;base64,...`` URI (for vision chat models)."""
        return f"data:{self.mime_type};base64,{self.b64()}"

    def to_pil(self) -> Image.Image:
        """Decode with Pillow (imported now; install the ``ocr`` extra or ``pillow``).

        Images above ``max_pixels`` are refused before decoding (decompression-bomb guard).

        Raises:
            ImportError: Pillow is not installed.
            ArliResponseError: the image is too large or cannot be decoded.
        """
        return open_image(self.data, max_pixels=self.max_pixels, what=f"image {self.index}")

    def default_name(self, prefix: str = "arli") -> str:
        """``<prefix>-<seed>-<index>-<hash>.<ext>`` (no seed part when unknown): unique, safe."""
        seed = [str(self.seed)] if self.seed is not None else []
        stem = "-".join([prefix, *seed, str(self.index), self.sha256[:10]])
        return f"{stem}.{self.extension}"

    def save(
        self,
        directory: str | os.PathLike[str],
        *,
        name: str | None = None,
        prefix: str = "arli",
        overwrite: bool = False,
    ) -> Path:
        """Write the image into ``directory`` (created if needed) and return its path.

        The file name is ``<prefix>-<seed>-<index>-<hash>.<ext>`` unless ``name`` is given;
        the extension always comes from the detected format. A ``directory`` that ends in
        an image suffix (``out/fox.jpg``) and is not an existing directory is a file name:
        the image goes to ``out/fox.<ext>``. Nothing is ever written
        outside ``directory``: names with ``..``, directories or absolute paths are
        refused, and an existing file or symlink is never overwritten (a ``-1``, ``-2``...
        suffix is added) unless ``overwrite`` is set (symlinks are still never followed).

        Raises:
            ArliValidationError: for a file name that would leave ``directory``.
        """
        target = Path(directory).expanduser()
        if name is None and target.suffix.lower() in _IMAGE_SUFFIXES and not target.is_dir():
            target, name = target.parent, target.name
        target.mkdir(parents=True, exist_ok=True)
        safe_prefix = _SAFE_NAME.sub("-", prefix).strip(".-") or "arli"
        filename = safe_filename(name, self.extension) if name else self.default_name(safe_prefix)
        self.path = _write_new(target, filename, self.data, overwrite)
        return self.path


@dataclass(eq=False)
class ImageResult:
    """The images of one txt2img, img2img or upscale call, with what the server reported.

    Iterate it for the images; ``result.data`` / ``result.mime_type`` / ``result.to_pil()``
    are those of the first image. ``str(result)`` is a short summary (saved paths, seeds,
    size, model) suitable for an agent.

    Attributes:
        images: the images, in response order.
        info: the parsed generation info.
        operation: ``"txt2img"``, ``"img2img"`` or ``"upscale"``.
        model: the model used (from the server's info, else the one requested).
        parameters: SDNext's ``parameters`` echo of the request (not the effective values).
    """

    images: list[GeneratedImage]
    info: GenerationInfo
    operation: Operation = "txt2img"
    model: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict, repr=False)

    def __iter__(self) -> Iterator[GeneratedImage]:
        return iter(self.images)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> GeneratedImage:
        return self.images[index]

    def __str__(self) -> str:
        return self.summary()

    @property
    def image(self) -> GeneratedImage:
        """The first image."""
        if not self.images:
            msg = "the result holds no image"
            raise ArliResponseError(msg)
        return self.images[0]

    @property
    def data(self) -> bytes:
        """The bytes of the first image."""
        return self.image.data

    @property
    def mime_type(self) -> str:
        """The format of the first image."""
        return self.image.mime_type

    @property
    def seeds(self) -> list[int | None]:
        """The seed of every image."""
        return [img.seed for img in self.images]

    @property
    def paths(self) -> list[Path]:
        """Where the images were saved (empty until :meth:`save`)."""
        return [img.path for img in self.images if img.path is not None]

    def to_pil(self) -> Image.Image:
        """The first image decoded with Pillow (see :meth:`GeneratedImage.to_pil`)."""
        return self.image.to_pil()

    def save(self, directory: str | os.PathLike[str], *, prefix: str | None = None) -> list[Path]:
        """Save every image into ``directory`` under unique, safe names; return the paths.

        A ``directory`` ending in an image suffix names the file (see
        :meth:`GeneratedImage.save`); further images get ``-1``, ``-2``... after its stem.
        """
        pre = prefix or ("arli-upscaled" if self.operation == "upscale" else "arli")
        return [img.save(directory, prefix=pre) for img in self.images]

    def summary(self) -> str:
        """A short text: what was made, size, seed(s), model, and the saved paths."""
        n = len(self.images)
        noun = "image" if n == 1 else "images"
        first = self.images[0] if self.images else None
        size = ""
        if first is not None and first.width and first.height:
            size = f"{first.width}x{first.height}"
        elif self.info.width and self.info.height:
            size = f"{self.info.width}x{self.info.height}"
        details: list[str] = []
        if self.operation == "upscale":
            verb = f"Upscaled {n} {noun}"
            if self.info.upscaler:
                details.append(f"upscaler {self.info.upscaler}")
            if self.info.scale_factor:
                details.append(f"x{_fmt_num(self.info.scale_factor)}")
            if size:
                details.append(f"now {size}")
        else:
            verb = f"{'Generated' if self.operation == 'txt2img' else 'Edited'} {n} {noun}"
            if size:
                details.append(size)
            seeds = [s for s in self.seeds if s is not None]
            if seeds:
                label = "seed" if len(seeds) == 1 else "seeds"
                details.append(f"{label} {', '.join(str(s) for s in seeds)}")
            if self.model:
                details.append(f"model {self.model}")
            if self.info.sampler_name:
                details.append(f"sampler {self.info.sampler_name}")
            if self.info.steps:
                details.append(f"{self.info.steps} steps")
        text = verb + (f" ({', '.join(details)})" if details else "") + "."
        paths = self.paths
        if len(paths) == 1:
            text += f"\nSaved to: {paths[0]}"
        elif paths:
            text += "\nSaved to:\n" + "\n".join(f"- {p}" for p in paths)
        return text


def _decode_b64_image(item: Any, index: int) -> bytes:
    if not isinstance(item, str) or not item:
        msg = f"image {index} of the response is not a base64 string"
        raise ArliResponseError(msg, body=repr(item)[:200])
    text = item
    if text.startswith("data:"):
        text = text.split(",", 1)[-1]
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=False)
    except (binascii.Error, ValueError):
        msg = f"image {index} of the response is not valid base64"
        raise ArliResponseError(msg, body=text[:200]) from None


def parse_image_response(
    data: Any,
    *,
    operation: Operation = "txt2img",
    requested_model: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    allow_empty: bool = False,
) -> ImageResult:
    """Parse a txt2img, img2img or upscale response, whatever its shape.

    Accepts ``{"images": [...], "parameters": {...}, "info": "<json>"}`` (SDNext
    txt2img/img2img), ``{"images": [...], "info": {...}}`` (Arli's upscale-img) and
    ``{"image": "...", "html_info": "..."}`` (SDNext extra-single-image). Images may carry a
    ``data:`` prefix; their format is detected from their bytes.

    Args:
        data: the parsed JSON body.
        operation: what was asked (kept on the result).
        requested_model: the model asked for, used when the info does not name one.
        max_pixels: the decompression-bomb cap for :meth:`GeneratedImage.to_pil`.
        allow_empty: accept a response without images (``send_images: false``).

    Raises:
        ArliResponseError: the body is not an object, an image is not valid base64 or not
            an image, or no image came back (unless ``allow_empty``).
    """
    if not isinstance(data, dict):
        msg = f"the {operation} response is not a JSON object: {json.dumps(data)[:200]}"
        raise ArliResponseError(msg, body=json.dumps(data)[:300])
    items: Sequence[Any]
    if isinstance(data.get("images"), list):
        items = data["images"]
    elif data.get("image") is not None:
        items = [data["image"]]
    else:
        items = []
    info_text = data.get("html_info") if isinstance(data.get("html_info"), str) else None
    info = GenerationInfo.from_raw(data.get("info"), text=info_text)
    images: list[GeneratedImage] = []
    for index, item in enumerate(items):
        raw = _decode_b64_image(item, index)
        mime = sniff_mime(raw[:16])
        if mime is None or not mime.startswith("image/"):
            msg = (
                f"image {index} of the {operation} response is not a recognized image format "
                f"(starts with {raw[:8]!r})"
            )
            raise ArliResponseError(msg)
        size = image_size(raw)
        images.append(
            GeneratedImage(
                data=raw,
                mime_type=mime,
                index=index,
                seed=info.seed_of(index),
                width=size[0] if size else None,
                height=size[1] if size else None,
                infotext=info.infotext_of(index),
                max_pixels=max_pixels,
            )
        )
    if not images and not allow_empty:
        detail = info.text or (json.dumps(data)[:200] if data else "an empty object")
        msg = f"the {operation} response holds no image: {detail}"
        raise ArliResponseError(msg, body=json.dumps(data)[:300])
    params = data.get("parameters")
    return ImageResult(
        images=images,
        info=info,
        operation=operation,
        model=info.model or requested_model,
        parameters=params if isinstance(params, dict) else {},
    )

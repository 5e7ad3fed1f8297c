"""Typed requests of the Arli image API: txt2img, img2img and upscale, checked before sending.

Each request checks the documented ranges and raises :class:`~arli.ArliValidationError`
naming the field and what is allowed (``steps=200 is out of range: allowed 1..150``); a
number field refuses ``True``/``False`` (pydantic would read ``steps=True`` as 1). Fields
left unset are not sent, so the server's own defaults apply; any other field SDNext takes
(:mod:`arli.images._sdnext_fields`) passes through unchanged, and a name it does not take is
refused with the closest one (``stepz=10``: did you mean ``steps``?), since the server would
drop it silently. ``extra_fields={...}`` sends fields newer than that list.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from arli._errors import ArliValidationError
from arli._kwargs import model_argument_names, unknown_argument
from arli.images._sdnext_fields import SDNEXT_GENERATION_FIELDS, SDNEXT_UPSCALE_FIELDS

__all__ = [
    "DEFAULT_UPSCALER",
    "describe_validation_error",
    "GenerationRequest",
    "Img2ImgRequest",
    "Txt2ImgRequest",
    "UpscaleRequest",
]

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


def _short_repr(value: Any) -> str:
    """``repr(value)``, cut to 80 characters for an error message."""
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


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
            shown = _short_repr(value)
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
    #: Other fields the server takes: sent unchanged (any other name is refused).
    server_fields: ClassVar[frozenset[str]] = frozenset()

    _extra_fields: dict[str, Any] = PrivateAttr(default_factory=dict)

    def __init__(self, /, **data: Any) -> None:
        cls = type(self)
        extra = data.pop("extra_fields", None)
        if extra is not None and not isinstance(extra, Mapping):
            msg = f"extra_fields must be a mapping of field names to values, got {extra!r:.80}"
            raise ArliValidationError(msg, field="extra_fields", allowed="a dict")
        known = model_argument_names(cls) | {"extra_fields"}
        for name in data:
            if name not in known and name not in cls.server_fields:
                everything = known | cls.server_fields
                raise unknown_argument(cls.__name__, name, everything, extras="extra_fields")
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise describe_validation_error(exc, cls) from None
        self._extra_fields = dict(extra or {})

    @property
    def extra_fields(self) -> dict[str, Any]:
        """Fields sent as they are, unchecked: for server fields newer than ``server_fields``."""
        return dict(self._extra_fields)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name in _number_fields(cls):
            raise PydanticCustomError("bool_number", "a number is expected, not True/False")
        return value

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
            if request.extra_fields:
                base["extra_fields"] = request.extra_fields
            return cls(**{**base, **params})
        if isinstance(request, Mapping):
            return cls(**{**request, **params})
        msg = f"expected a {cls.__name__} or a mapping of its fields, got {type(request).__name__}"
        raise ArliValidationError(msg, field="request")

    def wire_fields(self) -> dict[str, Any]:
        """The JSON fields to send: every field that is set and not ``None``, images excluded.

        ``extra_fields`` are merged in last, as they are.
        """
        body = self.model_dump(exclude_none=True, exclude=set(self.image_fields), by_alias=False)
        return {k: v for k, v in body.items() if v is not None} | self._extra_fields


@functools.cache
def _number_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of ``model`` typed as a number (``int``/``float``, optional or not)."""
    names = set()
    for name, info in model.model_fields.items():
        kinds = {a for a in typing.get_args(info.annotation) if a is not type(None)}
        if info.annotation in (int, float) or (kinds and kinds <= {int, float}):
            names.add(name)
    return frozenset(names)


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

    server_fields: ClassVar[frozenset[str]] = SDNEXT_GENERATION_FIELDS

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
    server_fields: ClassVar[frozenset[str]] = SDNEXT_UPSCALE_FIELDS
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

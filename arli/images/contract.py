"""The image tools' contract: argument models, ranges, descriptions, once for both skins.

Every image tool an agent can call (generate, edit, upscale, image to video, the three
listings) is a :class:`~arli.tool_contract.ToolContract` in :data:`IMAGE_TOOLS`. The
argument models take their ranges from the core request models (:class:`Txt2ImgRequest`,
:class:`Img2ImgRequest`, :class:`UpscaleRequest`, :class:`AiArtImg2VideoRequest`) instead of
restating them, so a tool cannot accept what the request would refuse or refuse what it
accepts. ``langchain_arli.tools.images`` and ``llama_index_arli.tools.images`` only build
their framework's tools from these.
"""

from __future__ import annotations

import copy
import functools
from typing import Any, Literal, cast, get_args

from pydantic import BaseModel, Field, create_model

from arli.images.aiart import AiArtImg2VideoRequest
from arli.images.models import Img2ImgRequest, Txt2ImgRequest, UpscaleRequest
from arli.tool_contract import NoArgs, ToolArguments, ToolContract, argument

__all__ = [
    "ASPECT_RATIOS",
    "IMAGE_TOOLS",
    "ArliImageEditInput",
    "ArliImageGenerationInput",
    "ArliImageToVideoInput",
    "ArliImageUpscaleInput",
    "AspectRatio",
    "NoArgs",
    "image_tool",
    "schema_for_prefix",
    "with_model_choices",
]

AspectRatio = Literal["1:1", "4:3", "3:4", "3:2", "2:3", "16:9", "9:16", "21:9", "9:21"]
"""Aspect ratios the tools offer to a model."""

ASPECT_RATIOS: tuple[str, ...] = get_args(AspectRatio)

#: The longest prompt and negative prompt a tool takes (a guard on what an agent sends).
MAX_PROMPT = 4000
MAX_NEGATIVE_PROMPT = 2000

_IMAGE_REF = (
    "path of an image file (for example one saved by arli_generate_image) or an http(s) URL; "
    "never base64 data"
)
_SEED = "Seed, -1 or unset for a random one."


class ArliImageGenerationInput(ToolArguments):
    """Arguments of ``arli_generate_image``."""

    prompt: str = Field(
        min_length=1,
        max_length=MAX_PROMPT,
        description=(
            "What the image shows: subject, setting, style, lighting, composition. "
            "Concrete, comma-separated descriptions work best."
        ),
    )
    negative_prompt: str | None = Field(
        default=None,
        max_length=MAX_NEGATIVE_PROMPT,
        description="What the image must not show, e.g. 'blurry, text, watermark'.",
    )
    aspect_ratio: AspectRatio | None = Field(
        default=None,
        description="Shape of the image (width:height). Ignored when width and height are set.",
    )
    width: int | None = argument(
        Txt2ImgRequest,
        "width",
        "Width in pixels, {lo}-{hi} (rounded to a multiple of 8). Prefer aspect_ratio.",
    )
    height: int | None = argument(
        Txt2ImgRequest,
        "height",
        "Height in pixels, {lo}-{hi} (rounded to a multiple of 8). Prefer aspect_ratio.",
    )
    steps: int | None = argument(
        Txt2ImgRequest,
        "steps",
        "Denoising steps, {lo}-{hi}: more is slower and finer. Usually leave unset.",
    )
    seed: int | None = Field(
        default=None,
        ge=-1,  # the requests' seed rule: -1 (random) or an integer >= 0
        description=(
            "Seed, -1 or unset for a random one. Reuse the seed of an earlier image to get "
            "the same composition with a changed prompt."
        ),
    )
    model: str | None = Field(
        default=None,
        description="Image model name from arli_list_image_models; unset for the default model.",
    )


class ArliImageEditInput(ToolArguments):
    """Arguments of ``arli_edit_image``."""

    image: str = Field(min_length=1, description=f"The image to edit: the {_IMAGE_REF}.")
    prompt: str = Field(
        min_length=1, max_length=MAX_PROMPT, description="What the edited image should show."
    )
    mask: str | None = Field(
        default=None,
        description=(
            "Optional inpainting mask: the "
            + _IMAGE_REF
            + ". White marks the area to repaint, black is kept. Without a mask the whole "
            "image is reworked."
        ),
    )
    negative_prompt: str | None = Field(
        default=None, max_length=MAX_NEGATIVE_PROMPT, description="What the result must not show."
    )
    strength: float | None = argument(
        Img2ImgRequest,
        "denoising_strength",
        "How much to change, {lo}-{hi}: 0.3 keeps most of the image, 0.8 repaints a lot.",
    )
    steps: int | None = argument(Img2ImgRequest, "steps", "Denoising steps, {lo}-{hi}.")
    seed: int | None = Field(default=None, ge=-1, description="Seed; -1 or unset for random.")
    model: str | None = Field(
        default=None, description="Image model name from arli_list_image_models."
    )


class ArliImageUpscaleInput(ToolArguments):
    """Arguments of ``arli_upscale_image``."""

    image: str = Field(min_length=1, description=f"The image to upscale: the {_IMAGE_REF}.")
    scale: float | None = argument(
        UpscaleRequest,
        "upscaling_resize",
        "Scale factor, {lo}-{hi} (unset: the tool's default).",
    )
    upscaler: str | None = Field(
        default=None, description="Upscaler name from arli_list_upscalers; unset for the default."
    )


class ArliImageToVideoInput(ToolArguments):
    """Arguments of ``arli_image_to_video``."""

    image: str | None = Field(
        default=None,
        description=f"The image to animate: the {_IMAGE_REF}. JPG, PNG or WEBP, at most 10 MB.",
    )
    seed: int | None = argument(
        AiArtImg2VideoRequest,
        "seed",
        "Seed; -1, 0 or unset for a random one. Reuse one to get a similar video.",
        ge=-1,  # -1 is mapped to AiArt's 0 (random)
    )
    cfg_scale: float | None = argument(
        AiArtImg2VideoRequest,
        "cfg_scale",
        "How closely the video sticks to the image, {lo}-{hi} (default 1.5): higher stays "
        "closer to it, lower gives the model more freedom.",
    )
    motion_bucket_id: int | None = argument(
        AiArtImg2VideoRequest,
        "motion_bucket_id",
        "Amount of motion, {lo}-{hi} (default 127): low is subtle, high is dramatic.",
    )
    generation_id: str | None = Field(
        default=None,
        description=(
            "Only to keep waiting for a video an earlier call started but that was not ready "
            "yet: its generation id (then leave image unset)."
        ),
    )


def _lo_hi(schema: type[BaseModel], name: str) -> str:
    info = schema.model_fields[name]
    lo = hi = None
    for meta in info.metadata:
        lo = getattr(meta, "ge", lo)
        hi = getattr(meta, "le", hi)
    return f"{lo:g}-{hi:g}"


GENERATE = ToolContract(
    function="generate_image",
    schema=ArliImageGenerationInput,
    capability="generate",
    operation="generate",
    description=(
        "Generate an image from a text description and save it to a file. Returns the saved "
        "file path, seed, size and model. Describe the picture in `prompt`; optionally set "
        "`aspect_ratio`, `negative_prompt`, `seed` (reuse one to keep a composition), `steps` "
        "or `model` (see {prefix}list_image_models)."
    ),
    aiart_description=(
        "Generate an image from a text description and save it to a file. Returns the saved "
        "file path, size and seed. Describe the picture in `prompt`; optionally set "
        "`aspect_ratio` (1:1, 4:3, 16:9, 9:16 or 3:4), `negative_prompt` or `seed` (reuse one "
        "to keep a composition)."
    ),
)
EDIT = ToolContract(
    function="edit_image",
    schema=ArliImageEditInput,
    capability="edit",
    operation="edit",
    description=(
        "Edit an existing image (a file path or http(s) URL) guided by a prompt. With `mask` "
        "(a black-and-white image file, white = area to repaint) only that area changes "
        "(inpainting). `strength` (" + _lo_hi(ArliImageEditInput, "strength") + ") sets how "
        "much changes. Returns the saved file path. Pass images as paths or URLs, never as "
        "base64."
    ),
    aiart_description=(
        "Edit an existing image (a file path or http(s) URL) guided by a prompt: the whole "
        "image is reworked. `strength` (" + _lo_hi(ArliImageEditInput, "strength") + ") sets "
        "how much changes. Returns the saved file path. Pass images as paths or URLs, never "
        "as base64."
    ),
)
UPSCALE = ToolContract(
    function="upscale_image",
    schema=ArliImageUpscaleInput,
    capability="upscale",
    description=(
        "Upscale an image (a file path or http(s) URL) to a higher resolution. `scale` is the "
        "factor (" + _lo_hi(ArliImageUpscaleInput, "scale") + "); `upscaler` a name from "
        "{prefix}list_upscalers. Returns the saved file path and the new size."
    ),
)
VIDEO = ToolContract(
    function="image_to_video",
    schema=ArliImageToVideoInput,
    capability="video",
    description=(
        "Turn an image (a file path or http(s) URL) into a short video and save it. Returns "
        "the saved file path, seed and generation id. Optionally set `motion_bucket_id` "
        "(" + _lo_hi(ArliImageToVideoInput, "motion_bucket_id") + ", amount of motion), "
        "`cfg_scale` (" + _lo_hi(ArliImageToVideoInput, "cfg_scale") + ", how closely it "
        "follows the image) and `seed`. If it answers that the video is not ready yet, call "
        "it again with the `generation_id` it gave (and no image) to keep waiting."
    ),
)
LIST_MODELS = ToolContract(
    function="list_image_models",
    schema=None,
    capability="listings",
    description="List the image generation models available (names for `model`).",
)
LIST_SAMPLERS = ToolContract(
    function="list_samplers",
    schema=None,
    capability="listings",
    description="List the sampler names the image server supports.",
)
LIST_UPSCALERS = ToolContract(
    function="list_upscalers",
    schema=None,
    capability="listings",
    description="List the image upscalers available (names for `upscaler`).",
)

#: Every image tool, by function name, in the order the toolkits list them.
IMAGE_TOOLS: dict[str, ToolContract] = {
    c.function: c
    for c in (GENERATE, EDIT, UPSCALE, LIST_MODELS, LIST_SAMPLERS, LIST_UPSCALERS, VIDEO)
}


def image_tool(function: str) -> ToolContract:
    """The contract of the image tool ``function`` (``"generate_image"``...)."""
    return IMAGE_TOOLS[function]


@functools.cache
def schema_for_prefix(schema: type[BaseModel], prefix: str) -> type[BaseModel]:
    """``schema`` whose descriptions name the other tools with ``prefix`` instead of ``arli_``.

    The argument models are written for LangChain's tool names (``arli_generate_image``);
    LlamaIndex's functions have no prefix (``generate_image``). Types and bounds are kept.
    """
    if prefix == "arli_":
        return schema
    fields: dict[str, Any] = {}
    for name, info in schema.model_fields.items():
        field = copy.copy(info)
        if field.description:
            field.description = field.description.replace("arli_", prefix)
        fields[name] = (info.annotation, field)
    renamed: type[BaseModel] = create_model(
        schema.__name__, __config__=schema.model_config, __doc__=schema.__doc__, **fields
    )
    return renamed


def with_model_choices(schema: type[BaseModel], models: list[str]) -> type[BaseModel]:
    """A copy of ``schema`` whose ``model`` argument must be one of ``models``."""
    choices = cast("Any", Literal).__getitem__(tuple(models))
    field = schema.model_fields["model"]
    new: type[BaseModel] = create_model(
        schema.__name__,
        __base__=schema,
        __doc__=schema.__doc__,
        model=(choices | None, Field(default=None, description=field.description)),
    )
    return new

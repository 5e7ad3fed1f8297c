"""LangChain image tools: generate, edit (img2img/inpainting), upscale, list, image to video.

The tools translate; :class:`arli.images.tooling.ImageToolbox` decides. A model sees a few
validated arguments (prompt, negative prompt, aspect ratio or size, steps, seed, model;
images as file paths or http(s) URLs, never base64); everything else is constructor
configuration. Each image tool answers with ``response_format="content_and_artifact"``:
the content is a short text (saved paths, seed, size, model), optionally followed by
standard image blocks for multimodal models; the artifact is the
:class:`~arli.images.ImageResult` (bytes, PIL on demand, generation info). Images are
written only under ``output_dir``.

Errors the model can fix (an argument out of range, an unknown model or sampler, a busy
server) become a :class:`~langchain_core.tools.ToolException` whose text says what to
change; with ``handle_tool_error=True`` (the default here) the agent receives it as the
tool's answer. A missing or rejected API key is raised as it is: no argument can fix it.

Every tool takes ``backend=``: ``"arli"`` (default, with the key), ``"arli-proxy"`` (the
keyless proxy), ``"aiart"`` (AiArt, keyless), or a client instance (see
:mod:`arli.images.backends`). The agent sees the same arguments whatever the backend, minus
those a backend cannot use (with AiArt: no width/height, steps, model or mask; its five
aspect ratios). Upscaling and the listings have no AiArt equivalent and refuse it at
construction; :class:`ArliImageToVideoTool` needs AiArt.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, cast

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.tools import BaseTool, BaseToolkit, ToolException
from langchain_core.utils import secret_from_env
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    create_model,
    model_validator,
)

from arli._errors import ArliError
from arli._kwargs import check_model_arguments, raise_arli_errors
from arli.images.aiart import AIART_MAX_SEED, AiArtClient, VideoResult
from arli.images.backends import (
    BackendName,
    backend_name,
    make_image_backend,
    schema_for_backend,
)
from arli.images.client import ImageClient
from arli.images.models import ImageResult, describe_validation_error
from arli.images.tooling import DEFAULT_OUTPUT_DIR, AspectRatio, ImageToolbox

__all__ = [
    "ArliImageEditInput",
    "ArliImageEditTool",
    "ArliImageGenerationInput",
    "ArliImageGenerationTool",
    "ArliImageToVideoInput",
    "ArliImageToVideoTool",
    "ArliImageToolkit",
    "ArliImageUpscaleInput",
    "ArliImageUpscaleTool",
    "ArliListImageModelsTool",
    "ArliListSamplersTool",
    "ArliListUpscalersTool",
]

_KEY_ENV = ["ARLI_IMAGE_KEY", "ARLIAI_API_KEY"]

_IMAGE_REF = (
    "path of an image file (for example one saved by arli_generate_image) or an http(s) URL; "
    "never base64 data"
)


class ArliImageGenerationInput(BaseModel):
    """Arguments of ``arli_generate_image``."""

    prompt: str = Field(
        min_length=1,
        max_length=4000,
        description=(
            "What the image shows: subject, setting, style, lighting, composition. "
            "Concrete, comma-separated descriptions work best."
        ),
    )
    negative_prompt: str | None = Field(
        default=None,
        max_length=2000,
        description="What the image must not show, e.g. 'blurry, text, watermark'.",
    )
    aspect_ratio: AspectRatio | None = Field(
        default=None,
        description="Shape of the image (width:height). Ignored when width and height are set.",
    )
    width: int | None = Field(
        default=None,
        ge=64,
        le=2048,
        description="Width in pixels, 64-2048 (rounded to a multiple of 8). Prefer aspect_ratio.",
    )
    height: int | None = Field(
        default=None,
        ge=64,
        le=2048,
        description="Height in pixels, 64-2048 (rounded to a multiple of 8). Prefer aspect_ratio.",
    )
    steps: int | None = Field(
        default=None,
        ge=1,
        le=150,
        description="Denoising steps, 1-150: more is slower and finer. Usually leave unset.",
    )
    seed: int | None = Field(
        default=None,
        ge=-1,
        description=(
            "Seed, -1 or unset for a random one. Reuse the seed of an earlier image to get "
            "the same composition with a changed prompt."
        ),
    )
    model: str | None = Field(
        default=None,
        description="Image model name from arli_list_image_models; unset for the default model.",
    )


class ArliImageEditInput(BaseModel):
    """Arguments of ``arli_edit_image``."""

    image: str = Field(min_length=1, description=f"The image to edit: the {_IMAGE_REF}.")
    prompt: str = Field(
        min_length=1, max_length=4000, description="What the edited image should show."
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
        default=None, max_length=2000, description="What the result must not show."
    )
    strength: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="How much to change, 0-1: 0.3 keeps most of the image, 0.8 repaints a lot.",
    )
    steps: int | None = Field(default=None, ge=1, le=150, description="Denoising steps, 1-150.")
    seed: int | None = Field(default=None, ge=-1, description="Seed; -1 or unset for random.")
    model: str | None = Field(
        default=None, description="Image model name from arli_list_image_models."
    )


class ArliImageUpscaleInput(BaseModel):
    """Arguments of ``arli_upscale_image``."""

    image: str = Field(min_length=1, description=f"The image to upscale: the {_IMAGE_REF}.")
    scale: float | None = Field(
        default=None, ge=1, le=8, description="Scale factor, 1-8 (unset: the tool's default)."
    )
    upscaler: str | None = Field(
        default=None, description="Upscaler name from arli_list_upscalers; unset for the default."
    )


class ArliImageToVideoInput(BaseModel):
    """Arguments of ``arli_image_to_video``."""

    image: str | None = Field(
        default=None,
        description=f"The image to animate: the {_IMAGE_REF}. JPG, PNG or WEBP, at most 10 MB.",
    )
    seed: int | None = Field(
        default=None,
        ge=-1,
        le=AIART_MAX_SEED,
        description="Seed; -1, 0 or unset for a random one. Reuse one to get a similar video.",
    )
    cfg_scale: float | None = Field(
        default=None,
        ge=0,
        le=10,
        description=(
            "How closely the video sticks to the image, 0-10 (default 1.5): higher stays "
            "closer to it, lower gives the model more freedom."
        ),
    )
    motion_bucket_id: int | None = Field(
        default=None,
        ge=1,
        le=255,
        description="Amount of motion, 1-255 (default 127): low is subtle, high is dramatic.",
    )
    generation_id: str | None = Field(
        default=None,
        description=(
            "Only to keep waiting for a video an earlier call started but that was not ready "
            "yet: its generation id (then leave image unset)."
        ),
    )


class _NoArgs(BaseModel):
    """No arguments."""


_SCHEMAS: dict[str, type[BaseModel]] = {
    cls.__name__: cls
    for cls in (
        ArliImageGenerationInput,
        ArliImageEditInput,
        ArliImageUpscaleInput,
        ArliImageToVideoInput,
    )
}


def _validation_message(exc: ValidationError | Any) -> str:
    """Text for the agent when its arguments fail the schema (names field and range)."""
    schema = _SCHEMAS.get(getattr(exc, "title", ""), ArliImageGenerationInput)
    if isinstance(exc, ValidationError):
        detail = describe_validation_error(exc, schema)
        return f"Invalid argument: {detail}. Fix this argument and call the tool again."
    return f"Invalid arguments: {exc}. Fix them and call the tool again."


def _with_model_choices(schema: type[BaseModel], models: list[str]) -> type[BaseModel]:
    """A copy of ``schema`` whose ``model`` argument must be one of ``models``."""
    choices = cast("Any", Literal).__getitem__(tuple(models))
    field = schema.model_fields["model"]
    new = create_model(
        schema.__name__,
        __base__=schema,
        __doc__=schema.__doc__,
        model=(choices | None, Field(default=None, description=field.description)),
    )
    _SCHEMAS.setdefault(new.__name__, new)
    return new


def get_fields(schema: type[BaseModel]) -> dict[str, Any]:
    """The fields of a pydantic model class."""
    return dict(schema.model_fields)


class _ArliImageToolBase(BaseTool):
    """Connection and output settings shared by the Arli image tools."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    #: What the tool needs from its backend (see :func:`arli.images.backends.backend_supports`).
    _capability: ClassVar[str] = "generate"
    #: Which argument schema narrowing applies (``"generate"``, ``"edit"`` or ``""``).
    _operation: ClassVar[str] = ""
    #: The description used with the AiArt backend (when the default one is kept).
    _aiart_description: ClassVar[str] = ""
    #: The field that carries other request fields, named when an argument is unknown.
    _extras: ClassVar[str | None] = "params"

    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(_KEY_ENV, default=None), repr=False, exclude=True
    )
    """Image API key (else ``ARLI_IMAGE_KEY`` or ``ARLIAI_API_KEY``); only the ``"arli"``
    backend uses it."""
    backend: BackendName | ImageClient | AiArtClient = "arli"
    """``"arli"`` (default), ``"arli-proxy"`` (the keyless proxy), ``"aiart"`` (AiArt,
    keyless), or an :class:`~arli.ImageClient` / :class:`~arli.AiArtClient` to use."""
    base_url: str | None = None
    """The backend's base URL (else its environment variable: ``ARLI_IMAGE_BASE_URL`` /
    ``ARLI_BASE_URL``, ``ARLI_PROXY_BASE_URL`` or ``AIART_BASE_URL``; else its default)."""
    client: ImageClient | AiArtClient | None = Field(default=None, repr=False, exclude=True)
    """A client to use instead of building one (wins over ``backend``)."""
    client_options: dict[str, Any] = Field(default_factory=dict, repr=False)
    """Other options for the client built here: :class:`~arli.ArliSettings` fields
    (``image_timeout``, ``max_retries``...), ``routes`` for Arli, ``download_hosts`` for
    AiArt..."""
    output_dir: Path = Path(DEFAULT_OUTPUT_DIR)
    """Directory the images are saved in (created when needed); nothing is written elsewhere."""
    model: str | None = None
    """The model used when the agent names none."""
    models: list[str] | None = None
    """When set, the agent's ``model`` argument must be one of these names (an enum)."""
    input_dirs: list[Path] | None = None
    """Directories the agent may read images from (default: ``output_dir`` only)."""
    allow_urls: bool = True
    """Accept http(s) image URLs from the agent."""
    return_image_blocks: bool = False
    """Add standard image content blocks after the text (for multimodal chat models)."""
    handle_tool_error: bool | str | Callable[[ToolException], str] | None = True
    """Send errors the agent can fix back to it as the tool's answer."""
    handle_validation_error: bool | str | Callable[[ValidationError | Any], str] | None = (
        _validation_message
    )
    """Send argument errors back to the agent, naming the field and the allowed range."""

    _toolbox: ImageToolbox = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        # Before pydantic, which would drop a misspelled name (or wrap our error).
        check_model_arguments(type(self), data, extras=self._extras)
        with raise_arli_errors():
            super().__init__(**data)

    def _toolbox_options(self) -> dict[str, Any]:
        return {}

    @model_validator(mode="after")
    def _build_toolbox(self) -> Self:
        client = self.client or make_image_backend(
            self.backend, api_key=self.api_key, base_url=self.base_url, **self.client_options
        )
        self._toolbox = ImageToolbox(
            client,
            output_dir=self.output_dir,
            model=self.model,
            input_dirs=self.input_dirs,
            allow_urls=self.allow_urls,
            **self._toolbox_options(),
        )
        self._toolbox.require(self._capability)
        schema = self.args_schema
        if self._operation and isinstance(schema, type) and issubclass(schema, BaseModel):
            self.args_schema = schema = schema_for_backend(schema, self._operation, client)
        if (
            self._aiart_description
            and backend_name(client) == "aiart"
            and self.description == type(self).model_fields["description"].default
        ):
            self.description = self._aiart_description
        if (
            self.models
            and isinstance(schema, type)
            and issubclass(schema, BaseModel)
            and "model" in get_fields(schema)
        ):
            self.args_schema = _with_model_choices(schema, list(self.models))
        return self

    @property
    def toolbox(self) -> ImageToolbox:
        """The framework-free logic this tool delegates to."""
        return self._toolbox

    def _content(self, result: ImageResult) -> str | list[str | dict[str, Any]]:
        text = result.summary()
        if not self.return_image_blocks:
            return text
        blocks: list[str | dict[str, Any]] = [{"type": "text", "text": text}]
        blocks += [
            {"type": "image", "base64": img.b64(), "mime_type": img.mime_type} for img in result
        ]
        return blocks

    def _fail(self, exc: ArliError, text: str | None) -> Exception:
        if text is None:
            return exc
        return ToolException(text)

    def _answer(self, result: ImageResult) -> tuple[str | list[str | dict[str, Any]], ImageResult]:
        return self._content(result), result


class ArliImageGenerationTool(_ArliImageToolBase):
    r"""Generate images from text with Arli AI (txt2img) and save them.

    Setup:
        .. code-block:: bash

            pip install "arli-integrations[langchain]"
            export ARLI_IMAGE_KEY="..."   # or ARLIAI_API_KEY

    Instantiate:
        .. code-block:: python

            from langchain_arli import ArliImageGenerationTool

            tool = ArliImageGenerationTool(
                model="FLUX.2-klein-4B",
                output_dir="images/",
                params={"steps": 20, "sampler_name": "Euler a", "cfg_scale": 5},
            )

    Invoke directly with args:
        .. code-block:: python

            tool.invoke({"prompt": "a lighthouse at dusk, oil painting", "aspect_ratio": "16:9"})
            # 'Generated 1 image (1344x768, seed 1234, model FLUX.2-klein-4B).\\nSaved to: ...'

    Invoke with a tool call (content and artifact):
        .. code-block:: python

            msg = tool.invoke({"type": "tool_call", "id": "1", "name": tool.name,
                               "args": {"prompt": "a red fox"}})
            msg.content           # the text with the saved path
            msg.artifact.images   # the images (bytes, .to_pil(), .path)
            msg.artifact.info     # seeds, size, sampler, model...

    The agent chooses ``prompt``, ``negative_prompt``, ``aspect_ratio`` (or ``width`` and
    ``height``), ``steps``, ``seed`` and ``model``; ``params`` holds every other SDNext
    field (``cfg_scale``, ``sampler_name``, ``batch_size``, ``enable_hr``/``hr_*``,
    ``detailer_*``, ``override_settings``...), validated at construction.
    """

    _operation: ClassVar[str] = "generate"
    _aiart_description: ClassVar[str] = (
        "Generate an image from a text description and save it to a file. Returns the saved "
        "file path, size and seed. Describe the picture in `prompt`; optionally set "
        "`aspect_ratio` (1:1, 4:3, 16:9, 9:16 or 3:4), `negative_prompt` or `seed` (reuse one "
        "to keep a composition)."
    )

    name: str = "arli_generate_image"
    description: str = (
        "Generate an image from a text description and save it to a file. Returns the saved "
        "file path, seed, size and model. Describe the picture in `prompt`; optionally set "
        "`aspect_ratio`, `negative_prompt`, `seed` (reuse one to keep a composition), `steps` "
        "or `model` (see arli_list_image_models)."
    )
    args_schema: type[BaseModel] = ArliImageGenerationInput
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"

    params: dict[str, Any] = Field(default_factory=dict)
    """Every other txt2img field for each call (the agent's arguments win)."""
    base_size: int = Field(default=1024, ge=64, le=2048)
    """Side of a square image; other aspect ratios keep about as many pixels."""
    aspect_ratio: AspectRatio = "1:1"
    """The aspect ratio when the agent gives neither a ratio nor a size."""

    def _toolbox_options(self) -> dict[str, Any]:
        return {
            "generation_params": self.params,
            "base_size": self.base_size,
            "aspect_ratio": self.aspect_ratio,
        }

    def _run(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        aspect_ratio: str | None = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        seed: int | None = None,
        model: str | None = None,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> tuple[str | list[str | dict[str, Any]], ImageResult]:
        """Generate, save and describe the images."""
        try:
            result = self._toolbox.generate(
                prompt, negative_prompt, aspect_ratio, width, height, steps, seed, model
            )
        except ArliError as exc:
            raise self._fail(exc, self._toolbox.explain(exc)) from exc
        return self._answer(result)

    async def _arun(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        aspect_ratio: str | None = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        seed: int | None = None,
        model: str | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> tuple[str | list[str | dict[str, Any]], ImageResult]:
        """Async :meth:`_run`."""
        try:
            result = await self._toolbox.agenerate(
                prompt, negative_prompt, aspect_ratio, width, height, steps, seed, model
            )
        except ArliError as exc:
            raise self._fail(exc, await self._toolbox.aexplain(exc)) from exc
        return self._answer(result)


class ArliImageEditTool(_ArliImageToolBase):
    """Edit an image with a prompt (img2img), or repaint a masked area (inpainting).

    Instantiate:
        .. code-block:: python

            from langchain_arli import ArliImageEditTool

            tool = ArliImageEditTool(output_dir="images/",
                                     params={"denoising_strength": 0.6, "mask_blur": 8})

    Invoke:
        .. code-block:: python

            tool.invoke({"image": "images/arli-42-0-1a2b3c4d5e.jpg",
                         "prompt": "the same scene at night", "strength": 0.5})

    The agent passes images as file paths (under ``input_dirs``, by default
    ``output_dir``) or http(s) URLs; the mask is converted to the image's size (Pillow is
    needed unless it already has that size) and an empty mask is rejected. ``params``
    holds every other img2img field (``denoising_strength`` default 0.6,
    ``inpainting_fill``, ``inpaint_full_res``, ``cfg_scale``, ``sampler_name``...).
    """

    _capability: ClassVar[str] = "edit"
    _operation: ClassVar[str] = "edit"
    _aiart_description: ClassVar[str] = (
        "Edit an existing image (a file path or http(s) URL) guided by a prompt: the whole "
        "image is reworked. `strength` (0-1) sets how much changes. Returns the saved file "
        "path. Pass images as paths or URLs, never as base64."
    )

    name: str = "arli_edit_image"
    description: str = (
        "Edit an existing image (a file path or http(s) URL) guided by a prompt. With `mask` "
        "(a black-and-white image file, white = area to repaint) only that area changes "
        "(inpainting). `strength` (0-1) sets how much changes. Returns the saved file path. "
        "Pass images as paths or URLs, never as base64."
    )
    args_schema: type[BaseModel] = ArliImageEditInput
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"

    params: dict[str, Any] = Field(default_factory=dict)
    """Every other img2img field for each call (the agent's arguments win)."""

    def _toolbox_options(self) -> dict[str, Any]:
        return {"edit_params": self.params}

    def _run(
        self,
        image: str,
        prompt: str,
        mask: str | None = None,
        negative_prompt: str | None = None,
        strength: float | None = None,
        steps: int | None = None,
        seed: int | None = None,
        model: str | None = None,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> tuple[str | list[str | dict[str, Any]], ImageResult]:
        """Edit, save and describe the images."""
        try:
            result = self._toolbox.edit(
                image, prompt, mask, negative_prompt, strength, steps, seed, model
            )
        except ArliError as exc:
            raise self._fail(exc, self._toolbox.explain(exc)) from exc
        return self._answer(result)

    async def _arun(
        self,
        image: str,
        prompt: str,
        mask: str | None = None,
        negative_prompt: str | None = None,
        strength: float | None = None,
        steps: int | None = None,
        seed: int | None = None,
        model: str | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> tuple[str | list[str | dict[str, Any]], ImageResult]:
        """Async :meth:`_run`."""
        try:
            result = await self._toolbox.aedit(
                image, prompt, mask, negative_prompt, strength, steps, seed, model
            )
        except ArliError as exc:
            raise self._fail(exc, await self._toolbox.aexplain(exc)) from exc
        return self._answer(result)


class ArliImageUpscaleTool(_ArliImageToolBase):
    """Upscale an image with Arli AI's upscalers (``/v1/upscale-img`` or extra-single-image).

    Instantiate:
        .. code-block:: python

            from langchain_arli import ArliImageUpscaleTool

            tool = ArliImageUpscaleTool(output_dir="images/",
                                        params={"upscaler_1": "ESRGAN_4x", "upscaling_resize": 2})

    Invoke:
        .. code-block:: python

            tool.invoke({"image": "images/arli-42-0-1a2b3c4d5e.jpg", "scale": 2})

    ``params`` holds every other upscale field (``upscaler_1`` default ``"ESRGAN_4x"``,
    ``upscaling_resize``, ``upscaler_2``...; fields only extra-single-image knows switch to
    that route).
    """

    _capability: ClassVar[str] = "upscale"

    name: str = "arli_upscale_image"
    description: str = (
        "Upscale an image (a file path or http(s) URL) to a higher resolution. `scale` is the "
        "factor (1-8); `upscaler` a name from arli_list_upscalers. Returns the saved file path "
        "and the new size."
    )
    args_schema: type[BaseModel] = ArliImageUpscaleInput
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"

    params: dict[str, Any] = Field(default_factory=dict)
    """Every other upscale field for each call (the agent's arguments win)."""

    def _toolbox_options(self) -> dict[str, Any]:
        return {"upscale_params": self.params}

    def _run(
        self,
        image: str,
        scale: float | None = None,
        upscaler: str | None = None,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> tuple[str | list[str | dict[str, Any]], ImageResult]:
        """Upscale, save and describe the image."""
        try:
            result = self._toolbox.upscale(image, scale, upscaler)
        except ArliError as exc:
            raise self._fail(exc, self._toolbox.explain(exc)) from exc
        return self._answer(result)

    async def _arun(
        self,
        image: str,
        scale: float | None = None,
        upscaler: str | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> tuple[str | list[str | dict[str, Any]], ImageResult]:
        """Async :meth:`_run`."""
        try:
            result = await self._toolbox.aupscale(image, scale, upscaler)
        except ArliError as exc:
            raise self._fail(exc, await self._toolbox.aexplain(exc)) from exc
        return self._answer(result)


class ArliImageToVideoTool(_ArliImageToolBase):
    """Turn an image into a short video with AiArt (image to video), then save it.

    AiArt generates the video asynchronously: the tool starts it, polls every
    ``poll_interval`` seconds until it is complete (at most ``poll_timeout`` seconds and
    ``max_polls`` polls), downloads it and saves it under ``output_dir``. When time runs
    out the agent is told the generation id and can call the tool again with
    ``generation_id`` to keep waiting instead of starting over.

    Instantiate:
        .. code-block:: python

            from langchain_arli import ArliImageToVideoTool

            tool = ArliImageToVideoTool(output_dir="videos/", input_dirs=["images/"],
                                        params={"motion_bucket_id": 100})

    Invoke with a tool call (content and artifact):
        .. code-block:: python

            msg = tool.invoke({"type": "tool_call", "id": "1", "name": tool.name,
                               "args": {"image": "images/fox.png", "seed": 7}})
            msg.content    # 'Generated a video (mp4, 1.2 MB, seed 7, generation id ...).
                           #  Saved to: videos/arli-video-7-....mp4'
            msg.artifact   # the VideoResult (bytes, mime type, url, seed, path)

    The agent chooses ``image`` (a file path under ``input_dirs`` or an http(s) URL; JPG,
    PNG or WEBP, at most 10 MB), ``seed``, ``cfg_scale`` (0-10), ``motion_bucket_id``
    (1-255) and, to resume, ``generation_id``; ``params`` holds their defaults. Only the
    AiArt backend (the default here) makes videos.
    """

    _capability: ClassVar[str] = "video"

    name: str = "arli_image_to_video"
    description: str = (
        "Turn an image (a file path or http(s) URL) into a short video and save it. Returns "
        "the saved file path, seed and generation id. Optionally set `motion_bucket_id` "
        "(1-255, amount of motion), `cfg_scale` (0-10, how closely it follows the image) and "
        "`seed`. If it answers that the video is not ready yet, call it again with the "
        "`generation_id` it gave (and no image) to keep waiting."
    )
    args_schema: type[BaseModel] = ArliImageToVideoInput
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"

    backend: BackendName | ImageClient | AiArtClient = "aiart"
    """The backend: ``"aiart"`` (default; the only one with videos) or an AiArtClient."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Defaults of ``seed``, ``cfg_scale`` and ``motion_bucket_id`` (the agent's win)."""
    poll_interval: float = Field(default=5.0, ge=0)
    """Seconds between polls of the video's status."""
    poll_timeout: float = Field(default=600.0, ge=0)
    """Seconds to wait for the video in one call before answering with its generation id."""
    max_polls: int | None = Field(default=None, ge=1)
    """The most polls in one call (``None``: bounded by ``poll_timeout`` only)."""

    def _toolbox_options(self) -> dict[str, Any]:
        return {
            "video_params": self.params,
            "video_poll_interval": self.poll_interval,
            "video_timeout": self.poll_timeout,
            "video_max_polls": self.max_polls,
        }

    def _run(
        self,
        image: str | None = None,
        seed: int | None = None,
        cfg_scale: float | None = None,
        motion_bucket_id: int | None = None,
        generation_id: str | None = None,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> tuple[str, VideoResult]:
        """Make, save and describe the video."""
        try:
            result = self._toolbox.image_to_video(
                image, seed, cfg_scale, motion_bucket_id, generation_id
            )
        except ArliError as exc:
            raise self._fail(exc, self._toolbox.explain(exc)) from exc
        return result.summary(), result

    async def _arun(
        self,
        image: str | None = None,
        seed: int | None = None,
        cfg_scale: float | None = None,
        motion_bucket_id: int | None = None,
        generation_id: str | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> tuple[str, VideoResult]:
        """Async :meth:`_run` (polling does not block the event loop)."""
        try:
            result = await self._toolbox.aimage_to_video(
                image, seed, cfg_scale, motion_bucket_id, generation_id
            )
        except ArliError as exc:
            raise self._fail(exc, await self._toolbox.aexplain(exc)) from exc
        return result.summary(), result


class _ArliListTool(_ArliImageToolBase):
    """A listing tool: no arguments, a one-line text answer."""

    _capability: ClassVar[str] = "listings"
    _extras: ClassVar[str | None] = None  # a listing sends no request fields

    args_schema: type[BaseModel] = _NoArgs
    response_format: Literal["content", "content_and_artifact"] = "content"

    def _text(self) -> str:
        raise NotImplementedError

    async def _atext(self) -> str:
        raise NotImplementedError

    def _run(self, run_manager: CallbackManagerForToolRun | None = None) -> str:
        """List the names."""
        try:
            return self._text()
        except ArliError as exc:
            raise self._fail(exc, self._toolbox.explain(exc)) from exc

    async def _arun(self, run_manager: AsyncCallbackManagerForToolRun | None = None) -> str:
        """Async :meth:`_run`."""
        try:
            return await self._atext()
        except ArliError as exc:
            raise self._fail(exc, await self._toolbox.aexplain(exc)) from exc


class ArliListImageModelsTool(_ArliListTool):
    """List the image models the key can use (names for the ``model`` argument)."""

    name: str = "arli_list_image_models"
    description: str = "List the image generation models available (names for `model`)."

    def _text(self) -> str:
        return self._toolbox.models_text()

    async def _atext(self) -> str:
        return await self._toolbox.amodels_text()


class ArliListSamplersTool(_ArliListTool):
    """List the samplers of the image server."""

    name: str = "arli_list_samplers"
    description: str = "List the sampler names the image server supports."

    def _text(self) -> str:
        return self._toolbox.samplers_text()

    async def _atext(self) -> str:
        return await self._toolbox.asamplers_text()


class ArliListUpscalersTool(_ArliListTool):
    """List the upscalers (names for the ``upscaler`` argument of the upscale tool)."""

    name: str = "arli_list_upscalers"
    description: str = "List the image upscalers available (names for `upscaler`)."

    def _text(self) -> str:
        return self._toolbox.upscalers_text()

    async def _atext(self) -> str:
        return await self._toolbox.aupscalers_text()


class ArliImageToolkit(BaseToolkit):
    """The image tools with one shared client: generate, edit, upscale, listings, video.

    The tools depend on the backend: ``"arli"`` (default) and ``"arli-proxy"`` give
    generate, edit, upscale and the three listings; ``"aiart"`` gives generate, edit and
    image-to-video (AiArt has no upscaler and nothing to list).

    Instantiate:
        .. code-block:: python

            from langchain_arli import ArliImageToolkit

            toolkit = ArliImageToolkit(output_dir="images/", model="FLUX.2-klein-4B",
                                       fetch_models=True)
            tools = toolkit.get_tools()
            # arli_generate_image, arli_edit_image, arli_upscale_image,
            # arli_list_image_models, arli_list_samplers, arli_list_upscalers

            keyless = ArliImageToolkit(backend="aiart", output_dir="images/")
            # arli_generate_image, arli_edit_image, arli_image_to_video

    Use with an agent:
        .. code-block:: python

            from langchain.agents import create_agent

            agent = create_agent(ChatArli(model="..."), tools=toolkit.get_tools())
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(_KEY_ENV, default=None), repr=False, exclude=True
    )
    """Image API key (else ``ARLI_IMAGE_KEY`` or ``ARLIAI_API_KEY``); only ``"arli"`` uses it."""
    backend: BackendName | ImageClient | AiArtClient = "arli"
    """``"arli"`` (default), ``"arli-proxy"``, ``"aiart"``, or a client to share."""
    base_url: str | None = None
    """The backend's base URL (else its environment variable, else its default)."""
    client: ImageClient | AiArtClient | None = Field(default=None, repr=False, exclude=True)
    """A client shared by the tools (wins over ``backend``)."""
    client_options: dict[str, Any] = Field(default_factory=dict, repr=False)
    """Other options for the client built here (:class:`~arli.ArliSettings` fields...)."""
    output_dir: Path = Path(DEFAULT_OUTPUT_DIR)
    """Directory the images are saved in."""
    model: str | None = None
    """The model used when the agent names none."""
    models: list[str] | None = None
    """Restrict the agent's ``model`` argument to these names."""
    fetch_models: bool = False
    """Fill ``models`` from the server's listing when the tools are built."""
    input_dirs: list[Path] | None = None
    """Directories the agent may read images from (default: ``output_dir``)."""
    allow_urls: bool = True
    """Accept http(s) image URLs from the agent."""
    return_image_blocks: bool = False
    """Add standard image blocks to the tools' content (for multimodal chat models)."""
    generation_params: dict[str, Any] = Field(default_factory=dict)
    """``params`` of the generation tool."""
    edit_params: dict[str, Any] = Field(default_factory=dict)
    """``params`` of the edit tool."""
    upscale_params: dict[str, Any] = Field(default_factory=dict)
    """``params`` of the upscale tool."""
    include_listing: bool = True
    """Include the model, sampler and upscaler listing tools (not with AiArt)."""
    include_video: bool = True
    """Include the image-to-video tool (AiArt only)."""
    video_params: dict[str, Any] = Field(default_factory=dict)
    """``params`` of the image-to-video tool."""
    video_poll_interval: float = Field(default=5.0, ge=0)
    """``poll_interval`` of the image-to-video tool."""
    video_timeout: float = Field(default=600.0, ge=0)
    """``poll_timeout`` of the image-to-video tool."""

    _client: ImageClient | AiArtClient = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        check_model_arguments(type(self), data, extras="generation_params")
        with raise_arli_errors():
            super().__init__(**data)

    @model_validator(mode="after")
    def _build_client(self) -> Self:
        self._client = self.client or make_image_backend(
            self.backend, api_key=self.api_key, base_url=self.base_url, **self.client_options
        )
        return self

    def get_tools(self) -> list[BaseTool]:
        """The tools the backend supports, sharing one client (connection pool, limiter)."""
        client = self._client
        models = self.models
        if models is None and self.fetch_models and isinstance(client, ImageClient):
            models = [m.name for m in client.list_models()] or None
        common: dict[str, Any] = {
            "client": client,
            "output_dir": self.output_dir,
            "model": self.model,
            "models": models,
            "input_dirs": self.input_dirs,
            "allow_urls": self.allow_urls,
            "return_image_blocks": self.return_image_blocks,
        }
        tools: list[BaseTool] = [
            ArliImageGenerationTool(**common, params=self.generation_params),
            ArliImageEditTool(**common, params=self.edit_params),
        ]
        if isinstance(client, AiArtClient):
            if self.include_video:
                tools.append(
                    ArliImageToVideoTool(
                        **common,
                        params=self.video_params,
                        poll_interval=self.video_poll_interval,
                        poll_timeout=self.video_timeout,
                    )
                )
            return tools
        tools.append(ArliImageUpscaleTool(**common, params=self.upscale_params))
        if self.include_listing:
            tools += [
                ArliListImageModelsTool(**common),
                ArliListSamplersTool(**common),
                ArliListUpscalersTool(**common),
            ]
        return tools

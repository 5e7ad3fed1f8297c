"""LangChain image tools: generate, edit (img2img/inpainting), upscale, list, image to video.

The tools translate; :class:`arli.images.tooling.ImageToolbox` decides, and their names,
argument models and descriptions come from the core contract (:mod:`arli.images.contract`),
shared with the LlamaIndex tool spec. A model sees a few
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

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

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
    model_validator,
)

from arli._errors import ArliError
from arli._kwargs import check_model_arguments, forwarded, raise_arli_errors
from arli._providers import PROVIDERS
from arli.images.aiart import AiArtClient, VideoResult
from arli.images.backends import (
    BackendName,
    adapter_for,
    make_image_backend,
)
from arli.images.client import ImageClient
from arli.images.contract import (
    ArliImageEditInput,
    ArliImageGenerationInput,
    ArliImageToVideoInput,
    ArliImageUpscaleInput,
    AspectRatio,
    image_tool,
    with_model_choices,
)
from arli.images.models import ImageResult
from arli.images.results import check_destination
from arli.images.tooling import DEFAULT_OUTPUT_DIR, ImageToolbox
from arli.tool_contract import ToolContract, validation_text

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

#: Where the ``"arli"`` backend's key is looked for (the provider preset says).
_KEY_ENV = list(PROVIDERS["arli"].image_key_env)
_PREFIX = "arli_"

Content = str | list[str | dict[str, Any]]


def _validation_message(exc: ValidationError | Any) -> str:
    """Text for the agent when its arguments fail the schema (names field and range)."""
    return validation_text(exc, ArliImageGenerationInput)


def _name(function: str) -> Any:
    return Field(default=image_tool(function).name(_PREFIX))


def _description(function: str) -> Any:
    return Field(default=image_tool(function).describe(_PREFIX))


def _schema(function: str) -> Any:
    return Field(default=image_tool(function).arguments)


class _ImageBackendOptions(BaseModel):
    """The backend, connection and output settings of the image tools and their toolkit."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

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
    """A client to use instead of building one (wins over ``backend``; a toolkit shares
    it between its tools)."""
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

    def _make_client(self) -> ImageClient | AiArtClient:
        """``client``, else the backend's client built from the settings."""
        if self.client is not None:
            return self.client
        explicit = {"api_key": self.api_key, "base_url": self.base_url}
        options = forwarded(type(self).__name__, "client_options", self.client_options, explicit)
        return make_image_backend(self.backend, **options)


class _ArliImageToolBase(_ImageBackendOptions, BaseTool):
    """Connection and output settings shared by the Arli image tools."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    #: The contract this tool offers (name, arguments, description, backend needs).
    _function: ClassVar[str] = "generate_image"
    #: The field that carries other request fields, named when an argument is unknown.
    _extras: ClassVar[str | None] = "params"

    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    """The text for the model and the result itself (the listings answer with text only)."""
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

    @classmethod
    def contract(cls) -> ToolContract:
        """The core definition of this tool (:mod:`arli.images.contract`)."""
        return image_tool(cls._function)

    def _toolbox_options(self) -> dict[str, Any]:
        return {}

    @model_validator(mode="after")
    def _build_toolbox(self) -> Self:
        client = self._make_client()
        self._toolbox = ImageToolbox(
            client,
            output_dir=self.output_dir,
            model=self.model,
            input_dirs=self.input_dirs,
            allow_urls=self.allow_urls,
            **self._toolbox_options(),
        )
        contract = self.contract()
        self._toolbox.require(contract.capability)
        schema = self.args_schema
        if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
            return self
        description, schema = self._toolbox.offer(contract.function, _PREFIX, schema)
        if self.description == type(self).model_fields["description"].default:
            self.description = description
        if self.models and "model" in schema.model_fields:
            schema = with_model_choices(schema, list(self.models))
        self.args_schema = schema
        if self.handle_validation_error is _validation_message:
            self.handle_validation_error = functools.partial(validation_text, schema=schema)
        return self

    @property
    def toolbox(self) -> ImageToolbox:
        """The framework-free logic this tool delegates to."""
        return self._toolbox

    def _content(self, result: ImageResult) -> Content:
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

    def _answer(self, result: Any) -> Any:
        if isinstance(result, ImageResult):
            return self._content(result), result
        if isinstance(result, VideoResult):
            return result.summary(), result
        return result

    def _run(self, run_manager: CallbackManagerForToolRun | None = None, **args: Any) -> Any:
        """Call the toolbox with the validated arguments; describe the result."""
        try:
            result = self._toolbox.call(self._function, **args)
        except ArliError as exc:
            raise self._fail(exc, self._toolbox.explain(exc)) from exc
        return self._answer(result)

    async def _arun(
        self, run_manager: AsyncCallbackManagerForToolRun | None = None, **args: Any
    ) -> Any:
        """Async :meth:`_run`."""
        try:
            result = await self._toolbox.acall(self._function, **args)
        except ArliError as exc:
            raise self._fail(exc, await self._toolbox.aexplain(exc)) from exc
        return self._answer(result)


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

    _function: ClassVar[str] = "generate_image"

    name: str = _name("generate_image")
    description: str = _description("generate_image")
    args_schema: type[BaseModel] = _schema("generate_image")

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

    _function: ClassVar[str] = "edit_image"

    name: str = _name("edit_image")
    description: str = _description("edit_image")
    args_schema: type[BaseModel] = _schema("edit_image")

    params: dict[str, Any] = Field(default_factory=dict)
    """Every other img2img field for each call (the agent's arguments win)."""

    def _toolbox_options(self) -> dict[str, Any]:
        return {"edit_params": self.params}


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

    _function: ClassVar[str] = "upscale_image"

    name: str = _name("upscale_image")
    description: str = _description("upscale_image")
    args_schema: type[BaseModel] = _schema("upscale_image")

    params: dict[str, Any] = Field(default_factory=dict)
    """Every other upscale field for each call (the agent's arguments win)."""

    def _toolbox_options(self) -> dict[str, Any]:
        return {"upscale_params": self.params}


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

    _function: ClassVar[str] = "image_to_video"

    name: str = _name("image_to_video")
    description: str = _description("image_to_video")
    args_schema: type[BaseModel] = _schema("image_to_video")

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


class _ArliListTool(_ArliImageToolBase):
    """A listing tool: no arguments, a one-line text answer."""

    _extras: ClassVar[str | None] = None  # a listing sends no request fields

    response_format: Literal["content", "content_and_artifact"] = "content"


class ArliListImageModelsTool(_ArliListTool):
    """List the image models the key can use (names for the ``model`` argument)."""

    _function: ClassVar[str] = "list_image_models"

    name: str = _name("list_image_models")
    description: str = _description("list_image_models")
    args_schema: type[BaseModel] = _schema("list_image_models")


class ArliListSamplersTool(_ArliListTool):
    """List the samplers of the image server."""

    _function: ClassVar[str] = "list_samplers"

    name: str = _name("list_samplers")
    description: str = _description("list_samplers")
    args_schema: type[BaseModel] = _schema("list_samplers")


class ArliListUpscalersTool(_ArliListTool):
    """List the upscalers (names for the ``upscaler`` argument of the upscale tool)."""

    _function: ClassVar[str] = "list_upscalers"

    name: str = _name("list_upscalers")
    description: str = _description("list_upscalers")
    args_schema: type[BaseModel] = _schema("list_upscalers")


class ArliImageToolkit(_ImageBackendOptions, BaseToolkit):
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

    fetch_models: bool = False
    """Fill ``models`` from the server's listing when the tools are built."""
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
        check_destination(self.output_dir, option="output_dir")  # before any tool generates
        self._client = self._make_client()
        return self

    def get_tools(self) -> list[BaseTool]:
        """The tools the backend supports, sharing one client (connection pool, limiter)."""
        client = self._client
        models = self.models
        adapter = adapter_for(client)
        if models is None and self.fetch_models and adapter.supports("listings"):
            models = adapter.names("models") or None
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
        if adapter.supports("video"):
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

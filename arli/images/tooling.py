"""The framework-free logic behind the image tools of ``langchain_arli`` and ``llama_index_arli``.

:class:`ImageToolbox` takes the few, validated arguments a language model may choose
(prompt, negative prompt, aspect ratio or size, steps, seed, model; an image by file path
or http(s) URL) and turns them into client calls with everything else from the
constructor. It saves every image under ``output_dir`` (never anywhere else), and turns
errors into short texts an agent can act on (:meth:`ImageToolbox.explain`). The skins only
translate: arguments in, their framework's result types out.

The client may be an :class:`~arli.ImageClient` (Arli, or the keyless proxy with
``provider="arli-proxy"``) or an :class:`~arli.AiArtClient` (see
:mod:`arli.images.backends`). With AiArt the same arguments are mapped to its API: the
prompt, negative prompt and seed as they are (seed ``-1`` becomes AiArt's ``0`` = random),
the aspect ratio if it is one of AiArt's five (else a clear error), and for edits the
aspect ratio nearest to the input image; arguments AiArt has no use for (model, width,
height, steps, mask) are refused with the reason. AiArt also makes videos
(:meth:`ImageToolbox.image_to_video`); it has no upscaler and no listings.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from pydantic import BaseModel

from arli._errors import (
    ArliConfigError,
    ArliConnectionError,
    ArliError,
    ArliResponseError,
    ArliStatusError,
    ArliTimeoutError,
    ArliValidationError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from arli.images._sizes import size_for_aspect_ratio
from arli.images.aiart import AiArtClient, GenerationTimeoutError, VideoResult
from arli.images.backends import adapter_for, schema_for_backend
from arli.images.client import ImageClient
from arli.images.contract import ASPECT_RATIOS, AspectRatio, image_tool, schema_for_prefix
from arli.images.models import ImageResult
from arli.images.results import check_destination
from arli.tool_contract import invalid_argument_text, resolve_agent_path, with_message

__all__ = [
    "ASPECT_RATIOS",
    "AspectRatio",
    "ImageToolbox",
    "size_for_aspect_ratio",
    "with_message",
]

DEFAULT_OUTPUT_DIR = "arli-output"
#: The toolbox method behind each tool of :data:`arli.images.contract.IMAGE_TOOLS`.
_METHODS = {
    "generate_image": "generate",
    "edit_image": "edit",
    "upscale_image": "upscale",
    "image_to_video": "image_to_video",
    "list_image_models": "models_text",
    "list_samplers": "samplers_text",
    "list_upscalers": "upscalers_text",
}

_P = ParamSpec("_P")
_R = TypeVar("_R")
_Saved = TypeVar("_Saved", ImageResult, VideoResult)


def _async_twin(
    sync: Callable[Concatenate[ImageToolbox, _P], _R],
) -> Callable[Concatenate[ImageToolbox, _P], Coroutine[Any, Any, _R]]:
    """The async twin of the toolbox operation ``sync``: same signature, the async call."""
    signature = inspect.signature(sync)

    async def twin(self: ImageToolbox, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        result: _R = await self._arun(sync.__name__, _args(bound.arguments))
        return result

    twin.__name__ = twin.__qualname__ = "a" + sync.__name__
    twin.__doc__ = f"Async :meth:`{sync.__name__}`."
    twin.__signature__ = signature  # type: ignore[attr-defined]
    return twin


class ImageToolbox:
    """Arguments from a model → client calls → saved images and agent-readable text.

    Args:
        client: the image client: an :class:`~arli.ImageClient` (Arli or the keyless
            proxy) or an :class:`~arli.AiArtClient`.
        output_dir: where images are saved (created when needed); nothing is written
            anywhere else.
        model: the default model when the agent does not name one.
        base_size: the side of a square image; aspect ratios keep about this many pixels.
        aspect_ratio: the default aspect ratio when the agent gives neither ratio nor size.
        generation_params: every other txt2img field (``steps``, ``sampler_name``,
            ``cfg_scale``, ``batch_size``, ``enable_hr``, ``detailer_*``,
            ``override_settings``...); validated now, the agent's arguments win.
        edit_params: every other img2img field (``denoising_strength``, ``mask_blur``,
            ``inpaint_full_res``, ...).
        upscale_params: every other upscale field (``upscaler_1``, ``upscaling_resize``...).
        input_dirs: directories the agent may read images from (default: ``output_dir``
            only, so it can edit or upscale what it generated).
        allow_urls: accept http(s) image URLs from the agent.
        video_params: AiArt only: default ``seed``, ``cfg_scale`` and ``motion_bucket_id``
            of videos; validated now, the agent's arguments win.
        video_poll_interval: AiArt only: seconds between polls of a video.
        video_timeout: AiArt only: seconds to wait for a video before answering with its
            generation id (the agent can call again with it to keep waiting).
        video_max_polls: AiArt only: the most polls per call (``None``: bounded by time).

    For AiArt, ``generation_params`` may hold ``style_preset``, ``output_format``,
    ``negative_prompt``, ``seed`` and ``aspect_ratio`` (else ``aspect_ratio`` above);
    ``edit_params`` those and ``strength`` (without ``aspect_ratio``, the one nearest to the
    input image is used).

    Raises:
        ArliValidationError: a default parameter is out of range, or not one the backend
            takes; ``output_dir`` is a file or not writable.
        ArliConfigError: ``model`` is set for a backend without models (AiArt).
    """

    def __init__(
        self,
        client: ImageClient | AiArtClient,
        *,
        output_dir: str | os.PathLike[str] = DEFAULT_OUTPUT_DIR,
        model: str | None = None,
        base_size: int = 1024,
        aspect_ratio: str = "1:1",
        generation_params: Mapping[str, Any] | None = None,
        edit_params: Mapping[str, Any] | None = None,
        upscale_params: Mapping[str, Any] | None = None,
        input_dirs: Sequence[str | os.PathLike[str]] | None = None,
        allow_urls: bool = True,
        video_params: Mapping[str, Any] | None = None,
        video_poll_interval: float = 5.0,
        video_timeout: float = 600.0,
        video_max_polls: int | None = None,
    ):
        self.client = client
        self.adapter = adapter_for(client)
        self.output_dir = check_destination(output_dir, option="output_dir")  # before paying
        self.model = model
        self.base_size = base_size
        self.aspect_ratio = aspect_ratio
        self.generation_params = dict(generation_params or {})
        self.edit_params = {**self.adapter.edit_defaults, **dict(edit_params or {})}
        self.upscale_params = {**self.adapter.upscale_defaults, **dict(upscale_params or {})}
        self.input_dirs = [Path(d).expanduser() for d in input_dirs] if input_dirs else None
        self.allow_urls = allow_urls
        self.video_params = dict(video_params or {})
        self.video_poll_interval = video_poll_interval
        self.video_timeout = video_timeout
        self.video_max_polls = video_max_polls
        size_for_aspect_ratio(aspect_ratio, base_size)
        # Validate the defaults now, not at the first call.
        self.adapter.check_defaults(self, self._polling())

    def __repr__(self) -> str:
        return f"ImageToolbox(client={self.client!r}, output_dir={str(self.output_dir)!r})"

    # -- backend -------------------------------------------------------------------------

    @property
    def backend(self) -> str:
        """The backend's name: ``"arli"``, ``"arli-proxy"`` or ``"aiart"``."""
        return self.adapter.name

    def supports(self, capability: str) -> bool:
        """Whether the backend can ``generate``, ``edit``, ``upscale``, list or make ``video``."""
        return self.adapter.supports(capability)

    def require(self, capability: str) -> None:
        """Raise a clear :class:`~arli.ArliConfigError` if the backend cannot do ``capability``."""
        if not self.supports(capability):
            raise self.adapter.unsupported(capability)

    def offer(
        self, function: str, prefix: str, schema: type[BaseModel] | None = None
    ) -> tuple[str, type[BaseModel]]:
        """The description and argument model an agent is offered for the tool ``function``.

        Both name the other tools with the skin's ``prefix`` (``"arli_"`` or ``""``) and fit
        this backend: with AiArt, the description is AiArt's and the generate and edit
        models leave out what it cannot use (and list its aspect ratios).

        Args:
            function: the tool (a key of :data:`arli.images.contract.IMAGE_TOOLS`).
            prefix: the skin's tool name prefix.
            schema: the argument model to narrow instead of the contract's.
        """
        contract = image_tool(function)
        offered = schema_for_prefix(schema or contract.arguments, prefix)
        if contract.operation:
            offered = schema_for_backend(offered, contract.operation, self.client)
        return contract.describe(prefix, aiart=self.backend == "aiart"), offered

    # -- arguments -----------------------------------------------------------------------

    def resolve_input(self, ref: str, field: str = "image") -> str | Path:
        """Check an image reference from the agent: a file path (in the allowed dirs) or URL.

        Base64 text and ``data:`` URIs are refused: models cannot emit them reliably, and
        images should never travel through the model's context (see
        :func:`arli.tool_contract.resolve_agent_path`).

        Raises:
            ArliValidationError: naming ``field`` and what is allowed.
        """
        return resolve_agent_path(
            ref,
            field=field,
            roots=self.input_dirs or [self.output_dir],
            allow_urls=self.allow_urls,
            what="image file",
        )

    def call(self, function: str, **args: Any) -> Any:
        """Run the tool ``function`` of :data:`arli.images.contract.IMAGE_TOOLS` with ``args``."""
        return getattr(self, _METHODS[function])(**args)

    async def acall(self, function: str, **args: Any) -> Any:
        """Async :meth:`call`."""
        return await getattr(self, "a" + _METHODS[function])(**args)

    # -- operations ----------------------------------------------------------------------
    # Each operation is written once, sync; its async twin (``agenerate``...) is made by
    # :func:`_async_twin` and runs the same steps with the adapter's async call.

    def _save(self, result: _Saved) -> _Saved:
        result.save(self.output_dir)
        return result

    def _run(self, operation: str, args: dict[str, Any]) -> Any:
        if operation == "image_to_video":
            return self._save(self.adapter.video(self._video_args(**args), self._polling()))
        return self._save(getattr(self.adapter, operation)(self, **args))

    async def _arun(self, operation: str, args: dict[str, Any]) -> Any:
        if operation == "image_to_video":
            result = await self.adapter.avideo(self._video_args(**args), self._polling())
        else:
            result = await getattr(self.adapter, "a" + operation)(self, **args)
        return await asyncio.to_thread(self._save, result)

    def generate(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        aspect_ratio: str | None = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        seed: int | None = None,
        model: str | None = None,
    ) -> ImageResult:
        """Generate, save under ``output_dir`` and return the result (``str()`` = summary)."""
        result: ImageResult = self._run("generate", _args(locals()))
        return result

    def edit(
        self,
        image: str,
        prompt: str,
        mask: str | None = None,
        negative_prompt: str | None = None,
        strength: float | None = None,
        steps: int | None = None,
        seed: int | None = None,
        model: str | None = None,
    ) -> ImageResult:
        """img2img (inpainting with ``mask``) of a file or URL; saved under ``output_dir``."""
        result: ImageResult = self._run("edit", _args(locals()))
        return result

    def upscale(
        self, image: str, scale: float | None = None, upscaler: str | None = None
    ) -> ImageResult:
        """Upscale a file or URL; saved under ``output_dir`` (not available with AiArt)."""
        result: ImageResult = self._run("upscale", _args(locals()))
        return result

    # -- videos (AiArt) ------------------------------------------------------------------

    def _video_args(
        self,
        image: str | None,
        seed: int | None,
        cfg_scale: float | None,
        motion_bucket_id: int | None,
        generation_id: str | None,
    ) -> dict[str, Any]:
        self.require("video")
        has_image = image is not None and bool(image.strip())
        has_id = generation_id is not None and bool(generation_id.strip())
        if has_image and has_id:
            msg = (
                "pass either image (to start a new video) or generation_id (to keep waiting "
                "for an earlier one), not both"
            )
            raise ArliValidationError(msg, field="generation_id", allowed="image or generation_id")
        if not has_image and not has_id:
            msg = "image is required: the file path or http(s) URL of the image to animate"
            raise ArliValidationError(msg, field="image", allowed="a file path or http(s) URL")
        if has_id:
            assert generation_id is not None
            return {"generation_id": generation_id.strip()}
        assert image is not None
        args: dict[str, Any] = {**self.video_params, "image": self.resolve_input(image, "image")}
        for key, value in (
            ("seed", 0 if seed is not None and seed < 0 else seed),
            ("cfg_scale", cfg_scale),
            ("motion_bucket_id", motion_bucket_id),
        ):
            if value is not None:
                args[key] = value
        return args

    def _polling(self) -> dict[str, Any]:
        return {
            "poll_interval": self.video_poll_interval,
            "poll_timeout": self.video_timeout,
            "max_polls": self.video_max_polls,
        }

    def image_to_video(
        self,
        image: str | None = None,
        seed: int | None = None,
        cfg_scale: float | None = None,
        motion_bucket_id: int | None = None,
        generation_id: str | None = None,
    ) -> VideoResult:
        """Animate an image (AiArt), wait for the video and save it under ``output_dir``.

        With ``generation_id`` (and no image) it keeps waiting for a video an earlier call
        started (one that answered with a :class:`~arli.images.aiart.GenerationTimeoutError`).

        Raises:
            ArliConfigError: the backend is not AiArt.
            GenerationTimeoutError: not ready within ``video_timeout``/``video_max_polls``.
        """
        result: VideoResult = self._run("image_to_video", _args(locals()))
        return result

    agenerate = _async_twin(generate)
    aedit = _async_twin(edit)
    aupscale = _async_twin(upscale)
    aimage_to_video = _async_twin(image_to_video)

    # -- listings as text ----------------------------------------------------------------

    def models_text(self) -> str:
        """The image models, as a line an agent can pick from."""
        return _listing_text("models", self.adapter.names("models"))

    async def amodels_text(self) -> str:
        """Async :meth:`models_text`."""
        return _listing_text("models", await self.adapter.anames("models"))

    def samplers_text(self) -> str:
        """The samplers, as a line."""
        return _listing_text("samplers", self.adapter.names("samplers"))

    async def asamplers_text(self) -> str:
        """Async :meth:`samplers_text`."""
        return _listing_text("samplers", await self.adapter.anames("samplers"))

    def upscalers_text(self) -> str:
        """The upscalers, as a line an agent can pick from."""
        return _listing_text("upscalers", self.adapter.names("upscalers"))

    async def aupscalers_text(self) -> str:
        """Async :meth:`upscalers_text`."""
        return _listing_text("upscalers", await self.adapter.anames("upscalers"))

    # -- errors --------------------------------------------------------------------------

    def explain(self, exc: ArliError) -> str | None:
        """A short text telling an agent what went wrong and what to change.

        Returns ``None`` for errors no argument can fix (missing or rejected API key,
        configuration errors, a 404 naming no model, sampler or upscaler: a wrong base URL):
        those should reach the developer, not the model.
        """
        return self._explain(exc, self._known_names(exc))

    async def aexplain(self, exc: ArliError) -> str | None:
        """Async :meth:`explain` (fetches listings without blocking the loop)."""
        return self._explain(exc, await self._aknown_names(exc))

    def _known_names(self, exc: ArliError) -> list[str] | None:
        listing = self.adapter.listing_for(exc)
        if listing is None:
            return None
        try:
            return self.adapter.names(listing)
        except ArliError:
            return None

    async def _aknown_names(self, exc: ArliError) -> list[str] | None:
        listing = self.adapter.listing_for(exc)
        if listing is None:
            return None
        try:
            return await self.adapter.anames(listing)
        except ArliError:
            return None

    def _explain(self, exc: ArliError, names: list[str] | None) -> str | None:
        if isinstance(exc, (ArliConfigError, AuthenticationError, PermissionDeniedError)):
            return None
        if isinstance(exc, ArliValidationError):
            return invalid_argument_text(exc)
        if isinstance(exc, GenerationTimeoutError):
            return (
                f"The video is not ready yet (generation id {exc.generation_id}, waited "
                f"{exc.elapsed:.0f} s); it is still being generated. Call this tool again with "
                f"generation_id='{exc.generation_id}' and no image to keep waiting for it."
            )
        if isinstance(exc, NotFoundError) and "/img2video/result/" in (exc.url or ""):
            return (
                f"The AiArt server did not find it: {exc.message}. Check `generation_id`: use "
                "the id an earlier call of this tool reported, or start a new video from an image."
            )
        if isinstance(exc, NotFoundError):
            wants = self.adapter.listing_for(exc)
            if wants is None:  # no model/sampler/upscaler named: a wrong base_url or route
                return None
            arg = {"models": "model", "samplers": "sampler", "upscalers": "upscaler"}[wants]
            text = f"The image server did not find it: {exc.message}."
            if names:
                shown = ", ".join(names[:40]) + (" ..." if len(names) > 40 else "")
                text += f" Use one of these for `{arg}`: {shown}."
            else:
                text += f" Check `{arg}`."
            return text
        if isinstance(exc, RateLimitError):
            wait = f" in {exc.retry_after:g} s" if exc.retry_after else " later"
            return f"The image API is busy (too many requests). Try again{wait}."
        if isinstance(exc, ArliStatusError) and 400 <= exc.status_code < 500:
            where = f" (argument `{exc.param}`)" if exc.param else ""
            return (
                f"The image server rejected the request{where}: {exc.message}. "
                "Change the arguments and call the tool again."
            )
        if isinstance(exc, ArliTimeoutError):
            return (
                f"The image request timed out ({exc}). It may still be running on the server; "
                "try again later, or with fewer steps or a smaller size."
            )
        if isinstance(exc, (ArliStatusError, ArliConnectionError)):
            return f"The image server failed: {exc}. You may try again once."
        if isinstance(exc, ArliResponseError):
            return f"The image server's answer could not be used: {exc}."
        return f"The image request failed: {exc}."


_TITLES = {
    "models": "Image models (pass one as `model`)",
    "samplers": "Samplers",
    "upscalers": "Upscalers (pass one as `upscaler`)",
}


def _listing_text(listing: str, names: list[str]) -> str:
    title = _TITLES[listing]
    if listing == "upscalers":
        names = [name for name in names if name != "None"]
    if not names:
        return f"{title}: none available."
    return f"{title}: {', '.join(names)}."


def _args(values: dict[str, Any]) -> dict[str, Any]:
    """A method's ``locals()`` as keyword arguments (without ``self``)."""
    return {name: value for name, value in values.items() if name != "self"}

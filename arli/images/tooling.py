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
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

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
from arli.images._pixels import image_size
from arli.images.aiart import (
    AIART_ASPECT_RATIOS,
    AiArtClient,
    AiArtGenerateRequest,
    AiArtImg2ImgRequest,
    AiArtImg2VideoRequest,
    GenerationTimeoutError,
    VideoResult,
    nearest_aspect_ratio,
)
from arli.images.backends import (
    AIART_HIDDEN_ARGS,
    backend_name,
    backend_supports,
    unsupported_message,
)
from arli.images.client import ImageClient
from arli.images.contract import ASPECT_RATIOS, AspectRatio
from arli.images.models import ImageResult, Img2ImgRequest, Txt2ImgRequest, UpscaleRequest
from arli.media import ImageData, aload_image, load_image
from arli.tool_contract import resolve_agent_path, with_message

__all__ = [
    "ASPECT_RATIOS",
    "AspectRatio",
    "ImageToolbox",
    "size_for_aspect_ratio",
    "with_message",
]

DEFAULT_OUTPUT_DIR = "arli-output"
_SNAP = 64
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


def _ratio(ratio: str) -> tuple[float, float]:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[:x/]\s*(\d+(?:\.\d+)?)\s*", ratio)
    if match is None or float(match.group(1)) <= 0 or float(match.group(2)) <= 0:
        msg = f"aspect_ratio={ratio!r} is not valid: use one of {', '.join(ASPECT_RATIOS)}"
        raise ArliValidationError(msg, field="aspect_ratio", allowed=", ".join(ASPECT_RATIOS))
    return float(match.group(1)), float(match.group(2))


def size_for_aspect_ratio(ratio: str, base: int = 1024) -> tuple[int, int]:
    """Width and height for ``ratio`` with about ``base`` x ``base`` pixels, in steps of 64.

    ``"1:1"`` gives 1024x1024, ``"16:9"`` 1344x768, ``"2:3"`` 832x1280 (``base=1024``);
    sides stay within 64..2048.

    Raises:
        ArliValidationError: for a ratio that is not ``W:H`` with positive numbers.
    """
    a, b = _ratio(ratio)
    width = math.sqrt(base * base * a / b)
    height = width * b / a

    def snap(side: float) -> int:
        return int(min(2048, max(64, round(side / _SNAP) * _SNAP)))

    return snap(width), snap(height)


def _snap8(value: float) -> int:
    return max(64, min(2048, math.floor(value / 8 + 0.5) * 8))


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
            takes.
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
        self.output_dir = Path(output_dir).expanduser()
        self.model = model
        self.base_size = base_size
        self.aspect_ratio = aspect_ratio
        self.generation_params = dict(generation_params or {})
        self.input_dirs = [Path(d).expanduser() for d in input_dirs] if input_dirs else None
        self.allow_urls = allow_urls
        self.video_params = dict(video_params or {})
        self.video_poll_interval = video_poll_interval
        self.video_timeout = video_timeout
        self.video_max_polls = video_max_polls
        size_for_aspect_ratio(aspect_ratio, base_size)
        # Validate the defaults now, not at the first call.
        if isinstance(client, AiArtClient):
            if model:
                msg = (
                    f"model={model!r} does not apply to the AiArt backend: it has no model "
                    "choice (use generation_params={'style_preset': ...} for a look)"
                )
                raise ArliConfigError(msg)
            self.edit_params = dict(edit_params or {})
            self.upscale_params = dict(upscale_params or {})
            self._aiart_ratio(aspect_ratio)
            AiArtGenerateRequest(**{"prompt": "-", **self.generation_params})
            AiArtImg2ImgRequest(**{"prompt": "-", **self.edit_params})
            AiArtImg2VideoRequest(**self.video_params)
            AiArtClient._check_polling(video_poll_interval, video_timeout, video_max_polls)
            return
        self.edit_params = {"denoising_strength": 0.6, **dict(edit_params or {})}
        self.upscale_params = {"upscaler_1": "ESRGAN_4x", **dict(upscale_params or {})}
        Txt2ImgRequest(**{"prompt": "-", **self.generation_params})
        Img2ImgRequest(**{"prompt": "-", "init_images": [b"-"], **self.edit_params})
        UpscaleRequest(**{"image": b"-", **self.upscale_params})

    def __repr__(self) -> str:
        return f"ImageToolbox(client={self.client!r}, output_dir={str(self.output_dir)!r})"

    # -- backend -------------------------------------------------------------------------

    @property
    def backend(self) -> str:
        """The backend's name: ``"arli"``, ``"arli-proxy"`` or ``"aiart"``."""
        return backend_name(self.client)

    def supports(self, capability: str) -> bool:
        """Whether the backend can ``generate``, ``edit``, ``upscale``, list or make ``video``."""
        return backend_supports(self.client, capability)

    def require(self, capability: str) -> None:
        """Raise a clear :class:`~arli.ArliConfigError` if the backend cannot do ``capability``."""
        if not self.supports(capability):
            raise ArliConfigError(unsupported_message(self.client, capability))

    def _sdnext(self, capability: str) -> ImageClient:
        """The client as an :class:`~arli.ImageClient`, or a clear error for AiArt."""
        client = self.client
        if isinstance(client, AiArtClient):
            raise ArliConfigError(unsupported_message(client, capability))
        return client

    def _aiart(self) -> AiArtClient:
        client = self.client
        if not isinstance(client, AiArtClient):
            raise ArliConfigError(unsupported_message(client, "video"))
        return client

    @staticmethod
    def _aiart_ratio(ratio: str) -> str:
        if ratio not in AIART_ASPECT_RATIOS:
            allowed = ", ".join(AIART_ASPECT_RATIOS)
            msg = f"aspect_ratio={ratio!r} is not supported by the AiArt backend: allowed {allowed}"
            raise ArliValidationError(msg, field="aspect_ratio", allowed=allowed)
        return ratio

    @staticmethod
    def _refuse_unused(operation: str, **values: Any) -> None:
        """Refuse arguments AiArt has no use for, saying why."""
        reasons = AIART_HIDDEN_ARGS[operation]
        for name, value in values.items():
            if value is not None and (not isinstance(value, str) or value.strip()):
                msg = f"`{name}` is not supported by the AiArt backend: {reasons[name]}"
                raise ArliValidationError(msg, field=name)

    @staticmethod
    def _aiart_seed(seed: int | None) -> int | None:
        return 0 if seed is not None and seed < 0 else seed

    def _aiart_gen_args(
        self,
        prompt: str,
        negative_prompt: str | None,
        aspect_ratio: str | None,
        width: int | None,
        height: int | None,
        steps: int | None,
        seed: int | None,
        model: str | None,
    ) -> dict[str, Any]:
        self._refuse_unused("generate", width=width, height=height, steps=steps, model=model)
        args: dict[str, Any] = {**self.generation_params, "prompt": prompt}
        default = self.generation_params.get("aspect_ratio") or self.aspect_ratio
        args["aspect_ratio"] = self._aiart_ratio(aspect_ratio or default)
        if negative_prompt is not None:
            args["negative_prompt"] = negative_prompt
        if seed is not None:
            args["seed"] = self._aiart_seed(seed)
        return args

    def _aiart_edit_args(
        self,
        image: ImageData,
        prompt: str,
        negative_prompt: str | None,
        strength: float | None,
        seed: int | None,
    ) -> dict[str, Any]:
        args: dict[str, Any] = {**self.edit_params, "image": image, "prompt": prompt}
        if "aspect_ratio" not in args:
            size = image_size(image.data)
            if size is not None:
                args["aspect_ratio"] = nearest_aspect_ratio(*size)
        for key, value in (
            ("negative_prompt", negative_prompt),
            ("strength", strength),
            ("seed", self._aiart_seed(seed)),
        ):
            if value is not None:
                args[key] = value
        return args

    # -- arguments -----------------------------------------------------------------------

    def _size(
        self, aspect_ratio: str | None, width: int | None, height: int | None
    ) -> dict[str, int]:
        if width is not None or height is not None:
            # the documented range (64..2048) is checked before snapping to a multiple of 8,
            # so an out-of-range size is refused rather than silently clamped
            Txt2ImgRequest(prompt="size check", width=width, height=height)
        if width is not None and height is not None:
            return {"width": _snap8(width), "height": _snap8(height)}
        unset = aspect_ratio is None and width is None and height is None
        if unset and ("width" in self.generation_params or "height" in self.generation_params):
            return {}
        ratio = aspect_ratio or self.aspect_ratio
        if width is not None:  # keep the ratio, scale to the given width
            a, b = _ratio(ratio)
            return {"width": _snap8(width), "height": _snap8(width * b / a)}
        if height is not None:
            a, b = _ratio(ratio)
            return {"width": _snap8(height * a / b), "height": _snap8(height)}
        w, h = size_for_aspect_ratio(ratio, self.base_size)
        return {"width": w, "height": h}

    def _gen_args(
        self,
        prompt: str,
        negative_prompt: str | None,
        aspect_ratio: str | None,
        width: int | None,
        height: int | None,
        steps: int | None,
        seed: int | None,
        model: str | None,
    ) -> dict[str, Any]:
        args: dict[str, Any] = {**self.generation_params, "prompt": prompt}
        args.update(self._size(aspect_ratio, width, height))
        for key, value in (("negative_prompt", negative_prompt), ("steps", steps), ("seed", seed)):
            if value is not None:
                args[key] = value
        chosen = model or self.model
        if chosen:
            args["sd_model_checkpoint"] = chosen
        return args

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

    def _save(self, result: ImageResult) -> ImageResult:
        result.save(self.output_dir)
        return result

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
        client = self.client
        if isinstance(client, AiArtClient):
            gen = self._aiart_gen_args(
                prompt, negative_prompt, aspect_ratio, width, height, steps, seed, model
            )
            return self._save(client.generate(**gen))
        args = self._gen_args(
            prompt, negative_prompt, aspect_ratio, width, height, steps, seed, model
        )
        return self._save(client.txt2img(**args))

    async def agenerate(
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
        """Async :meth:`generate`."""
        client = self.client
        if isinstance(client, AiArtClient):
            gen = self._aiart_gen_args(
                prompt, negative_prompt, aspect_ratio, width, height, steps, seed, model
            )
            return await asyncio.to_thread(self._save, await client.agenerate(**gen))
        args = self._gen_args(
            prompt, negative_prompt, aspect_ratio, width, height, steps, seed, model
        )
        result = await client.atxt2img(**args)
        return await asyncio.to_thread(self._save, result)

    def _edit_args(
        self,
        image: str,
        prompt: str,
        mask: str | None,
        negative_prompt: str | None,
        strength: float | None,
        steps: int | None,
        seed: int | None,
        model: str | None,
    ) -> dict[str, Any]:
        args: dict[str, Any] = {
            **self.edit_params,
            "prompt": prompt,
            "init_images": [self.resolve_input(image, "image")],
        }
        if mask is not None and mask.strip():
            args["mask"] = self.resolve_input(mask, "mask")
            args.setdefault("mask_blur", 4)
            args.setdefault("inpaint_full_res", True)
        for key, value in (
            ("negative_prompt", negative_prompt),
            ("denoising_strength", strength),
            ("steps", steps),
            ("seed", seed),
        ):
            if value is not None:
                args[key] = value
        chosen = model or self.model
        if chosen:
            args["sd_model_checkpoint"] = chosen
        return args

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
        client = self.client
        if isinstance(client, AiArtClient):
            self._refuse_unused("edit", mask=mask, steps=steps, model=model)
            data = load_image(self.resolve_input(image, "image"))
            args = self._aiart_edit_args(data, prompt, negative_prompt, strength, seed)
            return self._save(client.img2img(**args))
        args = self._edit_args(image, prompt, mask, negative_prompt, strength, steps, seed, model)
        return self._save(client.img2img(**args))

    async def aedit(
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
        """Async :meth:`edit`."""
        client = self.client
        if isinstance(client, AiArtClient):
            self._refuse_unused("edit", mask=mask, steps=steps, model=model)
            data = await aload_image(self.resolve_input(image, "image"))
            args = self._aiart_edit_args(data, prompt, negative_prompt, strength, seed)
            return await asyncio.to_thread(self._save, await client.aimg2img(**args))
        args = self._edit_args(image, prompt, mask, negative_prompt, strength, steps, seed, model)
        result = await client.aimg2img(**args)
        return await asyncio.to_thread(self._save, result)

    def _upscale_args(
        self, image: str, scale: float | None, upscaler: str | None
    ) -> dict[str, Any]:
        args: dict[str, Any] = {**self.upscale_params, "image": self.resolve_input(image, "image")}
        if scale is not None:
            args["upscaling_resize"] = scale
        if upscaler:
            args["upscaler_1"] = upscaler
        return args

    def upscale(
        self, image: str, scale: float | None = None, upscaler: str | None = None
    ) -> ImageResult:
        """Upscale a file or URL; saved under ``output_dir`` (not available with AiArt)."""
        client = self._sdnext("upscale")
        return self._save(client.upscale(**self._upscale_args(image, scale, upscaler)))

    async def aupscale(
        self, image: str, scale: float | None = None, upscaler: str | None = None
    ) -> ImageResult:
        """Async :meth:`upscale`."""
        client = self._sdnext("upscale")
        result = await client.aupscale(**self._upscale_args(image, scale, upscaler))
        return await asyncio.to_thread(self._save, result)

    # -- videos (AiArt) ------------------------------------------------------------------

    def _video_args(
        self,
        image: str | None,
        seed: int | None,
        cfg_scale: float | None,
        motion_bucket_id: int | None,
        generation_id: str | None,
    ) -> dict[str, Any]:
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
            return {}
        assert image is not None
        args: dict[str, Any] = {**self.video_params, "image": self.resolve_input(image, "image")}
        for key, value in (
            ("seed", self._aiart_seed(seed)),
            ("cfg_scale", cfg_scale),
            ("motion_bucket_id", motion_bucket_id),
        ):
            if value is not None:
                args[key] = value
        return args

    def _polling(self) -> dict[str, Any]:
        return {
            "poll_interval": self.video_poll_interval,
            "timeout": self.video_timeout,
            "max_polls": self.video_max_polls,
        }

    def _save_video(self, result: VideoResult) -> VideoResult:
        result.save(self.output_dir)
        return result

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
        client = self._aiart()
        args = self._video_args(image, seed, cfg_scale, motion_bucket_id, generation_id)
        if not args:
            assert generation_id is not None
            result = client.video_result(generation_id.strip(), **self._polling())
        else:
            result = client.img2video(**args, **self._polling())
        return self._save_video(result)

    async def aimage_to_video(
        self,
        image: str | None = None,
        seed: int | None = None,
        cfg_scale: float | None = None,
        motion_bucket_id: int | None = None,
        generation_id: str | None = None,
    ) -> VideoResult:
        """Async :meth:`image_to_video`."""
        client = self._aiart()
        args = self._video_args(image, seed, cfg_scale, motion_bucket_id, generation_id)
        if not args:
            assert generation_id is not None
            result = await client.avideo_result(generation_id.strip(), **self._polling())
        else:
            result = await client.aimg2video(**args, **self._polling())
        return await asyncio.to_thread(self._save_video, result)

    # -- listings as text ----------------------------------------------------------------

    def models_text(self) -> str:
        """The image models, as a line an agent can pick from."""
        names = [m.name for m in self._sdnext("listings").list_models()]
        return _listing_text("Image models (pass one as `model`)", names)

    async def amodels_text(self) -> str:
        """Async :meth:`models_text`."""
        names = [m.name for m in await self._sdnext("listings").alist_models()]
        return _listing_text("Image models (pass one as `model`)", names)

    def samplers_text(self) -> str:
        """The samplers, as a line."""
        return _listing_text("Samplers", [s.name for s in self._sdnext("listings").list_samplers()])

    async def asamplers_text(self) -> str:
        """Async :meth:`samplers_text`."""
        samplers = await self._sdnext("listings").alist_samplers()
        return _listing_text("Samplers", [s.name for s in samplers])

    def upscalers_text(self) -> str:
        """The upscalers, as a line an agent can pick from."""
        names = [u.name for u in self._sdnext("listings").list_upscalers() if u.name != "None"]
        return _listing_text("Upscalers (pass one as `upscaler`)", names)

    async def aupscalers_text(self) -> str:
        """Async :meth:`upscalers_text`."""
        upscalers = await self._sdnext("listings").alist_upscalers()
        names = [u.name for u in upscalers if u.name != "None"]
        return _listing_text("Upscalers (pass one as `upscaler`)", names)

    # -- errors --------------------------------------------------------------------------

    def explain(self, exc: ArliError) -> str | None:
        """A short text telling an agent what went wrong and what to change.

        Returns ``None`` for errors no argument can fix (missing or rejected API key,
        configuration errors): those should reach the developer, not the model.
        """
        return self._explain(exc, self._known_names(exc))

    async def aexplain(self, exc: ArliError) -> str | None:
        """Async :meth:`explain` (fetches listings without blocking the loop)."""
        return self._explain(exc, await self._aknown_names(exc))

    def _wants(self, exc: ArliError) -> str | None:
        if isinstance(exc, NotFoundError) and not isinstance(self.client, AiArtClient):
            low = exc.message.lower()
            if "checkpoint" in low or "model" in low:
                return "models"
            if "sampler" in low:
                return "samplers"
            if "upscaler" in low:
                return "upscalers"
        return None

    def _known_names(self, exc: ArliError) -> list[str] | None:
        wants = self._wants(exc)
        client = self.client
        if wants is None or isinstance(client, AiArtClient):
            return None
        try:
            if wants == "models":
                return [m.name for m in client.list_models()]
            if wants == "samplers":
                return [s.name for s in client.list_samplers()]
            if wants == "upscalers":
                return [u.name for u in client.list_upscalers()]
        except ArliError:
            return None
        return None

    async def _aknown_names(self, exc: ArliError) -> list[str] | None:
        wants = self._wants(exc)
        client = self.client
        if wants is None or isinstance(client, AiArtClient):
            return None
        try:
            if wants == "models":
                return [m.name for m in await client.alist_models()]
            if wants == "samplers":
                return [s.name for s in await client.alist_samplers()]
            if wants == "upscalers":
                return [u.name for u in await client.alist_upscalers()]
        except ArliError:
            return None
        return None

    def _explain(self, exc: ArliError, names: list[str] | None) -> str | None:
        if isinstance(exc, (ArliConfigError, AuthenticationError, PermissionDeniedError)):
            return None
        if isinstance(exc, ArliValidationError):
            text = f"Invalid argument: {exc}"
            if exc.allowed and exc.allowed not in str(exc):
                text += f" (allowed: {exc.allowed})"
            return text + ". Fix this argument and call the tool again."
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
            wants = self._wants(exc)
            arg = {"models": "model", "samplers": "sampler", "upscalers": "upscaler"}.get(
                wants or "", "an argument"
            )
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


def _listing_text(title: str, names: list[str]) -> str:
    if not names:
        return f"{title}: none available."
    return f"{title}: {', '.join(names)}."

"""Image backends for the tools: Arli, the keyless Arli proxy, or AiArt — one tool interface.

The LangChain tools and the LlamaIndex tool spec take ``backend=``: a name or a client.
This module turns it into a client (:func:`make_image_backend`), says what each backend
can do (:func:`backend_supports`), narrows an argument schema to what a backend accepts
(:func:`schema_for_backend`), and holds one adapter per backend behind one interface
(:class:`BackendAdapter`: :class:`SDNextAdapter`, :class:`ProxyAdapter`,
:class:`AiArtAdapter`; :func:`adapter_for` picks it), which turns the tools' arguments into
that backend's calls. The toolbox and the skins never ask which client they hold.

* ``"arli"`` (default): :class:`~arli.ImageClient` with the key (``ARLI_IMAGE_KEY`` /
  ``ARLIAI_API_KEY``), Arli's ``/v1/...`` routes.
* ``"arli-proxy"``: :class:`~arli.ImageClient` for the keyless proxy
  (``ImageClient(provider="arli-proxy")``, base URL from ``base_url=`` or
  ``ARLI_PROXY_BASE_URL``); no key is ever sent to it.
* ``"aiart"``: :class:`~arli.AiArtClient` (keyless; ``AIART_BASE_URL``). It generates and
  edits (whole image, no mask) and makes videos; it has no upscaler, no model choice and no
  listings, takes only its five aspect ratios and no pixel size or step count.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal, Protocol, TypeAlias, get_args

from pydantic import BaseModel, Field, create_model
from pydantic.json_schema import SkipJsonSchema

from arli._errors import ArliConfigError, ArliError, ArliValidationError, NotFoundError
from arli.images._pixels import image_size
from arli.images._sizes import ratio, size_for_aspect_ratio, snap8
from arli.images.aiart import (
    AIART_ASPECT_RATIOS,
    AiArtAspectRatio,
    AiArtClient,
    AiArtGenerateRequest,
    AiArtImg2ImgRequest,
    AiArtImg2VideoRequest,
    VideoResult,
    nearest_aspect_ratio,
)
from arli.images.client import ImageClient
from arli.images.models import ImageResult, Img2ImgRequest, Txt2ImgRequest, UpscaleRequest
from arli.media import ImageData, aload_image, load_image

__all__ = [
    "AIART_HIDDEN_ARGS",
    "BACKENDS",
    "AiArtAdapter",
    "BackendAdapter",
    "BackendName",
    "ImageBackend",
    "ProxyAdapter",
    "SDNextAdapter",
    "adapter_for",
    "backend_name",
    "backend_supports",
    "make_image_backend",
    "schema_for_backend",
    "unsupported_message",
]

BackendName = Literal["arli", "arli-proxy", "aiart"]
"""The image backends the tools can use by name."""

BACKENDS: tuple[str, ...] = get_args(BackendName)

ImageBackend: TypeAlias = ImageClient | AiArtClient
"""A client the image tools can drive."""

_Hidden: TypeAlias = SkipJsonSchema[Any]
"""An argument accepted (so that the toolbox can say why it is refused) but not shown."""

Capability = Literal["generate", "edit", "upscale", "listings", "video"]
"""What a tool needs from its backend."""

_CAPABILITIES: dict[str, frozenset[str]] = {
    "arli": frozenset({"generate", "edit", "upscale", "listings"}),
    "arli-proxy": frozenset({"generate", "edit", "upscale", "listings"}),
    "aiart": frozenset({"generate", "edit", "video"}),
}

#: Tool arguments that do not apply to AiArt, per operation, with the reason given to the
#: model when one is passed anyway (the schemas hide them).
AIART_HIDDEN_ARGS: dict[str, dict[str, str]] = {
    "generate": {
        "width": "it takes no pixel size, only an aspect_ratio (1:1, 4:3, 16:9, 9:16, 3:4)",
        "height": "it takes no pixel size, only an aspect_ratio (1:1, 4:3, 16:9, 9:16, 3:4)",
        "steps": "it chooses the number of steps itself",
        "model": "it has no model choice (set a style_preset in the tool's params instead)",
    },
    "edit": {
        "mask": "it has no inpainting: it reworks the whole image, so leave mask unset",
        "steps": "it chooses the number of steps itself",
        "model": "it has no model choice (set a style_preset in the tool's params instead)",
    },
}


def make_image_backend(
    backend: str | ImageClient | AiArtClient = "arli",
    *,
    api_key: Any = None,
    base_url: str | None = None,
    **options: Any,
) -> ImageClient | AiArtClient:
    """Build the client for ``backend`` (a client is returned as it is).

    Args:
        backend: ``"arli"``, ``"arli-proxy"``, ``"aiart"``, or an :class:`~arli.ImageClient`
            / :class:`~arli.AiArtClient` to use.
        api_key: the Arli image key; used by ``"arli"`` only (the proxy and AiArt are
            keyless, so no key is ever sent to them).
        base_url: the backend's base URL (each has its own default and environment
            variable: ``ARLI_IMAGE_BASE_URL``/``ARLI_BASE_URL``, ``ARLI_PROXY_BASE_URL``,
            ``AIART_BASE_URL``).
        **options: other client options (:class:`~arli.ArliSettings` fields, ``routes``
            for Arli, ``download_hosts`` for AiArt...).

    Raises:
        ArliConfigError: an unknown backend name, or a configuration the client refuses.
    """
    if isinstance(backend, (ImageClient, AiArtClient)):
        return backend
    if backend == "arli":
        return ImageClient(api_key=api_key, base_url=base_url, **options)
    if backend == "arli-proxy":
        return ImageClient(base_url=base_url, **{"provider": "arli-proxy", **options})
    if backend == "aiart":
        return AiArtClient(base_url=base_url, **options)
    msg = (
        f"unknown image backend {backend!r}: use one of {', '.join(BACKENDS)}, or pass an "
        "ImageClient or AiArtClient"
    )
    raise ArliConfigError(msg)


def backend_name(client: ImageClient | AiArtClient) -> str:
    """``"aiart"`` for an :class:`~arli.AiArtClient`, else the client's provider preset."""
    return adapter_for(client).name


def backend_supports(client: ImageClient | AiArtClient, capability: str) -> bool:
    """Whether the backend of ``client`` can do ``capability`` (``"upscale"``, ``"video"``...)."""
    return adapter_for(client).supports(capability)


def unsupported_message(client: ImageClient | AiArtClient, capability: str) -> str:
    """Why ``capability`` is not available with the backend of ``client`` (for errors)."""
    name = backend_name(client)
    if capability == "video":
        return (
            f"image-to-video needs the AiArt backend (backend='aiart'); the {name!r} backend "
            "has no video API"
        )
    what = {"upscale": "upscaling", "listings": "model, sampler and upscaler listings"}.get(
        capability, capability
    )
    return (
        f"{what} is not available with the {name!r} backend: AiArt has no equivalent. Use "
        "backend='arli' or 'arli-proxy' for it"
    )


def schema_for_backend(
    schema: type[BaseModel], operation: str, client: ImageClient | AiArtClient
) -> type[BaseModel]:
    """``schema`` narrowed to what the backend of ``client`` accepts for ``operation``.

    For AiArt, the arguments it cannot use (:data:`AIART_HIDDEN_ARGS`) are left out of the
    JSON schema the model sees (still accepted, so that a model passing one anyway gets the
    toolbox's error saying why) and ``aspect_ratio`` becomes one of its five ratios; every
    other argument keeps its type, constraints and description. Other backends get
    ``schema`` unchanged.

    Args:
        schema: the tool's argument model.
        operation: ``"generate"`` or ``"edit"`` (others are returned unchanged).
        client: the backend's client.
    """
    hidden = AIART_HIDDEN_ARGS.get(operation)
    if backend_name(client) != "aiart" or hidden is None:
        return schema
    fields: dict[str, Any] = {}
    for name, info in schema.model_fields.items():
        if name in hidden:
            fields[name] = (_Hidden, Field(default=None))
            continue
        if name == "aspect_ratio":
            description = (
                f"Shape of the image (width:height), one of {', '.join(AIART_ASPECT_RATIOS)}."
            )
            fields[name] = (AiArtAspectRatio | None, Field(default=None, description=description))
        else:
            fields[name] = (info.annotation, copy.copy(info))
    narrowed: type[BaseModel] = create_model(
        schema.__name__, __config__=schema.model_config, __doc__=schema.__doc__, **fields
    )
    return narrowed


# -- adapters: one per backend ---------------------------------------------------------


class ToolDefaults(Protocol):
    """What an adapter reads from the toolbox: the constructor's defaults and the sandbox."""

    model: str | None
    base_size: int
    aspect_ratio: str
    generation_params: dict[str, Any]
    edit_params: dict[str, Any]
    upscale_params: dict[str, Any]
    video_params: dict[str, Any]

    def resolve_input(self, ref: str, field: str = "image") -> str | Path:
        """A checked file path or URL from the agent."""
        ...


Listing = Literal["models", "samplers", "upscalers"]


class BackendAdapter:
    """How the image tools drive one backend: the tool arguments in, client calls out.

    :func:`adapter_for` picks the adapter of a client; the toolbox never asks which client
    it holds. An operation the backend lacks raises :class:`~arli.ArliConfigError` saying
    which backend has it.
    """

    name: str = "arli"
    capabilities: frozenset[str] = _CAPABILITIES["arli"]

    def __init__(self, client: ImageClient | AiArtClient) -> None:
        self.client = client

    def supports(self, capability: str) -> bool:
        """Whether this backend can do ``capability``."""
        return capability in self.capabilities

    def unsupported(self, capability: str) -> ArliConfigError:
        """The error for an operation this backend lacks."""
        return ArliConfigError(unsupported_message(self.client, capability))

    #: This backend's defaults of the edit and upscale parameters (the tool's params win).
    edit_defaults: dict[str, Any] = {}  # noqa: RUF012 - read only
    upscale_defaults: dict[str, Any] = {}  # noqa: RUF012 - read only

    def check_defaults(self, box: ToolDefaults, polling: dict[str, Any]) -> None:
        """Validate the toolbox's defaults now rather than at the first call."""
        raise NotImplementedError

    def generate(self, box: ToolDefaults, **args: Any) -> ImageResult:
        """Text to image with the agent's ``args`` (those of the generate tool)."""
        raise self.unsupported("generate")

    async def agenerate(self, box: ToolDefaults, **args: Any) -> ImageResult:
        """Async :meth:`generate`."""
        raise self.unsupported("generate")

    def edit(self, box: ToolDefaults, **args: Any) -> ImageResult:
        """Image to image with the agent's ``args`` (those of the edit tool)."""
        raise self.unsupported("edit")

    async def aedit(self, box: ToolDefaults, **args: Any) -> ImageResult:
        """Async :meth:`edit`."""
        raise self.unsupported("edit")

    def upscale(self, box: ToolDefaults, **args: Any) -> ImageResult:
        """Upscale with the agent's ``args`` (those of the upscale tool)."""
        raise self.unsupported("upscale")

    async def aupscale(self, box: ToolDefaults, **args: Any) -> ImageResult:
        """Async :meth:`upscale`."""
        raise self.unsupported("upscale")

    def video(self, args: dict[str, Any], polling: dict[str, Any]) -> VideoResult:
        """Start a video (``args`` with ``image``) or keep waiting (``generation_id``)."""
        raise self.unsupported("video")

    async def avideo(self, args: dict[str, Any], polling: dict[str, Any]) -> VideoResult:
        """Async :meth:`video`."""
        raise self.unsupported("video")

    def names(self, listing: Listing) -> list[str]:
        """The names of a listing (``"models"``, ``"samplers"``, ``"upscalers"``)."""
        raise self.unsupported("listings")

    async def anames(self, listing: Listing) -> list[str]:
        """Async :meth:`names`."""
        raise self.unsupported("listings")

    def listing_for(self, exc: ArliError) -> Listing | None:
        """Which listing would tell the agent the names it may use, for a not-found error."""
        return None


class SDNextAdapter(BackendAdapter):
    """Arli's SDNext API (``/v1/...`` routes, with the key)."""

    client: ImageClient

    def __init__(self, client: ImageClient) -> None:
        super().__init__(client)
        self.client = client
        self.name = client.settings.provider

    edit_defaults: dict[str, Any] = {"denoising_strength": 0.6}  # noqa: RUF012 - read only
    upscale_defaults: dict[str, Any] = {"upscaler_1": "ESRGAN_4x"}  # noqa: RUF012 - read only

    def check_defaults(self, box: ToolDefaults, polling: dict[str, Any]) -> None:
        """Build each request once with the defaults (out-of-range values fail here)."""
        Txt2ImgRequest(**{"prompt": "-", **box.generation_params})
        Img2ImgRequest(**{"prompt": "-", "init_images": [b"-"], **box.edit_params})
        UpscaleRequest(**{"image": b"-", **box.upscale_params})

    @staticmethod
    def _size(
        box: ToolDefaults, aspect_ratio: str | None, width: int | None, height: int | None
    ) -> dict[str, int]:
        if width is not None or height is not None:
            # the documented range (64..2048) is checked before snapping to a multiple of 8,
            # so an out-of-range size is refused rather than silently clamped
            Txt2ImgRequest(prompt="size check", width=width, height=height)
        if width is not None and height is not None:
            return {"width": snap8(width), "height": snap8(height)}
        unset = aspect_ratio is None and width is None and height is None
        if unset and ("width" in box.generation_params or "height" in box.generation_params):
            return {}
        shape = aspect_ratio or box.aspect_ratio
        if width is not None:  # keep the ratio, scale to the given width
            a, b = ratio(shape)
            return {"width": snap8(width), "height": snap8(width * b / a)}
        if height is not None:
            a, b = ratio(shape)
            return {"width": snap8(height * a / b), "height": snap8(height)}
        w, h = size_for_aspect_ratio(shape, box.base_size)
        return {"width": w, "height": h}

    @staticmethod
    def _common(box: ToolDefaults, args: dict[str, Any], values: dict[str, Any]) -> None:
        args.update({key: value for key, value in values.items() if value is not None})
        chosen = values.get("model") or box.model
        args.pop("model", None)
        if chosen:
            args["sd_model_checkpoint"] = chosen

    def _gen_args(self, box: ToolDefaults, args: dict[str, Any]) -> dict[str, Any]:
        request: dict[str, Any] = {**box.generation_params, "prompt": args["prompt"]}
        request.update(
            self._size(box, args.get("aspect_ratio"), args.get("width"), args.get("height"))
        )
        keep = ("negative_prompt", "steps", "seed", "model")
        self._common(box, request, {k: args.get(k) for k in keep})
        return request

    def _edit_args(self, box: ToolDefaults, args: dict[str, Any]) -> dict[str, Any]:
        request: dict[str, Any] = {
            **box.edit_params,
            "prompt": args["prompt"],
            "init_images": [box.resolve_input(args["image"], "image")],
        }
        mask = args.get("mask")
        if mask is not None and mask.strip():
            request["mask"] = box.resolve_input(mask, "mask")
            request.setdefault("mask_blur", 4)
            request.setdefault("inpaint_full_res", True)
        values = {k: args.get(k) for k in ("negative_prompt", "steps", "seed", "model")}
        values["denoising_strength"] = args.get("strength")
        self._common(box, request, values)
        return request

    @staticmethod
    def _upscale_args(box: ToolDefaults, args: dict[str, Any]) -> dict[str, Any]:
        request: dict[str, Any] = {
            **box.upscale_params,
            "image": box.resolve_input(args["image"], "image"),
        }
        if args.get("scale") is not None:
            request["upscaling_resize"] = args["scale"]
        if args.get("upscaler"):
            request["upscaler_1"] = args["upscaler"]
        return request

    def generate(self, box: ToolDefaults, **args: Any) -> ImageResult:
        """txt2img."""
        return self.client.txt2img(**self._gen_args(box, args))

    async def agenerate(self, box: ToolDefaults, **args: Any) -> ImageResult:
        """Async txt2img."""
        return await self.client.atxt2img(**self._gen_args(box, args))

    def edit(self, box: ToolDefaults, **args: Any) -> ImageResult:
        """img2img, inpainting with a mask."""
        return self.client.img2img(**self._edit_args(box, args))

    async def aedit(self, box: ToolDefaults, **args: Any) -> ImageResult:
        """Async img2img."""
        return await self.client.aimg2img(**self._edit_args(box, args))

    def upscale(self, box: ToolDefaults, **args: Any) -> ImageResult:
        """Upscale (``/v1/upscale-img`` or extra-single-image)."""
        return self.client.upscale(**self._upscale_args(box, args))

    async def aupscale(self, box: ToolDefaults, **args: Any) -> ImageResult:
        """Async upscale."""
        return await self.client.aupscale(**self._upscale_args(box, args))

    def names(self, listing: Listing) -> list[str]:
        """The models, samplers or upscalers of the server."""
        if listing == "models":
            return [m.name for m in self.client.list_models()]
        if listing == "samplers":
            return [s.name for s in self.client.list_samplers()]
        return [u.name for u in self.client.list_upscalers()]

    async def anames(self, listing: Listing) -> list[str]:
        """Async :meth:`names`."""
        if listing == "models":
            return [m.name for m in await self.client.alist_models()]
        if listing == "samplers":
            return [s.name for s in await self.client.alist_samplers()]
        return [u.name for u in await self.client.alist_upscalers()]

    def listing_for(self, exc: ArliError) -> Listing | None:
        """A 404 naming a checkpoint/model, sampler or upscaler points at its listing."""
        if not isinstance(exc, NotFoundError):
            return None
        low = exc.message.lower()
        if "checkpoint" in low or "model" in low:
            return "models"
        if "sampler" in low:
            return "samplers"
        if "upscaler" in low:
            return "upscalers"
        return None


class ProxyAdapter(SDNextAdapter):
    """The keyless Arli proxy: the SDNext API without a key (``provider="arli-proxy"``)."""


class AiArtAdapter(BackendAdapter):
    """AiArt: generate, edit the whole image, image to video; no upscaler, models or lists."""

    name = "aiart"
    capabilities = _CAPABILITIES["aiart"]
    client: AiArtClient

    def __init__(self, client: AiArtClient) -> None:
        super().__init__(client)
        self.client = client

    def check_defaults(self, box: ToolDefaults, polling: dict[str, Any]) -> None:
        """AiArt's own requests with the defaults; a model is refused (it has none)."""
        if box.model:
            msg = (
                f"model={box.model!r} does not apply to the AiArt backend: it has no model "
                "choice (use generation_params={'style_preset': ...} for a look)"
            )
            raise ArliConfigError(msg)
        self.ratio(box.aspect_ratio)
        AiArtGenerateRequest(**{"prompt": "-", **box.generation_params})
        AiArtImg2ImgRequest(**{"prompt": "-", **box.edit_params})
        AiArtImg2VideoRequest(**box.video_params)
        AiArtClient._check_polling(
            polling["poll_interval"], polling["poll_timeout"], polling["max_polls"]
        )

    @staticmethod
    def ratio(value: str) -> str:
        """``value`` if it is one of AiArt's aspect ratios, else a clear error."""
        if value not in AIART_ASPECT_RATIOS:
            allowed = ", ".join(AIART_ASPECT_RATIOS)
            msg = f"aspect_ratio={value!r} is not supported by the AiArt backend: allowed {allowed}"
            raise ArliValidationError(msg, field="aspect_ratio", allowed=allowed)
        return value

    @staticmethod
    def seed(seed: int | None) -> int | None:
        """AiArt's random seed is 0; the tools' -1 is mapped to it."""
        return 0 if seed is not None and seed < 0 else seed

    @staticmethod
    def refuse_unused(operation: str, args: dict[str, Any]) -> None:
        """Refuse the arguments AiArt has no use for, saying why."""
        for name, reason in AIART_HIDDEN_ARGS[operation].items():
            value = args.get(name)
            if value is not None and (not isinstance(value, str) or value.strip()):
                msg = f"`{name}` is not supported by the AiArt backend: {reason}"
                raise ArliValidationError(msg, field=name)

    def _gen_args(self, box: ToolDefaults, args: dict[str, Any]) -> dict[str, Any]:
        self.refuse_unused("generate", args)
        request: dict[str, Any] = {**box.generation_params, "prompt": args["prompt"]}
        default = box.generation_params.get("aspect_ratio") or box.aspect_ratio
        request["aspect_ratio"] = self.ratio(args.get("aspect_ratio") or default)
        if args.get("negative_prompt") is not None:
            request["negative_prompt"] = args["negative_prompt"]
        if args.get("seed") is not None:
            request["seed"] = self.seed(args["seed"])
        return request

    def _edit_args(
        self, box: ToolDefaults, image: ImageData, args: dict[str, Any]
    ) -> dict[str, Any]:
        request: dict[str, Any] = {**box.edit_params, "image": image, "prompt": args["prompt"]}
        if "aspect_ratio" not in request:
            size = image_size(image.data)
            if size is not None:
                request["aspect_ratio"] = nearest_aspect_ratio(*size)
        for key, value in (
            ("negative_prompt", args.get("negative_prompt")),
            ("strength", args.get("strength")),
            ("seed", self.seed(args.get("seed"))),
        ):
            if value is not None:
                request[key] = value
        return request

    def generate(self, box: ToolDefaults, **args: Any) -> ImageResult:
        """AiArt's text to image."""
        return self.client.generate(**self._gen_args(box, args))

    async def agenerate(self, box: ToolDefaults, **args: Any) -> ImageResult:
        """Async :meth:`generate`."""
        return await self.client.agenerate(**self._gen_args(box, args))

    def edit(self, box: ToolDefaults, **args: Any) -> ImageResult:
        """AiArt's image to image (the whole image; no mask)."""
        self.refuse_unused("edit", args)
        data = load_image(box.resolve_input(args["image"], "image"))
        return self.client.img2img(**self._edit_args(box, data, args))

    async def aedit(self, box: ToolDefaults, **args: Any) -> ImageResult:
        """Async :meth:`edit`."""
        self.refuse_unused("edit", args)
        data = await aload_image(box.resolve_input(args["image"], "image"))
        return await self.client.aimg2img(**self._edit_args(box, data, args))

    def video(self, args: dict[str, Any], polling: dict[str, Any]) -> VideoResult:
        """Start a video and wait for it, or keep waiting for ``generation_id``."""
        if "generation_id" in args:
            return self.client.video_result(args["generation_id"], **polling)
        return self.client.img2video(**args, **polling)

    async def avideo(self, args: dict[str, Any], polling: dict[str, Any]) -> VideoResult:
        """Async :meth:`video`."""
        if "generation_id" in args:
            return await self.client.avideo_result(args["generation_id"], **polling)
        return await self.client.aimg2video(**args, **polling)


def adapter_for(client: ImageClient | AiArtClient) -> BackendAdapter:
    """The adapter of ``client``'s backend (the one place that looks at the client's type)."""
    if isinstance(client, AiArtClient):
        return AiArtAdapter(client)
    if client.settings.provider == "arli-proxy":
        return ProxyAdapter(client)
    return SDNextAdapter(client)

"""ImageClient: txt2img, img2img/inpainting, upscaling and listings over the shared transport.

Every call goes through the image API's pooled transport (:func:`~arli.get_transport`):
the same retries (429 honouring ``Retry-After``, 5xx, connection errors), the 300 s read
timeout for generations and 30 s for listings, and the process-wide limiter that keeps
threads and tasks under Arli's parallel limit (6 by default, or the value read from
``/v1/parallel-requests``), so that ``batch``/``abatch`` and thread pools do not get 429s.
A generation whose response timed out is not re-sent unless ``retry_read_timeouts=True``:
the server may still be working on it (and billing it).

Requests are validated before anything is sent (see :mod:`arli.images.models`); the model
is chosen per request (``sd_model_checkpoint``, also inside ``override_settings``), never
by posting global options.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

import httpx
from pydantic import SecretStr

from arli._errors import ArliConfigError, ArliError, ArliResponseError, ArliValidationError
from arli._kwargs import checks_arguments
from arli._providers import get_provider
from arli._settings import SETTINGS_ARGUMENTS, ArliSettings, check_count, check_seconds
from arli._steps import Steps, arun, run, transport_options
from arli._transport import PooledClient, Transport, get_transport
from arli.images._inputs import aload_input, init_size, load_input, prepare_mask
from arli.images._pixels import DEFAULT_MAX_PIXELS
from arli.images.models import (
    ImageModel,
    ImageResult,
    Img2ImgRequest,
    Operation,
    ParallelRequests,
    Sampler,
    Txt2ImgRequest,
    Upscaler,
    UpscaleRequest,
    parse_image_response,
    parse_models,
    parse_parallel_requests,
    parse_samplers,
    parse_upscalers,
)
from arli.media import ImageData

__all__ = ["ImageClient", "ImageRoutes", "UpscaleEndpoint"]

logger = logging.getLogger("arli")

T = TypeVar("T")

UpscaleEndpoint = Literal["auto", "upscale-img", "extra-single-image"]
"""Which upscale route to use; ``auto`` picks ``upscale`` unless an extras-only field is set."""


@checks_arguments()
@dataclass(frozen=True)
class ImageRoutes:
    """Paths of the image API relative to its base URL.

    Arli documents two forms of every route: its own ``/v1/...`` aliases (the default
    here, as in Arli's API reference) and SDNext's ``/sdapi/v1/...`` paths
    (:meth:`sdapi`). Replace any path for a gateway that maps them elsewhere, e.g.
    ``ImageRoutes(txt2img="/api/txt2img/sdapi/v1/txt2img")``.

    Attributes:
        txt2img: text to image.
        img2img: image to image and inpainting.
        upscale: the default upscale route (Arli's ``/v1/upscale-img``).
        extra_single_image: SDNext's postprocessing route (two upscalers, target size...).
        models: image models (checkpoints).
        samplers: samplers.
        upscalers: upscalers.
        options: the server's current options.
        parallel_requests: Arli's parallel-request limit for the key.
    """

    txt2img: str = "/v1/txt2img"
    img2img: str = "/v1/img2img"
    upscale: str = "/v1/upscale-img"
    extra_single_image: str = "/sdapi/v1/extra-single-image"
    models: str = "/sdapi/v1/sd-models"
    samplers: str = "/v1/img-samplers"
    upscalers: str = "/v1/upscalers"
    options: str = "/v1/img-options"
    parallel_requests: str = "/v1/parallel-requests"

    @classmethod
    def arli(cls) -> ImageRoutes:
        """Arli's ``/v1/...`` routes (the default)."""
        return cls()

    @classmethod
    def sdapi(cls) -> ImageRoutes:
        """SDNext's ``/sdapi/v1/...`` routes (``/v1/parallel-requests`` is Arli-only)."""
        return cls(
            txt2img="/sdapi/v1/txt2img",
            img2img="/sdapi/v1/img2img",
            upscale="/sdapi/v1/extra-single-image",
            extra_single_image="/sdapi/v1/extra-single-image",
            models="/sdapi/v1/sd-models",
            samplers="/sdapi/v1/samplers",
            upscalers="/sdapi/v1/upscalers",
            options="/sdapi/v1/options",
        )

    @classmethod
    def proxy(cls) -> ImageRoutes:
        """The keyless proxy's routes: ``/<endpoint>/sdapi/v1/<endpoint>`` under its ``/api``.

        The proxy has no ``parallel-requests`` route (its limit is a documented 6).
        """
        return cls(
            txt2img="/txt2img/sdapi/v1/txt2img",
            img2img="/img2img/sdapi/v1/img2img",
            upscale="/extra-single-image/sdapi/v1/extra-single-image",
            extra_single_image="/extra-single-image/sdapi/v1/extra-single-image",
            models="/sd-models/sdapi/v1/sd-models",
            samplers="/samplers/sdapi/v1/samplers",
            upscalers="/upscalers/sdapi/v1/upscalers",
            options="/options/sdapi/v1/options",
            parallel_requests="",
        )

    @classmethod
    def preset(cls, name: str) -> ImageRoutes:
        """The routes of a provider preset: ``"arli"``, ``"sdapi"`` or ``"proxy"``."""
        return {"arli": cls.arli, "sdapi": cls.sdapi, "proxy": cls.proxy}[name]()

    def with_(self, **paths: str) -> ImageRoutes:
        """A copy with some paths replaced."""
        return replace(self, **paths)


@dataclass(frozen=True)
class _CallOptions:
    """A generation's per-call overrides (the arguments of the same names)."""

    request_timeout: float | None = None
    max_retries: int | None = None
    retry_read_timeouts: bool | None = None


@checks_arguments(
    passes_to=SETTINGS_ARGUMENTS,
    sets={
        "image_api_key": "pass the image API key as api_key=...",
        "image_base_url": "pass the image API URL as base_url=...",
    },
)
class ImageClient(PooledClient):
    """A client for the Arli image API (SDNext behind Arli's gateway).

    Args:
        api_key: the key (else ``ARLI_IMAGE_KEY`` or ``ARLIAI_API_KEY``).
        base_url: the base URL (else ``ARLI_IMAGE_BASE_URL``/``ARLI_BASE_URL``, else Arli's).
        settings: complete settings; when given, ``api_key``/``base_url``/``options`` are ignored.
        http_client: an httpx client to use (not closed by us).
        http_async_client: an httpx async client to use (not closed by us).
        routes: route paths (:meth:`ImageRoutes.sdapi` for the ``/sdapi/v1`` forms).
        model: the default model (``sd_model_checkpoint``) for generations.
        model_in_override_settings: also send the model as
            ``override_settings.sd_model_checkpoint`` (what A1111-style servers read).
        limit_from_server: before the first generation, read ``/v1/parallel-requests`` and
            set the process-wide limiter to the key's limit.
        listing_cache_ttl: seconds listings (models, samplers, upscalers) are cached.
        max_pixels: decompression-bomb cap when decoding images with Pillow.
        **options: any other :class:`~arli.ArliSettings` field (``image_auth="basic"``,
            ``image_max_concurrency``, ``image_timeout``, ``max_retries``...).

    Example:
        .. code-block:: python

            from arli import ImageClient

            client = ImageClient(model="FLUX.2-klein-4B")
            result = client.txt2img(prompt="a lighthouse at dusk", steps=20, seed=7)
            print(result.info.seed, result.mime_type)  # image/jpeg: SDNext's default
            result.save("out/")
            edited = client.img2img(init_images="out/photo.png", mask="mask.png",
                                    prompt="a red door", denoising_strength=0.7)
            big = client.upscale(image=result.data, upscaler_1="ESRGAN_4x")
    """

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        settings: ArliSettings | None = None,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        routes: ImageRoutes | None = None,
        model: str | None = None,
        model_in_override_settings: bool = True,
        limit_from_server: bool = False,
        listing_cache_ttl: float = 300.0,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        **options: Any,
    ):
        check_seconds(
            listing_cache_ttl, "listing_cache_ttl", zero="no caching", label="ImageClient"
        )
        check_count(max_pixels, "max_pixels", low=1, label="ImageClient")
        self.settings = settings or ArliSettings.resolve(
            image_api_key=api_key, image_base_url=base_url, **options
        )
        provider = get_provider(self.settings.provider)
        if not provider.has_images:
            msg = f"{provider.label} has no SDNext image API"
            if provider.name == "aiart":
                msg += ": use arli.AiArtClient (or backend='aiart' in the image tools)"
            raise ArliConfigError(msg)
        self.routes = routes or ImageRoutes.preset(provider.image_routes)
        self.provider = provider
        self.model = model
        self.model_in_override_settings = model_in_override_settings
        self.limit_from_server = limit_from_server
        self.listing_cache_ttl = listing_cache_ttl
        self.max_pixels = max_pixels
        self._transport: Transport = get_transport(
            self.settings, "image", http_client=http_client, http_async_client=http_async_client
        )
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._limit_checked = False
        self._limit_ready = threading.Event()

    def __repr__(self) -> str:
        model = f", model={self.model!r}" if self.model else ""
        return f"ImageClient(base_url={self._transport.base_url!r}{model})"

    def __deepcopy__(self, memo: dict[int, Any]) -> ImageClient:
        # Its settings are immutable and its pool, limiter and listing cache are shared by
        # the clients of the same settings: a deep copy is a new handle on them, whose own
        # attributes (``model``...) can change apart.
        return copy.copy(self)

    # -- plumbing: the I/O of the steps (arli._steps) -----------------------------------

    def _ops(self) -> dict[str, Callable[..., Any]]:
        """The blocking I/O of the steps."""
        return {
            "send": self._send,
            "load": load_input,
            "mask": _mask,
            "wait": self._limit_ready.wait,
        }

    def _aops(self) -> dict[str, Callable[..., Any]]:
        """The awaited I/O of the steps (mask conversion in a thread)."""
        return {
            "send": self._asend,
            "load": aload_input,
            "mask": _amask,
            "wait": self._await_limit,
        }

    def _send(self, method: str, path: str, options: dict[str, Any]) -> Any:
        return self._transport.request(method, path, **options).json()

    async def _asend(self, method: str, path: str, options: dict[str, Any]) -> Any:
        return (await self._transport.arequest(method, path, **options)).json()

    async def _await_limit(self) -> None:
        # A threading.Event: the reader may be another thread or event loop.
        while not self._limit_ready.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.005)

    # -- the logic of every call, as steps ---------------------------------------------

    def _post_steps(self, path: str, body: dict[str, Any], opts: _CallOptions) -> Steps[Any]:
        """A generation: the server's limit read first when asked, then the POST."""
        yield from self._limit_steps()
        options = transport_options(
            "image",
            opts.request_timeout,
            opts.max_retries,
            opts.retry_read_timeouts,
            json_body=body,
        )
        data = yield "send", "POST", path, options
        return data

    def _listing_steps(self, key: str, parse: Callable[[Any], T], refresh: bool) -> Steps[T]:
        """A listing (``key`` names its route), cached for ``listing_cache_ttl`` seconds."""
        hit = self._cached(key, refresh)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        data = yield "send", "GET", getattr(self.routes, key), transport_options("listing")
        return self._store(key, parse(data))

    def _cached(self, key: str, refresh: bool) -> Any:
        if refresh or self.listing_cache_ttl <= 0:
            return None
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.listing_cache_ttl:
            return hit[1]
        return None

    def _store(self, key: str, value: T) -> T:
        with self._lock:
            self._cache[key] = (time.monotonic(), value)
        return value

    def _claim_limit_check(self) -> bool:
        """True for the one caller that must read the limit; the others wait for it."""
        with self._lock:
            if self._limit_checked:
                return False
            self._limit_checked = True
            return True

    def _limit_steps(self) -> Steps[None]:
        """With ``limit_from_server``: read the limit once (the other callers wait for it)."""
        if not self.limit_from_server or self._limit_ready.is_set():
            return
        if not self._claim_limit_check():
            yield ("wait",)
            return
        try:
            yield from self._parallel_steps(apply=True)
        except ArliError as exc:
            logger.warning("could not read the parallel-request limit (kept the default): %s", exc)
        finally:
            self._limit_ready.set()

    def _apply_model(self, body: dict[str, Any], requested: str | None) -> str | None:
        model = requested or self.model
        if not model and self.provider.image_model_required:
            msg = (
                f"sd_model_checkpoint is required by {self.provider.label}'s image API: pass "
                "model=... to the call (or ImageClient(model=...)); list the models with "
                "ImageClient.list_models() (GET /sdapi/v1/sd-models)"
            )
            raise ArliValidationError(
                msg, field="sd_model_checkpoint", allowed="a model name from list_models()"
            )
        if model:
            body["sd_model_checkpoint"] = model
            if self.model_in_override_settings:
                override = dict(body.get("override_settings") or {})
                override.setdefault("sd_model_checkpoint", model)
                body["override_settings"] = override
                body.setdefault("override_settings_restore_afterwards", True)
        return model

    def _parse(
        self, data: Any, operation: Operation, body: Mapping[str, Any], model: str | None
    ) -> ImageResult:
        return parse_image_response(
            data,
            operation=operation,
            requested_model=model,
            max_pixels=self.max_pixels,
            allow_empty=body.get("send_images") is False,
        )

    # -- txt2img -----------------------------------------------------------------------

    def _txt2img_steps(
        self,
        request: Txt2ImgRequest | Mapping[str, Any] | None,
        params: dict[str, Any],
        opts: _CallOptions,
    ) -> Steps[ImageResult]:
        req: Txt2ImgRequest = Txt2ImgRequest.build(request, **params)
        body = req.wire_fields()
        model = self._apply_model(body, req.model)
        data = yield from self._post_steps(self.routes.txt2img, body, opts)
        return self._parse(data, "txt2img", body, model)

    def txt2img(
        self,
        request: Txt2ImgRequest | Mapping[str, Any] | None = None,
        /,
        *,
        request_timeout: float | None = None,
        max_retries: int | None = None,
        retry_read_timeouts: bool | None = None,
        **params: Any,
    ) -> ImageResult:
        """Generate images from a prompt (``POST`` :attr:`ImageRoutes.txt2img`).

        Args:
            request: a :class:`Txt2ImgRequest` (or a mapping of its fields); optional.
            request_timeout: read timeout in seconds for this call (default 300 s).
            max_retries: retries for this call (default from the settings).
            retry_read_timeouts: re-send if the response timed out (default False).
            **params: request fields (``prompt``, ``steps``, ``width``, ``model``... and any
                SDNext extra), overriding ``request``'s.

        Raises:
            ArliValidationError: a value out of range (nothing is sent).
            ArliStatusError: the server's error (404 unknown model or sampler, 422...).
            ArliResponseError: no usable image came back.
        """
        opts = _CallOptions(request_timeout, max_retries, retry_read_timeouts)
        return run(self._txt2img_steps(request, params, opts), self._ops())

    async def atxt2img(
        self,
        request: Txt2ImgRequest | Mapping[str, Any] | None = None,
        /,
        *,
        request_timeout: float | None = None,
        max_retries: int | None = None,
        retry_read_timeouts: bool | None = None,
        **params: Any,
    ) -> ImageResult:
        """Async :meth:`txt2img`."""
        opts = _CallOptions(request_timeout, max_retries, retry_read_timeouts)
        return await arun(self._txt2img_steps(request, params, opts), self._aops())

    # -- img2img -----------------------------------------------------------------------

    def _img2img_steps(
        self,
        request: Img2ImgRequest | Mapping[str, Any] | None,
        params: dict[str, Any],
        opts: _CallOptions,
    ) -> Steps[ImageResult]:
        req: Img2ImgRequest = Img2ImgRequest.build(request, **params)
        inits: list[ImageData] = []
        for i, src in enumerate(req.init_images):
            inits.append((yield "load", src, f"init_images[{i}]", self.max_pixels))
        mask: ImageData | None = None
        if req.mask is not None:
            raw_mask = yield "load", req.mask, "mask", self.max_pixels
            invert = bool(req.inpainting_mask_invert)
            mask = yield "mask", raw_mask, inits[0], invert, self.max_pixels
        body = req.wire_fields()
        body["init_images"] = [image.b64() for image in inits]
        if mask is not None:
            body["mask"] = mask.b64()
        if "width" not in body and "height" not in body and "scale_by" not in body:
            size = init_size(inits[0], self.max_pixels)
            if size is not None and all(64 <= side <= 2048 for side in size):
                body["width"], body["height"] = size
        model = self._apply_model(body, req.model)
        data = yield from self._post_steps(self.routes.img2img, body, opts)
        return self._parse(data, "img2img", body, model)

    def img2img(
        self,
        request: Img2ImgRequest | Mapping[str, Any] | None = None,
        /,
        *,
        request_timeout: float | None = None,
        max_retries: int | None = None,
        retry_read_timeouts: bool | None = None,
        **params: Any,
    ) -> ImageResult:
        """Transform images, or inpaint with a ``mask`` (``POST`` :attr:`ImageRoutes.img2img`).

        ``init_images`` (one value or a list) and ``mask`` take a path, bytes, base64, a
        ``data:`` URI, a PIL image, a binary file or an http(s) URL. The mask is converted
        to grayscale at the first init image's size (needs Pillow unless it already has that
        size); an empty mask is rejected. Without ``width``/``height`` the output keeps the
        init image's size (when it is within 64..2048).

        Args:
            request: an :class:`Img2ImgRequest` (or a mapping of its fields); optional.
            request_timeout: read timeout in seconds for this call (default 300 s).
            max_retries: retries for this call.
            retry_read_timeouts: re-send if the response timed out (default False).
            **params: request fields (``init_images``, ``prompt``, ``mask``, ``mask_blur``,
                ``denoising_strength``, ``inpainting_fill``, ``inpaint_full_res``... and any
                SDNext extra).

        Raises:
            ArliValidationError: a value out of range, an unreadable image or an empty mask.
            ArliStatusError: the server's error.
            ArliResponseError: no usable image came back.
        """
        opts = _CallOptions(request_timeout, max_retries, retry_read_timeouts)
        return run(self._img2img_steps(request, params, opts), self._ops())

    async def aimg2img(
        self,
        request: Img2ImgRequest | Mapping[str, Any] | None = None,
        /,
        *,
        request_timeout: float | None = None,
        max_retries: int | None = None,
        retry_read_timeouts: bool | None = None,
        **params: Any,
    ) -> ImageResult:
        """Async :meth:`img2img` (downloads and mask conversion do not block the loop)."""
        opts = _CallOptions(request_timeout, max_retries, retry_read_timeouts)
        return await arun(self._img2img_steps(request, params, opts), self._aops())

    # -- upscale -------------------------------------------------------------------------

    def _upscale_path(self, req: UpscaleRequest, endpoint: UpscaleEndpoint) -> str:
        if endpoint == "upscale-img":
            return self.routes.upscale
        if endpoint == "extra-single-image":
            return self.routes.extra_single_image
        if req.needs_extra_single_image():
            return self.routes.extra_single_image
        return self.routes.upscale

    def _upscale_steps(
        self,
        request: UpscaleRequest | Mapping[str, Any] | None,
        params: dict[str, Any],
        endpoint: UpscaleEndpoint,
        opts: _CallOptions,
    ) -> Steps[ImageResult]:
        req: UpscaleRequest = UpscaleRequest.build(request, **params)
        image: ImageData = yield "load", req.image, "image", self.max_pixels
        body = {"image": image.b64(), **req.wire_fields()}
        data = yield from self._post_steps(self._upscale_path(req, endpoint), body, opts)
        return self._parse(data, "upscale", body, None)

    def upscale(
        self,
        request: UpscaleRequest | Mapping[str, Any] | None = None,
        /,
        *,
        endpoint: UpscaleEndpoint = "auto",
        request_timeout: float | None = None,
        max_retries: int | None = None,
        retry_read_timeouts: bool | None = None,
        **params: Any,
    ) -> ImageResult:
        """Upscale an image with ``/v1/upscale-img`` or ``/sdapi/v1/extra-single-image``.

        ``endpoint="auto"`` uses :attr:`ImageRoutes.upscale` (Arli's ``/v1/upscale-img``)
        unless a field only extra-single-image understands is set (``upscaler_2``,
        ``resize_mode``, ``upscaling_resize_w/h``, ``upscaling_crop``,
        ``extras_upscaler_2_visibility`` or any other extra). Both answers (``images`` +
        ``info`` object, or ``image`` + ``html_info``) give the same :class:`ImageResult`.

        Args:
            request: an :class:`UpscaleRequest` (or a mapping of its fields); optional.
            endpoint: ``"auto"``, ``"upscale-img"`` or ``"extra-single-image"``.
            request_timeout: read timeout in seconds for this call (default 300 s).
            max_retries: retries for this call.
            retry_read_timeouts: re-send if the response timed out (default False).
            **params: request fields (``image``, ``upscaler_1``, ``upscaling_resize``...).

        Raises:
            ArliValidationError: a value out of range or an unreadable image.
            ArliStatusError: the server's error.
            ArliResponseError: no usable image came back.
        """
        opts = _CallOptions(request_timeout, max_retries, retry_read_timeouts)
        return run(self._upscale_steps(request, params, endpoint, opts), self._ops())

    async def aupscale(
        self,
        request: UpscaleRequest | Mapping[str, Any] | None = None,
        /,
        *,
        endpoint: UpscaleEndpoint = "auto",
        request_timeout: float | None = None,
        max_retries: int | None = None,
        retry_read_timeouts: bool | None = None,
        **params: Any,
    ) -> ImageResult:
        """Async :meth:`upscale`."""
        opts = _CallOptions(request_timeout, max_retries, retry_read_timeouts)
        return await arun(self._upscale_steps(request, params, endpoint, opts), self._aops())

    # -- listings ------------------------------------------------------------------------

    def list_models(self, *, refresh: bool = False) -> list[ImageModel]:
        """The image models the key can use (names or objects, both parsed; cached)."""
        return run(self._listing_steps("models", parse_models, refresh), self._ops())

    async def alist_models(self, *, refresh: bool = False) -> list[ImageModel]:
        """Async :meth:`list_models`."""
        return await arun(self._listing_steps("models", parse_models, refresh), self._aops())

    def list_samplers(self, *, refresh: bool = False) -> list[Sampler]:
        """The samplers (SDNext names such as ``"Euler a"``, ``"DPM++ 2M"``; cached)."""
        return run(
            self._listing_steps("samplers", parse_samplers, refresh),
            self._ops(),
        )

    async def alist_samplers(self, *, refresh: bool = False) -> list[Sampler]:
        """Async :meth:`list_samplers`."""
        return await arun(
            self._listing_steps("samplers", parse_samplers, refresh),
            self._aops(),
        )

    def list_upscalers(self, *, refresh: bool = False) -> list[Upscaler]:
        """The upscalers (``"ESRGAN_4x"``...; cached)."""
        return run(
            self._listing_steps("upscalers", parse_upscalers, refresh),
            self._ops(),
        )

    async def alist_upscalers(self, *, refresh: bool = False) -> list[Upscaler]:
        """Async :meth:`list_upscalers`."""
        return await arun(
            self._listing_steps("upscalers", parse_upscalers, refresh),
            self._aops(),
        )

    def get_options(self) -> dict[str, Any]:
        """The server's current options (read only: models are chosen per request)."""
        return run(self._options_steps(), self._ops())

    async def aget_options(self) -> dict[str, Any]:
        """Async :meth:`get_options`."""
        return await arun(self._options_steps(), self._aops())

    def parallel_requests(self, *, apply: bool = False) -> ParallelRequests:
        """Read the key's parallel-request limit (``GET /v1/parallel-requests``).

        Args:
            apply: set the process-wide image limiter to it (every client of this base URL
                and key shares that limiter). Ignored when the limiter is disabled
                (``image_max_concurrency=None``).
        """
        return run(self._parallel_steps(apply), self._ops())

    def _parallel_route(self) -> str:
        if not self.routes.parallel_requests:
            msg = (
                "this server has no parallel-requests route (the keyless proxy documents a "
                "fixed limit of 6, which image_max_concurrency already applies)"
            )
            raise ArliConfigError(msg)
        return self.routes.parallel_requests

    async def aparallel_requests(self, *, apply: bool = False) -> ParallelRequests:
        """Async :meth:`parallel_requests`."""
        return await arun(self._parallel_steps(apply), self._aops())

    def _options_steps(self) -> Steps[dict[str, Any]]:
        data = yield "send", "GET", self.routes.options, transport_options("listing")
        return _options(data)

    def _parallel_steps(self, apply: bool) -> Steps[ParallelRequests]:
        data = yield "send", "GET", self._parallel_route(), transport_options("listing")
        info = parse_parallel_requests(data)
        if apply:
            self._apply_limit(info)
        return info

    def _apply_limit(self, info: ParallelRequests) -> None:
        limiter = self._transport.limiter
        if limiter is not None and limiter.limit != info.parallel_requests:
            logger.info(
                "image API: %d parallel requests allowed; limiter set from %d",
                info.parallel_requests,
                limiter.limit,
            )
            limiter.set_limit(info.parallel_requests)


def _options(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        msg = "the options answer is not a JSON object"
        raise ArliResponseError(msg, body=str(data)[:300])
    return data


def _mask(mask: ImageData, init: ImageData, invert: bool, max_pixels: int) -> ImageData:
    return prepare_mask(mask, init, invert=invert, max_pixels=max_pixels)


async def _amask(mask: ImageData, init: ImageData, invert: bool, max_pixels: int) -> ImageData:
    """:func:`_mask` in a thread (Pillow work does not block the event loop)."""
    return await asyncio.to_thread(_mask, mask, init, invert, max_pixels)

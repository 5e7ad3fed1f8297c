"""The image routes: dispatch, options and the enumerators."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.reference_server.images.generation import _ImageGeneration
from tests.reference_server.images.tables import (
    _SAMPLERS,
    _SD_MODELS,
    _UPSCALERS,
)
from tests.reference_server.images.validation import _HTTPError, sdnext_error
from tests.reference_server.wire import (
    Counters,
    Request,
    Response,
    Settings,
    json_response,
)


class ImageAPI(_ImageGeneration):
    """Handlers for the SDNext image routes and Arli's aliases.

    Args:
        settings: Shared server settings.
        counters: Shared counters (``in_flight_images``, ``rate_limited`` …).
    """

    def __init__(self, settings: Settings, counters: Counters) -> None:
        self.settings = settings
        self.counters = counters
        self.options: dict[str, Any] = {
            "sd_model_checkpoint": _SD_MODELS[0]["title"],
            "sd_checkpoint_hash": _SD_MODELS[0]["sha256"],
            "sd_vae": "Automatic",
            "samples_format": settings.samples_format,
            "jpeg_quality": 90,
            "samples_save": True,
            "grid_save": True,
            "CLIP_stop_at_last_layers": 1,
            "scheduler_eta": 1.0,
            "eta_noise_seed_delta": 0,
            "img2img_color_correction": False,
            "upscaler_for_img2img": "None",
            "show_progress_every_n_steps": -1,
            "live_previews_enable": True,
            "interrogate_clip_model": "ViT-L-14/openai",
            "diffusers_pipeline": "Autodetect",
            "diffusers_offload_mode": "none",
            "cross_attention_optimization": "Scaled-Dot-Product",
        }
        self._routes: dict[str, tuple[str, Any]] = {
            "/sdapi/v1/txt2img": ("POST", self.txt2img),
            "/v1/txt2img": ("POST", self.txt2img),
            "/sdapi/v1/img2img": ("POST", self.img2img),
            "/v1/img2img": ("POST", self.img2img),
            "/sdapi/v1/extra-single-image": ("POST", self.extra_single_image),
            "/sdapi/v1/process": ("POST", self.extra_single_image),
            "/v1/upscale-img": ("POST", self.upscale_img),
            "/sdapi/v1/sd-models": ("GET", self.sd_models),
            "/v1/img-models": ("GET", self.sd_models),
            "/sdapi/v1/samplers": ("GET", self.samplers),
            "/v1/img-samplers": ("GET", self.samplers),
            "/sdapi/v1/upscalers": ("GET", self.upscalers),
            "/v1/upscalers": ("GET", self.upscalers),
            "/v1/img-options": ("GET", self.get_options),
            "/v1/parallel-requests": ("GET", self.parallel_requests),
        }

    def is_image_path(self, path: str) -> bool:
        """Return whether ``path`` belongs to the image API (auth and 404 style)."""
        return path.startswith("/sdapi/") or path in self._routes

    async def handle(self, req: Request) -> Response | None:
        """Dispatch an image route.

        Args:
            req: The request.

        Returns:
            The response, or ``None`` when the path is not an image route.
        """
        try:
            if req.path == "/sdapi/v1/options":
                if req.method == "GET":
                    return self.get_options(req)
                if req.method == "POST":
                    return self.post_options(req)
                return json_response(405, {"detail": "Method Not Allowed"})
            route = self._routes.get(req.path)
            if route is None:
                return None
            method, handler = route
            if req.method != method:
                return json_response(405, {"detail": "Method Not Allowed"})
            result = handler(req)
            if asyncio.iscoroutine(result):
                result = await result
            return result  # type: ignore[no-any-return]
        except _HTTPError as exc:
            return exc.response

    # ---- enumerators ----------------------------------------------------------------

    def sd_models(self, req: Request) -> Response:
        """``GET /sdapi/v1/sd-models`` (and ``/v1/img-models``)."""
        del req
        if self.settings.sd_models_as_names:
            return json_response(200, [m["model_name"] for m in _SD_MODELS])
        return json_response(200, [dict(m) for m in _SD_MODELS])

    def samplers(self, req: Request) -> Response:
        """``GET /sdapi/v1/samplers`` (and ``/v1/img-samplers``)."""
        del req
        return json_response(200, _SAMPLERS)

    def upscalers(self, req: Request) -> Response:
        """``GET /sdapi/v1/upscalers`` (and ``/v1/upscalers``)."""
        del req
        return json_response(200, _UPSCALERS)

    def get_options(self, req: Request) -> Response:
        """``GET /sdapi/v1/options`` (and ``/v1/img-options``)."""
        del req
        return json_response(200, self.options)

    def post_options(self, req: Request) -> Response:
        """``POST /sdapi/v1/options``: ``{"updated": [{key: changed}]}``."""
        body = self._body(req)
        updated = []
        for key, raw in body.items():
            value = raw
            if key == "sd_model_checkpoint":
                model = self._find_model(str(raw))
                if model is None:
                    detail = f"Checkpoint not found: {raw}"
                    raise _HTTPError(json_response(404, sdnext_error(404, detail)))
                value = model["title"]
            changed = self.options.get(key) != value
            self.options[key] = value
            updated.append({key: changed})
        return json_response(200, {"updated": updated})

    def parallel_requests(self, req: Request) -> Response:
        """``GET /v1/parallel-requests`` (Arli)."""
        del req
        limit = self.settings.image_parallel_limit
        remaining = max(0, limit - int(self.counters.get("in_flight_images") or 0))
        return json_response(
            200,
            {
                "parallel_requests": limit,
                "remaining": remaining,
                "message": f"You can run up to {limit} parallel requests",
            },
        )

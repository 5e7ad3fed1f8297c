"""The image API: SDNext ``sdapi/v1`` routes plus Arli's ``/v1/...`` aliases.

Wire formats follow ``tests/fixtures/wire/WIRE_REFERENCE.md`` §3 and Arli's
image docs. Images are real (Pillow), cheap to make (a seed-derived colour
with a contrasting block) and encoded in the ``samples_format`` option (JPEG
quality 90 by default), base64 without a ``data:`` prefix.

Choices made where SDNext/Arli leave room:

* An unknown ``sd_model_checkpoint`` (request field or ``override_settings``)
  is a 404 in the SDNext envelope with ``detail: "Checkpoint not found: <name>"``
  (Arli routes by model, so an unknown name cannot be served). Names match a
  model's ``title``, ``model_name`` or title without the hash, case-insensitively.
* More than ``image_parallel_limit`` concurrent image jobs (txt2img, img2img,
  extra-single-image/process, upscale-img) get 429 with ``Retry-After: 1`` and
  ``{"error": "Too Many Requests", "detail": "...", "code": 429}``.
* img2img without ``width``/``height`` (or 0) derives the size from the first
  init image times ``scale_by``; the decoded init/mask sizes are recorded in
  ``stats`` (``last_init_image_sizes``, ``last_mask_size``) and the mask size in
  ``info.extra_generation_params["Mask size"]``.
* ``/v1/upscale-img`` (Arli's documented shape) scales by ``upscaling_resize``
  (default 4) whatever the upscaler name; ``extra-single-image`` returns the
  image unchanged for ``"None"`` or unknown upscalers, as SDNext does.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import random
import time
from typing import Any

from PIL import Image, ImageDraw

from tests.reference_server.wire import (
    Counters,
    Request,
    Response,
    Settings,
    coerce_value,
    json_response,
    pydantic_error,
)

__all__ = ["ImageAPI", "sdnext_error"]

_DEFAULT_PARAMETERS: dict[str, Any] = {
    "sd_model_checkpoint": None,
    "prompt": "",
    "negative_prompt": "",
    "seed": -1,
    "subseed": -1,
    "subseed_strength": 0,
    "seed_resize_from_h": -1,
    "seed_resize_from_w": -1,
    "batch_size": 1,
    "n_iter": 1,
    "steps": 20,
    "clip_skip": 1,
    "width": 1024,
    "height": 1024,
    "sampler_index": 0,
    "sampler_name": "Default",
    "hr_sampler_name": "Same as primary",
    "eta": None,
    "guidance_name": "Default",
    "guidance_scale": 6.0,
    "guidance_rescale": 0.0,
    "guidance_start": 0.0,
    "guidance_stop": 1.0,
    "cfg_scale": 6.0,
    "cfg_end": 1,
    "cfg_rescale": 0.0,
    "cfg_true": 0.0,
    "cfg_adaptive": 0.5,
    "styles": None,
    "tiling": False,
    "vae_type": "Full",
    "hidiffusion": False,
    "do_not_reload_embeddings": False,
    "detailer_enabled": False,
    "detailer_prompt": "",
    "detailer_negative": "",
    "detailer_steps": 10,
    "detailer_strength": 0.3,
    "detailer_resolution": 1024,
    "detailer_segmentation": None,
    "detailer_include_detections": None,
    "detailer_merge": None,
    "detailer_sort": None,
    "detailer_classes": None,
    "detailer_conf": None,
    "detailer_iou": None,
    "detailer_max": None,
    "detailer_min_size": None,
    "detailer_max_size": None,
    "detailer_blur": None,
    "detailer_padding": None,
    "detailer_sigma_adjust": None,
    "detailer_sigma_adjust_max": None,
    "detailer_models": None,
    "detailer_augment": None,
    "img2img_color_correction": None,
    "color_correction_method": None,
    "img2img_background_color": None,
    "img2img_fix_steps": None,
    "mask_apply_overlay": None,
    "include_mask": None,
    "inpainting_mask_weight": None,
    "samples_save": None,
    "samples_format": None,
    "save_images_before_highres_fix": None,
    "save_images_before_refiner": None,
    "save_images_before_detailer": None,
    "save_images_before_color_correction": None,
    "grid_save": None,
    "grid_format": None,
    "return_grid": None,
    "keep_incomplete": None,
    "image_metadata": None,
    "jpeg_quality": None,
    "lora_fuse_native": None,
    "lora_fuse_diffusers": None,
    "lora_force_reload": None,
    "extra_networks_default_multiplier": None,
    "lora_apply_tags": None,
    "hdr_mode": 0,
    "hdr_brightness": 0,
    "hdr_color": 0,
    "hdr_sharpen": 0,
    "hdr_clamp": False,
    "hdr_boundary": 4.0,
    "hdr_threshold": 0.95,
    "hdr_maximize": False,
    "hdr_max_center": 0.6,
    "hdr_max_boundary": 1.0,
    "hdr_color_picker": "#000000",
    "hdr_tint_ratio": 0,
    "hdr_apply_hires": True,
    "grading_brightness": 0.0,
    "grading_contrast": 0.0,
    "grading_saturation": 0.0,
    "grading_hue": 0.0,
    "grading_gamma": 1.0,
    "grading_sharpness": 0.0,
    "grading_color_temp": 6500,
    "grading_shadows": 0.0,
    "grading_midtones": 0.0,
    "grading_highlights": 0.0,
    "grading_clahe_clip": 0.0,
    "grading_clahe_grid": 8,
    "grading_shadows_tint": "#000000",
    "grading_highlights_tint": "#ffffff",
    "grading_split_tone_balance": 0.5,
    "grading_vignette": 0.0,
    "grading_grain": 0.0,
    "grading_lut_file": "",
    "grading_lut_strength": 1.0,
    "denoising_strength": 0.3,
    "init_images": None,
    "init_control": None,
    "cfg_image": None,
    "initial_noise_multiplier": None,
    "scale_by": 1,
    "selected_scale_tab": 0,
    "resize_mode": 0,
    "resize_name": "None",
    "resize_context": "None",
    "width_before": 0,
    "width_after": 0,
    "width_mask": 0,
    "height_before": 0,
    "height_after": 0,
    "height_mask": 0,
    "resize_name_before": "None",
    "resize_name_after": "None",
    "resize_name_mask": "None",
    "resize_mode_before": 0,
    "resize_mode_after": 0,
    "resize_mode_mask": 0,
    "resize_context_before": "None",
    "resize_context_after": "None",
    "resize_context_mask": "None",
    "selected_scale_tab_before": 0,
    "selected_scale_tab_after": 0,
    "selected_scale_tab_mask": 0,
    "scale_by_before": 1,
    "scale_by_after": 1,
    "scale_by_mask": 1,
    "mask": None,
    "latent_mask": None,
    "mask_for_overlay": None,
    "mask_blur": 4,
    "paste_to": None,
    "inpainting_fill": 1,
    "inpaint_full_res": False,
    "inpaint_full_res_padding": 0,
    "inpainting_mask_invert": 0,
    "overlay_images": None,
    "enable_hr": False,
    "firstphase_width": 0,
    "firstphase_height": 0,
    "hr_scale": 2.0,
    "hr_force": False,
    "hr_resize_mode": 0,
    "hr_resize_context": "None",
    "hr_second_pass_steps": 0,
    "hr_resize_x": 0,
    "hr_resize_y": 0,
    "hr_denoising_strength": 0.0,
    "refiner_steps": 5,
    "hr_upscaler": None,
    "refiner_start": 0,
    "refiner_prompt": "",
    "refiner_negative": "",
    "hr_refiner_start": 0,
    "enhance_prompt": False,
    "do_not_save_samples": False,
    "do_not_save_grid": False,
    "xyz": False,
    "script_args": [],
    "schedulers_prediction_type": None,
    "schedulers_beta_schedule": None,
    "schedulers_timesteps": None,
    "schedulers_sigma": None,
    "schedulers_use_thresholding": None,
    "schedulers_use_loworder": None,
    "schedulers_solver_order": None,
    "uni_pc_variant": None,
    "schedulers_beta_start": None,
    "schedulers_beta_end": None,
    "schedulers_shift": None,
    "schedulers_dynamic_shift": None,
    "schedulers_base_shift": None,
    "schedulers_max_shift": None,
    "schedulers_rescale_betas": None,
    "schedulers_timestep_spacing": None,
    "schedulers_timesteps_range": None,
    "schedulers_sigma_adjust": None,
    "schedulers_sigma_adjust_min": None,
    "schedulers_sigma_adjust_max": None,
    "scheduler_eta": None,
    "eta_noise_seed_delta": None,
    "enable_batch_seeds": None,
    "diffusers_generator_device": None,
    "nan_skip": None,
    "sequential_seed": None,
    "prompt_attention": None,
    "prompt_mean_norm": None,
    "diffusers_zeros_prompt_pad": None,
    "te_pooled_embeds": None,
    "lora_apply_te": None,
    "te_complex_human_instruction": None,
    "te_use_mask": None,
    "freeu_enabled": None,
    "freeu_b1": None,
    "freeu_b2": None,
    "freeu_s1": None,
    "freeu_s2": None,
    "hypertile_unet_enabled": None,
    "hypertile_hires_only": None,
    "hypertile_unet_tile": None,
    "hypertile_unet_min_tile": None,
    "hypertile_unet_swap_size": None,
    "hypertile_unet_depth": None,
    "hypertile_vae_enabled": None,
    "hypertile_vae_tile": None,
    "hypertile_vae_swap_size": None,
    "teacache_enabled": None,
    "teacache_thresh": None,
    "token_merging_method": None,
    "tome_ratio": None,
    "todo_ratio": None,
    "skip_processing": False,
    "override_settings_restore_afterwards": True,
    "override_settings": None,
    "network_data": None,
    "script_name": "",
    "send_images": True,
    "save_images": False,
    "alwayson_scripts": {},
    "ip_adapter": None,
    "control_units": None,
    "face": None,
    "extra": {},
}

_IMG2IMG_OVERRIDES: dict[str, Any] = {"denoising_strength": 0.5}

_FIELD_TYPES: dict[str, str] = {
    "sd_model_checkpoint": "str",
    "prompt": "str",
    "negative_prompt": "str",
    "seed": "int",
    "subseed": "int",
    "subseed_strength": "float",
    "seed_resize_from_h": "int",
    "seed_resize_from_w": "int",
    "batch_size": "int",
    "n_iter": "int",
    "steps": "int",
    "clip_skip": "float",
    "width": "int",
    "height": "int",
    "sampler_name": "str",
    "hr_sampler_name": "str",
    "cfg_scale": "float",
    "cfg_end": "float",
    "guidance_scale": "float",
    "styles": "strlist",
    "tiling": "bool",
    "detailer_enabled": "bool",
    "detailer_strength": "float",
    "denoising_strength": "float",
    "init_images": "list",
    "mask": "str",
    "mask_blur": "int",
    "inpainting_fill": "int",
    "inpaint_full_res": "bool",
    "inpaint_full_res_padding": "int",
    "inpainting_mask_invert": "int",
    "resize_mode": "int",
    "scale_by": "float",
    "enable_hr": "bool",
    "hr_scale": "float",
    "hr_second_pass_steps": "int",
    "hr_denoising_strength": "float",
    "send_images": "bool",
    "save_images": "bool",
    "override_settings": "dict",
    "override_settings_restore_afterwards": "bool",
    "script_name": "str",
    "script_args": "list",
    "alwayson_scripts": "dict",
    "include_init_images": "bool",
}

_SD_MODELS: list[dict[str, Any]] = [
    {
        "title": "sdxl/sdxl-base [31e35c80fc]",
        "model_name": "sdxl-base",
        "filename": "/app/models/Stable-diffusion/sdxl/sdxl-base.safetensors",
        "type": "safetensors",
        "sha256": "31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b",
        "hash": "31e35c80fc",
        "config": None,
    },
    {
        "title": "Diffusers/black-forest-labs/FLUX.1-dev",
        "model_name": "FLUX.1-dev",
        "filename": "/app/models/Diffusers/models--black-forest-labs--FLUX.1-dev",
        "type": "diffusers",
        "sha256": None,
        "hash": None,
        "config": None,
    },
    {
        "title": "FLUX.2-klein-4B [7a1f3c9e2b]",
        "model_name": "FLUX.2-klein-4B",
        "filename": "/app/models/Stable-diffusion/FLUX.2-klein-4B.safetensors",
        "type": "safetensors",
        "sha256": "7a1f3c9e2b4d6f8a0c2e4a6b8d0f2a4c6e8b0d2f4a6c8e0b2d4f6a8c0e2b4d6f",
        "hash": "7a1f3c9e2b",
        "config": None,
    },
    {
        "title": "SDXL-zukiBestAnimeMix [5c8e1d2f3a]",
        "model_name": "SDXL-zukiBestAnimeMix",
        "filename": "/app/models/Stable-diffusion/SDXL-zukiBestAnimeMix.safetensors",
        "type": "safetensors",
        "sha256": "5c8e1d2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d",
        "hash": "5c8e1d2f3a",
        "config": None,
    },
]

_EULER_OPTIONS = {
    "steps_offset": 0,
    "interpolation_type": "linear",
    "rescale_betas_zero_snr": False,
    "final_sigmas_type": "zero",
    "timestep_spacing": "linspace",
    "use_beta_sigmas": False,
    "use_exponential_sigmas": False,
    "use_karras_sigmas": False,
}
_DPM_OPTIONS = {
    "thresholding": False,
    "sample_max_value": 1.0,
    "algorithm_type": "dpmsolver++",
    "solver_type": "midpoint",
    "lower_order_final": True,
    "use_karras_sigmas": False,
    "final_sigmas_type": "zero",
    "timestep_spacing": "linspace",
    "solver_order": 2,
}
_SAMPLERS: list[dict[str, Any]] = [
    {
        "name": "UniPC",
        "options": {
            "flow_shift": 1,
            "predict_x0": True,
            "sample_max_value": 1.0,
            "solver_order": 2,
            "solver_type": "bh2",
            "thresholding": False,
            "use_beta_sigmas": False,
            "use_exponential_sigmas": False,
            "use_flow_sigmas": False,
            "use_karras_sigmas": False,
            "lower_order_final": True,
            "timestep_spacing": "linspace",
            "final_sigmas_type": "zero",
            "rescale_betas_zero_snr": False,
        },
    },
    {
        "name": "DDIM",
        "options": {
            "clip_sample": False,
            "set_alpha_to_one": True,
            "steps_offset": 0,
            "clip_sample_range": 1.0,
            "sample_max_value": 1.0,
            "timestep_spacing": "leading",
            "rescale_betas_zero_snr": False,
            "thresholding": False,
        },
    },
    {"name": "Euler", "options": dict(_EULER_OPTIONS)},
    {
        "name": "Euler a",
        "options": {
            "steps_offset": 0,
            "rescale_betas_zero_snr": False,
            "timestep_spacing": "linspace",
        },
    },
    {"name": "Euler SGM", "options": dict(_EULER_OPTIONS)},
    {"name": "Euler EDM", "options": {"sigma_schedule": "karras", "final_sigmas_type": "zero"}},
    {"name": "Euler FlowMatch", "options": {"shift": 3.0, "use_dynamic_shifting": False}},
    {"name": "DPM++ 2M", "options": dict(_DPM_OPTIONS)},
    {"name": "DPM++ 2M SDE", "options": {**_DPM_OPTIONS, "algorithm_type": "sde-dpmsolver++"}},
    {"name": "DPM++ 3M", "options": {**_DPM_OPTIONS, "solver_order": 3}},
    {"name": "DPM SDE", "options": {"use_karras_sigmas": False, "noise_sampler_seed": None}},
    {"name": "Heun", "options": {"use_karras_sigmas": False, "timestep_spacing": "linspace"}},
    {"name": "LMSD", "options": {"use_karras_sigmas": False, "timestep_spacing": "linspace"}},
    {"name": "DEIS", "options": {"solver_order": 2, "lower_order_final": True}},
    {"name": "LCM", "options": {"original_inference_steps": 50, "timestep_spacing": "linspace"}},
    {"name": "TCD", "options": {"original_inference_steps": 50, "gamma": 0.3}},
]

_UPSCALERS: list[dict[str, Any]] = [
    {"name": "None", "model_name": None, "model_path": None, "model_url": None, "scale": 4.0},
    {
        "name": "Resize Nearest",
        "model_name": None,
        "model_path": None,
        "model_url": None,
        "scale": 4.0,
    },
    {
        "name": "Resize Lanczos",
        "model_name": None,
        "model_path": None,
        "model_url": None,
        "scale": 4.0,
    },
    {
        "name": "ESRGAN 4x Ultrasharp",
        "model_name": None,
        "model_path": "https://huggingface.co/vladmandic/sdnext-upscalers/resolve/main/ESRGAN-UltraSharp-4x.pth",
        "model_url": None,
        "scale": 4.0,
    },
    {
        "name": "ESRGAN_4x",
        "model_name": None,
        "model_path": "https://huggingface.co/vladmandic/sdnext-upscalers/resolve/main/ESRGAN_4x.pth",
        "model_url": None,
        "scale": 4.0,
    },
    {
        "name": "RealESRGAN 4x+",
        "model_name": None,
        "model_path": "https://huggingface.co/vladmandic/sdnext-upscalers/resolve/main/RealESRGAN_x4plus.pth",
        "model_url": None,
        "scale": 4.0,
    },
    {
        "name": "SwinIR 4x GAN",
        "model_name": None,
        "model_path": "https://huggingface.co/vladmandic/sdnext-upscalers/resolve/main/SwinIR_4x_GAN.pth",
        "model_url": None,
        "scale": 4.0,
    },
]

_SDNEXT_VERSION = "058a7f0"
_MAX_SIDE = 4096


def sdnext_error(status: int, detail: str, error: str = "HTTPException") -> dict[str, Any]:
    """Build SDNext's error envelope (its HTTP middleware's format).

    Args:
        status: HTTP status code.
        detail: The ``detail`` text.
        error: Exception class name.

    Returns:
        ``{"error", "code", "detail", "body", "errors"}``.
    """
    return {
        "error": error,
        "code": status,
        "detail": detail,
        "body": "",
        "errors": f"{status}: {detail}",
    }


class _HTTPError(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _fastapi_errors(errors: list[dict[str, Any]]) -> Response:
    detail = []
    for err in errors:
        item = dict(err)
        item["loc"] = list(err["loc"])
        detail.append(item)
    return json_response(422, {"detail": detail})


def _decode_image(data: Any) -> Image.Image:
    """Decode a base64 image (``data:`` prefix allowed) or raise the SDNext 500."""
    if not isinstance(data, str):
        raise _HTTPError(json_response(500, sdnext_error(500, "Invalid encoded image")))
    if data.startswith("data:"):
        data = data.split(",", 1)[-1]
    try:
        raw = base64.b64decode(data, validate=False)
        img = Image.open(io.BytesIO(raw))
        img.load()
    except (binascii.Error, ValueError, OSError) as exc:
        raise _HTTPError(json_response(500, sdnext_error(500, "Invalid encoded image"))) from exc
    return img


def _make_image(width: int, height: int, seed: int) -> Image.Image:
    rng = random.Random(seed)
    base = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    accent = tuple(255 - c for c in base)
    img = Image.new("RGB", (width, height), base)
    draw = ImageDraw.Draw(img)
    draw.rectangle((width // 4, height // 4, (3 * width) // 4, (3 * height) // 4), fill=accent)
    return img


def _encode(img: Image.Image, fmt: str, quality: int) -> str:
    buf = io.BytesIO()
    fmt = fmt.lower()
    if fmt == "png":
        img.save(buf, format="PNG")
    elif fmt == "webp":
        img.save(buf, format="WEBP", quality=quality)
    else:
        img.convert("RGB").save(buf, format="JPEG", quality=quality)
    return base64.b64encode(buf.getvalue()).decode()


class ImageAPI:
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

    # ---- helpers --------------------------------------------------------------------

    def _body(self, req: Request) -> dict[str, Any]:
        ctype = req.content_type
        if ctype and ctype != "application/json" and not ctype.endswith("+json"):
            raise _HTTPError(
                _fastapi_errors(
                    [
                        pydantic_error(
                            "model_attributes_type",
                            (),
                            "Input should be a valid dictionary or object to extract fields from",
                            req.body.decode(errors="replace"),
                        )
                    ]
                )
            )
        if req.json_error is not None:
            raise _HTTPError(
                _fastapi_errors(
                    [
                        {
                            "type": "json_invalid",
                            "loc": ("body", 0),
                            "msg": "JSON decode error",
                            "input": {},
                            "ctx": {"error": req.json_error},
                        }
                    ]
                )
            )
        if not isinstance(req.json, dict):
            raise _HTTPError(
                _fastapi_errors(
                    [
                        pydantic_error(
                            "model_attributes_type",
                            (),
                            "Input should be a valid dictionary or object to extract fields from",
                            req.json,
                        )
                    ]
                )
            )
        return req.json

    def _coerce(self, body: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        values: dict[str, Any] = {}
        for name, kind in fields.items():
            if name in body:
                value, errs = coerce_value(name, kind, body[name])
                errors.extend(errs)
                values[name] = value
        if errors:
            raise _HTTPError(_fastapi_errors(errors))
        return values

    def _find_model(self, name: str) -> dict[str, Any] | None:
        low = name.strip().lower()
        for model in _SD_MODELS:
            title = str(model["title"])
            plain = title.split(" [", 1)[0]
            if low in (title.lower(), plain.lower(), str(model["model_name"]).lower()):
                return model
        return None

    def _current_model(self, values: dict[str, Any]) -> dict[str, Any]:
        requested = values.get("sd_model_checkpoint")
        override = values.get("override_settings") or {}
        if requested is None and isinstance(override, dict):
            requested = override.get("sd_model_checkpoint")
        if requested is None:
            requested = self.options["sd_model_checkpoint"]
        model = self._find_model(str(requested))
        if model is None:
            detail = f"Checkpoint not found: {requested}"
            raise _HTTPError(json_response(404, sdnext_error(404, detail)))
        return model

    def _check_sampler(self, values: dict[str, Any]) -> str:
        name = values.get("sampler_name")
        if name is None:
            index = values.get("sampler_index")
            name = index if isinstance(index, str) else "Default"
        known = {str(s["name"]).lower(): str(s["name"]) for s in _SAMPLERS}
        if str(name).lower() == "default":
            return "Default"
        if str(name).lower() not in known:
            raise _HTTPError(json_response(404, sdnext_error(404, "Sampler not found")))
        return known[str(name).lower()]

    def _too_many(self) -> Response:
        limit = self.settings.image_parallel_limit
        return json_response(
            429,
            {
                "error": "Too Many Requests",
                "detail": (
                    f"Too many parallel requests: you can run up to {limit} parallel requests"
                ),
                "code": 429,
            },
            headers=[("retry-after", "1")],
        )

    async def _encode_all(self, images: list[Image.Image]) -> list[str]:
        fmt = str(self.options.get("samples_format") or "jpg")
        quality = int(self.options.get("jpeg_quality") or 90)
        out = []
        for img in images:
            out.append(await asyncio.to_thread(_encode, img, fmt, quality))
        return out

    async def _latency(self) -> None:
        if self.settings.image_latency:
            await asyncio.sleep(self.settings.image_latency)

    # ---- generation -----------------------------------------------------------------

    async def txt2img(self, req: Request) -> Response:
        """``POST /sdapi/v1/txt2img`` (and ``/v1/txt2img``)."""
        return await self._generate(req, img2img=False)

    async def img2img(self, req: Request) -> Response:
        """``POST /sdapi/v1/img2img`` (and ``/v1/img2img``)."""
        return await self._generate(req, img2img=True)

    async def _generate(self, req: Request, *, img2img: bool) -> Response:
        if not self.counters.try_acquire_image_slot(self.settings.image_parallel_limit):
            return self._too_many()
        try:
            return await self._generate_locked(req, img2img=img2img)
        finally:
            self.counters.release_image_slot()

    async def _generate_locked(self, req: Request, *, img2img: bool) -> Response:
        body = self._body(req)
        values = self._coerce(body, _FIELD_TYPES)
        if "sampler_index" in body:
            values["sampler_index"] = body["sampler_index"]
        init_sizes: list[tuple[int, int]] = []
        mask_size: tuple[int, int] | None = None
        if img2img:
            if "init_images" not in body:
                return json_response(400, {"error": "Init image is none"})
            init = values.get("init_images")
            if init is None:
                raise _HTTPError(
                    _fastapi_errors(
                        [
                            pydantic_error(
                                "list_type", ("init_images",), "Input should be a valid list", None
                            )
                        ]
                    )
                )
            if not init:
                return json_response(400, {"error": "Init image is none"})
            for item in init:
                init_sizes.append((await asyncio.to_thread(_decode_image, item)).size)
            if values.get("mask"):
                mask_size = (await asyncio.to_thread(_decode_image, values["mask"])).size
            self.counters.set("last_init_image_sizes", init_sizes)
            self.counters.set("last_mask_size", mask_size)
        model = self._current_model(values)
        sampler = self._check_sampler(values)

        defaults = dict(_DEFAULT_PARAMETERS)
        if img2img:
            defaults.update(_IMG2IMG_OVERRIDES)
        parameters = dict(defaults)
        for key in defaults:
            if key in values:
                parameters[key] = values[key]
            elif key in body:
                parameters[key] = body[key]
        if img2img and not values.get("include_init_images"):
            parameters["init_images"] = None
            parameters["mask"] = None

        width = values.get("width") or 0
        height = values.get("height") or 0
        if img2img and (not width or not height):
            scale = values.get("scale_by") or 1.0
            first_w, first_h = init_sizes[0]
            width = width or round(first_w * scale)
            height = height or round(first_h * scale)
        width = min(max(int(width or 1024), 1), _MAX_SIDE)
        height = min(max(int(height or 1024), 1), _MAX_SIDE)

        batch_size = max(1, int(values.get("batch_size") or 1))
        n_iter = max(1, int(values.get("n_iter") or 1))
        count = batch_size * n_iter
        seed = values.get("seed")
        if seed is None or seed == -1:
            seed = random.randrange(0, 2**32 - count)
        subseed = values.get("subseed")
        if subseed is None or subseed == -1:
            subseed = random.randrange(0, 2**32 - count)
        seeds = [int(seed) + i for i in range(count)]
        subseeds = [int(subseed) + i for i in range(count)]

        images: list[Image.Image] = []
        for image_seed in seeds:
            await self._latency()
            images.append(_make_image(width, height, image_seed))
        self.counters.incr("images_generated", count)
        send = values.get("send_images")
        encoded = await self._encode_all(images) if send is None or send else []

        prompt = values.get("prompt") or ""
        negative = values.get("negative_prompt") or ""
        steps = int(values.get("steps") or 20)
        cfg_scale = values.get("cfg_scale")
        cfg_scale = 6.0 if cfg_scale is None else cfg_scale
        denoising = parameters.get("denoising_strength")
        model_hash = model.get("hash")
        model_name = model["model_name"]
        extra: dict[str, Any] = {}
        if img2img and mask_size is not None:
            extra["Mask blur"] = values.get("mask_blur", 4)
            extra["Mask size"] = f"{mask_size[0]}x{mask_size[1]}"
        operation = "img2img" if img2img else "txt2img"
        infotexts = []
        for image_seed in seeds:
            text = prompt
            if negative:
                text += f"\nNegative prompt: {negative}"
            details = [
                f"Steps: {steps}",
                f"Size: {width}x{height}",
                f"Sampler: {sampler}",
                f"Seed: {image_seed}",
                f"CFG scale: {cfg_scale}",
                f"Model: {model_name}",
            ]
            if model_hash:
                details.append(f"Model hash: {model_hash}")
            if img2img:
                details.append(f"Denoising strength: {denoising}")
            details += ["App: SD.Next", f"Version: {_SDNEXT_VERSION}", f"Operations: {operation}"]
            infotexts.append(text + "\n" + ", ".join(details))
        info = {
            "prompt": prompt,
            "all_prompts": [prompt] * count,
            "negative_prompt": negative,
            "all_negative_prompts": [negative] * count,
            "seed": seeds[0],
            "all_seeds": seeds,
            "subseed": subseeds[0],
            "all_subseeds": subseeds,
            "subseed_strength": values.get("subseed_strength") or 0,
            "width": width,
            "height": height,
            "sampler_name": sampler,
            "cfg_scale": cfg_scale,
            "cfg_end": None,
            "steps": steps,
            "batch_size": batch_size,
            "detailer": bool(values.get("detailer_enabled")),
            "detailer_model": None,
            "sd_model_hash": model_hash,
            "seed_resize_from_w": values.get("seed_resize_from_w", -1),
            "seed_resize_from_h": values.get("seed_resize_from_h", -1),
            "denoising_strength": denoising,
            "extra_generation_params": extra,
            "index_of_first_image": 0,
            "infotexts": infotexts,
            "styles": values.get("styles") or [],
            "job_timestamp": time.strftime("%Y%m%d%H%M%S"),
            "clip_skip": values.get("clip_skip") or 1,
        }
        return json_response(
            200, {"images": encoded, "parameters": parameters, "info": json.dumps(info)}
        )

    # ---- postprocessing -------------------------------------------------------------

    async def extra_single_image(self, req: Request) -> Response:
        """``POST /sdapi/v1/extra-single-image`` (alias ``/sdapi/v1/process``)."""
        if not self.counters.try_acquire_image_slot(self.settings.image_parallel_limit):
            return self._too_many()
        try:
            body = self._body(req)
            fields = {
                "image": "str",
                "resize_mode": "float",
                "show_extras_results": "bool",
                "upscaling_resize": "float",
                "upscaling_resize_w": "int",
                "upscaling_resize_h": "int",
                "upscaling_crop": "bool",
                "upscaler_1": "str",
                "upscaler_2": "str",
                "extras_upscaler_2_visibility": "float",
                "script_args": "dict",
            }
            values = self._coerce(body, fields)
            errors = []
            if "image" not in body:
                errors.append(pydantic_error("missing", ("image",), "Field required", body))
            errors += self._range_errors(values)
            if errors:
                raise _HTTPError(_fastapi_errors(errors))
            img = await asyncio.to_thread(_decode_image, values["image"])
            upscaler = values.get("upscaler_1") or "None"
            known = {u["name"] for u in _UPSCALERS} - {"None"}
            factor = values.get("upscaling_resize")
            factor = 2.0 if factor is None else float(factor)
            if upscaler in known:
                if values.get("resize_mode") == 1:
                    size = (
                        int(values.get("upscaling_resize_w") or 512),
                        int(values.get("upscaling_resize_h") or 512),
                    )
                else:
                    size = (max(1, round(img.width * factor)), max(1, round(img.height * factor)))
                size = (min(size[0], _MAX_SIDE), min(size[1], _MAX_SIDE))
                await self._latency()
                out = await asyncio.to_thread(img.convert("RGB").resize, size)
                html = (
                    f"Size: {out.width}x{out.height}, Postprocess upscale by: {factor}, "
                    f"Postprocess upscaler: {upscaler}"
                )
            else:
                out = img
                html = f"Size: {out.width}x{out.height}"
            (encoded,) = await self._encode_all([out])
            return json_response(200, {"html_info": html, "image": encoded})
        finally:
            self.counters.release_image_slot()

    @staticmethod
    def _range_errors(values: dict[str, Any]) -> list[dict[str, Any]]:
        errors = []
        checks = [
            ("upscaling_resize", 1, 8),
            ("extras_upscaler_2_visibility", 0, 1),
        ]
        for name, lo, hi in checks:
            value = values.get(name)
            if value is None:
                continue
            if value < lo:
                err = pydantic_error(
                    "greater_than_equal",
                    (name,),
                    f"Input should be greater than or equal to {lo}",
                    value,
                )
                err["ctx"] = {"ge": float(lo)}
                errors.append(err)
            elif value > hi:
                err = pydantic_error(
                    "less_than_equal", (name,), f"Input should be less than or equal to {hi}", value
                )
                err["ctx"] = {"le": float(hi)}
                errors.append(err)
        for name in ("upscaling_resize_w", "upscaling_resize_h"):
            value = values.get(name)
            if value is not None and value < 1:
                err = pydantic_error(
                    "greater_than_equal",
                    (name,),
                    "Input should be greater than or equal to 1",
                    value,
                )
                err["ctx"] = {"ge": 1}
                errors.append(err)
        return errors

    async def upscale_img(self, req: Request) -> Response:
        """``POST /v1/upscale-img`` (Arli's shape: ``{"images": [...], "info": {...}}``)."""
        if not self.counters.try_acquire_image_slot(self.settings.image_parallel_limit):
            return self._too_many()
        try:
            body = self._body(req)
            values = self._coerce(
                body, {"image": "str", "upscaler_1": "str", "upscaling_resize": "float"}
            )
            if "image" not in body:
                raise _HTTPError(
                    _fastapi_errors([pydantic_error("missing", ("image",), "Field required", body)])
                )
            img = await asyncio.to_thread(_decode_image, values["image"])
            upscaler = values.get("upscaler_1") or "ESRGAN_4x"
            factor = values.get("upscaling_resize") or 4
            factor = int(factor) if float(factor).is_integer() else float(factor)
            size = (
                min(max(1, round(img.width * factor)), _MAX_SIDE),
                min(max(1, round(img.height * factor)), _MAX_SIDE),
            )
            await self._latency()
            out = await asyncio.to_thread(img.convert("RGB").resize, size)
            (encoded,) = await self._encode_all([out])
            return json_response(
                200, {"images": [encoded], "info": {"upscaler": upscaler, "scale_factor": factor}}
            )
        finally:
            self.counters.release_image_slot()

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

"""Simulated generation: txt2img, img2img and the upscalers, with the parallel cap."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

from PIL import Image

from tests.reference_server.images.pixels import _decode_image, _encode, _make_image
from tests.reference_server.images.tables import (
    _DEFAULT_PARAMETERS,
    _FIELD_TYPES,
    _IMG2IMG_OVERRIDES,
    _MAX_SIDE,
    _SDNEXT_VERSION,
    _UPSCALERS,
)
from tests.reference_server.images.validation import (
    _fastapi_errors,
    _HTTPError,
    _ImageValidation,
)
from tests.reference_server.wire import (
    Request,
    Response,
    json_response,
    pydantic_error,
)


class _ImageGeneration(_ImageValidation):
    """The generating and postprocessing routes."""

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

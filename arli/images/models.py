"""Typed requests and results of the Arli image API (SDNext behind Arli's gateway).

This module gathers, under their historical import path, names that live in modules by
concern:

* :mod:`arli.images.request_models`: :class:`Txt2ImgRequest`, :class:`Img2ImgRequest`,
  :class:`UpscaleRequest` check the documented ranges before anything is sent, and raise
  :class:`~arli.ArliValidationError` naming the field and what is allowed
  (``steps=200 is out of range: allowed 1..150``). Fields left unset are not sent, so the
  server's own defaults apply; any other SDNext field (``override_settings``,
  ``detailer_*``, ``hr_*``, ``script_args``...) passes through unchanged.
* :mod:`arli.images.info`: :class:`GenerationInfo` from ``info`` as a JSON string
  (SDNext), an object (Arli's ``/v1/upscale-img``) or plain text (``html_info``).
* :mod:`arli.images.results`: :class:`ImageResult` and :class:`GeneratedImage`, parsed
  from every shape the servers emit (see :func:`parse_image_response`): ``images`` (a list)
  or a single ``image``. Image bytes are decoded once and their format detected from magic
  bytes: SDNext answers with JPEG by default.
* :mod:`arli.images.listings`: models, samplers, upscalers and the parallel limit.
"""

from __future__ import annotations

from arli.images.info import GenerationInfo, parse_infotext
from arli.images.listings import (
    ImageModel,
    ParallelRequests,
    Sampler,
    Upscaler,
    parse_models,
    parse_parallel_requests,
    parse_samplers,
    parse_upscalers,
)
from arli.images.request_models import (
    DEFAULT_UPSCALER,
    GenerationRequest,
    Img2ImgRequest,
    Txt2ImgRequest,
    UpscaleRequest,
    describe_validation_error,
)
from arli.images.results import (
    GeneratedImage,
    ImageResult,
    Operation,
    parse_image_response,
    safe_filename,
)

__all__ = [
    "DEFAULT_UPSCALER",
    "GeneratedImage",
    "GenerationInfo",
    "GenerationRequest",
    "ImageModel",
    "ImageResult",
    "Img2ImgRequest",
    "Operation",
    "ParallelRequests",
    "Sampler",
    "Txt2ImgRequest",
    "UpscaleRequest",
    "Upscaler",
    "describe_validation_error",
    "parse_infotext",
    "parse_image_response",
    "parse_models",
    "parse_parallel_requests",
    "parse_samplers",
    "parse_upscalers",
    "safe_filename",
]

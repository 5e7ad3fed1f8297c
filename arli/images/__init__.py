"""Image APIs: Arli's (SDNext) client and AiArt's, typed requests and results.

Importing this package never imports Pillow; it is loaded only to decode images
(:meth:`GeneratedImage.to_pil`) or to convert an inpainting mask.
"""

from arli.images._pixels import DEFAULT_MAX_PIXELS, image_size
from arli.images.aiart import (
    AiArtClient,
    GenerationTimeoutError,
    VideoResult,
    VideoStatus,
)
from arli.images.backends import BackendName, make_image_backend
from arli.images.client import ImageClient, ImageRoutes, UpscaleEndpoint
from arli.images.models import (
    GeneratedImage,
    GenerationInfo,
    GenerationRequest,
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
    parse_infotext,
    parse_models,
    parse_parallel_requests,
    parse_samplers,
    parse_upscalers,
    safe_filename,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "AiArtClient",
    "BackendName",
    "GeneratedImage",
    "GenerationInfo",
    "GenerationRequest",
    "GenerationTimeoutError",
    "ImageClient",
    "ImageModel",
    "ImageResult",
    "ImageRoutes",
    "Img2ImgRequest",
    "Operation",
    "ParallelRequests",
    "Sampler",
    "Txt2ImgRequest",
    "UpscaleEndpoint",
    "UpscaleRequest",
    "Upscaler",
    "VideoResult",
    "VideoStatus",
    "image_size",
    "make_image_backend",
    "parse_image_response",
    "parse_infotext",
    "parse_models",
    "parse_parallel_requests",
    "parse_samplers",
    "parse_upscalers",
    "safe_filename",
]

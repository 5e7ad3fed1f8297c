"""Image APIs: Arli's (SDNext) client and AiArt's, typed requests and results.

Importing this package never imports Pillow; it is loaded only to decode images
(:meth:`GeneratedImage.to_pil`) or to convert an inpainting mask.
"""

from arli.images import models
from arli.images._pixels import DEFAULT_MAX_PIXELS, image_size
from arli.images.aiart import (
    AiArtClient,
    GenerationTimeoutError,
    VideoResult,
    VideoStatus,
)
from arli.images.backends import BackendName, make_image_backend
from arli.images.client import ImageClient, ImageRoutes, UpscaleEndpoint
from arli.images.models import *  # noqa: F403  # the typed requests and results, as listed there

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "AiArtClient",
    "BackendName",
    "GenerationTimeoutError",
    "ImageClient",
    "ImageRoutes",
    "UpscaleEndpoint",
    "VideoResult",
    "VideoStatus",
    "image_size",
    "make_image_backend",
]
__all__ += models.__all__

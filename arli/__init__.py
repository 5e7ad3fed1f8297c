"""Arli AI core: framework-free clients for the Arli text and image APIs.

Nothing here imports LangChain or LlamaIndex; ``langchain_arli`` and ``llama_index_arli``
are thin adapters over this package. The error classes are imported with the
package (:mod:`arli._errors` needs only the standard library); every other public name on
first use, so ``import arli`` stays light: add a new one to ``_EXPORTS`` by module, to
``__all__`` and to the ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from arli._errors import (  # stdlib only: cheap, and wanted by every caller
    ArliConfigError,
    ArliConnectionError,
    ArliError,
    ArliResponseError,
    ArliStatusError,
    ArliTimeoutError,
    ArliValidationError,
    AuthenticationError,
    BadRequestError,
    ConstraintViolationError,
    GenerationTimeoutError,
    IncompleteResponseError,
    InternalServerError,
    NotFoundError,
    OCRDependencyError,
    OCRError,
    OCRPageError,
    OCRSourceError,
    PermissionDeniedError,
    RateLimitError,
    StreamStalledError,
    UnprocessableEntityError,
)
from arli._lazy import lazy_exports
from arli._version import __version__

if TYPE_CHECKING:
    from arli._limits import (
        Limiter,
        get_limiter,
    )
    from arli._settings import (
        DEFAULT_BASE_URL,
        ArliSettings,
    )
    from arli._transport import (
        HTTPResult,
        RetryPolicy,
        Transport,
        get_transport,
    )
    from arli.images import (
        AiArtClient,
        GeneratedImage,
        GenerationInfo,
        ImageClient,
        ImageModel,
        ImageResult,
        ImageRoutes,
        Img2ImgRequest,
        ParallelRequests,
        Sampler,
        Txt2ImgRequest,
        Upscaler,
        UpscaleRequest,
        VideoResult,
        VideoStatus,
    )
    from arli.ocr import (
        OCREngine,
        OCRReport,
        OCRResult,
        PageResult,
    )
    from arli.text import (
        ChatChunk,
        ChatCompletion,
        Completion,
        CompletionChunk,
        ModelInfo,
        TextClient,
        TokenizeResult,
        ToolCall,
        Usage,
    )

_EXPORTS: dict[str, tuple[str, ...]] = {
    "arli._settings": (
        "ArliSettings",
        "DEFAULT_BASE_URL",
    ),
    "arli._limits": (
        "Limiter",
        "get_limiter",
    ),
    "arli._transport": (
        "HTTPResult",
        "RetryPolicy",
        "Transport",
        "get_transport",
    ),
    "arli.text": (
        "ChatChunk",
        "ChatCompletion",
        "Completion",
        "CompletionChunk",
        "ModelInfo",
        "TextClient",
        "TokenizeResult",
        "ToolCall",
        "Usage",
    ),
    "arli.images": (
        "AiArtClient",
        "GeneratedImage",
        "GenerationInfo",
        "ImageClient",
        "ImageModel",
        "ImageResult",
        "ImageRoutes",
        "Img2ImgRequest",
        "ParallelRequests",
        "Sampler",
        "Txt2ImgRequest",
        "UpscaleRequest",
        "Upscaler",
        "VideoResult",
        "VideoStatus",
    ),
    "arli.ocr": (
        "OCREngine",
        "OCRReport",
        "OCRResult",
        "PageResult",
    ),
}

__all__ = [
    "AiArtClient",
    "ArliConfigError",
    "ArliConnectionError",
    "ArliError",
    "ArliResponseError",
    "ArliSettings",
    "ArliStatusError",
    "ArliTimeoutError",
    "ArliValidationError",
    "AuthenticationError",
    "BadRequestError",
    "ChatChunk",
    "ChatCompletion",
    "Completion",
    "CompletionChunk",
    "ConstraintViolationError",
    "DEFAULT_BASE_URL",
    "GeneratedImage",
    "GenerationInfo",
    "GenerationTimeoutError",
    "HTTPResult",
    "ImageClient",
    "ImageModel",
    "ImageResult",
    "ImageRoutes",
    "Img2ImgRequest",
    "IncompleteResponseError",
    "InternalServerError",
    "Limiter",
    "ModelInfo",
    "NotFoundError",
    "OCRDependencyError",
    "OCREngine",
    "OCRError",
    "OCRPageError",
    "OCRReport",
    "OCRResult",
    "OCRSourceError",
    "PageResult",
    "ParallelRequests",
    "PermissionDeniedError",
    "RateLimitError",
    "RetryPolicy",
    "Sampler",
    "StreamStalledError",
    "TextClient",
    "TokenizeResult",
    "ToolCall",
    "Transport",
    "Txt2ImgRequest",
    "UnprocessableEntityError",
    "UpscaleRequest",
    "Upscaler",
    "Usage",
    "VideoResult",
    "VideoStatus",
    "__version__",
    "get_limiter",
    "get_transport",
]


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

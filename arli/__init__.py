"""Arli AI core: framework-free clients for the Arli text and image APIs.

Nothing here imports LangChain or LlamaIndex; ``langchain_arli`` and ``llama_index_arli``
are thin adapters over this package. Public names are imported on first use, so
``import arli`` stays light (add new exports to ``_LAZY``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from arli._version import __version__

if TYPE_CHECKING:
    from arli._errors import (
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
        GenerationTimeoutError,
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

_LAZY: dict[str, str] = {
    "AiArtClient": "arli.images",
    "ArliConfigError": "arli._errors",
    "ArliConnectionError": "arli._errors",
    "ArliError": "arli._errors",
    "ArliResponseError": "arli._errors",
    "ArliSettings": "arli._settings",
    "ArliStatusError": "arli._errors",
    "ArliTimeoutError": "arli._errors",
    "ArliValidationError": "arli._errors",
    "AuthenticationError": "arli._errors",
    "BadRequestError": "arli._errors",
    "ChatChunk": "arli.text",
    "ChatCompletion": "arli.text",
    "Completion": "arli.text",
    "CompletionChunk": "arli.text",
    "ConstraintViolationError": "arli._errors",
    "DEFAULT_BASE_URL": "arli._settings",
    "GeneratedImage": "arli.images",
    "GenerationInfo": "arli.images",
    "GenerationTimeoutError": "arli._errors",
    "HTTPResult": "arli._transport",
    "ImageClient": "arli.images",
    "ImageModel": "arli.images",
    "ImageResult": "arli.images",
    "ImageRoutes": "arli.images",
    "Img2ImgRequest": "arli.images",
    "IncompleteResponseError": "arli._errors",
    "InternalServerError": "arli._errors",
    "Limiter": "arli._limits",
    "ModelInfo": "arli.text",
    "NotFoundError": "arli._errors",
    "OCRDependencyError": "arli._errors",
    "OCREngine": "arli.ocr",
    "OCRError": "arli._errors",
    "OCRPageError": "arli._errors",
    "OCRReport": "arli.ocr",
    "OCRResult": "arli.ocr",
    "OCRSourceError": "arli._errors",
    "PageResult": "arli.ocr",
    "ParallelRequests": "arli.images",
    "PermissionDeniedError": "arli._errors",
    "RateLimitError": "arli._errors",
    "RetryPolicy": "arli._transport",
    "StreamStalledError": "arli._errors",
    "Sampler": "arli.images",
    "TextClient": "arli.text",
    "TokenizeResult": "arli.text",
    "ToolCall": "arli.text",
    "Transport": "arli._transport",
    "Txt2ImgRequest": "arli.images",
    "UnprocessableEntityError": "arli._errors",
    "UpscaleRequest": "arli.images",
    "Upscaler": "arli.images",
    "Usage": "arli.text",
    "VideoResult": "arli.images",
    "VideoStatus": "arli.images",
    "get_limiter": "arli._limits",
    "get_transport": "arli._transport",
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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])

"""Arli AI core: framework-free clients for the Arli text and image APIs.

Nothing here imports LangChain or LlamaIndex; ``langchain_arli`` and ``llama_index_arli``
are thin adapters over this package.
"""

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
    IncompleteResponseError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from arli._limits import Limiter, get_limiter
from arli._settings import DEFAULT_BASE_URL, ArliSettings
from arli._transport import HTTPResult, RetryPolicy, Transport, get_transport
from arli._version import __version__
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

__all__ = [
    "DEFAULT_BASE_URL",
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
    "HTTPResult",
    "IncompleteResponseError",
    "InternalServerError",
    "Limiter",
    "ModelInfo",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RetryPolicy",
    "TextClient",
    "TokenizeResult",
    "ToolCall",
    "Transport",
    "UnprocessableEntityError",
    "Usage",
    "__version__",
    "get_limiter",
    "get_transport",
]

"""The Arli text API: client, request building and response parsing."""

from arli.text.client import TextClient, TextRoutes
from arli.text.parse import (
    ChatChoice,
    ChatChunk,
    ChatCompletion,
    ChatStreamAccumulator,
    ChoiceDelta,
    Completion,
    CompletionChoice,
    CompletionChunk,
    CompletionStreamAccumulator,
    ModelInfo,
    TokenizeResult,
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = [
    "ChatChoice",
    "ChatChunk",
    "ChatCompletion",
    "ChatStreamAccumulator",
    "ChoiceDelta",
    "Completion",
    "CompletionChoice",
    "CompletionChunk",
    "CompletionStreamAccumulator",
    "ModelInfo",
    "TextClient",
    "TextRoutes",
    "TokenizeResult",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]

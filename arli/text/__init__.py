"""The Arli text API: client, the call layer, request building and response parsing."""

from arli.text.calls import CallOptions, CallResult, ChatCallStream, CompletionCallStream, TextCalls
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
    "CallOptions",
    "CallResult",
    "ChatCallStream",
    "CompletionCallStream",
    "TextCalls",
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

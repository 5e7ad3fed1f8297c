"""The Arli text API: client, the call layer, request building and response parsing."""

from arli.text import parse
from arli.text.accumulate import ChatStreamAccumulator, CompletionStreamAccumulator
from arli.text.calls import CallOptions, CallResult, ChatCallStream, CompletionCallStream, TextCalls
from arli.text.client import TextClient, TextRoutes
from arli.text.parse import *  # noqa: F403  # the neutral results, as arli.text.parse lists them

__all__ = [
    "CallOptions",
    "CallResult",
    "ChatCallStream",
    "ChatStreamAccumulator",
    "CompletionCallStream",
    "CompletionStreamAccumulator",
    "TextCalls",
    "TextClient",
    "TextRoutes",
]
__all__ += parse.__all__

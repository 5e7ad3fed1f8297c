"""The ``"arli"`` content-block translator: ``message.content_blocks`` on our messages.

LangChain reads ``response_metadata["model_provider"]`` (``"arli"`` on every message
:class:`~langchain_arli.ChatArli` returns) and asks the translator registered for it to
derive standard v1 blocks; ``output_version="v1"`` writes those blocks into ``content``.
Our messages keep vLLM's shape: text in ``content``, reasoning in
``additional_kwargs["reasoning_content"]``, tool calls in ``tool_calls`` /
``tool_call_chunks``. The blocks come out in the order the server streams them —
``reasoning``, ``text``, then ``tool_call`` (``tool_call_chunk`` in stream chunks) — and
stream chunks carry a stable ``index`` per block (``"lc_reasoning"``, ``"lc_text"``,
``"lc_tool_call_<n>"``) so that merging chunks keeps a tool call apart from the text and
reasoning blocks whose positions would otherwise share its number.

A v1 message fed back to :class:`ChatArli` is sent losslessly: text blocks as ``content``,
``tool_call`` blocks as ``tool_calls`` and reasoning as the assistant message's
``reasoning`` (kept or dropped by ``send_reasoning``), see :mod:`langchain_arli._convert`.
"""

from __future__ import annotations

from typing import Any, cast

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages import content as types
from langchain_core.messages.block_translators import register_translator

__all__ = ["register", "translate_content", "translate_content_chunk"]

_REASONING_INDEX = "lc_reasoning"
_TEXT_INDEX = "lc_text"


def _leading(message: AIMessage, *, indexed: bool) -> list[types.ContentBlock]:
    """The reasoning and text blocks of a message whose content is vLLM's string."""
    blocks: list[dict[str, Any]] = []
    reasoning = message.additional_kwargs.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        blocks.append({"type": "reasoning", "reasoning": reasoning})
        if indexed:
            blocks[-1]["index"] = _REASONING_INDEX
    if isinstance(message.content, str) and message.content:
        blocks.append({"type": "text", "text": message.content})
        if indexed:
            blocks[-1]["index"] = _TEXT_INDEX
    return cast("list[types.ContentBlock]", blocks)


def _tool_call_blocks(message: AIMessage) -> list[types.ContentBlock]:
    blocks: list[types.ContentBlock] = [
        {"type": "tool_call", "name": c["name"], "args": c["args"], "id": c.get("id")}
        for c in message.tool_calls
    ]
    for bad in message.invalid_tool_calls:
        invalid: types.InvalidToolCall = {
            "type": "invalid_tool_call",
            "id": bad.get("id"),
            "name": bad.get("name"),
            "args": bad.get("args"),
            "error": bad.get("error"),
        }
        blocks.append(invalid)
    return blocks


def translate_content(message: AIMessage) -> list[types.ContentBlock]:
    """Derive standard content blocks from an :class:`AIMessage` ``ChatArli`` returned.

    Args:
        message: the message to translate.

    Returns:
        ``reasoning``, ``text``, ``tool_call`` and ``invalid_tool_call`` blocks, in order.

    Raises:
        NotImplementedError: content already held as a list of blocks (LangChain then
            falls back to its best-effort parsing, which reads such lists).
    """
    if not isinstance(message.content, str):
        raise NotImplementedError
    return [*_leading(message, indexed=False), *_tool_call_blocks(message)]


def translate_content_chunk(message: AIMessageChunk) -> list[types.ContentBlock]:
    """Derive standard content blocks from a stream chunk ``ChatArli`` yielded.

    Args:
        message: the chunk (or the sum of chunks) to translate.

    Returns:
        ``reasoning`` and ``text`` blocks, then ``tool_call_chunk`` blocks (``tool_call``
        blocks once the chunk is the stream's last), each with a stable ``index``.

    Raises:
        NotImplementedError: content already held as a list of blocks.
    """
    if not isinstance(message.content, str):
        raise NotImplementedError
    blocks = _leading(message, indexed=True)
    if message.chunk_position == "last":
        return [*blocks, *_tool_call_blocks(message)]
    for n, chunk in enumerate(message.tool_call_chunks):
        position = chunk.get("index")
        piece: types.ToolCallChunk = {
            "type": "tool_call_chunk",
            "id": chunk.get("id"),
            "name": chunk.get("name"),
            "args": chunk.get("args"),
            "index": f"lc_tool_call_{n if position is None else position}",
        }
        blocks.append(piece)
    return blocks


def register() -> None:
    """Register the translator for ``model_provider="arli"`` (done on import of the skin)."""
    register_translator("arli", translate_content, translate_content_chunk)

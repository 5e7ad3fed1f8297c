"""Earlier turns' reasoning: sent back to the server, or not (``send_reasoning``).

Both skins put an assistant turn's reasoning (LangChain ``reasoning`` content blocks or
``additional_kwargs["reasoning_content"]``, LlamaIndex ``ThinkingBlock``) on its OpenAI
message as ``reasoning``, the field vLLM reads on incoming assistant messages (it renames an
incoming ``reasoning_content`` to it). Whether it is kept is decided here, once:

- ``False``: never sent (most chat templates drop it anyway; it costs prompt tokens);
- ``True``: always sent;
- ``"auto"`` (the default): sent for models whose template renders earlier reasoning
  (:func:`arli.text.catalog.interleaves_reasoning`: MiniMax-M2, Kimi K2, GLM 4.5+).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from arli.text.catalog import interleaves_reasoning

__all__ = ["SendReasoning", "with_reasoning"]

SendReasoning = bool | Literal["auto"]


def with_reasoning(
    messages: Sequence[dict[str, Any]], send: SendReasoning, model: str
) -> list[dict[str, Any]]:
    """``messages`` with assistant ``reasoning`` kept or removed as ``send`` decides."""
    keep = interleaves_reasoning(model) if send == "auto" else bool(send)
    if keep:
        return list(messages)
    return [
        {k: v for k, v in m.items() if k != "reasoning"} if "reasoning" in m else m
        for m in messages
    ]

"""Tool calls for LlamaIndex ``Arli``: LlamaIndex's tool arguments to the OpenAI fields, and back.

The tool choice is checked by the core (:func:`arli.text.payload.normalize_tool_choice`);
this only maps LlamaIndex's ``tool_required`` / ``allow_parallel_tool_calls`` onto it and
reads the calls out of a response.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection

from arli.text.payload import normalize_tool_choice
from llama_index_arli._convert import tool_selections

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["ToolCallingLLM"]


class ToolCallingLLM(FunctionCallingLLM):
    """The ``FunctionCallingLLM`` tool hooks of :class:`~llama_index_arli.Arli`."""

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The ``chat()`` kwargs for a call with tools.

        ``tool_choice`` (a tool name, ``"auto"``, ``"none"``, ``"required"`` or an OpenAI
        dict) wins over ``tool_required``; ``parallel_tool_calls: false`` is sent only when
        parallel calls are not allowed (``true`` is every server's default, and some reject
        the field). ``strict=True`` asks the server to constrain arguments to the schemas.
        """
        specs = [tool.metadata.to_openai_tool(skip_length_check=True) for tool in tools]
        if strict is not None:
            for spec in specs:
                spec["function"]["strict"] = strict
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        out: dict[str, Any] = {"messages": messages, **kwargs}
        if specs:
            out["tools"] = specs
            choice = (
                tool_choice
                if tool_choice is not None
                else ("required" if tool_required else "auto")
            )
            out["tool_choice"] = normalize_tool_choice(choice, specs)
            if not allow_parallel_tool_calls:
                out["parallel_tool_calls"] = False
        elif tool_choice not in (None, "auto", "none") or tool_required:
            normalize_tool_choice(tool_choice or "required", None)  # raises: no tools to require
        return out

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Keep only the first tool call when parallel calls were not allowed."""
        if not allow_parallel_tool_calls:
            message = response.message
            seen = False
            blocks = []
            for block in message.blocks:
                if getattr(block, "block_type", None) == "tool_call":
                    if seen:
                        continue
                    seen = True
                blocks.append(block)
            message.blocks = blocks
            calls = message.additional_kwargs.get("tool_calls")
            if isinstance(calls, list) and len(calls) > 1:
                message.additional_kwargs["tool_calls"] = calls[:1]
        return response

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """The tool calls of a response (also a stream response mid-way: partial arguments).

        Raises:
            ValueError: when there is none and ``error_on_no_tool_call`` is True.
        """
        selections = tool_selections(response.message)
        if not selections and error_on_no_tool_call:
            msg = "Expected at least one tool call, but got 0 tool calls."
            raise ValueError(msg)
        return selections

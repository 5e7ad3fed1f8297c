"""LangChain messages ⇄ the core's OpenAI-format messages and neutral results."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from arli import ArliResponseError, ArliValidationError, IncompleteResponseError
from arli._stamp import Stamp
from arli.text import ChatChunk, ChatCompletion, ChoiceDelta, ToolCall, Usage
from arli.text.accumulate import ChatStreamAccumulator, TextDelta
from arli.text.attachments import decode_base64, pdf_file_part, relay_tool_images

__all__ = [
    "chunk_to_generation",
    "completion_to_result",
    "delta_to_generation",
    "empty_stream_error",
    "text_generation",
    "to_openai_messages",
    "usage_metadata",
]

PROVIDER = "arli"
_SKIPPED_BLOCKS = frozenset(
    {"tool_use", "tool_call", "thinking", "reasoning", "redacted_thinking", "tool_call_chunk"}
)


def _image_part(block: dict[str, Any]) -> dict[str, Any]:
    """A LangChain image block (standard v1, v0 ``source_type`` or OpenAI) → ``image_url``."""
    if block.get("type") == "image_url":
        image_url = block.get("image_url")
        return {
            "type": "image_url",
            "image_url": image_url if isinstance(image_url, dict) else {"url": image_url},
        }
    detail = (
        (block.get("extras") or {}).get("detail") if isinstance(block.get("extras"), dict) else None
    )
    source = block.get("source_type")
    data = block.get("base64") if block.get("base64") is not None else None
    if data is None and source == "base64":
        data = block.get("data")
    if data is not None:
        mime = block.get("mime_type") or "image/png"
        url = data if str(data).startswith("data:") else f"data:{mime};base64,{data}"
    else:
        url = (
            block.get("url")
            or block.get("path")
            or (block.get("data") if source == "url" else None)
        )
    if not isinstance(url, str) or not url:
        if block.get("file_id") or block.get("id"):
            msg = "image blocks with a file_id are not supported; pass base64, a URL or a path"
        else:
            msg = f"image block without data, url or path: {sorted(block)}"
        raise ArliValidationError(msg, field="content", allowed="base64, url or path image blocks")
    out: dict[str, Any] = {"url": url}
    if detail:
        out["detail"] = detail
    return {"type": "image_url", "image_url": out}


def _is_pdf_block(block: dict[str, Any]) -> bool:
    """A v1/v0 ``file`` (or ``image``) block with a PDF, or an OpenAI ``file`` block."""
    kind = block.get("type")
    if kind == "file" and isinstance(block.get("file"), dict):
        data = block["file"].get("file_data") or ""
        return isinstance(data, str) and data.startswith("data:application/pdf")
    return kind in ("file", "image") and block.get("mime_type") == "application/pdf"


def _pdf_name(block: dict[str, Any]) -> str:
    inner: dict[str, Any] = block["file"] if isinstance(block.get("file"), dict) else block
    extras: dict[str, Any] = block["extras"] if isinstance(block.get("extras"), dict) else {}
    name = inner.get("filename") or extras.get("filename") or "the PDF"
    return str(name)


def _pdf_bytes(block: dict[str, Any]) -> bytes:
    """The PDF of a file block: base64 only (a URL or file id is refused, with why)."""
    if isinstance(block.get("file"), dict):
        return decode_base64(block["file"]["file_data"], what=_pdf_name(block))
    data = block.get("base64")
    if data is None and block.get("source_type") == "base64":
        data = block.get("data")
    if isinstance(data, str) and data:
        return decode_base64(data, what=_pdf_name(block))
    msg = (
        "a PDF block must carry its bytes as base64 (Arli vision takes base64 images only, "
        "and each page is rendered here): fetch the file yourself and pass base64"
    )
    raise ArliValidationError(msg, field="content", allowed="base64 PDF file blocks")


def _content(content: str | list[Any], *, images: bool = True) -> str | list[dict[str, Any]]:
    """LangChain content → a string, or OpenAI content parts when there are images."""
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    has_image = False
    for block in content:
        if isinstance(block, str):
            parts.append({"type": "text", "text": block})
            continue
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        elif images and _is_pdf_block(block):
            parts.append(pdf_file_part(_pdf_bytes(block), name=_pdf_name(block)))
            has_image = True
        elif kind in ("image", "image_url"):
            if images:
                parts.append(_image_part(block))
                has_image = True
        elif kind in _SKIPPED_BLOCKS:
            continue
        elif kind in ("file", "audio", "video", "input_audio", "document"):
            msg = f"Arli chat models take text and images; a {kind!r} content block cannot be sent"
            raise ArliValidationError(msg, field="content", allowed="text and image blocks")
    if not has_image:
        return "".join(p["text"] for p in parts)
    return parts


def _tool_calls(message: AIMessage) -> list[Any]:
    """``message.tool_calls``, else the ``tool_call`` blocks of its (v1) content."""
    if message.tool_calls or not isinstance(message.content, list):
        return list(message.tool_calls)
    return [
        b
        for b in message.content
        if isinstance(b, dict) and b.get("type") == "tool_call" and isinstance(b.get("name"), str)
    ]


def _tool_call_dicts(message: AIMessage) -> list[dict[str, Any]]:
    calls = [
        {
            "id": tc.get("id") or f"call_{i}",
            "type": "function",
            "function": {
                "name": tc["name"],
                "arguments": json.dumps(tc.get("args") or {}, ensure_ascii=False),
            },
        }
        for i, tc in enumerate(_tool_calls(message))
    ]
    calls += [
        {
            "id": tc.get("id") or f"call_invalid_{i}",
            "type": "function",
            "function": {"name": tc.get("name") or "", "arguments": tc.get("args") or ""},
        }
        for i, tc in enumerate(message.invalid_tool_calls)
    ]
    return calls


def _reasoning(message: AIMessage) -> str | None:
    """An assistant turn's reasoning, from its blocks or its ``additional_kwargs``.

    ``reasoning``/``thinking`` content blocks first, else
    ``additional_kwargs["reasoning_content"]`` (how :class:`ChatArli` returns it).
    """
    parts: list[str] = []
    if isinstance(message.content, list):
        for block in message.content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "reasoning" and isinstance(block.get("reasoning"), str):
                parts.append(block["reasoning"])
            elif block.get("type") == "thinking" and isinstance(block.get("thinking"), str):
                parts.append(block["thinking"])
    if parts:
        return "".join(parts)
    kept = message.additional_kwargs.get("reasoning_content")
    return kept if isinstance(kept, str) and kept else None


def to_openai_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Convert LangChain messages to OpenAI chat messages (images not yet inlined).

    PDFs become OpenAI ``file`` parts (the call layer renders one image per page when they
    are sent); images in tool results move to a user turn after the tool messages
    (:mod:`arli.text.attachments`).

    Raises:
        ArliValidationError: for content Arli cannot take (files, audio...).
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, HumanMessage):
            msg: dict[str, Any] = {"role": "user", "content": _content(m.content)}
        elif isinstance(m, AIMessage):
            text = _content(m.content, images=False)
            msg = {"role": "assistant", "content": text}
            calls = _tool_call_dicts(m)
            if calls:
                msg["tool_calls"] = calls
                if not text:
                    msg["content"] = None
            reasoning = _reasoning(m)
            if reasoning:  # kept or dropped by the core (ChatArli.send_reasoning)
                msg["reasoning"] = reasoning
        elif isinstance(m, SystemMessage):
            msg = {"role": "system", "content": _content(m.content, images=False)}
        elif isinstance(m, ToolMessage):
            msg = {"role": "tool", "tool_call_id": m.tool_call_id, "content": _content(m.content)}
        elif isinstance(m, ChatMessage):
            msg = {"role": m.role, "content": _content(m.content)}
        elif isinstance(m, FunctionMessage):
            msg = {"role": "function", "name": m.name, "content": _content(m.content, images=False)}
        else:
            msg = {"role": "user", "content": _content(m.content)}
        if m.name and not isinstance(m, FunctionMessage):
            msg["name"] = m.name
        out.append(msg)
    return relay_tool_images(out)


def usage_metadata(usage: Usage) -> UsageMetadata:
    """Core usage → a complete LangChain ``UsageMetadata``.

    Both detail dicts are always present (empty when the server said nothing about cache
    or reasoning tokens), so the value is complete for every ``langchain-core`` version we
    support, whichever of ``input_token_details``/``output_token_details`` it requires.
    """
    input_details = InputTokenDetails()
    if usage.cached_tokens is not None:
        input_details["cache_read"] = usage.cached_tokens
    output_details = OutputTokenDetails()
    if usage.reasoning_tokens is not None:
        output_details["reasoning"] = usage.reasoning_tokens
    return UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        input_token_details=input_details,
        output_token_details=output_details,
    )


def _parse_tool_calls(calls: list[ToolCall]) -> tuple[list[Any], list[Any]]:
    valid, invalid = [], []
    for call in calls:
        try:
            args = call.parsed_arguments()
        except ValueError as exc:
            invalid.append(
                invalid_tool_call(name=call.name, args=call.arguments, id=call.id, error=str(exc))
            )
        else:
            valid.append(tool_call(name=call.name, args=args, id=call.id))
    return valid, invalid


def completion_to_result(completion: ChatCompletion, retries_taken: int = 0) -> ChatResult:
    """Core chat completion → LangChain ``ChatResult`` (one generation per choice).

    ``retries_taken`` (the transport's retries before the answer) goes into each message's
    ``response_metadata["retries_taken"]``.

    Raises:
        ArliResponseError: the completion has no choice (LangChain needs one).
    """
    if not completion.choices:
        name = f" {completion.id}" if completion.id else ""
        msg = f"the chat completion{name} has no choices"
        raise ArliResponseError(msg, body=json.dumps(completion.raw, default=str)[:300])
    usage = usage_metadata(completion.usage) if completion.usage is not None else None
    generations = []
    for choice in completion.choices:
        extra: dict[str, Any] = {}
        if choice.reasoning:
            extra["reasoning_content"] = choice.reasoning
        metadata: dict[str, Any] = {
            "model_name": completion.model,
            "model_provider": PROVIDER,
            "finish_reason": choice.finish_reason,
            "stop_reason": choice.stop_reason,
            "system_fingerprint": completion.system_fingerprint,
            "id": completion.id,
            "retries_taken": retries_taken,
        }
        if choice.logprobs is not None:
            metadata["logprobs"] = choice.logprobs
        fields: dict[str, Any] = {}
        if choice.tool_calls:
            fields["tool_calls"], fields["invalid_tool_calls"] = _parse_tool_calls(
                choice.tool_calls
            )
        if extra:
            fields["additional_kwargs"] = extra
        info = {"finish_reason": choice.finish_reason}
        if choice.logprobs is not None:
            info["logprobs"] = choice.logprobs  # type: ignore[assignment]
        values: dict[str, Any] = {
            "content": choice.content or "",
            "usage_metadata": usage,
            "response_metadata": metadata,
            "id": completion.id or None,
        }
        if fields:
            message = AIMessage(**values, **fields)
            generations.append(ChatGeneration(message=message, generation_info=info))
            continue
        # A text answer (nearly every call): the same objects, stamped (arli._stamp;
        # bench/results.md, 'stamped answers').
        message = _ANSWER.make(values)
        answer = {"message": message, "generation_info": info, "text": values["content"]}
        generations.append(_ANSWER_GENERATION.make(answer))
    llm_output = {
        "model_name": completion.model,
        "system_fingerprint": completion.system_fingerprint,
        "id": completion.id,
        "token_usage": {
            "prompt_tokens": completion.usage.prompt_tokens,
            "completion_tokens": completion.usage.completion_tokens,
            "total_tokens": completion.usage.total_tokens,
        }
        if completion.usage is not None
        else None,
    }
    return ChatResult(generations=generations, llm_output=llm_output)


# The two objects of a text answer, stamped (arli._stamp); test_stamp compares them with
# the constructors' over every recorded completion.
_ANSWER = Stamp(
    AIMessage,
    {"content": "", "usage_metadata": None, "response_metadata": {}, "id": None},
    {
        "content": "probe",
        "usage_metadata": UsageMetadata(
            input_tokens=1,
            output_tokens=2,
            total_tokens=3,
            input_token_details=InputTokenDetails(cache_read=1),
            output_token_details=OutputTokenDetails(),
        ),
        "response_metadata": {"model_provider": "probe", "logprobs": None},
        "id": "probe",
    },
)
_ANSWER_GENERATION = Stamp(
    ChatGeneration,
    {"message": AIMessage(content=""), "generation_info": {}, "text": ""},
    {
        "message": AIMessage(content="probe", id="probe"),
        "generation_info": {"finish_reason": "probe"},
        "text": "probe",
    },
)


def empty_stream_error() -> IncompleteResponseError:
    """The error for a stream that gave LangChain nothing (it needs at least one chunk)."""
    return IncompleteResponseError(
        "the stream ended without any content or finish reason for choice 0: the answer is empty"
    )


def chunk_to_generation(chunk: ChatChunk) -> ChatGenerationChunk | None:
    """Core stream chunk → LangChain chunk for choice 0; ``None`` when it carries nothing."""
    if not chunk.choices:
        if chunk.usage is None:
            return None
        message = AIMessageChunk(
            content="", usage_metadata=usage_metadata(chunk.usage), chunk_position="last"
        )
        return ChatGenerationChunk(message=message)
    delta = chunk.choices[0]
    if delta.index != 0:
        found = next((c for c in chunk.choices if c.index == 0), None)
        if found is None:
            return None
        delta = found
    if delta.reasoning or delta.tool_calls or delta.finish_reason or delta.logprobs is not None:
        return _delta_generation(chunk, delta)
    # Text only (nearly every chunk): LangChain's defaults are the rest of the message;
    # the same chunk as _delta_generation's (test_chunk_to_generation_fast_path), stamped
    # (bench/results.md, 'stamped stream objects').
    if not delta.content:
        return None
    return text_generation(delta.content, chunk.id)


def delta_to_generation(
    item: ChatChunk | TextDelta, acc: ChatStreamAccumulator
) -> ChatGenerationChunk | None:
    """An item of ``ChatCallStream.deltas()`` → LangChain chunk (``None``: it carries nothing).

    A :data:`~arli.text.accumulate.TextDelta` (text only, the short way) is a chunk of the
    message ``acc.id``; a parsed chunk goes to :func:`chunk_to_generation`.
    """
    if isinstance(item, tuple):
        return text_generation(item[0], acc.id)
    return chunk_to_generation(item)


# The two objects of a text-only stream chunk, stamped (arli._stamp; bench/results.md,
# 'stamped stream objects'); test_chunk_to_generation_fast_path compares them with the
# general translation's over every recorded chunk, test_stamp with the constructors'.
_TEXT_MESSAGE = Stamp(
    AIMessageChunk,
    {"content": "", "id": "run", "response_metadata": {"model_provider": PROVIDER}},
    {"content": "probe", "id": None, "response_metadata": {"model_provider": "probe"}},
)
_TEXT_GENERATION = Stamp(
    ChatGenerationChunk,
    {"message": AIMessageChunk(content=""), "text": ""},
    {"message": AIMessageChunk(content="probe", id="probe"), "text": "probe"},
)


def text_generation(text: str, message_id: str) -> ChatGenerationChunk:
    """The LangChain chunk of a delta that only adds ``text`` (in a message ``message_id``).

    What :func:`chunk_to_generation` gives for such a chunk, also for a stream's
    :data:`~arli.text.accumulate.TextDelta` (no core chunk object is built for those):
    ``ChatGenerationChunk(message=AIMessageChunk(content=text, id=..., response_metadata=
    {"model_provider": "arli"}))``, stamped.
    """
    metadata = {"model_provider": PROVIDER}
    fields = {"content": text, "id": message_id or None, "response_metadata": metadata}
    return _TEXT_GENERATION.make({"message": _TEXT_MESSAGE.make(fields), "text": text})


def _delta_generation(chunk: ChatChunk, delta: ChoiceDelta) -> ChatGenerationChunk | None:
    """:func:`chunk_to_generation` for any delta of choice 0."""
    extra: dict[str, Any] = {}
    if delta.reasoning:
        extra["reasoning_content"] = delta.reasoning
    tool_chunks = [
        tool_call_chunk(name=tc.name, args=tc.arguments or None, id=tc.id, index=tc.index)
        for tc in delta.tool_calls
    ]
    # every chunk names its provider, so that its content_blocks (output_version="v1")
    # come from our translator (langchain_arli._blocks); equal values merge as one
    metadata: dict[str, Any] = {"model_provider": PROVIDER}
    info: dict[str, Any] | None = None
    if delta.finish_reason:
        metadata = {
            "model_name": chunk.model,
            "model_provider": PROVIDER,
            "finish_reason": delta.finish_reason,
            "stop_reason": delta.stop_reason,
            "system_fingerprint": chunk.system_fingerprint,
        }
        info = {"finish_reason": delta.finish_reason}
    if delta.logprobs is not None:
        info = {**(info or {}), "logprobs": delta.logprobs}
    if not (delta.content or extra or tool_chunks or delta.finish_reason or info):
        return None
    message = AIMessageChunk(
        content=delta.content or "",
        additional_kwargs=extra,
        tool_call_chunks=tool_chunks,
        response_metadata=metadata,
        id=chunk.id or None,
    )
    return ChatGenerationChunk(message=message, generation_info=info)

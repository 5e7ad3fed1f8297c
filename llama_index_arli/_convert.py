"""LlamaIndex messages and blocks ⇄ the core's OpenAI-format messages and neutral results.

Everything that builds request bodies or parses responses lives in :mod:`arli.text`; this
module only maps LlamaIndex's types onto it: ``ChatMessage``/blocks → OpenAI message dicts
(images as ``image_url`` parts, inlined by the core), and the core's
``ChatCompletion``/``ChatChunk``/``Completion`` → ``ChatResponse``/``CompletionResponse``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from io import IOBase
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    CachePoint,
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CitableBlock,
    CitationBlock,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    DocumentBlock,
    ImageBlock,
    LogProb,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json

from arli._errors import ArliValidationError
from arli._stamp import Stamp
from arli.media import sniff_mime
from arli.text.accumulate import ChatStreamAccumulator, TextDelta
from arli.text.attachments import pdf_file_part, relay_tool_images
from arli.text.parse import (
    ChatChunk,
    ChatCompletion,
    Completion,
    CompletionChunk,
    ToolCall,
    Usage,
)
from llama_index_arli._structured import hand_over

if TYPE_CHECKING:
    from arli.text.calls import ChatCallStream, CompletionCallStream

__all__ = [
    "ChatStream",
    "CompletionStream",
    "achat_responses",
    "achat_to_completions",
    "acompletion_responses",
    "assistant_message",
    "chat_response",
    "chat_responses",
    "chat_to_completions",
    "completion_response",
    "completion_responses",
    "to_openai_messages",
    "tool_selections",
    "usage_kwargs",
]

#: LlamaIndex roles that OpenAI-compatible chat templates do not know, and what they mean.
_ROLES = {"chatbot": "assistant", "model": "assistant", "developer": "system"}
#: Roles whose content may carry images: user messages, and tool results (whose images
#: are relayed to a following user turn by :func:`relay_tool_images`).
_IMAGE_ROLES = frozenset({"user", "tool"})


# -- requests: ChatMessage → OpenAI dicts ----------------------------------------------------


def _image_part(block: ImageBlock) -> dict[str, Any]:
    """An ``ImageBlock`` → an ``image_url`` part (paths and URLs are inlined by the core)."""
    url: str
    if block.image is not None:
        # Typed `bytes | IOBase` since llama-index-core 0.14.6, `bytes` before: annotate the
        # wider type so both versions check the file-object branch.
        raw: bytes | IOBase = block.image
        mime = block.image_mimetype
        if isinstance(raw, IOBase):  # a file object: its bytes as they are
            raw.seek(0)
            data = raw.read()
            if isinstance(data, str):
                data = data.encode()
            mime = mime or sniff_mime(data[:16])
            raw = base64.b64encode(data)
        # ImageBlock stores bytes base64-encoded (its validator encodes them on creation).
        text = raw.decode("ascii") if isinstance(raw, bytes) else str(raw)
        # Without a known type the bare base64 goes to the core, which sniffs the format.
        url = f"data:{mime};base64,{text}" if mime and mime.startswith("image/") else text
    elif block.path is not None:
        url = str(block.path)
    elif block.url is not None:
        url = str(block.url)
    else:
        msg = "an ImageBlock needs image bytes, a path or a url"
        raise ArliValidationError(msg, field="blocks", allowed="image, path or url")
    image_url: dict[str, Any] = {"url": url}
    if block.detail:
        image_url["detail"] = block.detail
    return {"type": "image_url", "image_url": image_url}


def _document_parts(block: DocumentBlock) -> list[dict[str, Any]]:
    """A ``DocumentBlock`` holding a PDF → its OpenAI ``file`` part, rendered when sent.

    The call layer turns it into one ``image_url`` part per page. Only the block's bytes
    are used: a ``path`` or ``url`` named in message content is not read or fetched
    (content is untrusted); read the file yourself and pass ``data=``.
    """
    name = block.title if block.title and block.title != "input_document" else "the PDF document"
    if block.data is None:
        where = "path" if block.path is not None else "url"
        msg = (
            f"a DocumentBlock's {where} is not read from message content: read the PDF "
            f"yourself and pass DocumentBlock(data=<its bytes>)"
        )
        raise ArliValidationError(msg, field="blocks", allowed="DocumentBlock(data=...)")
    if isinstance(block.data, IOBase):
        block.data.seek(0)
        raw = block.data.read()
        data = raw.encode() if isinstance(raw, str) else raw
    else:  # DocumentBlock stores bytes base64-encoded (its validator encodes them)
        data = base64.b64decode(block.data)
    mime = block.document_mimetype or ""
    if mime not in ("", "application/pdf") and not data.startswith(b"%PDF-"):
        msg = f"{name} is {mime}; Arli chat models take documents as PDFs only"
        raise ArliValidationError(msg, field="blocks", allowed="application/pdf")
    return [pdf_file_part(data, name=name)]  # rendered by the call layer when sent


def _arguments(kwargs: Any) -> str:
    if isinstance(kwargs, str):
        return kwargs
    return json.dumps(kwargs, ensure_ascii=False)


def _legacy_tool_call(call: Any, i: int) -> dict[str, Any]:
    """A tool call from ``additional_kwargs["tool_calls"]`` (dicts or OpenAI SDK objects)."""
    if hasattr(call, "model_dump"):
        call = call.model_dump()
    if not isinstance(call, Mapping):
        msg = f"additional_kwargs['tool_calls'] holds a {type(call).__name__}, not a tool call"
        raise ArliValidationError(msg, field="additional_kwargs", allowed="OpenAI tool calls")
    fn = call.get("function") or {}
    return {
        "id": call.get("id") or f"call_{i}",
        "type": "function",
        "function": {"name": fn.get("name") or "", "arguments": _arguments(fn.get("arguments"))},
    }


def _flatten(blocks: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for block in blocks:
        if isinstance(block, CitableBlock):
            out.extend(block.content)
        elif isinstance(block, CitationBlock):
            out.append(block.cited_content)
        else:
            out.append(block)
    return out


def to_openai_message(message: ChatMessage) -> dict[str, Any]:
    """Convert one LlamaIndex ``ChatMessage`` to an OpenAI chat message dict.

    Raises:
        ArliValidationError: for content Arli cannot take (audio, video, documents).
    """
    role = _ROLES.get(message.role.value, message.role.value)
    texts: list[str] = []
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    thoughts: list[str] = []
    has_image = False
    for block in _flatten(message.blocks):
        if isinstance(block, TextBlock):
            texts.append(block.text)
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            if role in _IMAGE_ROLES:
                parts.append(_image_part(block))
                has_image = True
        elif isinstance(block, DocumentBlock):
            if role not in _IMAGE_ROLES:
                msg = f"a DocumentBlock can be sent in user and tool messages, not {role!r} ones"
                raise ArliValidationError(msg, field="blocks", allowed="user or tool messages")
            parts.extend(_document_parts(block))
            has_image = True
        elif isinstance(block, ToolCallBlock):
            calls.append(
                {
                    "id": block.tool_call_id or f"call_{len(calls)}",
                    "type": "function",
                    "function": {
                        "name": block.tool_name,
                        "arguments": _arguments(block.tool_kwargs),
                    },
                }
            )
        elif isinstance(block, ThinkingBlock):
            if block.content:  # kept or dropped by the core (Arli.send_reasoning)
                thoughts.append(block.content)
        elif isinstance(block, CachePoint):
            continue  # cache points mean nothing to vLLM
        else:
            kind = getattr(block, "block_type", type(block).__name__)
            msg = f"Arli chat models take text and images; a {kind!r} block cannot be sent"
            raise ArliValidationError(msg, field="blocks", allowed="text and image blocks")
    extra = message.additional_kwargs
    if not calls and extra.get("tool_calls"):
        calls = [_legacy_tool_call(c, i) for i, c in enumerate(extra["tool_calls"])]
    content: Any = parts if has_image else "".join(texts)
    out: dict[str, Any] = {"role": role, "content": content}
    if calls and role == "assistant":
        out["tool_calls"] = calls
        if not content:
            out["content"] = None
    if thoughts and role == "assistant":
        out["reasoning"] = "".join(thoughts)
    if role == "tool" and extra.get("tool_call_id") is not None:
        out["tool_call_id"] = str(extra["tool_call_id"])
    name = extra.get("name")
    if isinstance(name, str) and name:
        out["name"] = name
    return out


def to_openai_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Convert LlamaIndex messages to OpenAI chat messages (images not yet inlined).

    PDFs in ``DocumentBlock``s become OpenAI ``file`` parts (the call layer renders their
    pages as images when sent); images in tool results move to a user turn after the tool
    messages (:func:`arli.text.attachments.relay_tool_images`), where
    the chat templates vLLM serves can show them to the model.

    Raises:
        ArliValidationError: for content Arli cannot take (audio, video, non-PDF documents).
    """
    return relay_tool_images([to_openai_message(m) for m in messages])


# -- responses: core results → ChatResponse / CompletionResponse -------------------------------


def usage_kwargs(usage: Usage | None) -> dict[str, Any]:
    """Token counts in LlamaIndex's ``additional_kwargs`` keys (empty when unknown)."""
    if usage is None:
        return {}
    out: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.cached_tokens is not None:
        out["cached_tokens"] = usage.cached_tokens
    if usage.reasoning_tokens is not None:
        out["reasoning_tokens"] = usage.reasoning_tokens
    return out


def _tool_kwargs(arguments: str) -> dict[str, Any] | str:
    """Parsed arguments when they are a complete JSON object, else the text as it is."""
    try:
        value = json.loads(arguments, strict=False) if arguments.strip() else {}
    except ValueError:
        return arguments
    return value if isinstance(value, dict) else arguments


def _tool_call_dict(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def assistant_message(
    content: str, reasoning: str | None = None, tool_calls: Sequence[ToolCall] = ()
) -> ChatMessage:
    """The assistant ``ChatMessage`` of an answer.

    Reasoning becomes a ``ThinkingBlock`` (before the text), tool calls ``ToolCallBlock``s
    (and, for code that reads them there, OpenAI-format dicts in
    ``additional_kwargs["tool_calls"]``).
    """
    if not (reasoning or tool_calls):  # a text answer (nearly every one): stamped
        return _TEXT_MESSAGE.make({"blocks": [TextBlock(text=content)]})
    blocks: list[Any] = []
    if reasoning:
        blocks.append(ThinkingBlock(content=reasoning))
    blocks.append(TextBlock(text=content))
    extra: dict[str, Any] = {}
    if tool_calls:
        blocks.extend(
            ToolCallBlock(
                tool_call_id=c.id, tool_name=c.name, tool_kwargs=_tool_kwargs(c.arguments)
            )
            for c in tool_calls
        )
        extra["tool_calls"] = [_tool_call_dict(c) for c in tool_calls]
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=extra)


def _logprob(value: Any) -> float:
    """A logprob from the server; anything that is not a number becomes 0.0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    try:
        return float(value)
    except OverflowError:  # an integer too large for a float
        return 0.0


def _byte_values(value: Any) -> list[int]:
    if not isinstance(value, list):
        return []
    return [b for b in value if isinstance(b, int) and not isinstance(b, bool)]


def _chat_logprobs(logprobs: Mapping[str, Any] | None) -> list[list[LogProb]] | None:
    content = (logprobs or {}).get("content")
    if not isinstance(content, list):
        return None
    out: list[list[LogProb]] = []
    for item in content:
        if not isinstance(item, Mapping):
            continue
        top = item.get("top_logprobs")
        if not isinstance(top, list) or not top:
            top = [item]
        out.append(
            [
                LogProb(
                    token=str(t.get("token", "")),
                    logprob=_logprob(t.get("logprob")),
                    bytes=_byte_values(t.get("bytes")),
                )
                for t in top
                if isinstance(t, Mapping)
            ]
        )
    return out


def _completion_logprobs(logprobs: Mapping[str, Any] | None) -> list[list[LogProb]] | None:
    if not logprobs or not isinstance(logprobs.get("tokens"), list):
        return None
    tokens = logprobs["tokens"]
    values = logprobs.get("token_logprobs")
    tops = logprobs.get("top_logprobs")
    values = values if isinstance(values, list) else [None] * len(tokens)
    tops = tops if isinstance(tops, list) else [None] * len(tokens)
    out: list[list[LogProb]] = []
    for token, value, top in zip(tokens, values, tops, strict=False):
        if isinstance(top, Mapping) and top:
            out.append([LogProb(token=str(k), logprob=_logprob(v)) for k, v in top.items()])
        else:
            out.append([LogProb(token=str(token), logprob=_logprob(value))])
    return out


def _finish(finish_reason: str | None, stop_reason: str | int | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if finish_reason is not None:
        out["finish_reason"] = finish_reason
    if stop_reason is not None:
        out["stop_reason"] = stop_reason
    return out


def chat_response(completion: ChatCompletion, retries_taken: int = 0) -> ChatResponse:
    """Core chat completion → ``ChatResponse`` (the first choice; all of them are in ``raw``).

    ``additional_kwargs`` holds the token counts (``prompt_tokens``, ``completion_tokens``,
    ``total_tokens``), ``finish_reason``/``stop_reason``, ``model``, ``id`` and
    ``retries_taken`` (the transport's retries before the answer).
    """
    choice = completion.choices[0] if completion.choices else None
    if choice is None:
        message = assistant_message("")
        extra: dict[str, Any] = {}
        logprobs = None
    else:
        message = assistant_message(choice.content or "", choice.reasoning, choice.tool_calls)
        extra = _finish(choice.finish_reason, choice.stop_reason)
        logprobs = _chat_logprobs(choice.logprobs)
    extra.update(usage_kwargs(completion.usage))
    extra["model"] = completion.model
    extra["id"] = completion.id
    extra["retries_taken"] = retries_taken
    return ChatResponse(
        message=message, raw=completion.raw, additional_kwargs=extra, logprobs=logprobs
    )


def completion_response(completion: Completion, retries_taken: int = 0) -> CompletionResponse:
    """Core text completion → ``CompletionResponse`` (first choice; all of them in ``raw``).

    ``additional_kwargs`` holds what :func:`chat_response` puts there.
    """
    choice = completion.choices[0] if completion.choices else None
    extra = _finish(choice.finish_reason, choice.stop_reason) if choice else {}
    extra.update(usage_kwargs(completion.usage))
    extra["model"] = completion.model
    extra["id"] = completion.id
    extra["retries_taken"] = retries_taken
    return CompletionResponse(
        text=choice.text if choice else "",
        raw=completion.raw,
        additional_kwargs=extra,
        logprobs=_completion_logprobs(choice.logprobs) if choice else None,
    )


def chat_to_completion(response: ChatResponse) -> CompletionResponse:
    """A chat answer as a ``CompletionResponse`` (``complete()`` on the chat endpoint)."""
    return CompletionResponse(
        text=response.message.content or "",
        raw=response.raw,
        additional_kwargs=response.additional_kwargs,
        logprobs=response.logprobs,
        delta=response.delta,
    )


# Two of the three objects of a text-only stream response, stamped (arli._stamp; the
# ``TextBlock`` constructor is as fast as a stamp); a stamped call names the fields its
# probe varies, the rest keep the template's values.
_TEXT_MESSAGE = Stamp(
    ChatMessage,
    {"role": MessageRole.ASSISTANT, "blocks": [TextBlock(text="")]},
    {"role": MessageRole.ASSISTANT, "blocks": [TextBlock(text="probe")]},
)
_TEXT_RESPONSE = Stamp(
    ChatResponse,
    {"message": ChatMessage(role="assistant", content=""), "delta": "", "raw": {}},
    {"message": ChatMessage(role="assistant", content="p"), "delta": "p", "raw": {"p": 1}},
)


class ChatStream:
    """Turns streamed core chunks into LlamaIndex ``ChatResponse``s for choice 0.

    Each response carries the new text in ``delta`` and the whole message so far in
    ``message`` (LlamaIndex's convention); reasoning arrives as ``ThinkingBlock`` plus
    ``additional_kwargs["thinking_delta"]`` (what ``FunctionAgent`` streams), tool calls as
    ``ToolCallBlock``s merged across chunks (arguments stay text until they parse), and the
    final usage chunk's token counts (with the finish reason) in ``additional_kwargs``.
    """

    def __init__(self, acc: ChatStreamAccumulator) -> None:
        self.acc = acc  # the stream's one accumulator, fed by the call layer (not here)
        self.content = ""
        self.reasoning = ""
        self.tool_calls: list[ToolCall] = []
        self.finish: dict[str, Any] = {}

    def message(self) -> ChatMessage:
        """The assistant message accumulated so far."""
        return assistant_message(self.content, self.reasoning or None, self.tool_calls)

    def add(self, item: ChatChunk | TextDelta) -> ChatResponse | None:
        """Merge one chunk (already added to ``acc``); the response to yield, or ``None``.

        ``item`` is a parsed chunk or, from :meth:`ChatCallStream.deltas`, the
        :data:`~arli.text.accumulate.TextDelta` of a chunk that only added text.
        """
        if isinstance(item, tuple):
            return self.add_text(*item)
        choices = item.choices
        if len(choices) == 1:
            delta = choices[0]
            if (
                delta.content
                and delta.index == 0
                and item.usage is None
                and not (delta.reasoning or delta.tool_calls or delta.finish_reason)
                and delta.logprobs is None
            ):
                return self.add_text(delta.content, item.raw)
        return self.general_add(item)

    def add_text(self, text: str, raw: dict[str, Any]) -> ChatResponse:
        """:meth:`add` for a chunk ``raw`` that only adds ``text`` (nearly every chunk).

        The response :meth:`general_add` gives; while the message is text alone, stamped
        (:mod:`arli._stamp`; test_chat_stream_fast_path; bench/results.md, 'stamped stream
        objects').
        """
        self.content += text
        if self.reasoning or self.tool_calls:
            return ChatResponse(message=self.message(), delta=text, raw=raw)
        message = _TEXT_MESSAGE.make({"blocks": [TextBlock(text=self.content)]})
        return _TEXT_RESPONSE.make({"message": message, "delta": text, "raw": raw})

    def general_add(self, chunk: ChatChunk) -> ChatResponse | None:
        """:meth:`add` for any chunk."""
        extra: dict[str, Any]
        if not chunk.choices:
            if chunk.usage is None:
                return None
            return ChatResponse(
                message=self.message(),
                delta="",
                raw=chunk.raw,
                additional_kwargs={**self.finish, **usage_kwargs(chunk.usage)},
            )
        delta = chunk.choices[0]
        if delta.index != 0:
            return None
        text = delta.content or ""
        if delta.tool_calls:
            self.tool_calls = self.acc.tool_calls(0)
        if not (text or delta.reasoning or delta.tool_calls or delta.finish_reason):
            return None
        self.content += text
        extra = {}
        if delta.reasoning:
            self.reasoning += delta.reasoning
            extra["thinking_delta"] = delta.reasoning
        if delta.finish_reason:
            self.finish = _finish(delta.finish_reason, delta.stop_reason)
            extra.update(self.finish)
        if chunk.usage is not None:  # vLLM's continuous_usage_stats
            extra.update(usage_kwargs(chunk.usage))
        return ChatResponse(
            message=self.message(),
            delta=text,
            raw=chunk.raw,
            additional_kwargs=extra,
            logprobs=_chat_logprobs(delta.logprobs) if delta.logprobs else None,
        )


class CompletionStream:
    """Turns streamed ``/v1/completions`` chunks into ``CompletionResponse``s for choice 0."""

    def __init__(self) -> None:
        self.text = ""
        self.finish_reason: str | None = None

    def add(self, chunk: CompletionChunk) -> CompletionResponse | None:
        """Merge one chunk; the response to yield, or ``None`` when it carries nothing."""
        if not chunk.choices:
            if chunk.usage is None:
                return None
            return CompletionResponse(
                text=self.text, delta="", raw=chunk.raw, additional_kwargs=usage_kwargs(chunk.usage)
            )
        choice = chunk.choices[0]
        if choice.index != 0 or not (choice.text or choice.finish_reason):
            return None
        self.text += choice.text
        extra: dict[str, Any] = {}
        if choice.finish_reason:
            self.finish_reason = choice.finish_reason
            extra = _finish(choice.finish_reason, choice.stop_reason)
        if chunk.usage is not None:
            extra.update(usage_kwargs(chunk.usage))
        return CompletionResponse(
            text=self.text,
            delta=choice.text,
            raw=chunk.raw,
            additional_kwargs=extra,
            logprobs=_completion_logprobs(choice.logprobs),
        )


def chat_responses(stream: ChatCallStream) -> ChatResponseGen:
    """The ``ChatResponse``s of a planned chat stream (sent when iterated)."""
    state = ChatStream(stream.accumulator)
    for item in stream.deltas():
        response = state.add(item)
        if response is not None:
            yield response
    hand_over(stream.parsed)  # to a structured stream reading this one


async def achat_responses(stream: ChatCallStream) -> ChatResponseAsyncGen:
    """Async :func:`chat_responses`."""
    state = ChatStream(stream.accumulator)
    async for item in stream.adeltas():
        response = state.add(item)
        if response is not None:
            yield response
    hand_over(stream.parsed)


def completion_responses(stream: CompletionCallStream) -> CompletionResponseGen:
    """The ``CompletionResponse``s of a planned ``/v1/completions`` stream."""
    state = CompletionStream()
    for chunk in stream:
        response = state.add(chunk)
        if response is not None:
            yield response


async def acompletion_responses(stream: CompletionCallStream) -> CompletionResponseAsyncGen:
    """Async :func:`completion_responses`."""
    state = CompletionStream()
    async for chunk in stream:
        response = state.add(chunk)
        if response is not None:
            yield response


def chat_to_completions(responses: ChatResponseGen) -> CompletionResponseGen:
    """A chat stream as completion responses (``complete`` answered through chat)."""
    for response in responses:
        yield chat_to_completion(response)


async def achat_to_completions(responses: ChatResponseAsyncGen) -> CompletionResponseAsyncGen:
    """Async :func:`chat_to_completions`."""
    async for response in responses:
        yield chat_to_completion(response)


# -- tool calls out of a response ---------------------------------------------------------------


def _selection_kwargs(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        value = json.loads(arguments, strict=False)
    except ValueError:
        try:  # a stream mid-way: the arguments so far
            value = parse_partial_json(arguments)
        except (ValueError, TypeError):
            return {}
    return value if isinstance(value, dict) else {}


def tool_selections(message: ChatMessage) -> list[ToolSelection]:
    """The tool calls of an assistant message (``ToolCallBlock``s, else legacy dicts)."""
    blocks = [b for b in message.blocks if isinstance(b, ToolCallBlock)]
    if blocks:
        return [
            ToolSelection(
                tool_id=b.tool_call_id or "",
                tool_name=b.tool_name,
                tool_kwargs=_selection_kwargs(b.tool_kwargs),
            )
            for b in blocks
        ]
    selections = []
    for i, raw in enumerate(message.additional_kwargs.get("tool_calls") or ()):
        call = _legacy_tool_call(raw, i)
        selections.append(
            ToolSelection(
                tool_id=call["id"],
                tool_name=call["function"]["name"],
                tool_kwargs=_selection_kwargs(call["function"]["arguments"]),
            )
        )
    return selections

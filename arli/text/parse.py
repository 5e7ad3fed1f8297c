"""Responses and stream chunks of the text API → small neutral result objects.

Parsing is lenient about what the engines add (vLLM and Aphrodite put many extra keys,
mostly ``null``, in every response) and strict about what we need: a response without a
``choices`` list raises :class:`~arli.ArliResponseError` with the raw start of the body.

Both reasoning field names are read: ``reasoning_content`` (vLLM <= 0.11, Aphrodite <= 0.10)
and ``reasoning`` (vLLM >= 0.12, where 0.12 mirrors the same text into both keys).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from arli._errors import ArliResponseError

__all__ = [
    "ChatChoice",
    "ChatChunk",
    "ChatCompletion",
    "ChoiceDelta",
    "Completion",
    "CompletionChoice",
    "CompletionChunk",
    "ModelInfo",
    "TokenizeResult",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "parse_chat_chunk",
    "parse_chat_completion",
    "parse_completion",
    "parse_completion_chunk",
    "parse_models",
    "parse_tokenize",
    "parse_usage",
]


@dataclass(slots=True)
class Usage:
    """Token counts of one response."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None

    def counts(self) -> dict[str, int]:
        """The three OpenAI counts: ``prompt_tokens``, ``completion_tokens``, ``total_tokens``.

        As completions' ``generation_info["usage"]`` and the CLI's JSON show them.
        """
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(slots=True)
class ToolCall:
    """A complete tool call: ``arguments`` is the JSON text the model produced."""

    id: str
    name: str
    arguments: str
    index: int = 0

    def parsed_arguments(self) -> dict[str, Any]:
        """Parse :attr:`arguments` as a JSON object (empty text means no arguments).

        Raw control characters inside strings are tolerated (a known xgrammar bug lets
        constrained output contain them).

        Raises:
            ValueError: when the text is not a JSON object.
        """
        text = self.arguments.strip()
        if not text:
            return {}
        try:
            value = json.loads(text, strict=False)
        except RecursionError:
            msg = f"tool call arguments are nested too deeply: {text[:200]!r}"
            raise ValueError(msg) from None
        if not isinstance(value, dict):
            msg = f"tool call arguments are not a JSON object: {text[:200]!r}"
            raise ValueError(msg)
        return value


@dataclass(slots=True)
class ChatChoice:
    """One choice of a chat completion."""

    index: int
    content: str | None
    role: str = "assistant"
    reasoning: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    stop_reason: str | int | None = None
    logprobs: dict[str, Any] | None = None
    refusal: str | None = None


_C = TypeVar("_C")


@dataclass(slots=True)
class _Answer(Generic[_C]):
    """The fields of a response or chunk object: its envelope and its choices."""

    id: str
    model: str
    created: int | None
    choices: list[_C]
    usage: Usage | None = None
    system_fingerprint: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(slots=True)
class ChatCompletion(_Answer[ChatChoice]):
    """A non-streamed chat completion."""

    @property
    def text(self) -> str:
        """The first choice's content ("" when it has none)."""
        return (self.choices[0].content or "") if self.choices else ""


@dataclass(slots=True)
class ToolCallDelta:
    """A fragment of a streamed tool call (fields arrive over several chunks)."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class ChoiceDelta:
    """What one chunk adds to one choice."""

    index: int
    role: str | None = None
    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    finish_reason: str | None = None
    stop_reason: str | int | None = None
    logprobs: dict[str, Any] | None = None


@dataclass(slots=True)
class ChatChunk(_Answer[ChoiceDelta]):
    """One streamed chat chunk. A chunk with no choices carries the final usage."""


@dataclass(slots=True)
class CompletionChoice:
    """One choice of a text completion (``/v1/completions``)."""

    index: int
    text: str
    finish_reason: str | None = None
    stop_reason: str | int | None = None
    logprobs: dict[str, Any] | None = None


@dataclass(slots=True)
class Completion(_Answer[CompletionChoice]):
    """A non-streamed text completion."""

    @property
    def text(self) -> str:
        """The first choice's text."""
        return self.choices[0].text if self.choices else ""


@dataclass(slots=True)
class CompletionChunk:
    """One streamed completion chunk (no choices: the final usage chunk)."""

    id: str
    model: str
    created: int | None
    choices: list[CompletionChoice]
    usage: Usage | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(slots=True)
class TokenizeResult:
    """The answer of the tokenize endpoint."""

    count: int
    tokens: list[int]
    max_model_len: int | None = None
    token_strs: list[str] | None = None


@dataclass(slots=True)
class ModelInfo:
    """One entry of ``/v1/models``."""

    id: str
    owned_by: str | None = None
    created: int | None = None
    max_model_len: int | None = None
    root: str | None = None
    parent: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


# -- helpers ---------------------------------------------------------------------------


def _bad(what: str, data: Any) -> ArliResponseError:
    try:
        text = json.dumps(data, ensure_ascii=False)[:300]
    except (TypeError, ValueError):
        text = repr(data)[:300]
    return ArliResponseError(f"unexpected response from the server: {what}: {text}", body=text)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _stop_reason(value: Any) -> str | int | None:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return value
    return None


def _reasoning(obj: Mapping[str, Any]) -> str | None:
    value = obj.get("reasoning_content")
    if value is None:
        value = obj.get("reasoning")
    return value if isinstance(value, str) else None


def parse_usage(data: Any) -> Usage | None:
    """Parse a ``usage`` object (``None`` when absent or not an object)."""
    if not isinstance(data, dict):
        return None
    prompt = _int(data.get("prompt_tokens")) or 0
    completion = _int(data.get("completion_tokens")) or 0
    total = _int(data.get("total_tokens"))
    details = _dict(data.get("prompt_tokens_details")) or {}
    cdetails = _dict(data.get("completion_tokens_details")) or {}
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total if total is not None else prompt + completion,
        cached_tokens=_int(details.get("cached_tokens")),
        reasoning_tokens=_int(cdetails.get("reasoning_tokens")),
    )


def _choices(data: Any, what: str) -> list[Any]:
    if not isinstance(data, dict):
        raise _bad(f"{what} is not a JSON object", data)
    choices = data.get("choices")
    if not isinstance(choices, list):
        raise _bad(f"{what} has no `choices` list", data)
    return choices


def _tool_items(raw: Any) -> Iterator[tuple[int, str | None, str | None, str]]:
    """``(index, id, name, arguments)`` of each tool call object of a message or delta."""
    if not isinstance(raw, list):
        return
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            continue
        fn = _dict(item.get("function")) or {}
        args = fn.get("arguments")
        if isinstance(args, (dict, list)):
            args = json.dumps(args, ensure_ascii=False)
        index = _int(item.get("index"))
        yield (
            index if index is not None else i,
            _str(item.get("id")),
            _str(fn.get("name")),
            args if isinstance(args, str) else "",
        )


def _tool_calls(raw: Any) -> list[ToolCall]:
    return [
        ToolCall(id or "", name or "", args, index) for index, id, name, args in _tool_items(raw)
    ]


def _tool_call_deltas(raw: Any) -> list[ToolCallDelta]:
    return [ToolCallDelta(*item) for item in _tool_items(raw)]


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    """The fields every response and chunk object has besides its choices."""
    return {
        "id": _str(data.get("id")) or "",
        "model": _str(data.get("model")) or "",
        "created": _int(data.get("created")),
        "usage": parse_usage(data.get("usage")),
        "raw": data,
    }


def _index(choice: dict[str, Any], position: int) -> int:
    index = _int(choice.get("index"))
    return index if index is not None else position


def parse_chat_completion(data: Any) -> ChatCompletion:
    """Parse a ``chat.completion`` object.

    Raises:
        ArliResponseError: when it is not a chat completion.
    """
    raw_choices = _choices(data, "the chat completion")
    choices: list[ChatChoice] = []
    for i, ch in enumerate(raw_choices):
        if not isinstance(ch, dict):
            raise _bad("a choice is not an object", ch)
        msg = _dict(ch.get("message"))
        if msg is None:
            raise _bad("a choice has no `message`", ch)
        content = msg.get("content")
        if isinstance(content, list):  # content parts, rare in responses
            content = "".join(
                p["text"]
                for p in content
                if isinstance(p, dict)
                and p.get("type") == "text"
                and isinstance(p.get("text"), str)
            )
        choices.append(
            ChatChoice(
                index=_index(ch, i),
                content=content if isinstance(content, str) else None,
                role=_str(msg.get("role")) or "assistant",
                reasoning=_reasoning(msg),
                tool_calls=_tool_calls(msg.get("tool_calls")),
                finish_reason=_str(ch.get("finish_reason")),
                stop_reason=_stop_reason(ch.get("stop_reason")),
                logprobs=_dict(ch.get("logprobs")),
                refusal=_str(msg.get("refusal")),
            )
        )
    return ChatCompletion(
        choices=choices, system_fingerprint=_str(data.get("system_fingerprint")), **_envelope(data)
    )


def parse_chat_chunk(data: Any) -> ChatChunk:
    """Parse a ``chat.completion.chunk`` object.

    Raises:
        ArliResponseError: when it is not a chat chunk.
    """
    return _text_chunk(data) or _chat_chunk(data)


#: The delta keys of a chunk that only adds text (``role`` comes with the first one).
_TEXT_DELTA_KEYS = frozenset({"content", "role"})


def lone_delta(data: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``(choice, delta)`` of a chunk object with one choice whose delta is an object.

    ``None`` for any other shape (exact ``dict`` and ``list`` types only): where the stream
    fast paths (:func:`_text_chunk`, ``ChatStreamAccumulator.add_text``) begin.
    """
    if type(data) is not dict:
        return None
    choices = data.get("choices")
    if type(choices) is not list or len(choices) != 1:
        return None
    choice = choices[0]
    if type(choice) is not dict:
        return None
    delta = choice.get("delta")
    if type(delta) is not dict:
        return None
    return choice, delta


def _text_chunk(data: Any) -> ChatChunk | None:
    """The fast path of :func:`parse_chat_chunk`: a chunk that only adds text, else ``None``.

    Nearly every chunk of a stream is one choice whose delta holds ``content`` (and
    ``role``) and nothing else set: no tool calls, reasoning, logprobs or finish reason.
    Those are recognised with exact type checks and built directly; anything else, or any
    value of an unexpected type, returns ``None`` for the general parser, so the result
    is always what :func:`_chat_chunk` would give (``test_parse_fast_path`` checks it
    over many shapes). The saving per token: bench/results.md, 'content-only chunks'.
    """
    lone = lone_delta(data)
    if lone is None:
        return None
    choice, delta = lone
    if not delta.keys() <= _TEXT_DELTA_KEYS:
        return None
    content = delta.get("content")
    role = delta.get("role")
    index = choice.get("index", 0)
    id_ = data.get("id")
    model = data.get("model")
    created = data.get("created")
    fingerprint = data.get("system_fingerprint")
    if (
        (content is not None and type(content) is not str)
        or (role is not None and type(role) is not str)
        or type(index) is not int
        or type(id_) is not str
        or type(model) is not str
        or (created is not None and type(created) is not int)
        or (fingerprint is not None and type(fingerprint) is not str)
        or choice.get("finish_reason") is not None
        or choice.get("logprobs") is not None
        or choice.get("stop_reason") is not None
    ):
        return None
    usage = data.get("usage")
    return ChatChunk(
        id_,
        model,
        created,
        [ChoiceDelta(index, role, content)],
        None if usage is None else parse_usage(usage),
        fingerprint,
        data,
    )


def _chat_chunk(data: Any) -> ChatChunk:
    """The general path of :func:`parse_chat_chunk`: every shape."""
    raw_choices = _choices(data, "a stream chunk")
    choices: list[ChoiceDelta] = []
    for i, ch in enumerate(raw_choices):
        if not isinstance(ch, dict):
            raise _bad("a chunk choice is not an object", ch)
        delta = _dict(ch.get("delta")) or {}
        choices.append(
            ChoiceDelta(
                index=_index(ch, i),
                role=_str(delta.get("role")),
                content=_str(delta.get("content")),
                reasoning=_reasoning(delta),
                tool_calls=_tool_call_deltas(delta.get("tool_calls")),
                finish_reason=_str(ch.get("finish_reason")),
                stop_reason=_stop_reason(ch.get("stop_reason")),
                logprobs=_dict(ch.get("logprobs")),
            )
        )
    return ChatChunk(
        choices=choices, system_fingerprint=_str(data.get("system_fingerprint")), **_envelope(data)
    )


def _completion_choices(raw_choices: list[Any]) -> list[CompletionChoice]:
    choices: list[CompletionChoice] = []
    for i, ch in enumerate(raw_choices):
        if not isinstance(ch, dict):
            raise _bad("a choice is not an object", ch)
        text = ch.get("text")
        choices.append(
            CompletionChoice(
                index=_index(ch, i),
                text=text if isinstance(text, str) else "",
                finish_reason=_str(ch.get("finish_reason")),
                stop_reason=_stop_reason(ch.get("stop_reason")),
                logprobs=_dict(ch.get("logprobs")),
            )
        )
    return choices


def parse_completion(data: Any) -> Completion:
    """Parse a ``text_completion`` object."""
    choices = _completion_choices(_choices(data, "the completion"))
    return Completion(
        choices=choices, system_fingerprint=_str(data.get("system_fingerprint")), **_envelope(data)
    )


def parse_completion_chunk(data: Any) -> CompletionChunk:
    """Parse one streamed ``text_completion`` chunk."""
    choices = _completion_choices(_choices(data, "a completion stream chunk"))
    return CompletionChunk(choices=choices, **_envelope(data))


def parse_tokenize(data: Any) -> TokenizeResult:
    """Parse a tokenize answer (vLLM and Aphrodite key orders alike)."""
    if not isinstance(data, dict):
        raise _bad("the tokenize answer is not an object", data)
    tokens = data.get("tokens")
    if not isinstance(tokens, list):
        raise _bad("the tokenize answer has no `tokens` list", data)
    count = _int(data.get("count"))
    strs = data.get("token_strs")
    return TokenizeResult(
        count=count if count is not None else len(tokens),
        tokens=[t for t in tokens if isinstance(t, int)],
        max_model_len=_int(data.get("max_model_len")),
        token_strs=[s for s in strs if isinstance(s, str)] if isinstance(strs, list) else None,
    )


def parse_models(data: Any) -> list[ModelInfo]:
    """Parse ``/v1/models`` (``{"object": "list", "data": [...]}`` or a bare list)."""
    items = data.get("data") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise _bad("the model list has no `data` list", data)
    models: list[ModelInfo] = []
    for item in items:
        if isinstance(item, str):
            models.append(ModelInfo(id=item, raw={"id": item}))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        models.append(
            ModelInfo(
                id=item["id"],
                owned_by=_str(item.get("owned_by")),
                created=_int(item.get("created")),
                max_model_len=_int(item.get("max_model_len")),
                root=_str(item.get("root")),
                parent=_str(item.get("parent")),
                raw=item,
            )
        )
    return models


_MOVED = frozenset({"ChatStreamAccumulator", "CompletionStreamAccumulator"})


def __getattr__(name: str) -> Any:
    """The stream accumulators, which moved to :mod:`arli.text.accumulate` (old imports work)."""
    if name in _MOVED:
        from arli.text import accumulate  # noqa: PLC0415 - accumulate imports this module

        return getattr(accumulate, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)

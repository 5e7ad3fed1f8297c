"""Stream accumulation: parsed chunks merged into the answer they make up.

One accumulator per stream (the call layer's; :class:`~arli.text.client.TextClient`'s
end-of-stream check reads the same one). The chunk and result types are in
:mod:`arli.text.parse`, which re-exports both accumulators.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from arli._kwargs import checks_arguments
from arli.text.parse import (
    ChatChoice,
    ChatChunk,
    ChatCompletion,
    Completion,
    CompletionChoice,
    CompletionChunk,
    ToolCall,
    ToolCallDelta,
    Usage,
    lone_delta,
)

__all__ = ["ChatStreamAccumulator", "CompletionStreamAccumulator", "TextDelta"]

#: What a stream's short way yields for a chunk that only added text to choice 0:
#: ``(text, raw chunk object)`` (see :meth:`ChatStreamAccumulator.add_text`).
TextDelta = tuple[str, dict[str, Any]]


@dataclass
class _ChoiceState:
    index: int
    role: str = "assistant"
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tools: dict[int, ToolCallDelta] = field(default_factory=dict)
    finish_reason: str | None = None
    stop_reason: str | int | None = None
    logprob_content: list[Any] = field(default_factory=list)


class _StreamHead:
    """What both accumulators take from every chunk: the envelope, the usage, the count."""

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.created: int | None = None
        self.usage: Usage | None = None
        self._final_usage = False
        self.chunks = 0

    def _head(self, chunk: ChatChunk | CompletionChunk) -> None:
        self.chunks += 1
        if not self.id:
            self.id = chunk.id
        if not self.model:
            self.model = chunk.model
        if self.created is None:
            self.created = chunk.created
        if chunk.usage is not None and not self._final_usage:
            self.usage = chunk.usage
            self._final_usage = not chunk.choices


@checks_arguments()
class ChatStreamAccumulator(_StreamHead):
    """Merges streamed chat chunks into the complete :class:`ChatCompletion`.

    Tool-call fragments are joined per ``index``; usage is taken from the final usage
    chunk (``choices: []``) when there is one, else from the last chunk that had usage
    (vLLM's ``continuous_usage_stats`` is cumulative). :attr:`finished` says whether every
    choice seen got a finish reason (a stream that ends after that without ``[DONE]`` is
    complete enough to use).
    """

    def __init__(self) -> None:
        super().__init__()
        self.system_fingerprint: str | None = None
        self._choices: dict[int, _ChoiceState] = {}

    def add(self, chunk: ChatChunk) -> None:
        """Merge one chunk."""
        self._head(chunk)
        if not self.system_fingerprint:
            self.system_fingerprint = chunk.system_fingerprint
        for delta in chunk.choices:
            state = self._choices.get(delta.index)
            if state is None:
                state = self._choices[delta.index] = _ChoiceState(delta.index)
            if delta.role:
                state.role = delta.role
            if delta.content:
                state.content.append(delta.content)
            if delta.reasoning:
                state.reasoning.append(delta.reasoning)
            for tc in delta.tool_calls:
                acc = state.tools.get(tc.index)
                if acc is None:
                    state.tools[tc.index] = ToolCallDelta(tc.index, tc.id, tc.name, tc.arguments)
                else:
                    acc.id = acc.id or tc.id
                    acc.name = acc.name or tc.name
                    acc.arguments += tc.arguments
            if delta.finish_reason:
                state.finish_reason = delta.finish_reason
                state.stop_reason = delta.stop_reason
            if delta.logprobs and isinstance(delta.logprobs.get("content"), list):
                state.logprob_content.extend(delta.logprobs["content"])

    def add_text(self, data: Any) -> str | None:
        """Merge a raw chunk object that only adds text to choice 0: its text, else ``None``.

        The short way of ``add(parse_chat_chunk(data))`` for nearly every chunk of a
        stream: one choice, index 0, already begun by an earlier chunk, whose delta is
        ``{"content": <non-empty str>}``, with the stream's ``id`` and nothing that would
        change what is merged (no usage, finish reason or logprobs; an envelope the
        accumulator already holds). Anything else (any value of an unexpected type
        included) merges nothing and returns ``None``, for the general way, so the result
        is always the general one (``tests/unit_tests/test_stream_deltas.py`` checks it over
        every recorded and many mutated chunks). No chunk object is built: the saving per token
        is in bench/results.md, 'text deltas'.
        """
        lone = lone_delta(data)
        if lone is None:
            return None
        choice, delta = lone
        if len(delta) != 1:
            return None
        content = delta.get("content")
        if type(content) is not str or not content:
            return None
        state = self._choices.get(0)
        index = choice.get("index", 0)
        fingerprint = self.system_fingerprint
        if (
            state is None
            or type(index) is not int
            or index != 0
            or data.get("id") != self.id
            or data.get("usage") is not None
            or choice.get("finish_reason") is not None
            or choice.get("logprobs") is not None
            or (not self.model and data.get("model"))
            or (self.created is None and data.get("created") is not None)
            or (
                not fingerprint
                and (fingerprint is not None or data.get("system_fingerprint") is not None)
            )
        ):
            return None
        self.chunks += 1
        state.content.append(content)
        return content

    @property
    def has_choices(self) -> bool:
        """True when at least one chunk carried a choice."""
        return bool(self._choices)

    @property
    def finished(self) -> bool:
        """True when at least one choice arrived and every choice has a finish reason."""
        return bool(self._choices) and all(s.finish_reason for s in self._choices.values())

    def tool_calls(self, index: int = 0) -> list[ToolCall]:
        """The tool calls of choice ``index`` merged so far (arguments may still be partial).

        Cheaper than :meth:`result` when a caller needs only the calls mid-stream.
        """
        state = self._choices.get(index)
        if state is None:
            return []
        return [
            ToolCall(id=t.id or "", name=t.name or "", arguments=t.arguments, index=t.index)
            for _, t in sorted(state.tools.items())
        ]

    def result(self) -> ChatCompletion:
        """The completion assembled so far."""
        choices = [
            ChatChoice(
                index=s.index,
                content="".join(s.content),
                role=s.role,
                reasoning="".join(s.reasoning) or None,
                tool_calls=[
                    ToolCall(id=t.id or "", name=t.name or "", arguments=t.arguments, index=t.index)
                    for _, t in sorted(s.tools.items())
                ],
                finish_reason=s.finish_reason,
                stop_reason=s.stop_reason,
                logprobs={"content": s.logprob_content} if s.logprob_content else None,
            )
            for _, s in sorted(self._choices.items())
        ]
        return ChatCompletion(
            id=self.id,
            model=self.model,
            created=self.created,
            choices=choices,
            usage=self.usage,
            system_fingerprint=self.system_fingerprint,
        )


@checks_arguments()
class CompletionStreamAccumulator(_StreamHead):
    """Merges streamed completion chunks into the complete :class:`Completion`."""

    def __init__(self) -> None:
        super().__init__()
        self._texts: dict[int, list[str]] = {}
        self._finish: dict[int, tuple[str | None, str | int | None]] = {}

    def add(self, chunk: CompletionChunk) -> None:
        """Merge one chunk."""
        self._head(chunk)
        for ch in chunk.choices:
            self._texts.setdefault(ch.index, []).append(ch.text)
            if ch.finish_reason:
                self._finish[ch.index] = (ch.finish_reason, ch.stop_reason)

    @property
    def has_choices(self) -> bool:
        """True when at least one chunk carried a choice."""
        return bool(self._texts)

    @property
    def finished(self) -> bool:
        """True when every choice seen has a finish reason."""
        return bool(self._texts) and all(i in self._finish for i in self._texts)

    def result(self) -> Completion:
        """The completion assembled so far."""
        choices = [
            CompletionChoice(
                index=i,
                text="".join(parts),
                finish_reason=self._finish.get(i, (None, None))[0],
                stop_reason=self._finish.get(i, (None, None))[1],
            )
            for i, parts in sorted(self._texts.items())
        ]
        return Completion(
            id=self.id, model=self.model, created=self.created, choices=choices, usage=self.usage
        )

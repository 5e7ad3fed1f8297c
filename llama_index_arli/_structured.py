"""Structured output for LlamaIndex ``Arli`` by guided decoding, checked by the core.

``structured_predict`` and its async and streaming forms send ``guided_json`` (as the
model's ``guided_decoding_style`` says) and read the answer from the value the core's
constraint check parsed (:class:`arli.text.calls.CallResult.parsed`), handed over through
a context variable while the chat call runs, so a checked answer is parsed once.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatResponse
from llama_index.core.llms.llm import LLM
from llama_index.core.program.streaming_utils import process_streaming_content_incremental
from llama_index.core.types import PydanticProgramMode
from pydantic import ValidationError

from arli.text.guided import json_object_of, json_schema_format, schema_of

if TYPE_CHECKING:
    from llama_index.core.program.utils import FlexibleModel
    from llama_index.core.prompts import PromptTemplate
    from llama_index.core.types import Model

__all__ = ["GuidedStructuredLLM", "JsonSchemaStructuredLLM", "hand_over"]


class GuidedStructuredLLM(LLM):
    """``structured_predict`` and friends of :class:`~llama_index_arli.Arli` (``guided_json``)."""

    def _guided(self) -> bool:
        return self.pydantic_program_mode == PydanticProgramMode.DEFAULT

    @staticmethod
    def _structured_kwargs(
        output_cls: type[Any], llm_kwargs: dict[str, Any] | None
    ) -> dict[str, Any]:
        kwargs = dict(llm_kwargs or {})
        for key in ("guided_regex", "guided_choice", "guided_grammar", "response_format"):
            kwargs.pop(key, None)
        for key in ("tool_required", "allow_parallel_tool_calls"):
            kwargs.pop(key, None)
        if not kwargs.get("tools"):  # never a tool_choice without tools (OpenAILike's bug)
            kwargs.pop("tool_choice", None)
            kwargs.pop("parallel_tool_calls", None)
        kwargs["guided_json"] = output_cls
        return kwargs

    @staticmethod
    def _parse_structured(
        output_cls: type[Model], response: ChatResponse, checked: list[Any] | None = None
    ) -> Model:
        """The answer as ``output_cls``, from the value the constraint check already parsed.

        The call layer parses a constrained answer once (its check); only an unchecked one
        (``check_guided_output=False``) is parsed here, leniently as the check would.
        """
        if checked:
            return output_cls.model_validate(checked[0])
        text = response.message.content or ""
        try:
            return output_cls.model_validate_json(text)
        except ValidationError:
            value = json_object_of(text)  # fenced JSON, raw control characters: leniently
            if value is None:
                raise
            return output_cls.model_validate(value)

    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Structured output by guided decoding (``guided_json``, per ``guided_decoding_style``).

        The answer is checked against the schema here: a server that ignored the constraint
        raises :class:`arli.ConstraintViolationError`. Set ``pydantic_program_mode`` to
        ``FUNCTION`` or ``LLM`` to use LlamaIndex's tool-call or prompt-based programs.
        """
        if not self._guided():
            result: Model = super().structured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return result
        messages = self._extend_messages(prompt.format_messages(**prompt_args))
        with _handed_over() as checked:
            response = self.chat(messages, **self._structured_kwargs(output_cls, llm_kwargs))
        return self._parse_structured(output_cls, response, checked)

    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Async :meth:`structured_predict`."""
        if not self._guided():
            result: Model = await super().astructured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return result
        messages = self._extend_messages(prompt.format_messages(**prompt_args))
        with _handed_over() as checked:
            response = await self.achat(messages, **self._structured_kwargs(output_cls, llm_kwargs))
        return self._parse_structured(output_cls, response, checked)

    def _structured_stream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Generator[Model | list[Model] | FlexibleModel | list[FlexibleModel], None, None]:
        if not self._guided():
            yield from super()._structured_stream_call(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return
        messages = self._extend_messages(prompt.format_messages(**prompt_args))
        kwargs = self._structured_kwargs(output_cls, llm_kwargs)
        responses = self.stream_chat(messages, **kwargs)
        checked: list[Any] = []
        current: Any = None
        last: ChatResponse | None = None
        while (response := _next_checked(responses, checked)) is not None:
            current = process_streaming_content_incremental(response, output_cls, current)
            last = response
            yield current
        if last is not None:
            final = self._parse_structured(output_cls, last, checked)
            if final != current:
                yield final

    async def _structured_astream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> AsyncGenerator[Model | list[Model] | FlexibleModel | list[FlexibleModel], None]:
        if not self._guided():
            return await super()._structured_astream_call(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
        messages = self._extend_messages(prompt.format_messages(**prompt_args))
        kwargs = self._structured_kwargs(output_cls, llm_kwargs)
        stream = await self.astream_chat(messages, **kwargs)

        async def gen() -> AsyncGenerator[
            Model | list[Model] | FlexibleModel | list[FlexibleModel], None
        ]:
            checked: list[Any] = []
            current: Any = None
            last: ChatResponse | None = None
            while (response := await _anext_checked(stream, checked)) is not None:
                current = process_streaming_content_incremental(response, output_cls, current)
                last = response
                yield current
            if last is not None:
                final = self._parse_structured(output_cls, last, checked)
                if final != current:
                    yield final

        return gen()


class JsonSchemaStructuredLLM(GuidedStructuredLLM):
    """Structured output through ``response_format`` (``json_schema``), for Featherless."""

    @staticmethod
    def _structured_kwargs(
        output_cls: type[Any], llm_kwargs: dict[str, Any] | None
    ) -> dict[str, Any]:
        kwargs = GuidedStructuredLLM._structured_kwargs(output_cls, llm_kwargs)
        schema = schema_of(kwargs.pop("guided_json"))
        kwargs["response_format"] = json_schema_format(
            schema, getattr(output_cls, "__name__", "response")
        )
        return kwargs


#: While a structured call runs its chat call (or reads the next response of its stream),
#: where the skin hands over the values the core's check parsed, so the answer is parsed
#: once rather than again here.
_CHECKED: ContextVar[list[Any] | None] = ContextVar("_CHECKED", default=None)


def hand_over(parsed: list[Any] | None) -> None:
    """Give a structured call waiting in this context the values the check parsed."""
    sink = _CHECKED.get()
    if sink is not None and parsed:
        sink[:] = parsed


@contextmanager
def _handed_over() -> Iterator[list[Any]]:
    """The checked values of the chat call made inside (empty when nothing was checked)."""
    sink: list[Any] = []
    token = _CHECKED.set(sink)
    try:
        yield sink
    finally:
        _CHECKED.reset(token)


def _next_checked(responses: Iterator[ChatResponse], sink: list[Any]) -> ChatResponse | None:
    """The next response of a stream (``None`` at its end), the check's values into ``sink``.

    The context variable is set and reset around one step, never across a ``yield`` of
    the structured stream, so an abandoned stream leaves nothing behind.
    """
    token = _CHECKED.set(sink)
    try:
        return next(responses, None)
    finally:
        _CHECKED.reset(token)


async def _anext_checked(
    responses: AsyncIterator[ChatResponse], sink: list[Any]
) -> ChatResponse | None:
    """Async :func:`_next_checked`."""
    token = _CHECKED.set(sink)
    try:
        return await anext(responses, None)
    finally:
        _CHECKED.reset(token)

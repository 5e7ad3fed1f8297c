"""The text call layer: one chat or completion call, start to end, for every caller.

``ChatArli``, ``ArliLLM``, LlamaIndex ``Arli``, the CLI and the OCR engine all make their
text calls here, so the sequence is written once::

    plan (arli.text.payload) -> inline images -> send (TextClient -> arli._transport)
        -> accumulate the stream (one accumulator) -> verify guided output -> result, usage

A skin only translates its messages, tools and results; sync and async share every step
but the I/O. The body is sent exactly as planned: stream options are decided by the plan
(:func:`arli.text.payload.plan_chat`), never again by the client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import InitVar, dataclass, field, replace
from typing import Any, Generic, TypeVar, cast

from arli._errors import ArliValidationError
from arli._kwargs import checks_arguments, warn_renamed
from arli._settings import check_seconds
from arli._transport import CallStats
from arli.text.accumulate import ChatStreamAccumulator, CompletionStreamAccumulator, TextDelta
from arli.text.attachments import expand_pdf_files, has_pdf_files
from arli.text.client import TextClient
from arli.text.history import SendReasoning, with_reasoning
from arli.text.parse import (
    ChatChunk,
    ChatCompletion,
    Completion,
    CompletionChunk,
    parse_chat_chunk,
    parse_completion_chunk,
)
from arli.text.payload import (
    RequestPlan,
    ainline_images,
    inline_images,
    plan_chat,
    plan_completion,
    verify_choices,
)

__all__ = ["CallOptions", "CallResult", "ChatCallStream", "CompletionCallStream", "TextCalls"]

R = TypeVar("R", ChatCompletion, Completion)
C = TypeVar("C", ChatChunk, CompletionChunk)


@checks_arguments()
@dataclass(slots=True)
class CallOptions:
    """What a caller sets once for its calls (per-call kwargs are given to each call).

    Attributes:
        model: the model id (a per-call ``model=`` wins).
        instance: the caller's sampling parameters (unset ones absent).
        extra_body: fields merged into every body (deep-merged with a per-call one).
        style: the guided decoding style.
        stream_usage: ask streams for the usage chunk (``stream_options.include_usage``).
        check_output: check constrained answers (:class:`~arli.ConstraintViolationError`).
        inline_image_urls: download image URLs and send base64; ``None``: the provider's
            preset (:attr:`arli._providers.Provider.inline_image_urls`).
        image_max_bytes: largest image accepted in a message (``None``: the default).
        image_fetch_timeout: seconds allowed to download one image (``None``: the default).
        image_max_pixels: largest image (width x height, read from its header) accepted in
            a message (``None``: :data:`arli.media.DEFAULT_MAX_PIXELS`).
        allow_local_files: read local image paths named in messages (``None``: the
            client's ``allow_local_files``, off by default).
        allowed_image_hosts: the only hosts image URLs in messages may name (``None``: the
            client's ``allowed_image_hosts``; by default any public host).
        send_reasoning: re-send earlier assistant reasoning (:mod:`arli.text.history`).
        timeout: read timeout in seconds of each call, per attempt (``None``: the
            client's ``text_timeout`` setting). ``request_timeout=`` is its deprecated
            spelling (accepted with a ``DeprecationWarning``).
        stall_timeout: seconds a started stream may go without an event
            (:class:`~arli.StreamStalledError`; ``None``: ``ARLI_STREAM_STALL_TIMEOUT``,
            else 120 s; ``0``: no limit).
    """

    model: str
    instance: Mapping[str, Any] = field(default_factory=dict)
    extra_body: Mapping[str, Any] | None = None
    style: str = "both"
    stream_usage: bool = True
    check_output: bool = True
    inline_image_urls: bool | None = None
    image_max_bytes: int | None = None
    image_fetch_timeout: float | None = None
    image_max_pixels: int | None = None
    allow_local_files: bool | None = None
    allowed_image_hosts: Sequence[str] | None = None
    send_reasoning: SendReasoning = "auto"
    timeout: float | None = None
    stall_timeout: float | None = None
    request_timeout: InitVar[float | None] = None

    def __post_init__(self, request_timeout: float | None) -> None:
        if request_timeout is not None:
            if self.timeout is not None:
                msg = "CallOptions: give timeout= only (request_timeout= is its old spelling)"
                raise ArliValidationError(msg, field="request_timeout", allowed="timeout")
            warn_renamed("CallOptions", "request_timeout", "timeout", stacklevel=5)
            self.timeout = request_timeout


@dataclass(slots=True)
class CallResult(Generic[R]):
    """A finished call: the parsed answer, and the checked values of a constrained one.

    Attributes:
        result: the completion.
        plan: what was sent (body and constraint).
        parsed: per choice, the value the constraint check parsed (JSON for JSON
            constraints); ``None`` when nothing was checked.
        retries_taken: the retries the transport made before the answer came (0: none).
    """

    result: R
    plan: RequestPlan
    parsed: list[Any] | None = None
    retries_taken: int = 0


def _check_model(options: CallOptions, call_kwargs: Mapping[str, Any]) -> None:
    """Refuse a blank model id, the model's own or a per-call one (never silently replaced)."""
    model = call_kwargs.get("model", options.model)
    if isinstance(model, str) and not model.strip():
        msg = "model must be a model id, not an empty string (list_models() lists them)"
        raise ArliValidationError(msg, field="model", allowed="a model id")


def _per_call(
    options: CallOptions, call_kwargs: Mapping[str, Any]
) -> tuple[CallOptions, Mapping[str, Any]]:
    """``options`` with the call's own ``stall_timeout=`` (checked now), and the rest.

    ``stream(..., stall_timeout=5)`` limits the gaps of that stream only. A call that does
    not stream accepts it too (``invoke`` of a model with ``streaming=True`` streams
    inside); without a stream it has nothing to limit (the read timeout does).

    Raises:
        ArliValidationError: not a number of seconds >= 0 (0: no limit).
    """
    if "stall_timeout" not in call_kwargs:
        return options, call_kwargs
    rest = dict(call_kwargs)
    value = rest.pop("stall_timeout")
    if value is not None:
        value = check_seconds(value, "stall_timeout", zero="no limit")
    return replace(options, stall_timeout=value), rest


def _answers(result: ChatCompletion | Completion) -> list[tuple[str | None, str | None] | None]:
    """Each choice's ``(text, finish_reason)``: what the constraint check reads.

    A choice that called tools (tools bound alongside a format) has no answer to check:
    ``None``, its parsed value too.
    """
    if isinstance(result, ChatCompletion):
        return [None if c.tool_calls else (c.content, c.finish_reason) for c in result.choices]
    return [(c.text, c.finish_reason) for c in result.choices]


def _verify(
    options: CallOptions, plan: RequestPlan, result: R, retries_taken: int = 0
) -> CallResult[R]:
    """The finished call, its constrained answer checked (when asked and constrained)."""
    if not options.check_output or plan.constraint is None:
        return CallResult(result, plan, None, retries_taken)
    return CallResult(result, plan, verify_choices(plan, _answers(result)), retries_taken)


class _CallStream(Generic[C, R]):
    """The shared half of a streamed call: the one accumulator, the sending, the check.

    A subclass names its chunk parser, its route and its accumulator class; the rest is
    here.

    Attributes:
        stats: what the stream's attempts took (``stats.retries_taken``, also
            :attr:`retries_taken`), filled in as it is sent.
    """

    accumulator: ChatStreamAccumulator | CompletionStreamAccumulator
    _parse: Callable[[Any], C]
    _route: str  # the :class:`~arli.text.client.TextRoutes` attribute of the path
    _accumulator: type[ChatStreamAccumulator | CompletionStreamAccumulator]

    def __init__(self, calls: TextCalls, options: CallOptions, plan: RequestPlan) -> None:
        self._calls = calls
        self.options = options
        self.plan = plan
        self.parsed: list[Any] | None = None
        self.stats = CallStats()
        self.accumulator = self._accumulator()

    def result(self) -> R:
        """The completion assembled from the chunks so far."""
        return self.accumulator.result()  # type: ignore[return-value]

    @property
    def retries_taken(self) -> int:
        """The retries the transport made before the stream's first event (0: none)."""
        return self.stats.retries_taken

    def _finish(self) -> None:
        """Run once the stream ended well: check a constrained answer."""
        if self.options.check_output and self.plan.constraint is not None:
            self.parsed = verify_choices(self.plan, _answers(self.accumulator.result()))

    def _args(self, fast: Callable[[Any], str | None] | None) -> tuple[Any, ...]:
        path = getattr(self._calls.client.routes, self._route)
        return path, self.plan.body, self.accumulator, type(self)._parse, self._finish, fast

    def _events(self, fast: Callable[[Any], str | None] | None) -> Iterator[C | TextDelta]:
        return self._calls.client._stream(
            *self._args(fast),
            timeout=self.options.timeout,
            stall_timeout=self.options.stall_timeout,
            stats=self.stats,
        )

    def _aevents(self, fast: Callable[[Any], str | None] | None) -> AsyncIterator[C | TextDelta]:
        return self._calls.client._astream(
            *self._args(fast),
            timeout=self.options.timeout,
            stall_timeout=self.options.stall_timeout,
            stats=self.stats,
        )

    def __iter__(self) -> Iterator[C]:
        return cast("Iterator[C]", self._events(None))  # no ``fast``: every chunk parsed

    def __aiter__(self) -> AsyncIterator[C]:
        return cast("AsyncIterator[C]", self._aevents(None))


class ChatCallStream(_CallStream[ChatChunk, ChatCompletion]):
    """A planned chat stream: iterate it (sync or async) for the parsed chunks.

    Every chunk is merged once, into :attr:`accumulator` (the client's end-of-stream check
    reads the same one); when the stream ends, a constrained answer is checked and its
    values are in :attr:`parsed`.
    """

    accumulator: ChatStreamAccumulator
    _parse = staticmethod(parse_chat_chunk)
    _route = "chat"
    _accumulator = ChatStreamAccumulator

    def deltas(self) -> Iterator[ChatChunk | TextDelta]:
        """Iterate the stream the short way (what the skins iterate).

        A chunk that only adds text to choice 0 comes as its
        :data:`~arli.text.accumulate.TextDelta`, already merged and never parsed (its
        message id is :attr:`accumulator`'s ``id``); every other chunk comes parsed. See
        :meth:`ChatStreamAccumulator.add_text`.
        """
        return self._events(self.accumulator.add_text)

    def adeltas(self) -> AsyncIterator[ChatChunk | TextDelta]:
        """Async :meth:`deltas`."""
        return self._aevents(self.accumulator.add_text)


class CompletionCallStream(_CallStream[CompletionChunk, Completion]):
    """A planned ``/v1/completions`` stream (see :class:`ChatCallStream`)."""

    accumulator: CompletionStreamAccumulator
    _parse = staticmethod(parse_completion_chunk)
    _route = "completions"
    _accumulator = CompletionStreamAccumulator


@checks_arguments()
class TextCalls:
    """Chat and completion calls over one :class:`~arli.text.client.TextClient`.

    Args:
        client: the client that sends (its provider decides the accepted parameters and
            whether image URLs are inlined).

    Example:
        .. code-block:: python

            calls = TextCalls(TextClient())
            options = CallOptions(model="Mistral-Nemo-12B-Instruct-2407")
            answer = calls.chat(options, [{"role": "user", "content": "Hi"}], {"min_p": 0.1})
            print(answer.result.text)
    """

    __slots__ = ("client",)

    def __init__(self, client: TextClient) -> None:
        self.client = client

    # -- the steps --------------------------------------------------------------------------

    def _image_options(self, options: CallOptions) -> dict[str, Any]:
        inline = options.inline_image_urls
        return {
            "inline_urls": self.client.provider.inline_image_urls if inline is None else inline,
            "max_bytes": options.image_max_bytes,
            "timeout": options.image_fetch_timeout,
            "max_pixels": options.image_max_pixels,
            "policy": self.client.image_policy_for(
                options.allow_local_files, options.allowed_image_hosts
            ),
        }

    def messages(
        self, options: CallOptions, messages: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """``messages`` as sent, PDFs rendered and images inlined as the provider needs.

        PDF ``file`` parts become one image part per page; image URLs and paths become
        base64. Earlier reasoning is kept or dropped as ``options.send_reasoning`` says.
        """
        kept = with_reasoning(messages, options.send_reasoning, options.model)
        return inline_images(expand_pdf_files(kept), **self._image_options(options))

    async def amessages(
        self, options: CallOptions, messages: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Async :meth:`messages` (downloads and PDF rendering do not block the event loop)."""
        kept = with_reasoning(messages, options.send_reasoning, options.model)
        if has_pdf_files(kept):  # rasterizing takes CPU time: on a worker thread
            kept = await asyncio.to_thread(expand_pdf_files, kept)
        return await ainline_images(kept, **self._image_options(options))

    def count_tokens(
        self,
        options: CallOptions,
        text: str | list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
    ) -> int:
        """Tokens of a prompt, or of chat messages as the model's chat template renders them.

        Messages are inlined as for a call (so an image counts as the server will see it);
        ``tools`` are rendered with them when given.
        """
        if isinstance(text, str):
            return self.client.tokenize(model=options.model, prompt=text).count
        extra: dict[str, Any] = {"tools": tools} if tools else {}
        inlined = self.messages(options, text)
        return self.client.tokenize(model=options.model, messages=inlined, **extra).count

    async def acount_tokens(
        self,
        options: CallOptions,
        text: str | list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
    ) -> int:
        """Async :meth:`count_tokens`."""
        if isinstance(text, str):
            return (await self.client.atokenize(model=options.model, prompt=text)).count
        extra: dict[str, Any] = {"tools": tools} if tools else {}
        inlined = await self.amessages(options, text)
        return (await self.client.atokenize(model=options.model, messages=inlined, **extra)).count

    def plan_chat(
        self,
        options: CallOptions,
        messages: list[dict[str, Any]],
        call_kwargs: Mapping[str, Any],
        *,
        stream: bool = False,
    ) -> RequestPlan:
        """The chat body and its constraint (messages must be inlined already).

        Raises:
            ArliValidationError: an empty message list; an unknown, out-of-range or
                refused parameter.
        """
        if not messages:
            msg = "messages is empty: a chat needs at least one message"
            raise ArliValidationError(msg, field="messages", allowed="one message or more")
        _check_model(options, call_kwargs)
        return plan_chat(messages=messages, **self._plan_args(options, call_kwargs, stream))

    def plan_completion(
        self,
        options: CallOptions,
        prompt: str | list[str],
        call_kwargs: Mapping[str, Any],
        *,
        stream: bool = False,
    ) -> RequestPlan:
        """The ``/v1/completions`` body and its constraint (see :meth:`plan_chat`)."""
        if isinstance(prompt, list) and not prompt:
            msg = "prompt is an empty list: a completion needs at least one prompt"
            raise ArliValidationError(msg, field="prompt", allowed="a prompt or a list of them")
        _check_model(options, call_kwargs)
        return plan_completion(prompt=prompt, **self._plan_args(options, call_kwargs, stream))

    def _plan_args(
        self, options: CallOptions, call_kwargs: Mapping[str, Any], stream: bool
    ) -> dict[str, Any]:
        """What :func:`plan_chat` and :func:`plan_completion` take besides the input."""
        provider = self.client.provider
        return {
            "model": options.model,
            "instance": options.instance,
            "call_kwargs": call_kwargs,
            "instance_extra_body": options.extra_body,
            "style": options.style,
            "stream": stream,
            "include_usage": options.stream_usage,
            "allowed": provider.text_params,
            "provider_label": provider.label,
        }

    def send_chat(self, options: CallOptions, plan: RequestPlan) -> CallResult[ChatCompletion]:
        """Send a planned chat body and check the answer."""
        stats = CallStats()
        completion = self.client.chat(plan.body, timeout=options.timeout, stats=stats)
        return _verify(options, plan, completion, stats.retries_taken)

    async def asend_chat(
        self, options: CallOptions, plan: RequestPlan
    ) -> CallResult[ChatCompletion]:
        """Async :meth:`send_chat`."""
        stats = CallStats()
        completion = await self.client.achat(plan.body, timeout=options.timeout, stats=stats)
        return _verify(options, plan, completion, stats.retries_taken)

    # -- whole calls ------------------------------------------------------------------------

    def chat(
        self,
        options: CallOptions,
        messages: list[dict[str, Any]],
        call_kwargs: Mapping[str, Any],
    ) -> CallResult[ChatCompletion]:
        """Inline images, plan, send and check one chat call.

        Raises:
            ArliValidationError: a bad parameter or image (nothing is sent).
            ConstraintViolationError: a constrained answer that breaks its constraint.
        """
        options, call_kwargs = _per_call(options, call_kwargs)
        plan = self.plan_chat(options, self.messages(options, messages), call_kwargs)
        return self.send_chat(options, plan)

    async def achat(
        self,
        options: CallOptions,
        messages: list[dict[str, Any]],
        call_kwargs: Mapping[str, Any],
    ) -> CallResult[ChatCompletion]:
        """Async :meth:`chat`."""
        options, call_kwargs = _per_call(options, call_kwargs)
        plan = self.plan_chat(options, await self.amessages(options, messages), call_kwargs)
        return await self.asend_chat(options, plan)

    def stream_chat(
        self,
        options: CallOptions,
        messages: list[dict[str, Any]],
        call_kwargs: Mapping[str, Any],
    ) -> ChatCallStream:
        """Inline images and plan a chat stream now (errors raise here); iterate to send."""
        options, call_kwargs = _per_call(options, call_kwargs)
        plan = self.plan_chat(options, self.messages(options, messages), call_kwargs, stream=True)
        return ChatCallStream(self, options, plan)

    async def astream_chat(
        self,
        options: CallOptions,
        messages: list[dict[str, Any]],
        call_kwargs: Mapping[str, Any],
    ) -> ChatCallStream:
        """Async :meth:`stream_chat` (iterate the result with ``async for``)."""
        options, call_kwargs = _per_call(options, call_kwargs)
        inlined = await self.amessages(options, messages)
        return ChatCallStream(
            self, options, self.plan_chat(options, inlined, call_kwargs, stream=True)
        )

    def complete(
        self, options: CallOptions, prompt: str | list[str], call_kwargs: Mapping[str, Any]
    ) -> CallResult[Completion]:
        """Plan, send and check one ``/v1/completions`` call (a list: one choice each)."""
        options, call_kwargs = _per_call(options, call_kwargs)
        plan = self.plan_completion(options, prompt, call_kwargs)
        stats = CallStats()
        completion = self.client.complete(plan.body, timeout=options.timeout, stats=stats)
        return _verify(options, plan, completion, stats.retries_taken)

    async def acomplete(
        self, options: CallOptions, prompt: str | list[str], call_kwargs: Mapping[str, Any]
    ) -> CallResult[Completion]:
        """Async :meth:`complete`."""
        options, call_kwargs = _per_call(options, call_kwargs)
        plan = self.plan_completion(options, prompt, call_kwargs)
        stats = CallStats()
        completion = await self.client.acomplete(plan.body, timeout=options.timeout, stats=stats)
        return _verify(options, plan, completion, stats.retries_taken)

    def stream_complete(
        self, options: CallOptions, prompt: str, call_kwargs: Mapping[str, Any]
    ) -> CompletionCallStream:
        """Plan a ``/v1/completions`` stream now; iterate it (sync or async) to send."""
        options, call_kwargs = _per_call(options, call_kwargs)
        plan = self.plan_completion(options, prompt, call_kwargs, stream=True)
        return CompletionCallStream(self, options, plan)

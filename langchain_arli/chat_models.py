"""``ChatArli``: the Arli AI chat model for LangChain."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any, Literal, Self

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.language_models.chat_models import (
    BaseChatModel,
    agenerate_from_stream,
    generate_from_stream,
)
from langchain_core.language_models.model_profile import ModelProfile, _warn_unknown_profile_keys
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import Field, model_validator

from arli import ArliValidationError
from arli.media import DEFAULT_MAX_PIXELS
from arli.text.catalog import capabilities, facts_for
from arli.text.facts import server_max_model_len
from arli.text.guided import (
    GuidedConstraint,
    check_answer,
    constraint_from_response_format,
    json_schema_format,
)
from arli.text.payload import normalize_tool_choice
from langchain_arli._blocks import register as _register_block_translator
from langchain_arli._common import ArliTextModel, FeatherlessSettings
from langchain_arli._convert import (
    completion_to_result,
    delta_to_generation,
    empty_stream_error,
    to_openai_messages,
)
from langchain_arli._profile import LazyProfile

_register_block_translator()  # message.content_blocks and output_version='v1'

__all__ = ["ChatArli", "ChatFeatherless"]

_StructuredMethod = Literal["guided_json", "json_schema", "function_calling", "json_mode"]


class ChatArli(ArliTextModel, BaseChatModel):
    """Arli AI chat model (OpenAI-compatible, served by vLLM and Aphrodite-engine).

    Every Arli sampler extra is a typed, validated field (see
    :class:`arli.text.params.SamplingParams`); unset fields are not sent, so the server's
    defaults and your key's parameter overrides apply. Any field can be overridden per
    call (``invoke(..., min_p=0.1)``) or with ``.bind(...)``.

    Setup:
        .. code-block:: bash

            pip install "arli-integrations[langchain]"
            export ARLIAI_API_KEY="..."   # or ARLI_TEXT_KEY

    Key init args — completion params:
        model: the model id (``GET /v1/models`` lists them).
        temperature, max_tokens, top_p, top_k, stop, seed, n, presence_penalty,
        frequency_penalty, logit_bias, logprobs, top_logprobs: the OpenAI parameters.
        min_p, top_a, tfs, typical_p, dry_*, xtc_*, mirostat_mode (alias ``mirostat``),
        dynatemp_*, smoothing_*, nsigma, ...: Arli's extras.
        guided_json, guided_regex, guided_choice, guided_grammar: guided decoding.
        guided_decoding_style: how constraints go on the wire (see below).

    Key init args — client params:
        provider: ``"arli"`` (default) or ``"arli-proxy"``: the keyless proxy (no key is
            sent; base URL from ``base_url`` or ``ARLI_PROXY_BASE_URL``).
        api_key: the key (else ``ARLI_TEXT_KEY`` or ``ARLIAI_API_KEY``).
        base_url: the API base (else ``ARLI_TEXT_BASE_URL``/``ARLI_BASE_URL``, else Arli's).
        timeout: read timeout in seconds for generation.
        max_retries: retries of 408/429/5xx and connection errors.
        max_concurrent_requests: the account's parallel-request limit, shared by every
            instance of the same key and base URL in the process (the proxy: 6 at most).
        http_client, http_async_client: your own httpx clients.

    Guided decoding:
        vLLM <= 0.11 and Aphrodite <= 0.10 read ``guided_*``; vLLM >= 0.12 ignores them
        silently and reads ``structured_outputs``. ``guided_decoding_style="both"`` (the
        default) sends both forms; ``"guided"``, ``"structured_outputs"`` and
        ``"response_format"`` send one. Every constrained answer is checked here; one that
        does not conform raises :class:`arli.ConstraintViolationError`.

    Instantiate:
        .. code-block:: python

            from langchain_arli import ChatArli

            llm = ChatArli(model="Mistral-Nemo-12B-Instruct-2407", temperature=0.7,
                           min_p=0.05, dry_multiplier=0.8)

    Invoke:
        .. code-block:: python

            llm.invoke("Write a haiku about the sea.")
            for chunk in llm.stream("Tell me a story."):
                print(chunk.content, end="")

    Structured output:
        .. code-block:: python

            class Joke(BaseModel):
                setup: str
                punchline: str

            llm.with_structured_output(Joke).invoke("Tell me a joke")  # guided_json

    Tool calling:
        .. code-block:: python

            llm.bind_tools([get_weather], tool_choice="any").invoke("Weather in Paris?")

    The keyless proxy:
        .. code-block:: python

            llm = ChatArli(provider="arli-proxy", model="Mistral-Nemo-12B-Instruct-2407")
            llm.invoke("Hello")  # POST https://generate.kim8.s4s.host/api/v1/chat/completions

    Vision (Arli takes base64 only; URLs and paths are inlined for you):
        .. code-block:: python

            llm.invoke([HumanMessage(content=[
                {"type": "text", "text": "What is in this image?"},
                {"type": "image", "url": "https://example.com/cat.png"},
            ])])
    """

    inline_image_urls: bool | None = None
    """Download image URLs and send them as base64; ``None``: as the provider needs (Arli
    and its proxy take base64 only: inlined; Featherless takes URLs: sent as they are)."""
    image_max_bytes: int = Field(default=20 * 2**20, gt=0)
    """Largest image (bytes) accepted in a message."""
    image_fetch_timeout: float = Field(default=30.0, gt=0)
    """Seconds allowed to download one image URL."""
    image_max_pixels: int = Field(default=DEFAULT_MAX_PIXELS, gt=0)
    """Largest image (width x height, read from its header) accepted in a message."""
    send_reasoning: bool | Literal["auto"] = "auto"
    """Re-send earlier assistant turns' reasoning (``reasoning`` blocks, or
    ``additional_kwargs["reasoning_content"]``) as the message's ``reasoning`` field:
    ``"auto"`` for models whose chat template renders it (MiniMax-M2, Kimi K2, GLM 4.5+;
    see :mod:`arli.text.history`), ``True`` always, ``False`` never."""

    @property
    def _llm_type(self) -> str:
        return "arli-chat"

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """``["langchain_arli", "chat_models"]``."""
        return ["langchain_arli", "chat_models"]

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        return self._ls_params("chat", stop, kwargs)

    # -- profile ----------------------------------------------------------------------------------

    def _resolve_model_profile(self) -> ModelProfile | None:
        """The model's capabilities (:mod:`arli.text.catalog`), context window lazily.

        ``max_input_tokens`` is the server's ``max_model_len``, read from ``GET /v1/models``
        on the profile's first read (once per base URL in the process; left out when the
        server does not say).
        """
        # only the keys this langchain-core's ModelProfile declares (older ones lack some,
        # e.g. tool_call_streaming before 1.5, and warn about keys they do not know)
        declared = ModelProfile.__annotations__
        facts = capabilities(facts_for(self.provider, self.model))
        known = {key: value for key, value in facts.items() if key in declared}
        return LazyProfile(known, self._max_input_tokens)  # type: ignore[return-value]

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "profile" and isinstance(value, LazyProfile):
            # Ours, derived from the settings: not validated (that would read it, and so
            # request the listing while the model is built) and not "set" (a copy with
            # other settings derives its own).
            self.__dict__[name] = value
            return
        super().__setattr__(name, value)

    def _settings_changed(self, name: str) -> None:
        super()._settings_changed(name)
        if name in ("model", "provider", "base_url") and isinstance(
            self.__dict__.get("profile"), LazyProfile
        ):
            self.__dict__["profile"] = self._resolve_model_profile()

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        copied = super().__deepcopy__(memo)
        if isinstance(self.__dict__.get("profile"), LazyProfile):
            copied.__dict__["profile"] = copied._resolve_model_profile()  # its own lookup
        return copied

    def _max_input_tokens(self) -> int | None:
        return server_max_model_len(self.client, self.model)

    @model_validator(mode="after")
    def _check_profile_keys(self) -> Self:
        # Replaces LangChain's check, which iterates the profile and so would read the
        # server's listing while the model is being built: check the keys known so far.
        profile = self.profile
        if isinstance(profile, LazyProfile):
            _warn_unknown_profile_keys(profile.known())  # type: ignore[arg-type]
        elif profile:
            _warn_unknown_profile_keys(profile)
        return self

    def _dict_for_compat(self) -> dict[str, Any]:
        # LangChain calls dict() under a warnings.catch_warnings() on every call, to honour
        # subclasses that still override the deprecated dict(); we do not, so skip that cost.
        return self.asdict()

    # -- requests ---------------------------------------------------------------------------------

    @staticmethod
    def _call_kwargs(stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs.pop("stream", None)
        if stop is not None:
            kwargs["stop"] = stop
        return kwargs

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming:
            return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))
        call = self._calls.chat(
            self._options(), to_openai_messages(messages), self._call_kwargs(stop, kwargs)
        )
        return completion_to_result(call.result, call.retries_taken)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming:
            return await agenerate_from_stream(self._astream(messages, stop, run_manager, **kwargs))
        call = await self._calls.achat(
            self._options(), to_openai_messages(messages), self._call_kwargs(stop, kwargs)
        )
        return completion_to_result(call.result, call.retries_taken)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        stream = self._calls.stream_chat(
            self._options(), to_openai_messages(messages), self._call_kwargs(stop, kwargs)
        )
        yielded = False
        acc = stream.accumulator
        for item in stream.deltas():
            generation = delta_to_generation(item, acc)
            if generation is None:
                continue
            if run_manager is not None:
                run_manager.on_llm_new_token(generation.text, chunk=generation)
            yielded = True
            yield generation
        if not yielded:
            raise empty_stream_error()

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        stream = await self._calls.astream_chat(
            self._options(), to_openai_messages(messages), self._call_kwargs(stop, kwargs)
        )
        yielded = False
        acc = stream.accumulator
        async for item in stream.adeltas():
            generation = delta_to_generation(item, acc)
            if generation is None:
                continue
            if run_manager is not None:
                await run_manager.on_llm_new_token(generation.text, chunk=generation)
            yielded = True
            yield generation
        if not yielded:
            raise empty_stream_error()

    # -- tools and structured output -------------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (functions, pydantic models, ``BaseTool``s or OpenAI tool dicts).

        Args:
            tools: the tools the model may call.
            tool_choice: ``"auto"``, ``"none"``, ``"required"``/``"any"``/``True`` (must
                call one), a tool name, or ``{"type": "function", "function": {"name": ...}}``.
            strict: ask the server to constrain the arguments to each schema
                (``function.strict``).
            parallel_tool_calls: allow several calls in one answer (``False`` = at most one).
            **kwargs: more parameters bound with the tools.

        Raises:
            ArliValidationError: for a tool choice that names a tool not in ``tools``.
        """
        formatted = [convert_to_openai_tool(tool, strict=strict) for tool in tools]
        choice = normalize_tool_choice(tool_choice, formatted)
        if choice is not None:
            kwargs["tool_choice"] = choice
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        method: _StructuredMethod = "guided_json",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """Return a runnable whose output matches ``schema``.

        Args:
            schema: a pydantic model (v2 or v1), a TypedDict, or a JSON schema dict.
            method: ``"guided_json"`` (default: guided decoding, sent per
                ``guided_decoding_style``), ``"json_schema"`` (``response_format``),
                ``"function_calling"`` (a forced tool call) or ``"json_mode"``
                (``response_format: json_object``; say the format in the prompt).
            include_raw: return ``{"raw", "parsed", "parsing_error"}`` instead of raising
                on a parsing error, an answer that breaks its constraint included (the
                :class:`arli.ConstraintViolationError` is the ``parsing_error``, the whole
                answer the ``raw`` message).
            strict: for ``json_schema``/``function_calling``, the ``strict`` flag (also
                given to ``tools``).
            **kwargs: more parameters bound to the model. ``tools=[...]`` binds tools
                alongside the format, as ``langchain-openai`` does: the model may call one
                of them instead of answering, and then ``parsed`` is ``None`` (the tool
                calls are on the ``raw`` message with ``include_raw=True``). With
                ``function_calling`` the model must call a tool (``tool_choice=
                "required"``); the schema's call is the answer. Servers that constrain
                the whole output to the format (vLLM's guided decoding) cannot emit a
                tool call then: prefer ``function_calling`` with tools there.

        Raises:
            ValueError: for an unknown method.
        """
        if method not in ("guided_json", "json_schema", "function_calling", "json_mode"):
            msg = (
                f"method={method!r} is not one of 'guided_json', 'json_schema', "
                "'function_calling', 'json_mode'"
            )
            raise ValueError(msg)
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        json_schema = convert_to_json_schema(schema)
        # include_raw: the answer must reach the output even when it breaks its constraint,
        # so the model does not raise; the parser checks it (the error is parsing_error).
        model = (
            self.model_copy(update={"check_guided_output": False})
            if include_raw and self.check_guided_output
            else self
        )
        ls_format = {"kwargs": {"method": method, "strict": strict}, "schema": json_schema}
        tools = list(kwargs.pop("tools", None) or [])
        parser: Runnable[Any, Any]
        if method == "function_calling":
            tool_name = convert_to_openai_tool(schema)["function"]["name"]
            llm = model.bind_tools(
                [schema, *tools],
                # with other tools the model picks one; the schema's call is the answer
                tool_choice="required" if tools else tool_name,
                parallel_tool_calls=False,
                strict=strict,
                ls_structured_output_format=ls_format,
                **kwargs,
            )
            if tools:  # another tool's call parses to None (the raw message carries it)
                parser = JsonOutputKeyToolsParser(key_name=tool_name, first_tool_only=True)
                if is_pydantic:
                    parser = parser | RunnableLambda(_to_model(schema))
            elif is_pydantic:
                parser = PydanticToolsParser(tools=[schema], first_tool_only=True)
            else:
                parser = JsonOutputKeyToolsParser(key_name=tool_name, first_tool_only=True)
        else:
            if method == "guided_json":
                kwargs["guided_json"] = json_schema
            elif method == "json_schema":
                kwargs["response_format"] = json_schema_format(
                    json_schema, json_schema.get("title") or "response", strict=strict
                )
            else:
                kwargs["response_format"] = {"type": "json_object"}
            bound = model.bind_tools(tools, strict=strict) if tools else model
            llm = bound.bind(ls_structured_output_format=ls_format, **kwargs)
            parser = (
                PydanticOutputParser(pydantic_object=schema) if is_pydantic else JsonOutputParser()
            )
            constraint = (
                GuidedConstraint("json", json_schema)
                if method == "guided_json"
                else constraint_from_response_format(kwargs["response_format"])
            )
            if model is not self and constraint is not None:
                parser = RunnableLambda(self._answer_checker(constraint)) | parser
            if tools:  # the model called a tool instead of answering: parsed is None
                parser = RunnableLambda(_unless_tool_calls(parser))
        if not include_raw:
            return llm | parser
        parsed = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        fallback = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parsed.with_fallbacks(
            [fallback], exception_key="parsing_error"
        )

    def _answer_checker(self, constraint: GuidedConstraint) -> Callable[[AIMessage], AIMessage]:
        """A step raising the core's :class:`arli.ConstraintViolationError` for ``constraint``."""
        style = self.guided_decoding_style

        def check(message: AIMessage) -> AIMessage:
            if message.tool_calls:  # tools bound alongside: a call is not an answer
                return message
            finish = message.response_metadata.get("finish_reason")
            check_answer(constraint, message.text, finish_reason=finish, style=style)
            return message

        return check

    # -- tokens and models ------------------------------------------------------------------------

    def get_num_tokens_from_messages(
        self,
        messages: list[BaseMessage],
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool] | None = None,
    ) -> int:
        """Count the tokens of chat messages as the model's chat template renders them."""
        specs = [convert_to_openai_tool(t) for t in tools] if tools else None
        return self._calls.count_tokens(self._options(), to_openai_messages(messages), specs)


# LangChain inspects the signature of _generate/_agenerate on every call; computing it once
# here (inspect.signature returns a function's __signature__ as is) saves time on every
# call (see bench/results.md, 'inspect.signature').
for _method in (ChatArli._generate, ChatArli._agenerate):
    _method.__signature__ = inspect.signature(_method)  # type: ignore[union-attr]


def _unless_tool_calls(parser: Runnable[Any, Any]) -> Callable[[AIMessage], Any]:
    """``parser``'s value of an answer; ``None`` for a message that called tools."""

    def parse(message: AIMessage) -> Any:
        return None if message.tool_calls else parser.invoke(message)

    return parse


def _to_model(schema: Any) -> Callable[[dict[str, Any] | None], Any]:
    """The pydantic object of a tool call's arguments (``None`` stays ``None``)."""

    def build(arguments: dict[str, Any] | None) -> Any:
        return None if arguments is None else schema(**arguments)

    return build


class ChatFeatherless(FeatherlessSettings, ChatArli):
    """Featherless AI chat model, on the same core as :class:`ChatArli`.

    Featherless serves thousands of open models behind an OpenAI-compatible API. It
    documents ``temperature``, ``top_p``, ``top_k``, ``min_p``, ``repetition_penalty``,
    ``presence_penalty``, ``frequency_penalty``, ``stop``, ``seed`` and ``max_tokens``;
    any other sampler field (Arli's extras, guided decoding) is rejected with a clear
    error instead of being sent. Vision models take image URLs as well as base64, so URLs
    are passed through (the provider's ``inline_image_urls``).

    Setup:
        .. code-block:: bash

            pip install "arli-integrations[langchain]"
            export FEATHERLESS_API_KEY="..."

    Instantiate:
        .. code-block:: python

            from langchain_arli import ChatFeatherless

            llm = ChatFeatherless(model="Qwen/Qwen2.5-72B-Instruct", temperature=0.7, min_p=0.05)
            llm.invoke("Explain quantum computing in one sentence.")

    Structured output defaults to ``method="json_schema"`` (``response_format``), the
    OpenAI way Featherless serves.
    """

    @property
    def _llm_type(self) -> str:
        return "featherless-chat"

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        method: _StructuredMethod = "json_schema",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """Like :meth:`ChatArli.with_structured_output`, defaulting to ``"json_schema"``.

        ``method="guided_json"`` is refused: Featherless does not document guided decoding.
        """
        if method == "guided_json":
            msg = (
                "Featherless does not document guided decoding; use method='json_schema' "
                "(the default), 'function_calling' or 'json_mode'"
            )
            raise ArliValidationError(
                msg, field="method", allowed="json_schema, function_calling, json_mode"
            )
        return super().with_structured_output(
            schema, method=method, include_raw=include_raw, strict=strict, **kwargs
        )

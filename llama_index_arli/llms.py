"""``Arli``: the Arli AI text API as a LlamaIndex ``FunctionCallingLLM``."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, Self

import httpx
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.constants import DEFAULT_CONTEXT_WINDOW, DEFAULT_NUM_OUTPUTS
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, field_serializer, model_validator

from arli._providers import TextProvider
from arli._text_model import CONNECTION_FIELDS, TextModelBase
from arli.media import DEFAULT_MAX_PIXELS
from arli.text.catalog import capabilities, facts_for
from arli.text.client import TextClient
from arli.text.facts import ContextWindow
from arli.text.guided import GuidedStyle, schema_of
from arli.text.payload import deep_merge, split_call_kwargs
from llama_index_arli._convert import (
    achat_responses,
    achat_to_completions,
    acompletion_responses,
    chat_response,
    chat_responses,
    chat_to_completion,
    chat_to_completions,
    completion_response,
    completion_responses,
    to_openai_messages,
)
from llama_index_arli._structured import GuidedStructuredLLM, JsonSchemaStructuredLLM, hand_over
from llama_index_arli._tools import ToolCallingLLM

__all__ = ["Arli"]


class Arli(TextModelBase, ToolCallingLLM, GuidedStructuredLLM):
    """Arli AI text model for LlamaIndex (OpenAI-compatible, served by vLLM and Aphrodite).

    The client is derived from the settings, as for the LangChain classes (see
    :mod:`arli._text_model`): assigning a connection field rebuilds it, an assignment is
    validated like the constructor, ``model_copy(update=...)`` builds a new model with its
    own client, and every error is an :class:`arli.ArliError`.

    Every Arli sampler extra is a typed, validated field (see
    :class:`arli.text.params.SamplingParams`); unset fields are not sent, so the server's
    defaults and your key's parameter overrides apply. Any of them can also be passed per
    call (``llm.chat(messages, min_p=0.1)``); ``additional_kwargs`` and ``extra_body`` are
    deep-merged with per-call values, never replaced.

    Setup:
        .. code-block:: bash

            pip install "arli-integrations[llama-index]"
            export ARLIAI_API_KEY="..."   # or ARLI_TEXT_KEY

    Instantiate:
        .. code-block:: python

            from llama_index_arli import Arli

            llm = Arli(model="Mistral-Nemo-12B-Instruct-2407", temperature=0.7, min_p=0.05)
            print(llm.complete("The capital of France is").text)

    The keyless proxy, and the account's parallel-request limit:
        .. code-block:: python

            llm = Arli(provider="arli-proxy", model="Mistral-Nemo-12B-Instruct-2407")  # no key
            capped = Arli(model="Mistral-Nemo-12B-Instruct-2407", max_concurrent_requests=2)

    Structured output (guided decoding, checked on our side):
        .. code-block:: python

            from llama_index.core.prompts import PromptTemplate

            class Joke(BaseModel):
                setup: str
                punchline: str

            joke = llm.structured_predict(Joke, PromptTemplate("Tell me a joke about {topic}"),
                                          topic="cats")

    Tools and agents:
        .. code-block:: python

            from llama_index.core.agent.workflow import FunctionAgent

            agent = FunctionAgent(tools=[get_weather], llm=llm)
            await agent.run("What is the weather in Paris?")

    Guided decoding:
        vLLM <= 0.11 and Aphrodite <= 0.10 read ``guided_*``; vLLM >= 0.12 ignores them
        silently and reads ``structured_outputs``. ``guided_decoding_style="both"`` (the
        default) sends both forms; ``"guided"``, ``"structured_outputs"`` and
        ``"response_format"`` send one. Every constrained answer is checked here; one that
        does not conform raises :class:`arli.ConstraintViolationError`.
    """

    model_config = ConfigDict(
        populate_by_name=True,
        arbitrary_types_allowed=True,
        hide_input_in_errors=True,
        validate_assignment=True,
    )

    provider: TextProvider = Field(
        default="arli",
        description=(
            "'arli' (api.arliai.com, with a key) or 'arli-proxy' (the keyless proxy: no key "
            "is sent, base URL from base_url or ARLI_PROXY_BASE_URL, 6 requests in parallel)."
        ),
    )
    model: str = Field(description="The model id, e.g. 'Mistral-Nemo-12B-Instruct-2407'.")
    api_key: SecretStr | None = Field(
        default=None,
        exclude=True,
        repr=False,
        description="The Arli API key (else ARLI_TEXT_KEY, else ARLIAI_API_KEY). Never serialized.",
    )
    base_url: str | None = Field(
        default=None,
        description="API base URL (else ARLI_TEXT_BASE_URL/ARLI_BASE_URL, else https://api.arliai.com).",
    )
    timeout: float | None = Field(
        default=None, gt=0, description="Read timeout in seconds for generation (default 300)."
    )
    max_retries: int = Field(
        default=2, ge=0, description="Retries of 408/429/5xx and connection errors."
    )
    stall_timeout: float | None = Field(
        default=None,
        description=(
            "Seconds a started stream may go without an event before StreamStalledError "
            "(None: ARLI_STREAM_STALL_TIMEOUT, else 120; 0: no limit). Per call: "
            "stream_chat(..., stall_timeout=...)."
        ),
    )
    max_concurrent_requests: int | None = Field(
        default=None,
        strict=True,
        description=(
            "Requests in flight at most (the account's parallel-request limit), shared by "
            "every model and client of the same key and base URL in the process; None: the "
            "provider's documented limit (6 on the keyless proxy), else none."
        ),
    )
    context_window: int = Field(
        default=DEFAULT_CONTEXT_WINDOW,
        gt=0,
        description="Context window used when /v1/models does not give the model's max_model_len.",
    )
    discover_context_window: bool = Field(
        default=True,
        description="Read the context window from /v1/models (once, on first metadata access).",
    )
    is_function_calling_model: bool | None = Field(
        default=None,
        description=(
            "Whether the model takes tools (FunctionAgent needs True); None: from the model "
            "facts that LangChain's profile reads too (arli.text.catalog)."
        ),
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Parameters sent with every call (per-call values win; dicts deep-merge).",
    )
    extra_body: dict[str, Any] | None = Field(
        default=None, description="Extra fields merged into every request body (deep-merged)."
    )
    guided_decoding_style: GuidedStyle = Field(
        default="both",
        description="Guided decoding wire form: both, guided, structured_outputs, response_format.",
    )
    check_guided_output: bool = Field(
        default=True,
        description="Check constrained answers here (raise when the server ignored a constraint).",
    )
    stream_usage: bool = Field(
        default=True, description="Ask for token usage in streams (stream_options.include_usage)."
    )
    use_completions_endpoint: bool = Field(
        default=False,
        description="complete() posts to /v1/completions (raw prompt) instead of wrapping chat.",
    )
    inline_image_urls: bool | None = Field(
        default=None,
        description=(
            "Download image URLs and send them as base64; None: as the provider needs "
            "(Arli takes base64 only; Featherless takes URLs)."
        ),
    )
    image_max_bytes: int = Field(default=20 * 2**20, gt=0, description="Largest image accepted.")
    image_fetch_timeout: float = Field(
        default=30.0, gt=0, description="Seconds allowed to download one image URL."
    )
    image_max_pixels: int = Field(
        default=DEFAULT_MAX_PIXELS, gt=0, description="Largest image (pixels) in a message."
    )
    allow_local_files: bool = Field(
        default=False,
        strict=True,
        description="Read local image paths named in messages (off: messages are untrusted).",
    )
    allowed_image_hosts: list[str] | None = Field(
        default=None,
        description=(
            "The only hosts image URLs in messages may name, private ones included (None: any "
            "public host; '*' in the list: those and any public host)."
        ),
    )
    send_reasoning: bool | Literal["auto"] = Field(
        default="auto",
        description=(
            "Re-send earlier ThinkingBlocks as the assistant message's `reasoning`: 'auto' "
            "for models whose chat template renders it (MiniMax-M2, Kimi K2, GLM 4.5+), "
            "True always, False never."
        ),
    )
    default_headers: dict[str, str] | None = Field(
        default=None, description="Extra HTTP headers sent with every request."
    )
    http_client: httpx.Client | None = Field(
        default=None, exclude=True, description="An httpx client to use (not closed by us)."
    )
    async_http_client: httpx.AsyncClient | None = Field(
        default=None, exclude=True, description="An httpx async client to use (not closed by us)."
    )

    _async_client_field: ClassVar[str] = "async_http_client"
    _window: ContextWindow = PrivateAttr(default_factory=ContextWindow)
    _payload: tuple[tuple[Any, ...], dict[str, Any]] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check_additional_kwargs(self) -> Self:
        if self.additional_kwargs:
            split_call_kwargs(self.additional_kwargs)  # unknown names / bad values fail here
        return self

    @field_serializer("guided_json")
    def _serialize_guided_json(self, value: Any) -> Any:
        return schema_of(value) if isinstance(value, type) else value

    def _client_built(self, client: TextClient) -> None:
        super()._client_built(client)
        if "api_key" not in self.model_fields_set:  # the key found in the environment
            self.__dict__["api_key"] = client.settings.text_api_key

    def _settings_changed(self, name: str) -> None:
        super()._settings_changed(name)
        if name in CONNECTION_FIELDS or name == "model":  # another model or server
            self._window = ContextWindow()
            self._payload = None

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with ``update``, it gets its own client and looks its model up afresh."""
        copied = super().model_copy(update=update, deep=deep)
        if not update:  # the same model on the same server: what was looked up holds
            copied._window = ContextWindow(self._window.looked_up)
        return copied

    @classmethod
    def class_name(cls) -> str:
        """``"Arli"``."""
        return "Arli"

    def close(self) -> None:
        """Close pooled connections (they reopen if the model is used again)."""
        self.client.close()

    async def aclose(self) -> None:
        """Close pooled connections, including the running event loop's."""
        await self.client.aclose()

    # -- metadata ------------------------------------------------------------------------

    def _metadata(self, context_window: int) -> LLMMetadata:
        return LLMMetadata(
            context_window=context_window,
            num_output=self.max_tokens or DEFAULT_NUM_OUTPUTS,
            is_chat_model=True,
            is_function_calling_model=self._function_calling(),
            model_name=self.model,
            system_role=MessageRole.SYSTEM,
        )

    def _function_calling(self) -> bool:
        if self.is_function_calling_model is not None:
            return self.is_function_calling_model
        return bool(capabilities(facts_for(self.provider, self.model)).get("tool_calling"))

    def get_context_window(self) -> int:
        """The model's context window: ``max_model_len`` from ``/v1/models`` (looked up once).

        Falls back to the ``context_window`` field when the lookup fails, the model is not
        listed, the server gives no ``max_model_len`` or ``discover_context_window`` is off.
        """
        if not self.discover_context_window:
            return self._window.known(self.context_window)
        return self._window.get(self.client, self.model, self.context_window)

    async def aget_context_window(self) -> int:
        """Async :meth:`get_context_window` (prefetch it before sync code reads metadata)."""
        if not self.discover_context_window:
            return self._window.known(self.context_window)
        return await self._window.aget(self.client, self.model, self.context_window)

    @property
    def metadata(self) -> LLMMetadata:
        """LLM metadata; ``context_window`` comes from the server when it says (cached).

        The first access makes one quick sync request (``GET /v1/models``); async code can
        make it on the event loop instead with ``await llm.aget_context_window()`` first.
        """
        return self._metadata(self.get_context_window())

    def to_payload(self) -> dict[str, Any]:
        """What instrumentation events carry: class name and metadata, never the key.

        Never makes a request: the context window is the looked-up one if known.
        """
        # read from pydantic's private store directly (bench/results.md, 'per-call options')
        private: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        window = private["_window"].known(self.context_window)
        key = (self.model, self.max_tokens, self.is_function_calling_model, window)
        cached = private["_payload"]  # built once, not on every call (it is sent with each one)
        if cached is None or cached[0] != key:
            data = self._metadata(window).model_dump()
            cached = self._payload = (key, {"class_name": self.class_name(), **data})
        return dict(cached[1])

    # -- requests ------------------------------------------------------------------------

    def _call_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.additional_kwargs:
            return deep_merge(self.additional_kwargs, kwargs)
        return kwargs

    # -- chat ----------------------------------------------------------------------------

    def _chat(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> ChatResponse:
        call = self._calls.chat(
            self._options(), to_openai_messages(messages), self._call_kwargs(kwargs)
        )
        hand_over(call.parsed)
        return chat_response(call.result, call.retries_taken)

    async def _achat(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> ChatResponse:
        call = await self._calls.achat(
            self._options(), to_openai_messages(messages), self._call_kwargs(kwargs)
        )
        hand_over(call.parsed)
        return chat_response(call.result, call.retries_taken)

    def _stream_chat(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
    ) -> ChatResponseGen:
        stream = self._calls.stream_chat(  # planned now: errors raise here
            self._options(), to_openai_messages(messages), self._call_kwargs(kwargs)
        )
        return chat_responses(stream)

    async def _astream_chat(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
    ) -> ChatResponseAsyncGen:
        stream = await self._calls.astream_chat(
            self._options(), to_openai_messages(messages), self._call_kwargs(kwargs)
        )
        return achat_responses(stream)

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Chat (``/v1/chat/completions``); per-call kwargs override the instance's fields.

        Raises:
            ArliValidationError: an out-of-range or unknown parameter (nothing is sent).
            ConstraintViolationError: a guided answer that breaks its constraint.
        """
        return self._chat(messages, kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Stream a chat answer; the last response carries the token usage."""
        return self._stream_chat(messages, kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async :meth:`chat` (on the async HTTP client)."""
        return await self._achat(messages, kwargs)

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """Async :meth:`stream_chat` (on the async HTTP client)."""
        return await self._astream_chat(messages, kwargs)

    # -- completions ---------------------------------------------------------------------

    def _prompt(self, prompt: str, formatted: bool) -> str:
        if formatted or self.completion_to_prompt is None:
            return prompt
        return self.completion_to_prompt(prompt)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Complete a prompt: ``/v1/completions`` if ``use_completions_endpoint``, else chat."""
        if not self.use_completions_endpoint:
            return chat_to_completion(self._chat([ChatMessage(content=prompt)], kwargs))
        call = self._calls.complete(
            self._options(), self._prompt(prompt, formatted), self._call_kwargs(kwargs)
        )
        return completion_response(call.result, call.retries_taken)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Async :meth:`complete`."""
        if not self.use_completions_endpoint:
            return chat_to_completion(await self._achat([ChatMessage(content=prompt)], kwargs))
        call = await self._calls.acomplete(
            self._options(), self._prompt(prompt, formatted), self._call_kwargs(kwargs)
        )
        return completion_response(call.result, call.retries_taken)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Stream a completion (see :meth:`complete`); the last response carries usage."""
        if not self.use_completions_endpoint:
            return chat_to_completions(self._stream_chat([ChatMessage(content=prompt)], kwargs))
        stream = self._calls.stream_complete(
            self._options(), self._prompt(prompt, formatted), self._call_kwargs(kwargs)
        )
        return completion_responses(stream)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Async :meth:`stream_complete`."""
        if not self.use_completions_endpoint:
            chat_gen = await self._astream_chat([ChatMessage(content=prompt)], kwargs)
            return achat_to_completions(chat_gen)
        stream = self._calls.stream_complete(
            self._options(), self._prompt(prompt, formatted), self._call_kwargs(kwargs)
        )
        return acompletion_responses(stream)

    # -- tokens and models ---------------------------------------------------------------

    def tokenize(self, text: str) -> list[int]:
        """The token ids of ``text`` (the server's tokenize endpoint)."""
        return self.client.tokenize(model=self.model, prompt=text).tokens

    async def atokenize(self, text: str) -> list[int]:
        """Async :meth:`tokenize`."""
        return (await self.client.atokenize(model=self.model, prompt=text)).tokens

    def count_tokens(self, text: str | Sequence[ChatMessage]) -> int:
        """Tokens in a prompt, or in chat messages as the model's chat template renders them."""
        prompt = text if isinstance(text, str) else to_openai_messages(text)
        return self._calls.count_tokens(self._options(), prompt)

    async def acount_tokens(self, text: str | Sequence[ChatMessage]) -> int:
        """Async :meth:`count_tokens`."""
        prompt = text if isinstance(text, str) else to_openai_messages(text)
        return await self._calls.acount_tokens(self._options(), prompt)


def _precompute_signatures(cls: type[Arli]) -> None:
    """Give LlamaIndex's instrumentation the signatures of the LLM methods, computed once.

    ``dispatcher.span`` (wrapped around every LLM method) calls ``inspect.signature`` on
    each call, which rebuilds the signature from the code object every time (see
    bench/results.md, 'inspect.signature'); ``inspect.signature`` returns a function's
    ``__signature__`` as it is.
    """
    for name in (
        "chat",
        "achat",
        "stream_chat",
        "astream_chat",
        "complete",
        "acomplete",
        "stream_complete",
        "astream_complete",
    ):
        method = cls.__dict__[name]
        function = getattr(method, "__wrapped__", method)  # inside the span wrapper
        function.__signature__ = inspect.signature(function)


_precompute_signatures(Arli)


class Featherless(JsonSchemaStructuredLLM, Arli):
    """Featherless AI as a LlamaIndex ``FunctionCallingLLM``, on the same core as :class:`Arli`.

    It takes the parameters Featherless documents (``temperature``, ``top_p``, ``top_k``,
    ``min_p``, ``repetition_penalty``, ``presence_penalty``, ``frequency_penalty``,
    ``stop``, ``seed``, ``max_tokens``); anything else is rejected before sending. Image
    URLs are passed through (Featherless downloads them); structured output uses
    ``response_format`` (``json_schema``) instead of guided decoding, which Featherless
    does not document.

    Examples:
        .. code-block:: python

            from llama_index_arli import Featherless

            llm = Featherless(model="Qwen/Qwen2.5-72B-Instruct", temperature=0.7)
            print(llm.complete("Explain quantum computing in one sentence.").text)

    The key comes from ``api_key=`` or ``FEATHERLESS_API_KEY``.
    """

    _providers: ClassVar[tuple[str, ...]] = ("featherless",)

    provider: TextProvider = Field(
        default="featherless", description="Always 'featherless' (api.featherless.ai)."
    )

    @classmethod
    def class_name(cls) -> str:
        """The LlamaIndex class name."""
        return "Featherless"

"""TextClient: chat, completions, streaming, tokenize and models over the shared transport.

The client sends request bodies as given (building them from typed parameters is the job
of the payload builder) and returns the neutral results of :mod:`arli.text.parse`. Every
call goes through one pooled transport, so retries, timeouts, limits and error mapping are
the same everywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar, cast

import httpx
from pydantic import SecretStr

from arli._errors import (
    ArliConfigError,
    ArliValidationError,
    IncompleteResponseError,
    NotFoundError,
)
from arli._kwargs import checks_arguments, renamed_keyword
from arli._limits import check_limit
from arli._providers import Provider, check_text_provider, get_provider
from arli._settings import SETTINGS_ARGUMENTS, ArliSettings
from arli._steps import Steps, arun, run, transport_options
from arli._transport import PooledClient, Transport, get_transport
from arli.media import ImageSourcePolicy
from arli.text.accumulate import ChatStreamAccumulator, CompletionStreamAccumulator, TextDelta
from arli.text.parse import (
    ChatChunk,
    ChatCompletion,
    Completion,
    CompletionChunk,
    ModelInfo,
    TokenizeResult,
    parse_chat_chunk,
    parse_chat_completion,
    parse_completion,
    parse_completion_chunk,
    parse_models,
    parse_tokenize,
)
from arli.text.payload import check_allowed, stream_fields

__all__ = ["TextClient", "TextRoutes", "client_for_model"]

_Chunk = TypeVar("_Chunk", ChatChunk, CompletionChunk)
_In_contra = TypeVar("_In_contra", ChatChunk, CompletionChunk, contravariant=True)


class _Accumulator(Protocol[_In_contra]):
    """What a stream merges its chunks into (the chat or the completion accumulator)."""

    chunks: int

    def add(self, chunk: _In_contra, /) -> None: ...

    @property
    def has_choices(self) -> bool: ...

    @property
    def finished(self) -> bool: ...


@checks_arguments()
class TextRoutes:
    """Paths of the text API relative to its base URL.

    ``tokenize`` lists candidates tried in order: Arli and Aphrodite serve ``/v1/tokenize``,
    vLLM serves ``/tokenize``; the first that answers is remembered per client.
    """

    chat: str = "/v1/chat/completions"
    completions: str = "/v1/completions"
    models: str = "/v1/models"
    tokenize: tuple[str, ...] = ("/v1/tokenize", "/tokenize")
    detokenize: tuple[str, ...] = ("/v1/detokenize", "/detokenize")


def _plain_call(
    body: Mapping[str, Any], timeout: float | None, options: dict[str, Any]
) -> dict[str, Any]:
    """The transport options of a non-streaming call of ``body``.

    The body gets ``stream: false`` and loses ``stream_options`` (vLLM rejects them).
    """
    out = dict(body)
    out["stream"] = False
    out.pop("stream_options", None)
    return transport_options("text", timeout, json_body=out, **options)


class _StreamEnd:
    """What is decided about a stream once its events stop, the same for sync and async.

    ``on_eof`` is the transport's hook for a stream that ended without ``[DONE]``;
    :meth:`finish` runs after the last event; ``on_done`` (the call layer's check of the
    answer) runs once the stream ended well. ``acc`` is the only accumulator of the stream.
    """

    __slots__ = ("acc", "on_done")

    def __init__(self, acc: _Accumulator[Any], on_done: Callable[[], None] | None) -> None:
        self.acc = acc
        self.on_done = on_done

    def on_eof(self) -> None:
        if not self.acc.finished:
            raise _incomplete(self.acc.chunks)

    def finish(self) -> None:
        if not self.acc.has_choices:
            raise _no_choices()
        if self.on_done is not None:
            self.on_done()


@checks_arguments(
    passes_to=SETTINGS_ARGUMENTS,
    sets={"text_base_url": "pass the text API URL as base_url=..."},
)
class TextClient(PooledClient):
    """A client for the Arli text API (OpenAI-compatible, served by vLLM/Aphrodite).

    Args:
        api_key: the key (else ``ARLI_TEXT_KEY`` or ``ARLIAI_API_KEY``).
        base_url: the base URL (else ``ARLI_TEXT_BASE_URL``/``ARLI_BASE_URL``, else Arli's).
        settings: complete settings; when given, ``api_key``/``base_url``/``options`` are ignored.
        http_client: an httpx client to use (not closed by us).
        http_async_client: an httpx async client to use (not closed by us).
        routes: route paths (for gateways that map them elsewhere).
        max_concurrent_requests: text requests in flight at most, shared by every client of
            the same key and base URL in the process (the account's parallel-request limit;
            a request over it waits for a free slot instead of being refused). ``None``: the
            provider's documented limit (6 on the keyless proxy, counted with its image
            requests), else none. Same as the ``text_max_concurrency`` setting.
        provider: the preset: ``"arli"``, ``"featherless"`` or ``"arli-proxy"`` (keyless).
        allow_local_files: read local image paths named in messages (off by default:
            message content is untrusted; see :class:`arli.media.ImageSourcePolicy`).
        allowed_image_hosts: the only hosts image URLs in messages may name, private ones
            included (``None``: any public host; ``"*"`` in the list: those and any public
            host).
        **options: any other :class:`~arli.ArliSettings` field (``max_retries``, timeouts...).

    Raises:
        ArliConfigError: a missing key, a provider without a text API, or a
            ``max_concurrent_requests`` below 1 or above what the provider allows.
        ArliValidationError: ``allow_local_files`` or ``allowed_image_hosts`` malformed.

    Example:
        .. code-block:: python

            from arli import TextClient

            client = TextClient()
            answer = client.chat({"model": "Mistral-Nemo-12B-Instruct-2407",
                                  "messages": [{"role": "user", "content": "Hi"}]})
            print(answer.text, answer.usage)
    """

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        settings: ArliSettings | None = None,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        routes: TextRoutes | None = None,
        max_concurrent_requests: int | None = None,
        provider: str = "arli",
        allow_local_files: bool = False,
        allowed_image_hosts: Sequence[str] | None = None,
        **options: Any,
    ):
        self.image_policy = ImageSourcePolicy.of(allow_local_files, allowed_image_hosts)
        if settings is None:
            if max_concurrent_requests is not None:
                if "text_max_concurrency" in options:
                    msg = (
                        "TextClient: give max_concurrent_requests or text_max_concurrency, "
                        "not both (they are the same setting)"
                    )
                    raise ArliValidationError(
                        msg, field="text_max_concurrency", allowed="max_concurrent_requests"
                    )
                options["text_max_concurrency"] = _checked_limit(max_concurrent_requests, provider)
            settings = ArliSettings.resolve(
                api_key=api_key, text_base_url=base_url, provider=provider, **options
            )
        self.settings = settings
        self.provider: Provider = get_provider(self.settings.provider)
        if not self.provider.has_text:
            msg = f"{self.provider.label} has no text API"
            raise ArliConfigError(msg)
        self.routes = routes or TextRoutes()
        self._transport: Transport = get_transport(
            self.settings, "text", http_client=http_client, http_async_client=http_async_client
        )
        self._tokenize_path: str | None = None
        self._detokenize_path: str | None = None

    def __repr__(self) -> str:
        return f"TextClient(base_url={self._transport.base_url!r})"

    def image_policy_for(
        self, allow_local_files: bool | None, allowed_image_hosts: Sequence[str] | None
    ) -> ImageSourcePolicy:
        """This client's :attr:`image_policy`, with a model's own options where it sets them.

        Raises:
            ArliValidationError: an option malformed.
        """
        if allow_local_files is None and allowed_image_hosts is None:
            return self.image_policy
        return ImageSourcePolicy.of(
            self.image_policy.allow_local_files if allow_local_files is None else allow_local_files,
            self.image_policy.allowed_image_hosts
            if allowed_image_hosts is None
            else allowed_image_hosts,
        )

    # -- chat ----------------------------------------------------------------------------

    @renamed_keyword("request_timeout", "timeout")
    def chat(
        self,
        body: Mapping[str, Any],
        *,
        timeout: float | None = None,
        **request_options: Any,
    ) -> ChatCompletion:
        """POST a chat completion and parse it.

        Args:
            body: the request body (``stream: false`` is set).
            timeout: read timeout in seconds for this call, per attempt (default: the
                ``text_timeout`` setting); the one name of the per-call timeout of every
                text call (streams, completions and the call layer take it too;
                ``request_timeout=`` is its deprecated spelling).
            **request_options: other transport options (``max_retries``, ``headers``...).
        """
        call = _plain_call(body, timeout, request_options)
        return parse_chat_completion(self._send("POST", self.routes.chat, call))

    @renamed_keyword("request_timeout", "timeout")
    async def achat(
        self,
        body: Mapping[str, Any],
        *,
        timeout: float | None = None,
        **request_options: Any,
    ) -> ChatCompletion:
        """Async :meth:`chat`."""
        call = _plain_call(body, timeout, request_options)
        return parse_chat_completion(await self._asend("POST", self.routes.chat, call))

    @renamed_keyword("request_timeout", "timeout")
    def stream_chat(
        self,
        body: Mapping[str, Any],
        *,
        include_usage: bool = True,
        timeout: float | None = None,
        **request_options: Any,
    ) -> Iterator[ChatChunk]:
        """Stream a chat completion, yielding parsed chunks.

        ``stream: true`` is set, and ``stream_options.include_usage`` unless the body has
        its own ``stream_options`` or ``include_usage`` is False (the one rule of
        :func:`arli.text.payload.stream_fields`). A stream that ends without ``[DONE]`` is
        accepted only if every choice got a finish reason; otherwise
        :class:`~arli.IncompleteResponseError` is raised.
        """
        args = _chat_stream(self.routes.chat, body, include_usage)
        # no ``fast``: every chunk is parsed
        return cast(
            "Iterator[ChatChunk]",
            self._stream(*args, **transport_options("text", timeout, **request_options)),
        )

    @renamed_keyword("request_timeout", "timeout")
    def astream_chat(
        self,
        body: Mapping[str, Any],
        *,
        include_usage: bool = True,
        timeout: float | None = None,
        **request_options: Any,
    ) -> AsyncIterator[ChatChunk]:
        """Async :meth:`stream_chat`."""
        args = _chat_stream(self.routes.chat, body, include_usage)
        # no ``fast``: every chunk is parsed
        return cast(
            "AsyncIterator[ChatChunk]",
            self._astream(*args, **transport_options("text", timeout, **request_options)),
        )

    def _stream(
        self,
        path: str,
        body: Mapping[str, Any],
        acc: _Accumulator[_Chunk],
        parse: Callable[[Any], _Chunk],
        on_done: Callable[[], None] | None,
        fast: Callable[[Any], str | None] | None = None,
        **request_options: Any,
    ) -> Iterator[_Chunk | TextDelta]:
        """Send ``body`` as it is and yield its parsed chunks, each merged into ``acc``.

        ``on_done`` runs once the stream ended well (the call layer checks the answer
        there); ``acc`` is the only accumulator of the stream (see :class:`_StreamEnd`).
        ``fast`` (the call layer's :meth:`ChatStreamAccumulator.add_text`) merges a chunk
        that only adds text without parsing it; such a chunk is yielded as its
        :data:`~arli.text.accumulate.TextDelta`, every other one parsed.
        """
        end = _StreamEnd(acc, on_done)
        add = acc.add
        for data in self._transport.stream_events(
            "POST", path, json_body=body, on_eof=end.on_eof, **request_options
        ):
            if fast is not None:
                text = fast(data)
                if text is not None:
                    yield text, data
                    continue
            chunk = parse(data)
            add(chunk)
            yield chunk
        end.finish()

    async def _astream(
        self,
        path: str,
        body: Mapping[str, Any],
        acc: _Accumulator[_Chunk],
        parse: Callable[[Any], _Chunk],
        on_done: Callable[[], None] | None,
        fast: Callable[[Any], str | None] | None = None,
        **request_options: Any,
    ) -> AsyncIterator[_Chunk | TextDelta]:
        """Async :meth:`_stream`."""
        end = _StreamEnd(acc, on_done)
        add = acc.add
        async for data in self._transport.astream_events(
            "POST", path, json_body=body, on_eof=end.on_eof, **request_options
        ):
            if fast is not None:
                text = fast(data)
                if text is not None:
                    yield text, data
                    continue
            chunk = parse(data)
            add(chunk)
            yield chunk
        end.finish()

    # -- completions ---------------------------------------------------------------------

    @renamed_keyword("request_timeout", "timeout")
    def complete(
        self,
        body: Mapping[str, Any],
        *,
        timeout: float | None = None,
        **request_options: Any,
    ) -> Completion:
        """POST a text completion (``/v1/completions``) and parse it."""
        call = _plain_call(body, timeout, request_options)
        return parse_completion(self._send("POST", self.routes.completions, call))

    @renamed_keyword("request_timeout", "timeout")
    async def acomplete(
        self,
        body: Mapping[str, Any],
        *,
        timeout: float | None = None,
        **request_options: Any,
    ) -> Completion:
        """Async :meth:`complete`."""
        call = _plain_call(body, timeout, request_options)
        return parse_completion(await self._asend("POST", self.routes.completions, call))

    @renamed_keyword("request_timeout", "timeout")
    def stream_complete(
        self,
        body: Mapping[str, Any],
        *,
        include_usage: bool = True,
        timeout: float | None = None,
        **request_options: Any,
    ) -> Iterator[CompletionChunk]:
        """Stream a text completion, yielding parsed chunks (see :meth:`stream_chat`)."""
        args = _completion_stream(self.routes.completions, body, include_usage)
        # no ``fast``: every chunk is parsed
        return cast(
            "Iterator[CompletionChunk]",
            self._stream(*args, **transport_options("text", timeout, **request_options)),
        )

    @renamed_keyword("request_timeout", "timeout")
    def astream_complete(
        self,
        body: Mapping[str, Any],
        *,
        include_usage: bool = True,
        timeout: float | None = None,
        **request_options: Any,
    ) -> AsyncIterator[CompletionChunk]:
        """Async :meth:`stream_complete`."""
        args = _completion_stream(self.routes.completions, body, include_usage)
        # no ``fast``: every chunk is parsed
        return cast(
            "AsyncIterator[CompletionChunk]",
            self._astream(*args, **transport_options("text", timeout, **request_options)),
        )

    # -- tokenize, models ----------------------------------------------------------------

    def _ops(self) -> dict[str, Callable[..., Any]]:
        """The blocking I/O of the steps (:mod:`arli._steps`)."""
        return {"send": self._send}

    def _aops(self) -> dict[str, Callable[..., Any]]:
        """The awaited I/O of the steps."""
        return {"send": self._asend}

    def _send(self, method: str, path: str, options: dict[str, Any]) -> Any:
        return self._transport.request(method, path, **options).json()

    async def _asend(self, method: str, path: str, options: dict[str, Any]) -> Any:
        return (await self._transport.arequest(method, path, **options)).json()

    def _tokenize_steps(
        self,
        model: str | None,
        prompt: str | None,
        messages: Sequence[Mapping[str, Any]] | None,
        extra: Mapping[str, Any],
    ) -> Steps[TokenizeResult]:
        """Try the tokenize routes in order; remember the first that answers."""
        if (prompt is None) == (messages is None):
            msg = "tokenize needs exactly one of prompt= or messages="
            raise ValueError(msg)
        body: dict[str, Any] = {}
        if model is not None:
            body["model"] = model
        if prompt is not None:
            body["prompt"] = prompt
        else:
            body["messages"] = list(messages or ())
        body.update(extra)
        options = transport_options("listing", retry_read_timeouts=True, json_body=body)
        paths = (self._tokenize_path,) if self._tokenize_path else self.routes.tokenize
        first_error: NotFoundError | None = None
        for path in paths:
            try:
                data = yield "send", "POST", path, options
            except NotFoundError as exc:
                if not _is_missing_route(exc):
                    raise
                first_error = first_error or exc
                continue
            self._tokenize_path = path
            return parse_tokenize(data)
        assert first_error is not None
        raise first_error

    def tokenize(
        self,
        *,
        model: str | None = None,
        prompt: str | None = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        **extra: Any,
    ) -> TokenizeResult:
        """Count (and list) the tokens of a prompt or of chat messages.

        Tries ``/v1/tokenize`` then ``/tokenize`` (vLLM serves the latter) and remembers
        which one answered. Counting has no side effect, so a timed-out request is re-sent
        (within ``max_retries``).

        Args:
            model: the model whose tokenizer counts.
            prompt: a plain prompt.
            messages: chat messages (rendered with the model's chat template).
            **extra: other tokenize fields (``add_special_tokens``, ``return_token_strs``...).
        """
        return run(self._tokenize_steps(model, prompt, messages, extra), self._ops())

    async def atokenize(
        self,
        *,
        model: str | None = None,
        prompt: str | None = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        **extra: Any,
    ) -> TokenizeResult:
        """Async :meth:`tokenize`."""
        return await arun(self._tokenize_steps(model, prompt, messages, extra), self._aops())

    @property
    def allowed_params(self) -> frozenset[str] | None:
        """The parameters the provider accepts (``None``: every Arli parameter)."""
        return self.provider.text_params

    def _models_steps(self, available_on_current_plan: object) -> Steps[list[ModelInfo]]:
        query = self._models_query(available_on_current_plan)
        data = yield "send", "GET", self.routes.models, transport_options("listing", params=query)
        return parse_models(data)

    def _models_query(self, available_on_current_plan: object) -> dict[str, int] | None:
        if available_on_current_plan is None:
            return None
        if not self.provider.plan_filter:
            msg = (
                "available_on_current_plan is a Featherless AI filter of /v1/models, which "
                f"{self.provider.label} does not document: leave it None"
            )
            raise ArliValidationError(msg, field="available_on_current_plan", allowed="None")
        if not isinstance(available_on_current_plan, bool):
            msg = (
                f"available_on_current_plan={available_on_current_plan!r} must be True (the "
                "models of your plan), False (every model) or None (not sent)"
            )
            raise ArliValidationError(
                msg, field="available_on_current_plan", allowed="True, False or None"
            )
        return {"available_on_current_plan": int(available_on_current_plan)}

    def list_models(self, *, available_on_current_plan: bool | None = None) -> list[ModelInfo]:
        """List the models (with ``max_model_len`` when the server gives it).

        Args:
            available_on_current_plan: Featherless: only the models on your plan (True),
                or all of them (False), sent as ``?available_on_current_plan=1``/``=0``; not
                sent when ``None``.

        Raises:
            ArliValidationError: the filter on a provider that does not document it, or a
                value that is not a bool.
        """
        return run(self._models_steps(available_on_current_plan), self._ops())

    async def alist_models(
        self, *, available_on_current_plan: bool | None = None
    ) -> list[ModelInfo]:
        """Async :meth:`list_models`."""
        return await arun(self._models_steps(available_on_current_plan), self._aops())


def client_for_model(
    *,
    owner: str,
    provider: str,
    providers: tuple[str, ...],
    params: Mapping[str, Any],
    api_key: str | SecretStr | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    max_retries: int = 2,
    max_concurrent_requests: int | None = None,
    default_headers: Mapping[str, str] | None = None,
    http_client: httpx.Client | None = None,
    http_async_client: httpx.AsyncClient | None = None,
) -> TextClient:
    """The client of a framework's text model, checked as its constructor must check it.

    Args:
        owner: the model class's name (errors name it).
        provider: the model's provider preset.
        providers: the presets the class serves.
        params: the model's sampling parameters (unset ones absent).
        api_key: the key (else the provider's variables).
        base_url: the API base URL (else the provider's variables and default).
        timeout: the read timeout of generation (the ``text_timeout`` setting).
        max_retries: retries of 408/429/5xx and connection errors.
        max_concurrent_requests: requests in flight at most (``None``: the provider's).
        default_headers: extra HTTP headers of every request.
        http_client: an httpx client to use (not closed by us).
        http_async_client: an httpx async client to use (not closed by us).

    Raises:
        ArliConfigError: a provider the class does not serve, or a missing key.
        ArliValidationError: a parameter the provider does not accept.
    """
    check_text_provider(provider, allowed=providers, owner=owner)
    options: dict[str, Any] = {"max_retries": max_retries}
    if timeout is not None:
        options["text_timeout"] = timeout
    if default_headers:
        options["default_headers"] = dict(default_headers)
    client = TextClient(
        api_key=api_key,
        base_url=base_url,
        http_client=http_client,
        http_async_client=http_async_client,
        provider=provider,
        max_concurrent_requests=max_concurrent_requests,
        **options,
    )
    check_allowed(params, client.allowed_params, client.provider.label)
    return client


def _checked_limit(value: object, provider: str) -> int | None:
    """``max_concurrent_requests`` checked against what ``provider`` allows."""
    try:
        preset = get_provider(provider)
    except ValueError as exc:
        raise ArliConfigError(str(exc)) from None
    return check_limit(
        value, name="max_concurrent_requests", most=preset.max_parallel, service=preset.label
    )


def _is_missing_route(exc: NotFoundError) -> bool:
    """A 404 for an unknown route (try the next path), not for an unknown model."""
    return exc.error_type in (None, "Not Found") and "model" not in exc.message.lower()


def _no_choices() -> IncompleteResponseError:
    return IncompleteResponseError(
        "the stream ended with `data: [DONE]` before any choice arrived: the answer is empty"
    )


def _incomplete(chunks: int) -> IncompleteResponseError:
    return IncompleteResponseError(
        f"the stream ended after {chunks} chunk{'s' if chunks != 1 else ''} without `data: [DONE]` "
        "and before every choice had a finish reason: the answer is incomplete"
    )


def _chat_stream(
    path: str, body: Mapping[str, Any], include_usage: bool
) -> tuple[str, dict[str, Any], ChatStreamAccumulator, Callable[[Any], ChatChunk], None]:
    """The :meth:`TextClient._stream` arguments of a chat stream of ``body``."""
    planned = stream_fields(dict(body), include_usage)
    return path, planned, ChatStreamAccumulator(), parse_chat_chunk, None


def _completion_stream(
    path: str, body: Mapping[str, Any], include_usage: bool
) -> tuple[
    str, dict[str, Any], CompletionStreamAccumulator, Callable[[Any], CompletionChunk], None
]:
    """The :meth:`TextClient._stream` arguments of a ``/v1/completions`` stream."""
    planned = stream_fields(dict(body), include_usage)
    return path, planned, CompletionStreamAccumulator(), parse_completion_chunk, None

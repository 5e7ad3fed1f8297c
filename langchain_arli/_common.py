"""Fields and plumbing shared by ``ChatArli`` and ``ArliLLM``: connection, guided decoding."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self

import httpx
from langchain_core.language_models.base import LangSmithParams
from langchain_core.utils import from_env, secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

from arli import TextClient
from arli._kwargs import check_model_arguments, raise_arli_errors
from arli._providers import PROVIDERS, TextProvider
from arli._settings import _URL_ENV
from arli.text.calls import CallOptions, TextCalls
from arli.text.client import client_for_model
from arli.text.guided import GuidedStyle
from arli.text.params import SAMPLER_NAMES, SamplingParams
from arli.text.parse import ModelInfo
from arli.text.payload import instance_params

__all__ = ["ArliTextModel", "GuidedStyle"]


class ArliTextModel(SamplingParams, BaseModel):
    """Connection settings and sampling fields common to the LangChain text models."""

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    provider: TextProvider = "arli"
    """``"arli"`` (api.arliai.com, with a key) or ``"arli-proxy"`` (the keyless proxy: no key
    is sent, base URL from ``base_url`` or ``ARLI_PROXY_BASE_URL``, 6 requests in parallel
    at most, counted with its image requests)."""
    model: str = Field(alias="model_name")
    """The model id, e.g. ``"Mistral-Nemo-12B-Instruct-2407"`` (``GET /v1/models``)."""
    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(list(PROVIDERS["arli"].text_key_env), default=None)
    )
    """The Arli API key (else ``ARLI_TEXT_KEY`` or ``ARLIAI_API_KEY``)."""
    base_url: str | None = Field(
        default_factory=from_env([_URL_ENV["text"], *PROVIDERS["arli"].base_url_env], default=None)
    )
    """Base URL of the API (default ``https://api.arliai.com``; a trailing ``/v1`` is fine)."""
    timeout: float | None = Field(default=None, alias="request_timeout")
    """Read timeout in seconds for generation (default 300; the ``text_timeout`` setting).
    LangChain's name; ``request_timeout`` is its alias."""
    max_retries: int = Field(default=2, ge=0)
    """Retries of 408/429/5xx and connection errors (never other 4xx)."""
    max_concurrent_requests: int | None = Field(default=None, strict=True)
    """Requests in flight at most: the account's parallel-request limit. Every model, tool
    and client of the same key and base URL in the process shares it (more wait for a
    free slot instead of getting 429s). ``None``: the provider's documented limit (6 on
    the keyless proxy), else none."""
    streaming: bool = False
    """Stream internally even when ``invoke`` is called."""
    stream_usage: bool = True
    """Ask for token usage in streams (``stream_options.include_usage``)."""
    extra_body: dict[str, Any] | None = None
    """Extra fields merged into every request body (deep-merged with per-call ones)."""
    guided_decoding_style: GuidedStyle = "both"
    """How guided decoding goes on the wire: ``both`` (``guided_*`` and
    ``structured_outputs``), ``guided``, ``structured_outputs`` or ``response_format``."""
    check_guided_output: bool = True
    """Check constrained answers on our side (raise when the server ignored a constraint)."""
    default_headers: dict[str, str] | None = None
    """Extra HTTP headers sent with every request."""
    allow_local_files: bool = Field(default=False, strict=True)
    """Read local image paths named in message content (off: messages are untrusted)."""
    allowed_image_hosts: list[str] | None = None
    """The only hosts image URLs in messages may name, private ones included (``None``: any
    public host; ``"*"`` in the list: those and any public host)."""
    http_client: httpx.Client | None = Field(default=None, exclude=True)
    """An httpx client to use (not closed by us)."""
    http_async_client: httpx.AsyncClient | None = Field(default=None, exclude=True)
    """An httpx async client to use (not closed by us)."""

    _providers: ClassVar[tuple[str, ...]] = ("arli", "arli-proxy")
    _secret_env: ClassVar[str] = PROVIDERS["arli"].text_key_env[-1]
    _client: TextClient = PrivateAttr()
    _params: dict[str, Any] | None = PrivateAttr(default=None)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in SAMPLER_NAMES:
            self._params = None

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Copy the model (the cached parameters are recomputed for the copy)."""
        copied = super().model_copy(update=update, deep=deep)
        copied._params = None
        return copied

    @property
    def sampling_params(self) -> dict[str, Any]:
        """The parameters set on this model (unset ones are never sent); computed once."""
        params = self._params
        if params is None:
            params = self._params = instance_params(self)
        return params

    def __init__(self, **kwargs: Any) -> None:
        # Before pydantic sees the data: a misspelled name (min_P) would be dropped silently,
        # and an error raised in a validator would reach the user as a ValidationError.
        check_model_arguments(type(self), kwargs, extras="extra_body")
        if kwargs.get("provider") == "arli-proxy":
            # the Arli key and URL variables are not for the proxy: the core finds its own
            kwargs.setdefault("api_key", None)
            kwargs.setdefault("base_url", None)
        with raise_arli_errors():
            super().__init__(**kwargs)
        # Outside the validators, so a bad setting raises the arli error itself (naming
        # what is allowed) rather than a pydantic ValidationError wrapping it.
        self._build_client()

    def _build_client(self) -> None:
        self._client = client_for_model(
            owner=type(self).__name__,
            provider=self.provider,
            providers=self._providers,
            params=self.sampling_params,
            api_key=self.api_key,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            max_concurrent_requests=self.max_concurrent_requests,
            default_headers=self.default_headers,
            http_client=self.http_client,
            http_async_client=self.http_async_client,
        )

    @property
    def _calls(self) -> TextCalls:
        """The text call layer over this model's client (a tiny view, made per call)."""
        return TextCalls(self._client)

    def _options(self) -> CallOptions:
        """This model's settings for the text call layer (read on each call: fields may change)."""
        return CallOptions(
            model=self.model,
            instance=self.sampling_params,
            extra_body=self.extra_body,
            style=self.guided_decoding_style,
            stream_usage=self.stream_usage,
            check_output=self.check_guided_output,
            allow_local_files=self.allow_local_files,
            allowed_image_hosts=self.allowed_image_hosts,
        )

    @property
    def provider_rules(self) -> tuple[frozenset[str] | None, str]:
        """The parameters the provider accepts (``None``: all) and its name, for checks."""
        return self._client.allowed_params, self._client.provider.label

    @property
    def client(self) -> TextClient:
        """The core text client (pooled connections, retries, limits)."""
        return self._client

    @property
    def lc_secrets(self) -> dict[str, str]:
        """Secrets are serialized as a reference to an environment variable, never by value.

        (LangChain merges ``lc_secrets`` of every class in the MRO with the base classes
        winning, so subclasses set ``_secret_env`` instead of overriding this.)
        """
        return {"api_key": self._secret_env}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """Arli models can be serialized with ``langchain_core.load.dumpd``."""
        return True

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model, **self.sampling_params}

    def _ls_params(
        self, model_type: Literal["chat", "llm"], stop: Any, kwargs: Any
    ) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider=self.provider,
            ls_model_name=kwargs.get("model") or self.model,
            ls_model_type=model_type,
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        ls_stop = stop or kwargs.get("stop") or self.stop
        if ls_stop:
            params["ls_stop"] = [ls_stop] if isinstance(ls_stop, str) else list(ls_stop)
        return params

    def get_num_tokens(self, text: str) -> int:
        """Count the tokens of ``text`` with the model's tokenizer (tokenize endpoint)."""
        return self._client.tokenize(model=self.model, prompt=text).count

    def list_models(self, *, available_on_current_plan: bool | None = None) -> list[ModelInfo]:
        """The models available to the key, with their context length when served.

        Args:
            available_on_current_plan: Featherless: only the models your plan includes
                (True) or every model (False), sent as ``?available_on_current_plan=1``
                or ``=0``; not sent when ``None`` (the server's default).
        """
        return self._client.list_models(available_on_current_plan=available_on_current_plan)

    async def alist_models(
        self, *, available_on_current_plan: bool | None = None
    ) -> list[ModelInfo]:
        """Async :meth:`list_models`."""
        return await self._client.alist_models(available_on_current_plan=available_on_current_plan)

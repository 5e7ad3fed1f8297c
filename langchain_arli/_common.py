"""Fields and plumbing shared by ``ChatArli`` and ``ArliLLM``: connection, guided decoding."""

from __future__ import annotations

import contextlib
import importlib
from typing import Any, ClassVar, Literal

import httpx
from langchain_core.language_models.base import LangSmithParams
from langchain_core.utils import from_env
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from arli._providers import PROVIDERS, TextProvider
from arli._secrets import key_from_env
from arli._settings import _URL_ENV
from arli._text_model import TextModelBase
from arli.text.guided import GuidedStyle

__all__ = ["ArliTextModel", "FeatherlessSettings", "GuidedStyle"]

_FEATHERLESS = PROVIDERS["featherless"]


def _trust_namespace(namespace: str = "langchain_arli") -> None:
    """Let ``langchain_core.load`` import this package, as it does LangChain's partners.

    ``load`` checks a constructor's namespace *after* it has put the secrets of
    ``secrets_map`` into the constructor's arguments, and its refusal quotes them:
    ``load(dumpd(llm), secrets_map=..., allowed_objects=[ChatArli])`` without
    ``valid_namespaces=["langchain_arli"]`` printed the API key. With the package trusted
    like ``langchain_openai``, that call works; which classes may be built stays the
    caller's choice (``allowed_objects``, whose refusal quotes no argument). Only this
    package, already imported, is added.
    """
    with contextlib.suppress(ImportError, AttributeError):  # another langchain-core layout
        # the module: the package's ``load`` attribute is the function of that name
        namespaces = importlib.import_module("langchain_core.load.load").DEFAULT_NAMESPACES
        if isinstance(namespaces, list) and namespace not in namespaces:
            namespaces.append(namespace)


_trust_namespace()


class ArliTextModel(TextModelBase, BaseModel):
    """Connection settings and sampling fields common to the LangChain text models.

    The client is derived from the settings (see :mod:`arli._text_model`): assigning
    ``base_url``, ``api_key``, ``max_retries``, ``timeout``... rebuilds it, an assignment is
    validated like the constructor, and ``model_copy(update=...)`` or ``configurable_fields``
    build a new model with its own client. Every error is an :class:`arli.ArliError`.
    """

    model_config = ConfigDict(
        populate_by_name=True, arbitrary_types_allowed=True, validate_assignment=True
    )

    provider: TextProvider = "arli"
    """``"arli"`` (api.arliai.com, with a key) or ``"arli-proxy"`` (the keyless proxy: no key
    is sent, base URL from ``base_url`` or ``ARLI_PROXY_BASE_URL``, 6 requests in parallel
    at most, counted with its image requests)."""
    model: str = Field(alias="model_name")
    """The model id, e.g. ``"Mistral-Nemo-12B-Instruct-2407"`` (``GET /v1/models``)."""
    api_key: SecretStr | None = Field(default_factory=key_from_env(PROVIDERS["arli"].text_key_env))
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
    stall_timeout: float | None = None
    """Seconds a started stream may go without an event before
    :class:`~arli.StreamStalledError` (saying how many chunks arrived). ``None``:
    ``ARLI_STREAM_STALL_TIMEOUT``, else 120; ``0``: no limit. Per call:
    ``stream(..., stall_timeout=...)``."""
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

    _secret_env: ClassVar[str] = PROVIDERS["arli"].text_key_env[-1]

    @property
    def provider_rules(self) -> tuple[frozenset[str] | None, str]:
        """The parameters the provider accepts (``None``: all) and its name, for checks."""
        return self.client.allowed_params, self.client.provider.label

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
        return self.client.tokenize(model=self.model, prompt=text).count


class FeatherlessSettings(BaseModel):
    """The provider, key and URL fields of the Featherless classes (put first in the bases)."""

    _providers: ClassVar[tuple[str, ...]] = ("featherless",)
    _secret_env: ClassVar[str] = _FEATHERLESS.text_key_env[0]

    provider: TextProvider = "featherless"
    """Always ``"featherless"`` (api.featherless.ai)."""
    api_key: SecretStr | None = Field(default_factory=key_from_env(_FEATHERLESS.text_key_env))
    """The Featherless API key (else ``FEATHERLESS_API_KEY``)."""
    base_url: str | None = Field(
        default_factory=from_env(list(_FEATHERLESS.base_url_env), default=None)
    )
    """Base URL (default ``https://api.featherless.ai``; a trailing ``/v1`` is fine)."""

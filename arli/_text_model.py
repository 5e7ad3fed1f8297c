"""What the framework text models share: settings held in fields, the client derived from them.

``ChatArli``/``ArliLLM`` (LangChain) and ``Arli`` (LlamaIndex) are pydantic models whose
fields are the settings. One rule holds for both frameworks:

- **the client is derived from the connection settings** (provider, key, base URL,
  timeout, retries, parallel limit, headers, injected httpx clients): assigning one of them
  rebuilds the client at once (a bad value raises there, and the old one stays); a copy
  whose settings differ (``model_copy(update=...)``, LangChain's ``configurable_fields``)
  is built and checked like a new object, so it has its own client; a deep copy or an
  unpickled object builds its own pool (injected httpx clients are shared, not copied);
- **assignment validates like construction** (``llm.temperature = -5`` raises the same
  :class:`~arli.ArliValidationError` the constructor does);
- every error of a constructor, an assignment or a copy is an :class:`~arli.ArliError`.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import httpx
from pydantic import ConfigDict, PrivateAttr, SecretStr, field_validator

from arli._errors import ArliConfigError, ArliValidationError
from arli._kwargs import check_model_arguments, raise_arli_errors
from arli._secrets import normalize_key
from arli._settings import check_count, check_seconds
from arli.text.calls import CallOptions, TextCalls
from arli.text.client import TextClient, client_for_model
from arli.text.params import SAMPLER_NAMES, SamplingParams
from arli.text.parse import ModelInfo
from arli.text.payload import check_allowed, instance_params

__all__ = ["CONNECTION_FIELDS", "TextModelBase"]

#: The fields the client is built from (both frameworks' names for the async client).
CONNECTION_FIELDS = frozenset(
    {
        "provider",
        "api_key",
        "base_url",
        "timeout",
        "max_retries",
        "max_concurrent_requests",
        "default_headers",
        "http_client",
        "http_async_client",
        "async_http_client",
    }
)


class TextModelBase(SamplingParams):
    """Sampling fields, the derived client and the copy/assignment rules (see the module)."""

    model_config = ConfigDict(validate_assignment=True)

    _providers: ClassVar[tuple[str, ...]] = ("arli", "arli-proxy")
    #: The field holding the injected async httpx client (the frameworks name it apart).
    _async_client_field: ClassVar[str] = "http_async_client"
    _client: TextClient | None = PrivateAttr(default=None)
    _params: dict[str, Any] | None = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        # Before pydantic sees the data: a misspelled name (min_P) would be dropped silently.
        check_model_arguments(type(self), data, extras="extra_body")
        if data.get("provider") == "arli-proxy":
            # the Arli key and URL variables are not for the proxy: the core finds its own
            data.setdefault("api_key", None)
            data.setdefault("base_url", None)
        if "api_key" in data:  # a SecretStr first: masked even in ValidationError.errors()
            data["api_key"] = normalize_key(data["api_key"])
        with raise_arli_errors(type(self).__name__):
            super().__init__(**data)
        # Outside the validators: a missing key raises ArliConfigError naming the variables.
        self._build_client()

    # -- validation of the settings ---------------------------------------------------------

    @field_validator("api_key", mode="before", check_fields=False)
    @classmethod
    def _normalize_key(cls, value: Any) -> SecretStr | None:
        return normalize_key(value)

    @field_validator("model", mode="before", check_fields=False)
    @classmethod
    def _check_model_id(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            msg = "model must be a model id, not an empty string (list_models() lists them)"
            raise ArliValidationError(msg, field="model", allowed="a model id")
        return value

    @field_validator("timeout", "stall_timeout", "max_retries", mode="before", check_fields=False)
    @classmethod
    def _check_transport_numbers(cls, value: Any, info: Any) -> Any:
        # The core's one rule for durations and counts (bools, strings, NaN, inf refused).
        name = info.field_name
        label = cls.__name__
        if name == "max_retries":
            return check_count(value, name, high=20, label=label)
        if value is None:
            return None
        zero = "no limit" if name == "stall_timeout" else None
        return check_seconds(value, name, zero=zero, label=label)

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__pydantic_private__ is None or name not in type(self).model_fields:
            super().__setattr__(name, value)
            return
        old = self.__dict__.get(name)
        with raise_arli_errors(type(self).__name__):
            super().__setattr__(name, value)  # validate_assignment: checked like __init__
        if name in CONNECTION_FIELDS or name in SAMPLER_NAMES or name == "model":
            try:
                self._settings_changed(name)
            except BaseException:
                self.__dict__[name] = old  # the old setting and its client stay
                self._settings_changed(name)
                raise

    def _settings_changed(self, name: str) -> None:
        """Rebuild what depends on the setting ``name`` (after an assignment)."""
        self._params = None
        if name in CONNECTION_FIELDS:
            self._build_client()
        elif name in SAMPLER_NAMES and self._client is not None:
            check_allowed(self.sampling_params, self._client.allowed_params, self._label)

    @property
    def _label(self) -> str:
        return self._client.provider.label if self._client is not None else self.provider  # type: ignore[attr-defined]

    @property
    def sampling_params(self) -> dict[str, Any]:
        """The parameters set on this model (unset ones are never sent); computed once."""
        params = self._params
        if params is None:
            params = self._params = instance_params(self)
        return params

    # -- the call layer ------------------------------------------------------------------------

    @property
    def _calls(self) -> TextCalls:
        """The text call layer over this model's client (a tiny view, made per call)."""
        return TextCalls(self.client)

    def _options(self) -> CallOptions:
        """This model's settings for the call layer (read on each call: fields may change).

        Each skin declares the fields in its framework's style; those it has are passed.
        """
        fields: dict[str, Any] = self.__dict__
        present = _option_fields(type(self))
        return CallOptions(
            model=fields["model"],
            instance=self.sampling_params,
            **{option: fields[name] for name, option in present},
        )

    # -- the client ----------------------------------------------------------------------------

    def _build_client(self) -> TextClient:
        fields: dict[str, Any] = self.__dict__
        client = client_for_model(
            owner=type(self).__name__,
            provider=fields["provider"],
            providers=self._providers,
            params=self.sampling_params,
            api_key=fields["api_key"],
            base_url=fields["base_url"],
            timeout=fields["timeout"],
            max_retries=fields["max_retries"],
            max_concurrent_requests=fields["max_concurrent_requests"],
            default_headers=fields["default_headers"],
            http_client=fields["http_client"],
            http_async_client=fields[self._async_client_field],
        )
        self._client = client
        self._client_built(client)
        return client

    def _client_built(self, client: TextClient) -> None:
        """Fill settings derived from the provider (not set by the caller)."""
        if "inline_image_urls" in type(self).model_fields and (
            "inline_image_urls" not in self.model_fields_set
        ):
            # the provider's preset: Arli takes base64 only (no validation: it is ours)
            self.__dict__["inline_image_urls"] = client.provider.inline_image_urls

    @property
    def client(self) -> TextClient:
        """The core text client (pooled connections, retries, limits)."""
        return self._client or self._build_client()

    # -- copies --------------------------------------------------------------------------------

    def _shared_clients(self) -> list[httpx.Client | httpx.AsyncClient]:
        clients = (self.__dict__.get("http_client"), self.__dict__.get(self._async_client_field))
        return [c for c in clients if c is not None]

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with ``update``, it is built and checked like a new object (own client).

        Raises:
            ArliError: an update value the constructor would refuse.
        """
        if not update:  # the same settings: a shallow copy may share the pool
            return copy.deepcopy(self) if deep else super().model_copy()
        data = {name: self.__dict__[name] for name in self.model_fields_set}
        if deep:
            memo: dict[int, Any] = {id(c): c for c in self._shared_clients()}
            data = copy.deepcopy(data, memo)
        if "provider" in update and "api_key" not in self.model_fields_set:
            data.pop("api_key", None)  # another provider reads its own variables
        return type(self)(**{**data, **update})

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        # Connection pools and locks are not copied: the copy builds its own client, and
        # shares the httpx clients the caller injected.
        memo = {} if memo is None else memo
        for shared in self._shared_clients():
            memo[id(shared)] = shared
        client, self._client = self._client, None
        try:
            copied = super().__deepcopy__(memo)
        finally:
            self._client = client
        copied._build_client()
        return copied

    def __getstate__(self) -> dict[Any, Any]:
        if self._shared_clients():
            msg = (
                f"{type(self).__name__} cannot be pickled while it holds an httpx client you "
                "passed (http_client=...): pickle one without it (each process builds its "
                "own connection pool)"
            )
            raise ArliConfigError(msg)
        client, self._client = self._client, None  # rebuilt on first use after unpickling
        try:
            return super().__getstate__()
        finally:
            self._client = client

    # -- listings ------------------------------------------------------------------------------

    def list_models(self, *, available_on_current_plan: bool | None = None) -> list[ModelInfo]:
        """The models available to the key, with their context length when served.

        Args:
            available_on_current_plan: Featherless: only the models your plan includes
                (True) or every model (False), sent as ``?available_on_current_plan=1``
                or ``=0``; not sent when ``None`` (the server's default).
        """
        return self.client.list_models(available_on_current_plan=available_on_current_plan)

    async def alist_models(
        self, *, available_on_current_plan: bool | None = None
    ) -> list[ModelInfo]:
        """Async :meth:`list_models`."""
        return await self.client.alist_models(available_on_current_plan=available_on_current_plan)


#: Model field -> :class:`~arli.text.calls.CallOptions` attribute, for the fields a skin has.
_OPTION_NAMES = {
    "extra_body": "extra_body",
    "guided_decoding_style": "style",
    "stream_usage": "stream_usage",
    "check_guided_output": "check_output",
    "inline_image_urls": "inline_image_urls",
    "image_max_bytes": "image_max_bytes",
    "image_fetch_timeout": "image_fetch_timeout",
    "image_max_pixels": "image_max_pixels",
    "allow_local_files": "allow_local_files",
    "allowed_image_hosts": "allowed_image_hosts",
    "send_reasoning": "send_reasoning",
    "stall_timeout": "stall_timeout",
}


@functools.cache
def _option_fields(cls: type[TextModelBase]) -> tuple[tuple[str, str], ...]:
    """The ``(field, option)`` pairs of ``cls`` (looked up once per class)."""
    return tuple((name, opt) for name, opt in _OPTION_NAMES.items() if name in cls.model_fields)

"""Settings: API keys, base URLs, timeouts, retries and concurrency limits.

Keys are resolved in this order, separately for the text and the image API:

1. the specific argument (``text_api_key=`` / ``image_api_key=``),
2. the shared argument (``api_key=``),
3. the specific environment variable (``ARLI_TEXT_KEY`` / ``ARLI_IMAGE_KEY``),
4. the shared environment variable (``ARLIAI_API_KEY``).

Keys are held as :class:`pydantic.SecretStr` and never appear in a repr, a log line, an
exception or a serialized object. Every key, from an argument or the environment, is
normalized by :func:`arli._secrets.normalize_key`: surrounding whitespace is stripped and a
key no HTTP header can carry is refused (without quoting it).

Base URLs: ``base_url=`` or ``ARLI_BASE_URL`` (default ``https://api.arliai.com``), with
separate overrides for each API (``text_base_url=`` / ``ARLI_TEXT_BASE_URL`` and
``image_base_url=`` / ``ARLI_IMAGE_BASE_URL``). A trailing ``/v1`` is removed, so the
OpenAI-style ``https://api.arliai.com/v1`` works too: routes carry their own ``/v1``.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
from collections.abc import Mapping
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from arli._errors import ArliConfigError, ArliValidationError
from arli._kwargs import (
    arli_error_from_validation,
    check_argument_types,
    check_arguments,
    check_model_arguments,
    model_argument_names,
)
from arli._limits import check_limit
from arli._providers import get_provider
from arli._secrets import normalize_key

__all__ = [
    "DEFAULT_BASE_URL",
    "SETTINGS_ARGUMENTS",
    "Api",
    "ArliSettings",
    "TimeoutKind",
    "check_count",
    "check_seconds",
    "normalize_base_url",
]

Api = Literal["text", "image"]
"""The two Arli APIs; each has its own key, base URL, timeouts and concurrency limit."""

TimeoutKind = Literal["text", "image", "listing"]
"""Which read timeout a request uses: text generation, image generation, or a quick listing."""

DEFAULT_BASE_URL = "https://api.arliai.com"

_URL_ENV: dict[Api, str] = {"text": "ARLI_TEXT_BASE_URL", "image": "ARLI_IMAGE_BASE_URL"}


def normalize_base_url(url: str, *, what: str = "base_url") -> str:
    """Validate a base URL and strip trailing slashes and one trailing ``/v1``.

    Raises:
        ArliConfigError: when the URL is not an absolute http(s) URL.
    """
    raw = url.strip()
    try:
        parsed = httpx.URL(raw)
    except (httpx.InvalidURL, TypeError) as exc:
        msg = f"{what}={raw!r} is not a valid URL; expected e.g. {DEFAULT_BASE_URL!r}"
        raise ArliConfigError(msg) from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        msg = f"{what}={raw!r} must be an absolute http(s):// URL, e.g. {DEFAULT_BASE_URL!r}"
        raise ArliConfigError(msg)
    if parsed.query or parsed.fragment:
        msg = f"{what}={raw!r} must not contain a query string or fragment"
        raise ArliConfigError(msg)
    raw = raw.rstrip("/")
    if raw.endswith("/v1"):
        raw = raw[: -len("/v1")]
    return raw


def check_seconds(value: object, field: str, *, zero: str | None = None, label: str = "") -> float:
    """The one rule for a duration a user sets (timeouts, stall limits, backoffs).

    A duration is a finite number of seconds above 0 (or 0 too, where ``zero`` says what
    0 means). A bool or a string is not a number here: ``timeout="3"`` or ``timeout=True``
    are refused, not converted; nor are NaN and infinity.

    Args:
        value: what the user gave.
        field: its name, as the user wrote it (named in the message).
        zero: what 0 means (``"no limit"``...) where 0 is allowed; ``None``: it is not.
        label: the class the message starts with (``""``: none).

    Returns:
        The value as a float.

    Raises:
        ArliValidationError: ``field=value is ...: allowed ...`` (``field`` and ``allowed``
            set on the error).
    """
    allowed = (
        f"a finite number of seconds >= 0 (0: {zero})"
        if zero
        else ("a finite number of seconds > 0")
    )
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        msg = f"{_prefix(label)}{field}={value!r} is not a number of seconds: allowed {allowed}"
        raise ArliValidationError(msg, field=field, allowed=allowed)
    if not math.isfinite(value) or value < 0 or (value == 0 and zero is None):
        msg = f"{_prefix(label)}{field}={value!r} is out of range: allowed {allowed}"
        raise ArliValidationError(msg, field=field, allowed=allowed)
    return float(value)


def check_count(
    value: object, field: str, *, low: int = 0, high: int | None = None, label: str = ""
) -> int:
    """The one rule for a count a user sets (retries, concurrency): a whole number in range.

    Args:
        value: what the user gave (a bool, a float or a string is refused).
        field: its name, as the user wrote it.
        low: the smallest value allowed.
        high: the largest value allowed (``None``: no bound).
        label: the class the message starts with (``""``: none).

    Raises:
        ArliValidationError: naming the field and the range allowed.
    """
    allowed = f"a whole number >= {low}" if high is None else f"a whole number from {low} to {high}"
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"{_prefix(label)}{field}={value!r} is not a whole number: allowed {allowed}"
        raise ArliValidationError(msg, field=field, allowed=allowed)
    if value < low or (high is not None and value > high):
        msg = f"{_prefix(label)}{field}={value!r} is out of range: allowed {allowed}"
        raise ArliValidationError(msg, field=field, allowed=allowed)
    return value


def _prefix(label: str) -> str:
    return f"{label}: " if label else ""


_SETTINGS_LABEL = "invalid Arli settings"

#: The settings that are durations, and what 0 means where it is allowed.
_SECONDS: dict[str, str | None] = {
    "connect_timeout": None,
    "text_timeout": None,
    "image_timeout": None,
    "listing_timeout": None,
    "max_retry_after": "never wait",
    "retry_initial_backoff": "no wait",
    "retry_max_backoff": "no wait",
}


def _env_secret(env: Mapping[str, str], name: str) -> SecretStr | None:
    return normalize_key(env.get(name), what=name)


class ArliSettings(BaseModel):
    """Connection settings shared by every Arli client.

    Build it with :meth:`resolve` to apply arguments and environment variables in the
    documented order; the constructor takes the values as they are.

    Attributes:
        text_api_key: key for the text API (chat, completions, tokenize, models).
        image_api_key: key for the image API (txt2img, img2img, upscale, listings).
        base_url: shared base URL for both APIs.
        text_base_url: base URL override for the text API.
        image_base_url: base URL override for the image API.
        require_key: whether a missing key is an error (False for keyless proxies).
        connect_timeout: seconds to establish a connection.
        text_timeout: read timeout for text generation (per read: a stream may last longer).
        image_timeout: read timeout for image generation and upscaling.
        listing_timeout: read timeout for listings and other quick calls (models, tokenize).
        max_retries: retries after the first attempt for retryable failures.
        retry_read_timeouts: re-send a POST whose response timed out. Off by default: the
            server may still be working on it (and bill it), image generation above all.
        max_retry_after: the longest ``Retry-After`` we wait; a longer one raises at once.
        retry_initial_backoff: the first retry delay in seconds (doubled at each retry).
        retry_max_backoff: the longest computed retry delay.
        image_auth: ``"bearer"`` or ``"basic"`` (the image API accepts both).
        basic_auth_username: user name for Basic auth; ``None`` sends ``base64(key)`` as
            Arli's docs show, a string sends ``base64(user:key)``.
        text_max_concurrency: requests in flight at most for the text API in this process,
            shared by every client of the same key and base URL (``None``: no limit; Arli's
            text limit depends on the plan, the keyless proxy's is 6).
        image_max_concurrency: the same for the image API (Arli allows 6 in parallel). On
            the keyless proxy text and images share one limiter (its 6 counts both).
        default_headers: extra headers sent with every request.
        provider: the preset these settings were resolved for (``"arli"``,
            ``"featherless"``, ``"arli-proxy"``; see :mod:`arli._providers`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str = "arli"
    text_api_key: SecretStr | None = None
    image_api_key: SecretStr | None = None
    base_url: str = DEFAULT_BASE_URL
    text_base_url: str | None = None
    image_base_url: str | None = None
    require_key: bool = True
    connect_timeout: float = Field(default=10.0, gt=0)
    text_timeout: float = Field(default=300.0, gt=0)
    image_timeout: float = Field(default=300.0, gt=0)
    listing_timeout: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=20)
    retry_read_timeouts: bool = False
    max_retry_after: float = Field(default=60.0, ge=0)
    retry_initial_backoff: float = Field(default=0.5, ge=0)
    retry_max_backoff: float = Field(default=8.0, ge=0)
    image_auth: Literal["bearer", "basic"] = "bearer"
    basic_auth_username: str | None = None
    text_max_concurrency: int | None = Field(default=None, ge=1)
    image_max_concurrency: int | None = Field(default=6, ge=1)
    default_headers: dict[str, str] = Field(default_factory=dict)

    def __init__(self, **data: Any) -> None:
        # extra="forbid" would refuse a typo too, but as a ValidationError with no hint.
        check_model_arguments(type(self), data)
        try:
            super().__init__(**data)
        except ValidationError as exc:
            err = arli_error_from_validation(exc, _SETTINGS_LABEL)
            if isinstance(err, ArliConfigError):
                raise err from None
            raise ArliConfigError(str(err)) from None

    @field_validator(*_SECONDS, mode="before")
    @classmethod
    def _check_seconds(cls, value: Any, info: Any) -> float:
        name = info.field_name
        return check_seconds(value, name, zero=_SECONDS[name], label=_SETTINGS_LABEL)

    @field_validator("max_retries", mode="before")
    @classmethod
    def _check_retries(cls, value: Any) -> int:
        return check_count(value, "max_retries", high=20, label=_SETTINGS_LABEL)

    @field_validator("text_max_concurrency", "image_max_concurrency", mode="before")
    @classmethod
    def _check_concurrency(cls, value: Any, info: Any) -> int | None:
        if value is None:
            return None
        return check_count(value, info.field_name, low=1, label=_SETTINGS_LABEL)

    @field_validator("text_api_key", "image_api_key", mode="before")
    @classmethod
    def _normalize_key(cls, value: Any, info: Any) -> SecretStr | None:
        return normalize_key(value, what=info.field_name)

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | SecretStr | None = None,
        text_api_key: str | SecretStr | None = None,
        image_api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        text_base_url: str | None = None,
        image_base_url: str | None = None,
        env: Mapping[str, str] | None = None,
        provider: str = "arli",
        **options: object,
    ) -> ArliSettings:
        """Build settings from arguments, falling back to environment variables.

        The ``provider`` preset decides the defaults: the base URL, the environment
        variables keys come from, whether a key is required (or sent at all: the keyless
        proxy never gets one), the parallel limits and the most it allows. For ``"arli"``
        they are as described in the module docstring.

        Args:
            api_key: key for both APIs.
            text_api_key: key for the text API (wins over ``api_key``).
            image_api_key: key for the image API (wins over ``api_key``).
            base_url: base URL for both APIs (else ``ARLI_BASE_URL``, else the default).
            text_base_url: text API base URL (else ``ARLI_TEXT_BASE_URL``, else ``base_url``).
            image_base_url: image API base URL (else ``ARLI_IMAGE_BASE_URL``, else ``base_url``).
            env: the environment to read (defaults to ``os.environ``).
            provider: the preset (``"arli"``, ``"featherless"``, ``"arli-proxy"``).
            **options: any other :class:`ArliSettings` field.

        Raises:
            ArliConfigError: for an invalid URL or option, or a parallel limit below 1 or
                above what the provider allows.
        """
        check_arguments("ArliSettings.resolve", options, model_argument_names(cls))
        explicit = {"text_base_url": text_base_url, "image_base_url": image_base_url}
        check_argument_types(
            _RESOLVE, {**explicit, "base_url": base_url, "env": env}, "ArliSettings"
        )
        environ: Mapping[str, str] = os.environ if env is None else env
        try:
            preset = get_provider(provider)
        except ValueError as exc:
            raise ArliConfigError(str(exc)) from None
        shared = normalize_key(api_key)
        keys: dict[Api, SecretStr | None] = {}
        specifics: tuple[tuple[Api, str | SecretStr | None, tuple[str, ...]], ...] = (
            ("text", text_api_key, preset.text_key_env),
            ("image", image_api_key, preset.image_key_env),
        )
        for api, specific, names in specifics:
            keys[api] = normalize_key(specific, what=f"{api}_api_key") or shared
            for name in names:
                keys[api] = keys[api] or _env_secret(environ, name)
            if not preset.sends_key:
                keys[api] = None
        env_url = next((environ[n] for n in preset.base_url_env if environ.get(n)), None)
        shared_url = base_url or env_url or preset.base_url
        per_api = preset.name == "arli"  # ARLI_TEXT_BASE_URL / ARLI_IMAGE_BASE_URL
        urls: dict[Api, str | None] = {
            "text": text_base_url or (environ.get(_URL_ENV["text"]) if per_api else None) or None,
            "image": image_base_url
            or (environ.get(_URL_ENV["image"]) if per_api else None)
            or None,
        }
        defaults: dict[str, object] = {
            "provider": preset.name,
            "require_key": preset.require_key,
            "image_max_concurrency": preset.image_max_concurrency,
            "text_max_concurrency": preset.text_max_concurrency,
            "image_timeout": preset.image_timeout,
            "listing_timeout": preset.listing_timeout,
        }
        options = {**defaults, **options}
        for name in ("text_max_concurrency", "image_max_concurrency"):
            check_limit(options[name], name=name, most=preset.max_parallel, service=preset.label)
        try:
            return cls(
                text_api_key=keys["text"],
                image_api_key=keys["image"],
                base_url=normalize_base_url(shared_url),
                text_base_url=normalize_base_url(urls["text"], what="text_base_url")
                if urls["text"]
                else None,
                image_base_url=normalize_base_url(urls["image"], what="image_base_url")
                if urls["image"]
                else None,
                **options,
            )
        except ValueError as exc:
            if isinstance(exc, (ArliConfigError, ArliValidationError)):
                raise
            raise ArliConfigError(f"invalid Arli settings: {exc}") from None

    def api_key_for(self, api: Api) -> SecretStr | None:
        """Return the key used for ``api`` (may be ``None``)."""
        return self.text_api_key if api == "text" else self.image_api_key

    def base_url_for(self, api: Api) -> str:
        """Return the normalized base URL used for ``api``."""
        override = self.text_base_url if api == "text" else self.image_base_url
        return normalize_base_url(override or self.base_url)

    def require_api_key(self, api: Api) -> SecretStr | None:
        """Return the key for ``api``, raising a clear error when one is needed and missing.

        Raises:
            ArliConfigError: naming the argument and environment variables to set.
        """
        key = self.api_key_for(api)
        if key is None and self.require_key:
            preset = get_provider(self.provider)
            names = preset.text_key_env if api == "text" else preset.image_key_env
            where = " or ".join(names) if names else "nothing in the environment"
            msg = (
                f"No API key for the {preset.label} {api} API: pass api_key=... "
                f"(or {api}_api_key=...), or set {where}."
            )
            raise ArliConfigError(msg)
        return key

    def authorization_for(self, api: Api) -> SecretStr | None:
        """Return the ``Authorization`` header value for ``api`` as a secret, or ``None``."""
        key = self.require_api_key(api)
        if key is None:
            return None
        raw = key.get_secret_value()
        if api == "image" and self.image_auth == "basic":
            user = self.basic_auth_username
            token = raw if user is None else f"{user}:{raw}"
            return SecretStr("Basic " + base64.b64encode(token.encode()).decode("ascii"))
        return SecretStr("Bearer " + raw)

    def read_timeout(self, kind: TimeoutKind) -> float:
        """Return the read timeout in seconds for a kind of request."""
        if kind == "image":
            return self.image_timeout
        if kind == "listing":
            return self.listing_timeout
        return self.text_timeout

    def max_concurrency_for(self, api: Api) -> int | None:
        """Return the in-flight limit for ``api`` (``None``: unlimited)."""
        return self.text_max_concurrency if api == "text" else self.image_max_concurrency

    def key_fingerprint(self, api: Api) -> str:
        """A short, non-reversible fingerprint of the key (for limiter and cache keys)."""
        key = self.api_key_for(api)
        if key is None:
            return "-"
        return hashlib.sha256(key.get_secret_value().encode()).hexdigest()[:16]


#: What a client's ``**options`` are passed to (for :func:`arli._kwargs.checks_arguments`).
SETTINGS_ARGUMENTS: tuple[Any, ...] = (ArliSettings.resolve, ArliSettings)

#: The function whose annotations the explicit arguments of ``resolve`` are checked against.
_RESOLVE = ArliSettings.resolve.__func__  # type: ignore[attr-defined]

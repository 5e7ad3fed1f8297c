"""API keys: one normalization rule for every entry point, and scrubbing of error texts.

Every key, wherever it comes from (an argument, an environment variable, a framework's
field), goes through :func:`normalize_key`: surrounding whitespace is stripped (a key
read from a secrets file often ends with a newline), an empty key is no key, and a key
that still cannot travel in an HTTP header (a line break or another control character
inside it, a non-ASCII character) is refused with an :class:`~arli.ArliConfigError` whose
message never contains the key.

The texts of errors raised by httpx/h11 may quote a header value
(``Illegal header value b'Bearer sk-...'``): :func:`scrub_exception` removes header values
and credentials from every message of an exception chain before we build ours from it.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import SecretStr

from arli._errors import ArliConfigError, ArliValidationError

__all__ = ["key_from_env", "normalize_key", "scrub_exception", "scrub_text", "secret_password"]

_REDACTED = "<redacted>"


def _problem(value: str) -> str | None:
    """What makes ``value`` unusable as an HTTP header value, or ``None``."""
    for char in value:
        code = ord(char)
        if code > 0x7E:
            return "a non-ASCII character"
        if (code < 0x20 and char != "\t") or code == 0x7F:
            return "a line break or another control character"
    return None


def normalize_key(value: str | SecretStr | None, *, what: str = "api_key") -> SecretStr | None:
    """The one rule for API keys: strip surrounding whitespace; refuse what no header can carry.

    Args:
        value: the key as given (``None``, a ``str`` or a ``SecretStr``).
        what: the argument or variable named in the error.

    Returns:
        The stripped key as a ``SecretStr``, or ``None`` when it is missing or blank.

    Raises:
        ArliConfigError: the key holds a character an HTTP header cannot carry (the
            message says which kind, never the key).
    """
    if value is None:
        return None
    raw: object = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(raw, str):
        msg = f"{what} must be a string or a SecretStr, not {type(raw).__name__}"
        raise ArliConfigError(msg)
    stripped = raw.strip()
    if not stripped:
        return None
    problem = _problem(stripped)
    if problem is not None:
        msg = (
            f"{what} is not a valid API key: it contains {problem} inside it, which an HTTP "
            "header cannot carry (surrounding whitespace is removed; check how the key was "
            "copied or read)"
        )
        raise ArliConfigError(msg)
    if isinstance(value, SecretStr) and stripped == raw:
        return value
    return SecretStr(stripped)


def secret_password(value: object, *, what: str = "password") -> SecretStr | None:
    """A password (of an encrypted PDF) as a ``SecretStr``, taken as given (not stripped).

    Held so from the first call on, it never shows in a ``repr``, ``vars()`` or a log;
    only the call that opens the document unwraps it.

    Raises:
        ArliValidationError: neither ``None``, a ``str`` nor a ``SecretStr`` (the value is
            not quoted).
    """
    if value is None or isinstance(value, SecretStr):
        return value
    if isinstance(value, str):
        return SecretStr(value)
    msg = f"{what} must be a string or a SecretStr, not {type(value).__name__}"
    raise ArliValidationError(msg, field=what, allowed="str or SecretStr")


def key_from_env(names: Sequence[str]) -> Callable[[], SecretStr | None]:
    """A pydantic ``default_factory``: the first set variable of ``names``, normalized.

    It replaces LangChain's ``secret_from_env``, which keeps the key as it is (a trailing
    newline included).
    """
    names = tuple(names)

    def factory() -> SecretStr | None:
        for name in names:
            key = normalize_key(os.environ.get(name), what=name)
            if key is not None:
                return key
        return None

    return factory


# A quoted header value in an h11/httpx message, and credentials written out anywhere.
_HEADER_VALUE = re.compile(r"(Illegal header (?:value|name) )b?(['\"]).*?(?<!\\)\2", re.DOTALL)
_CREDENTIAL = re.compile(r"\b(Bearer|Basic|Token)\s+[^\s'\"]+", re.IGNORECASE)


def scrub_text(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` without quoted header values, ``Bearer``/``Basic`` credentials or ``secrets``."""
    for secret in secrets:
        if len(secret) >= 8:  # a short value is no key, and would scrub common words
            text = text.replace(secret, _REDACTED).replace(repr(secret)[1:-1], _REDACTED)
    text = _HEADER_VALUE.sub(lambda m: m.group(1) + _REDACTED, text)
    return _CREDENTIAL.sub(lambda m: m.group(1) + " " + _REDACTED, text)


def _scrub_value(value: Any, secrets: Sequence[str]) -> Any:
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, bytes):
        return scrub_text(value.decode("latin-1"), secrets).encode("latin-1")
    return value


def scrub_exception(exc: BaseException, secrets: Sequence[str] = ()) -> None:
    """Scrub header values from the messages of ``exc`` and its whole chain, in place.

    The arguments (what ``str(exc)`` shows) and string attributes such as h11's ``msg``
    of every exception reached through ``__cause__`` and ``__context__`` are rewritten.

    Args:
        exc: the exception (typically an ``httpx.HTTPError``).
        secrets: values to remove wherever they appear (the credential headers sent).
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        with contextlib.suppress(AttributeError, TypeError):  # exotic exception types
            current.args = tuple(_scrub_value(a, secrets) for a in current.args)
        for name in ("msg", "message", "reason"):
            value = getattr(current, name, None)
            if isinstance(value, str | bytes):
                with contextlib.suppress(AttributeError, TypeError):  # read-only attribute
                    setattr(current, name, _scrub_value(value, secrets))
        todo.extend((current.__cause__, current.__context__))

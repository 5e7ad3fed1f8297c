"""Request/response value types and JSON helpers shared by the route handlers.

The HTTP layer (``server.py``) turns bytes into a :class:`Request`, a handler
(the ``text`` / ``images`` packages) turns that into a :class:`Response`, and the HTTP
layer writes it back (possibly mangled by a fault, see ``faults.py``).
"""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "Counters",
    "FLAVORS",
    "Request",
    "Response",
    "Settings",
    "coerce_int",
    "FIELD_KINDS",
    "coerce_value",
    "http_date",
    "json_bytes",
    "json_response",
    "pydantic_error",
    "sse_event",
    "text_response",
]


FLAVORS = ("vllm-0.11", "vllm-0.33", "aphrodite-0.6")
"""Text-engine flavors the reference server can imitate."""


PROVIDERS = ("arli", "featherless", "arli-proxy", "aiart")


@dataclass
class Settings:
    """Runtime configuration shared by the HTTP layer and the route handlers.

    Handlers read these on every request, so tests may change them on a running
    server (e.g. ``srv.settings.token_latency = 0.05``).

    Attributes:
        api_key: Required key, or ``None`` to disable auth checks.
        flavor: One of :data:`FLAVORS`.
        models: Served text model ids; the first is the default.
        max_model_len: Context window of every served model.
        image_parallel_limit: Concurrent image jobs allowed before 429.
        image_latency: Seconds spent per generated image.
        text_latency: Seconds before a text response starts.
        token_latency: Seconds between streamed tokens.
        script: User script entries (consulted before the default script).
        allow_image_urls: Accept non-``data:`` image URLs in chat messages.
        tokenize_v1: Also serve ``/v1/tokenize`` and ``/v1/detokenize``
            (``None`` = flavor default: only Aphrodite).
        sd_models_as_names: ``/sdapi/v1/sd-models`` returns bare name strings.
        samples_format: Initial SDNext ``samples_format`` option (``jpg``/``png``/``webp``).
        provider: Which system the server imitates: ``"arli"`` (text + images),
            ``"featherless"`` (text only, ``owned_by: featherless``, image URLs accepted,
            ``/v1/models?available_on_current_plan=1`` lists the first model only, tokenize
            at ``/v1/tokenize``) or ``"arli-proxy"`` (the keyless proxy: everything under
            ``/api``, images at ``/api/<name>/sdapi/v1/<name>``, upstream errors as 502)
            or ``"aiart"`` (AiArt's keyless ``/api/generate``, ``/api/img2img``,
            ``/api/img2video`` and its polling route; see ``aiart.py``).
        aiart_video_polls: AiArt mode: how many polls of a video job answer 202
            (in progress) before it is complete.
        text_parallel_limit: Text requests (every text route) in flight at once before
            the next gets a 429, as Arli blocks requests over the account's parallel limit
            (``None``: no limit). ``in_flight_text``/``max_in_flight_text`` count them.
        proxy_parallel_limit: Proxy mode: requests of any kind (text and images) in flight
            at once before the next gets a 429 (the proxy documents 6);
            ``in_flight_proxy``/``max_in_flight_proxy`` count them.
    """

    api_key: str | None = None
    flavor: str = "vllm-0.11"
    models: tuple[str, ...] = ("Mistral-Nemo-12B-Instruct-2407", "tiny")
    max_model_len: int = 8192
    image_parallel_limit: int = 6
    image_latency: float = 0.0
    text_latency: float = 0.0
    token_latency: float = 0.0
    script: list[Any] = field(default_factory=list)
    allow_image_urls: bool = False
    tokenize_v1: bool | None = None
    sd_models_as_names: bool = False
    samples_format: str = "jpg"
    provider: str = "arli"
    aiart_video_polls: int = 2
    text_parallel_limit: int | None = None
    proxy_parallel_limit: int = 6

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise ValueError(f"unknown provider {self.provider!r}; expected one of {PROVIDERS}")
        if self.provider in ("featherless", "arli-proxy"):  # both document /v1/tokenize
            if self.provider == "featherless":
                self.allow_image_urls = True
            if self.tokenize_v1 is None:
                self.tokenize_v1 = True
        if self.flavor not in FLAVORS:
            raise ValueError(f"unknown flavor {self.flavor!r}; expected one of {FLAVORS}")
        if not self.models:
            raise ValueError("at least one model must be served")


@dataclass
class Request:
    """A fully received HTTP request.

    Attributes:
        method: Upper-case HTTP method.
        path: Path without the query string.
        query: Query parameters (last value wins).
        headers: Header names lower-cased; repeated headers joined with ``", "``.
        body: Raw body bytes.
        json: The body parsed as JSON, or ``None`` when empty or not JSON.
        json_error: The ``json.JSONDecodeError`` message when the body is not JSON.
        received: ``time.monotonic()`` when the whole request had arrived (0: unknown);
            ``text_latency`` counts from there.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any | None = None
    json_error: str | None = None
    received: float = 0.0

    def wait_left(self, latency: float) -> float:
        """Seconds still to wait for a response due ``latency`` s after the request arrived."""
        if not self.received:
            return latency
        return max(0.0, latency - (time.monotonic() - self.received))

    @property
    def content_type(self) -> str:
        """The media type of the body (lower-cased, parameters stripped)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@dataclass
class Response:
    """A response produced by a handler.

    Either ``body`` (sent with ``Content-Length``) or ``stream`` (an async
    iterator of SSE events, each written as one HTTP chunk) is used.

    Attributes:
        status: HTTP status code.
        headers: Extra headers (``content-type`` etc.), in order.
        body: Body for non-streaming responses.
        stream: SSE events for streaming responses.
        server: Value of the ``server`` header (uvicorn for both engines).
    """

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    server: str = "uvicorn"

    @property
    def is_stream(self) -> bool:
        """Whether the body is streamed (chunked transfer encoding)."""
        return self.stream is not None


def json_bytes(obj: Any) -> bytes:
    """Serialize like Starlette's ``JSONResponse`` / pydantic's ``model_dump_json``.

    Compact separators, non-ASCII characters kept raw (UTF-8).

    Args:
        obj: A JSON-serializable value.

    Returns:
        The UTF-8 encoded JSON text.
    """
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def json_response(status: int, obj: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    """Build a compact ``application/json`` response.

    Args:
        status: HTTP status code.
        obj: JSON-serializable body.
        headers: Extra headers appended after ``content-type``.

    Returns:
        The response.
    """
    hdrs = [("content-type", "application/json"), *(headers or [])]
    return Response(status=status, headers=hdrs, body=json_bytes(obj))


def text_response(
    status: int, text: str, content_type: str = "text/plain; charset=utf-8"
) -> Response:
    """Build a plain-text (or other textual) response.

    Args:
        status: HTTP status code.
        text: Body text.
        content_type: Value of the ``content-type`` header.

    Returns:
        The response.
    """
    return Response(status=status, headers=[("content-type", content_type)], body=text.encode())


def sse_event(payload: str) -> bytes:
    """Frame one server-sent event exactly as vLLM does (``data: …\\n\\n``).

    Args:
        payload: The event data (compact JSON or ``[DONE]``).

    Returns:
        The framed event bytes.
    """
    return f"data: {payload}\n\n".encode()


def http_date() -> str:
    """Return the current time formatted for the ``date`` header."""
    return email.utils.formatdate(usegmt=True)


# ---- a small imitation of pydantic's lax-mode validation ----------------------------

_TRUE_STRINGS = {"1", "true", "t", "yes", "y", "on"}
_FALSE_STRINGS = {"0", "false", "f", "no", "n", "off"}

FIELD_KINDS = (
    "float",
    "int",
    "bool",
    "str",
    "dict",
    "list",
    "strlist",
    "intlist",
    "stop",
    "prompt",
)
"""Field kinds understood by :func:`coerce_value`."""


def pydantic_error(kind: str, loc: tuple[Any, ...], msg: str, value: Any) -> dict[str, Any]:
    """Build one pydantic-style error dict (``loc`` is prefixed with ``"body"``).

    Args:
        kind: pydantic error type (``missing``, ``int_parsing`` …).
        loc: Location below the body.
        msg: Human-readable message, as pydantic words it.
        value: The offending input.

    Returns:
        ``{"type", "loc", "msg", "input"}``.
    """
    return {"type": kind, "loc": ("body", *loc), "msg": msg, "input": value}


def _coerce_float(name: str, value: Any) -> tuple[Any, dict[str, Any] | None]:
    if isinstance(value, (bool, int, float)):
        return float(value), None
    if isinstance(value, str):
        try:
            return float(value.strip()), None
        except ValueError:
            return None, pydantic_error(
                "float_parsing",
                (name,),
                "Input should be a valid number, unable to parse string as a number",
                value,
            )
    return None, pydantic_error("float_type", (name,), "Input should be a valid number", value)


def coerce_int(name: str, value: Any) -> tuple[Any, dict[str, Any] | None]:
    """Coerce like a pydantic ``int`` field in lax mode.

    Args:
        name: Field name (for the error location).
        value: Raw JSON value.

    Returns:
        ``(value, None)`` or ``(None, error dict)``.
    """
    if isinstance(value, bool):
        return int(value), None
    if isinstance(value, int):
        return value, None
    if isinstance(value, float):
        if value.is_integer():
            return int(value), None
        return None, pydantic_error(
            "int_from_float",
            (name,),
            "Input should be a valid integer, got a number with a fractional part",
            value,
        )
    if isinstance(value, str):
        try:
            return int(value.strip()), None
        except ValueError:
            return None, pydantic_error(
                "int_parsing",
                (name,),
                "Input should be a valid integer, unable to parse string as an integer",
                value,
            )
    return None, pydantic_error("int_type", (name,), "Input should be a valid integer", value)


def _coerce_bool(name: str, value: Any) -> tuple[Any, dict[str, Any] | None]:
    if isinstance(value, bool):
        return value, None
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value), None
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE_STRINGS:
            return True, None
        if low in _FALSE_STRINGS:
            return False, None
    if isinstance(value, (str, int, float)):
        return None, pydantic_error(
            "bool_parsing",
            (name,),
            "Input should be a valid boolean, unable to interpret input",
            value,
        )
    return None, pydantic_error("bool_type", (name,), "Input should be a valid boolean", value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_prompt(value: Any) -> bool:
    if isinstance(value, str):
        return True
    if not isinstance(value, list):
        return False
    return (
        all(isinstance(x, str) for x in value)
        or all(_is_int(x) for x in value)
        or all(isinstance(x, list) and all(_is_int(y) for y in x) for x in value)
    )


def _coerce_list(name: str, kind: str, value: Any) -> tuple[Any, list[dict[str, Any]]]:
    if not isinstance(value, list):
        return None, [pydantic_error("list_type", (name,), "Input should be a valid list", value)]
    errors: list[dict[str, Any]] = []
    out: list[Any] = []
    for index, item in enumerate(value):
        if kind == "strlist":
            if isinstance(item, str):
                out.append(item)
            else:
                errors.append(
                    pydantic_error(
                        "string_type", (name, index), "Input should be a valid string", item
                    )
                )
        else:
            coerced, err = coerce_int(name, item)
            if err:
                err["loc"] = ("body", name, index)
                errors.append(err)
            out.append(coerced)
    return out, errors


def coerce_value(name: str, kind: str, value: Any) -> tuple[Any, list[dict[str, Any]]]:
    """Validate and coerce one request field like pydantic's lax mode.

    ``None`` is always accepted (every field is optional here; required
    fields are checked separately).

    Args:
        name: Field name.
        kind: One of :data:`FIELD_KINDS`.
        value: Raw JSON value.

    Returns:
        ``(coerced value, errors)``.
    """
    if value is None:
        return None, []
    simple = {"float": _coerce_float, "int": coerce_int, "bool": _coerce_bool}
    if kind in simple:
        coerced, err = simple[kind](name, value)
        return coerced, [err] if err else []
    plain: dict[str, tuple[type, str, str]] = {
        "str": (str, "string_type", "Input should be a valid string"),
        "dict": (dict, "dict_type", "Input should be a valid dictionary"),
        "list": (list, "list_type", "Input should be a valid list"),
    }
    if kind in plain:
        expected, err_type, msg = plain[kind]
        if isinstance(value, expected):
            return value, []
        return None, [pydantic_error(err_type, (name,), msg, value)]
    if kind in ("strlist", "intlist"):
        return _coerce_list(name, kind, value)
    if kind == "stop":
        if isinstance(value, str):
            return [value], []
        if isinstance(value, list) and all(isinstance(x, str) for x in value):
            return list(value), []
        return None, [
            pydantic_error("string_type", (name, "str"), "Input should be a valid string", value),
            pydantic_error("list_type", (name, "list[str]"), "Input should be a valid list", value),
        ]
    if kind == "prompt":
        if _is_prompt(value):
            return value, []
        return None, [
            pydantic_error("string_type", (name, "str"), "Input should be a valid string", value)
        ]
    return value, []


class Counters:
    """Thread-safe counters behind ``ReferenceServer.stats``."""

    _ZERO: ClassVar[dict[str, Any]] = {
        "requests_total": 0,
        "faults_applied": 0,
        "rate_limited": 0,
        "in_flight_images": 0,
        "max_in_flight_images": 0,
        "in_flight_text": 0,
        "max_in_flight_text": 0,
        "in_flight_proxy": 0,
        "max_in_flight_proxy": 0,
        "images_generated": 0,
        "last_init_image_sizes": None,
        "last_mask_size": None,
    }

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, Any] = dict(self._ZERO)

    def incr(self, name: str, amount: int = 1) -> int:
        """Add ``amount`` to a counter and return the new value."""
        with self._lock:
            self._values[name] = self._values.get(name, 0) + amount
            return int(self._values[name])

    def set(self, name: str, value: Any) -> None:
        """Set a value."""
        with self._lock:
            self._values[name] = value

    def try_acquire_image_slot(self, limit: int) -> bool:
        """Reserve an image-job slot unless ``limit`` jobs are already running.

        Args:
            limit: Maximum concurrent image jobs.

        Returns:
            True if reserved (call :meth:`release_image_slot` later), False if full
            (the ``rate_limited`` counter is incremented).
        """
        with self._lock:
            if self._values["in_flight_images"] >= limit:
                self._values["rate_limited"] += 1
                return False
            self._values["in_flight_images"] += 1
            self._values["max_in_flight_images"] = max(
                self._values["max_in_flight_images"], self._values["in_flight_images"]
            )
            return True

    def release_image_slot(self) -> None:
        """Release a slot reserved by :meth:`try_acquire_image_slot`."""
        self.release_slot("images")

    def try_acquire_slot(self, kind: str, limit: int | None) -> bool:
        """Reserve a slot of ``kind`` (``"text"``, ``"proxy"``) unless ``limit`` are taken.

        ``in_flight_<kind>`` and ``max_in_flight_<kind>`` count the holders.

        Args:
            kind: What is counted.
            limit: Maximum holders at once (``None``: no limit, only counted).

        Returns:
            True if reserved (call :meth:`release_slot` later), False if full (the
            ``rate_limited`` counter is incremented).
        """
        name = f"in_flight_{kind}"
        with self._lock:
            if limit is not None and self._values[name] >= limit:
                self._values["rate_limited"] += 1
                return False
            self._values[name] += 1
            peak = f"max_in_flight_{kind}"
            self._values[peak] = max(self._values[peak], self._values[name])
            return True

    def release_slot(self, kind: str) -> None:
        """Release a slot reserved by :meth:`try_acquire_slot`."""
        with self._lock:
            self._values[f"in_flight_{kind}"] -= 1

    def get(self, name: str) -> Any:
        """Read one value."""
        with self._lock:
            return self._values.get(name)

    def snapshot(self) -> dict[str, Any]:
        """Return a copy of every value."""
        with self._lock:
            return dict(self._values)

    def reset(self) -> None:
        """Zero the counters (jobs still running keep their slots)."""
        with self._lock:
            running = {k: self._values[f"in_flight_{k}"] for k in ("images", "text", "proxy")}
            self._values = dict(self._ZERO)
            for kind, count in running.items():
                self._values[f"in_flight_{kind}"] = count
                self._values[f"max_in_flight_{kind}"] = count

"""Recorded HTTP exchanges (vcrpy cassettes): one configuration for tests and the offline demo.

Requests are matched on method, path and *parsed* JSON body (key order and whitespace do
not matter; the host does not either, so a cassette recorded against a local server replays
for any base URL); binary bodies (multipart uploads) must match byte for byte. Every
credential-bearing header is replaced before a cassette is written, and
:func:`find_secrets` scans cassette text for anything that still looks like a key.

vcrpy is optional (the ``cli`` extra); it is imported only when a cassette is used.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from arli._transport import CREDENTIAL_HEADERS

__all__ = [
    "FILTERED_HEADERS",
    "find_secrets",
    "json_body_matcher",
    "scrub_request",
    "scrub_response",
    "use_cassette",
    "vcr_config",
]

#: Request and response headers that are never written to a cassette.
FILTERED_HEADERS = (*CREDENTIAL_HEADERS, "set-cookie")
_PLACEHOLDER = "REDACTED"

_SECRET_PATTERNS = [
    re.compile(r"(?i)\b(?:Bearer|Basic)\s+(?!REDACTED\b)[A-Za-z0-9+/=._\-]{8,}"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"),
    re.compile(
        r"(?i)['\"]?(?:api[_-]?key|authorization|x-api-key)['\"]?\s*[:=]\s*"
        r"\[?\s*['\"]?(?!REDACTED)(?!\s*\])[A-Za-z0-9+/=._\-]{12,}"
    ),
]


def _body_text(body: Any) -> str | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return str(body)


def _raw(body: Any) -> bytes:
    if body is None:
        return b""
    return body if isinstance(body, bytes) else str(body).encode()


def _normalized(body: Any) -> Any:
    """Tool descriptions are compared after ``inspect.cleandoc``, tool-call ids by position.

    Python 3.13 dedents docstrings at compile time, so a tool's description differs between
    the Python that recorded a cassette and the one replaying it. Tool-call ids in a
    conversation's history may be random per run (LangChain's ``tool_example_to_messages``
    gives each example a new uuid4): each distinct id becomes ``call_<n>``, numbered in
    order of first appearance, so the same conversation matches whatever its ids were.
    """
    if not isinstance(body, dict):
        return body
    if isinstance(body.get("tools"), list):
        for tool in body["tools"]:
            fn = tool.get("function") if isinstance(tool, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("description"), str):
                fn["description"] = inspect.cleandoc(fn["description"])
    ids: dict[str, str] = {}

    def same(value: Any) -> Any:
        return ids.setdefault(value, f"call_{len(ids)}") if isinstance(value, str) else value

    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict) and "id" in call:
                call["id"] = same(call["id"])
        if "tool_call_id" in message:
            message["tool_call_id"] = same(message["tool_call_id"])
    return body


_DATA_URI = re.compile(r"data:(image/[\w.+-]+);base64,[A-Za-z0-9+/=]+")


def _without_images(text: str | None) -> str | None:
    """The body with every base64 image replaced by its MIME type."""
    return None if text is None else _DATA_URI.sub(r"data:\1;base64,<image>", text)


def _masked(text: str | None) -> str | None:
    """Base64 images and tool results blanked out (see the matcher below)."""
    text = _without_images(text)
    if not text or '"tool"' not in text:
        return text
    try:
        body = json.loads(text)
    except ValueError:
        return text
    for message in body.get("messages") or [] if isinstance(body, dict) else []:
        if isinstance(message, dict) and message.get("role") == "tool":
            message["content"] = "<tool result>"
    return json.dumps(body)


def json_body_matcher_ignoring_images(r1: Any, r2: Any) -> None:
    """Like :func:`json_body_matcher`, but blind to base64 images and tool results.

    For recordings whose request bodies carry machine-dependent bytes: rendered page
    images (their bytes depend on the renderer's version) and tool results (they name
    local file paths). Replay such cassettes in recorded order
    (``allow_playback_repeats=False``).
    """

    class _Masked:
        def __init__(self, request: Any):
            self.body = _masked(_body_text(request.body))

    json_body_matcher(_Masked(r1), _Masked(r2))


def json_body_matcher(r1: Any, r2: Any) -> None:
    """Vcrpy matcher: equal parsed JSON bodies (or equal raw bodies when not JSON).

    Raises:
        AssertionError: when the bodies differ (vcrpy's matcher protocol).
    """
    t1, t2 = _body_text(r1.body), _body_text(r2.body)
    if t1 is None and t2 is None and _raw(r1.body) != _raw(r2.body):
        # Binary bodies (multipart uploads) must be byte for byte the same.
        msg = f"binary request bodies differ ({len(_raw(r1.body))} and {len(_raw(r2.body))} bytes)"
        raise AssertionError(msg)
    if t1 == t2:
        return
    try:
        j1 = _normalized(json.loads(t1)) if t1 else None
        j2 = _normalized(json.loads(t2)) if t2 else None
    except ValueError:
        j1 = j2 = None
    if j1 is not None and j1 == j2:
        return
    msg = f"request bodies differ: {(t1 or '')[:200]!r} != {(t2 or '')[:200]!r}"
    raise AssertionError(msg)


def scrub_request(request: Any) -> Any:
    """Drop query-string credentials before a request is recorded."""
    for name in ("api_key", "key", "token"):
        if f"{name}=" in request.uri:
            request.uri = re.sub(rf"([?&]{name}=)[^&]+", rf"\1{_PLACEHOLDER}", request.uri)
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """Remove credential headers (cookies) from a response before it is recorded."""
    headers = response.get("headers") or {}
    for name in list(headers):
        if name.lower() in FILTERED_HEADERS:
            headers[name] = [_PLACEHOLDER]
    return response


def vcr_config(**overrides: Any) -> dict[str, Any]:
    """The vcrpy configuration shared by the test suite and ``arli demo``.

    Note that no ``record_mode`` is set: the pytest ``--record-mode`` option decides
    (``none`` by default, so a missing cassette fails instead of reaching the network).
    """
    config: dict[str, Any] = {
        "filter_headers": [(name, _PLACEHOLDER) for name in FILTERED_HEADERS],
        "match_on": ["method", "path", "json_body"],
        "allow_playback_repeats": True,
        "decode_compressed_response": True,
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
    }
    config.update(overrides)
    return config


def register(vcr: Any) -> None:
    """Register our matchers on a :class:`vcr.VCR` instance."""
    vcr.register_matcher("json_body", json_body_matcher)
    vcr.register_matcher("json_body_ignoring_images", json_body_matcher_ignoring_images)


@contextmanager
def use_cassette(
    path: str | Path, *, record_mode: str = "none", ignore_images: bool = False
) -> Iterator[Any]:
    """Replay (or record) the exchanges in the cassette at ``path`` (needs vcrpy).

    With ``ignore_images``, base64 images in request bodies are not compared and every
    recorded exchange is played once, in order.
    """
    try:
        import vcr  # noqa: PLC0415 - optional dependency
    except ImportError as exc:  # pragma: no cover - depends on the environment
        msg = "replaying cassettes needs vcrpy: pip install 'arli-integrations[cli]'"
        raise ImportError(msg) from exc
    recorder = vcr.VCR()
    register(recorder)
    overrides: dict[str, Any] = {"record_mode": record_mode}
    if ignore_images:
        overrides["match_on"] = ["method", "path", "json_body_ignoring_images"]
        overrides["allow_playback_repeats"] = False
    with recorder.use_cassette(str(path), **vcr_config(**overrides)) as cassette:
        yield cassette


def find_secrets(text: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Return the snippets of ``text`` that look like credentials.

    Args:
        text: cassette (or any) text.
        extra: known secret values to look for as well (e.g. the key in the environment).
    """
    hits: list[str] = []
    for pattern in _SECRET_PATTERNS:
        hits.extend(m.group(0)[:60] for m in pattern.finditer(text))
    for value in extra:
        if value and len(value) >= 8 and value in text:
            hits.append(value[:4] + "…")
    return hits

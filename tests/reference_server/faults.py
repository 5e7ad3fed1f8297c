"""Fault injection: make the next N matching requests fail in a chosen way.

Faults are queued on the server (:meth:`ReferenceServer.add_fault` or
``POST /_control/faults``) and consumed in FIFO order: each fully received,
non-control request takes the first queued fault whose ``path`` (and optional
``method``) matches. The HTTP layer (``server.py``) then applies it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
import random
import threading
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FAULT_KINDS",
    "STREAM_FAULT_KINDS",
    "Fault",
    "FaultQueue",
    "html_502_page",
    "large_json_body",
    "malformed_json_body",
]

FAULT_KINDS = frozenset(
    {
        "status",
        "html_502",
        "malformed_json",
        "drop_before_response",
        "drop_mid_stream",
        "truncate_sse",
        "stream_error",
        "stall_mid_stream",
        "delay",
        "hang",
        "large_body",
    }
)
"""Every supported ``Fault.kind``."""

STREAM_FAULT_KINDS = frozenset(
    {"drop_mid_stream", "truncate_sse", "stream_error", "stall_mid_stream"}
)
"""Kinds applied to the normal response after it has been produced."""


@dataclass
class Fault:
    """A fault to inject.

    Attributes:
        path: Exact request path, or ``"*"`` for any non-control path.
        kind: One of :data:`FAULT_KINDS`:

            * ``status``: respond with ``status`` / ``body`` / ``headers``.
            * ``html_502``: 502 with an nginx-style HTML error page.
            * ``malformed_json``: 200 ``application/json`` with a truncated body.
            * ``drop_before_response``: read the request, then reset the TCP
              connection (RST, ``SO_LINGER`` 0) without sending a byte.
            * ``drop_mid_stream``: streams: headers and ``after_events`` SSE
              events, then RST; other responses: headers and half the body, then RST.
            * ``truncate_sse``: ``after_events`` events, then a clean end of the
              chunked body (no finish chunk, no ``[DONE]``). Non-stream
              responses are sent chunked with only the first half of the body.
            * ``stream_error``: ``after_events`` events, then vLLM's in-stream
              error event and ``[DONE]`` (HTTP 200). Non-stream requests get
              the engine's 400 error body instead.
            * ``stall_mid_stream``: streams: headers and ``after_events`` events, then
              nothing for ``delay`` seconds (the connection open), then the connection
              is closed; other responses: as ``truncate_sse``.
            * ``delay``: sleep ``delay`` seconds, then respond normally.
            * ``hang``: never respond; wait until the client disconnects.
            * ``large_body``: 200 with a valid JSON body of about ``size`` bytes.
        times: Number of matching requests affected; ``-1`` = forever.
        status: Status code for ``kind="status"``.
        body: For ``kind="status"``: a dict (sent as JSON) or raw text; ``None``
            = the engine's usual error body for that status.
        headers: Extra response headers (e.g. ``{"Retry-After": "1"}``).
        after_events: Stream faults: number of SSE events sent first.
        delay: Seconds to wait for ``kind="delay"``.
        size: Approximate body size in bytes for ``kind="large_body"``.
        method: Only match this HTTP method (case-insensitive) when set.
        probability: The chance that a matching request gets the fault (1.0: every one;
            a request spared takes the next matching fault, if any). With ``times=-1``
            this injects faults at random (see ``FaultQueue(seed=...)``).
        image_size: Only match a request whose messages carry a base64 image of this size
            (``"WxH"``), so a fault hits one page of a document whatever the order in which
            the pages are sent.
    """

    path: str
    kind: str
    times: int = 1
    status: int = 503
    body: str | dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    after_events: int = 2
    delay: float = 0.0
    size: int = 5_000_000
    method: str | None = None
    probability: float = 1.0
    image_size: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(
                f"unknown fault kind {self.kind!r}; expected one of {sorted(FAULT_KINDS)}"
            )
        if self.times == 0 or self.times < -1:
            raise ValueError("times must be a positive count or -1 (forever)")
        if not 0.0 < self.probability <= 1.0:
            raise ValueError("probability must be in (0, 1]")

    def matches(self, method: str, path: str, body: Any = None) -> bool:
        """Return whether this fault applies to a request.

        Args:
            method: The request method.
            path: The request path (no query string).
            body: The request's JSON body (read only for ``image_size``).

        Returns:
            True if path and method match (and the image size, when set).
        """
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path not in ("*", path):
            return False
        return self.image_size is None or self.image_size in image_sizes(body)

    def to_json(self) -> dict[str, Any]:
        """Return the fault as a JSON-compatible dict (the control-endpoint format)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """Build a fault from the JSON body of ``POST /_control/faults``.

        Args:
            data: Mapping with the dataclass field names; unknown keys are rejected.

        Returns:
            The fault.

        Raises:
            ValueError: On unknown keys, a bad kind or bad values.
        """
        if not isinstance(data, dict):
            raise ValueError("fault must be a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(str(exc)) from exc


class FaultQueue:
    """Thread-safe FIFO of pending faults.

    Args:
        seed: seeds the generator that decides faults with a ``probability`` below 1.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._rng = random.Random(seed)

    def add(self, fault: Fault) -> None:
        """Queue a fault (a copy, so later edits to the caller's object don't leak in)."""
        with self._lock:
            self._faults.append(dataclasses.replace(fault))

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        """Return a snapshot of the pending faults."""
        with self._lock:
            return [dataclasses.replace(f) for f in self._faults]

    def take(self, method: str, path: str, body: Any = None) -> Fault | None:
        """Consume one use of the first fault matching a request.

        Args:
            method: Request method.
            path: Request path.
            body: The request's JSON body (for faults with ``image_size``).

        Returns:
            A copy of the fault to apply, or ``None``.
        """
        with self._lock:
            for index, fault in enumerate(self._faults):
                if not fault.matches(method, path, body):
                    continue
                if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                    continue
                applied = dataclasses.replace(fault)
                if fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        del self._faults[index]
                return applied
        return None


def image_sizes(body: Any) -> set[str]:
    """The sizes (``"WxH"``) of the base64 images in a chat request's messages."""
    from PIL import Image  # only faults with image_size need Pillow

    sizes: set[str] = set()
    messages = body.get("messages") if isinstance(body, dict) else None
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            image = part.get("image_url") if isinstance(part, dict) else None
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url.startswith("data:") or "," not in url:
                continue
            try:
                data = base64.b64decode(url.split(",", 1)[1])
                with Image.open(io.BytesIO(data)) as img:
                    sizes.add(f"{img.width}x{img.height}")
            except (binascii.Error, OSError, ValueError):
                continue
    return sizes


def html_502_page() -> str:
    """Return a realistic reverse-proxy 502 page (nginx behind Cloudflare style)."""
    return (
        "<html>\r\n"
        "<head><title>502 Bad Gateway</title></head>\r\n"
        "<body>\r\n"
        "<center><h1>502 Bad Gateway</h1></center>\r\n"
        "<hr><center>nginx</center>\r\n"
        "</body>\r\n"
        "</html>\r\n"
    )


def malformed_json_body(path: str) -> bytes:
    """Return a truncated (invalid) JSON body shaped like the route's normal answer.

    Args:
        path: Request path, used to choose a plausible prefix.

    Returns:
        Invalid JSON bytes.
    """
    if "completions" in path:
        return (
            b'{"id":"chatcmpl-0123456789abcdef","object":"chat.completion","created":1767225600,'
            b'"model":"Mistral-Nemo-12B-Instruct-2407","choices":[{"index":0,"message":'
            b'{"role":"assistant","content":"Hello! How can I'
        )
    if "img" in path or "sdapi" in path:
        return b'{"images":["/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDA'
    return b'{"object":"list","data":[{"id":"Mistral-Nemo-12B-Instruct-2407","object":"mod'


def large_json_body(path: str, size: int, model: str) -> bytes:
    """Return a valid JSON body of roughly ``size`` bytes.

    For the chat/completions routes it is a well-formed (non-stream) response
    whose text is long; otherwise a generic object with a long string.

    Args:
        path: Request path.
        size: Target size in bytes.
        model: Model name to put in completion responses.

    Returns:
        The JSON bytes.
    """
    filler_len = max(0, size - 400)
    filler = ("lorem ipsum " * (filler_len // 12 + 1))[:filler_len]
    if path.endswith("/chat/completions"):
        head = (
            '{"id":"chatcmpl-large","object":"chat.completion","created":1767225600,'
            f'"model":"{model}","choices":[{{"index":0,"message":{{"role":"assistant","content":"'
        )
        tail = (
            '","tool_calls":[]},"logprobs":null,"finish_reason":"length","stop_reason":null}],'
            '"usage":{"prompt_tokens":1,"total_tokens":2,"completion_tokens":1}}'
        )
    elif path.endswith("/completions"):
        head = (
            '{"id":"cmpl-large","object":"text_completion","created":1767225600,'
            f'"model":"{model}","choices":[{{"index":0,"text":"'
        )
        tail = (
            '","logprobs":null,"finish_reason":"length","stop_reason":null}],'
            '"usage":{"prompt_tokens":1,"total_tokens":2,"completion_tokens":1}}'
        )
    else:
        head, tail = '{"object":"large","data":"', '"}'
    return (head + filler + tail).encode()

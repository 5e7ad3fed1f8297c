r"""Server-sent events: an incremental decoder and the JSON-stream layer on top of it.

The decoder follows the WHATWG event-stream rules: lines end with CRLF, LF or CR (also
when a CRLF is split across two network reads), ``data:`` lines of one event are joined
with ``\n``, lines starting with ``:`` are comments (keep-alives), ``event:``/``id:``/
``retry:`` are kept, and a blank line dispatches the event. UTF-8 split across reads is
decoded correctly.

:class:`JSONEventStream` turns events into parsed JSON payloads the way OpenAI-compatible
servers use them: ``data: [DONE]`` ends the stream, an ``{"error": ...}`` object sent inside
the stream raises the matching :class:`~arli.ArliStatusError`, and undecodable data raises
:class:`~arli.ArliResponseError`.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from arli._errors import ArliResponseError, error_from_stream_event

__all__ = [
    "JSONEventStream",
    "SSEDecoder",
    "ServerSentEvent",
    "aiter_sse",
    "iter_sse",
]


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Incremental event-stream decoder: feed bytes, get complete events."""

    __slots__ = ("_buffer", "_data", "_event", "_has_data", "_id", "_pending_cr", "_retry", "_utf8")

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._pending_cr = False
        self._data: list[str] = []
        self._has_data = False
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode a chunk of bytes; return the events it completed."""
        text = self._utf8.decode(chunk)
        if not text:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if text.startswith("\n"):
                text = text[1:]
        events: list[ServerSentEvent] = []
        buf = self._buffer + text
        start = 0
        length = len(buf)
        while True:
            cr = buf.find("\r", start)
            lf = buf.find("\n", start)
            if cr == -1 and lf == -1:
                break
            if cr == -1 or (lf != -1 and lf < cr):
                end, nxt = lf, lf + 1
            elif cr + 1 < length:
                end = cr
                nxt = cr + 2 if buf[cr + 1] == "\n" else cr + 1
            else:  # a CR at the very end: its LF may come with the next chunk
                end, nxt = cr, cr + 1
                self._pending_cr = True
            event = self._line(buf[start:end])
            if event is not None:
                events.append(event)
            start = nxt
        self._buffer = buf[start:]
        return events

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: dispatch an event whose lines all ended but whose blank line is missing.

        A line cut off in the middle (no line ending) is discarded: it is a truncated
        transmission, and callers detect that through the missing ``[DONE]``. A complete
        ``data: [DONE]`` line without the final blank line still counts.
        """
        self._utf8.decode(b"", final=True)
        self._buffer = ""
        self._pending_cr = False
        events: list[ServerSentEvent] = []
        if self._has_data:
            event = self._line("")
            if event is not None:
                events.append(event)
        self._reset_event()
        return events

    def _reset_event(self) -> None:
        self._data = []
        self._has_data = False
        self._event = ""

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            if not self._has_data:
                self._reset_event()
                return None
            event = ServerSentEvent(
                data="\n".join(self._data),
                event=self._event or "message",
                id=self._id,
                retry=self._retry,
            )
            self._reset_event()
            return event
        if line[0] == ":":
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None


def iter_sse(chunks: Iterable[bytes]) -> Iterator[ServerSentEvent]:
    """Yield the events of a byte stream."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.flush()


async def aiter_sse(chunks: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    """Yield the events of an async byte stream."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.flush():
        yield event


_DONE = object()


class JSONEventStream:
    """Turns SSE events of an OpenAI-style stream into JSON payloads.

    Call :meth:`decode` for each event: it returns the parsed payload, or ``None`` for
    events that carry nothing (empty data); after ``[DONE]``, :attr:`done` is True and the
    caller stops reading. An error object sent inside the stream is raised as the matching
    :class:`~arli.ArliStatusError`; undecodable JSON as :class:`~arli.ArliResponseError`.
    """

    __slots__ = ("done", "events", "method", "request_id", "url")

    def __init__(
        self, *, method: str | None = None, url: str | None = None, request_id: str | None = None
    ):
        self.done = False
        self.events = 0
        self.method = method
        self.url = url
        self.request_id = request_id

    def decode(self, event: ServerSentEvent) -> dict[str, Any] | None:
        """Parse one event; see the class docstring."""
        data = event.data
        if not data or data.isspace():
            return None
        if data == "[DONE]" or data.strip() == "[DONE]":
            self.done = True
            return None
        try:
            payload = json.loads(data)
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            snippet = data if len(data) <= 200 else data[:199] + "…"
            msg = f"the server sent an event that is not valid JSON: {snippet!r}"
            raise ArliResponseError(msg, body=snippet) from None
        if not isinstance(payload, dict):
            msg = f"the server sent an event that is not a JSON object: {data[:200]!r}"
            raise ArliResponseError(msg, body=data[:200])
        if event.event == "error" or ("error" in payload and "choices" not in payload):
            raise error_from_stream_event(
                payload, request_id=self.request_id, method=self.method, url=self.url
            )
        self.events += 1
        return payload

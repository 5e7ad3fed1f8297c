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
from typing import Any, NamedTuple

from arli._errors import ArliResponseError, error_from_stream_event

__all__ = [
    "JSONEventStream",
    "SSEDecoder",
    "ServerSentEvent",
    "aiter_sse",
    "iter_sse",
]


class ServerSentEvent(NamedTuple):
    """One dispatched event.

    Immutable: a tuple, made once per event (cheaper than a frozen dataclass;
    bench/results.md, 'SSE lines').
    """

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
        """Decode a chunk of bytes; return the events it completed.

        The usual chunk (whole UTF-8, LF line endings, ``data:`` lines) takes a short way:
        decoded in one call, split once, ``data:`` lines read inline; the same events as
        the general line loop (``test_lf_streams_decode_like_crlf_and_cr_streams``), the
        saving per token in bench/results.md, 'SSE lines'.
        """
        utf8 = self._utf8
        if utf8.buffer:  # the start of a character split by the previous read
            text = utf8.decode(chunk)
        else:
            try:
                text = chunk.decode()
            except UnicodeDecodeError:  # split at the end, or invalid: the incremental way
                text = utf8.decode(chunk)
        if not text:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if text.startswith("\n"):
                text = text[1:]
        if (
            not self._buffer
            and not self._has_data
            and not self._event
            and text.startswith("data: ")
            and text.find("\n") == len(text) - 2
            and text.endswith("\n\n")
            and "\r" not in text
        ):  # exactly one whole event of one data line: the usual network read
            return [ServerSentEvent(text[6:-2], "message", self._id, self._retry)]
        buf = self._buffer + text if self._buffer else text
        if "\r" in buf:
            return self._lines(buf)
        lines = buf.split("\n")
        self._buffer = lines.pop()  # the unfinished last line ("" after a line ending)
        events: list[ServerSentEvent] = []
        for line in lines:
            if line.startswith("data:"):
                self._data.append(line[6:] if line.startswith(" ", 5) else line[5:])
                self._has_data = True
            elif line:
                self._field(line)
            elif self._has_data:
                events.append(self._dispatch())
            else:
                self._reset_event()
        return events

    def _lines(self, buf: str) -> list[ServerSentEvent]:
        """:meth:`feed` for text with CRs: lines end with CRLF, LF or CR."""
        events: list[ServerSentEvent] = []
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
            if end > start:
                self._field(buf[start:end])
            elif self._has_data:
                events.append(self._dispatch())
            else:
                self._reset_event()
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
        events = [self._dispatch()] if self._has_data else []
        self._reset_event()
        return events

    def _reset_event(self) -> None:
        self._data = []
        self._has_data = False
        self._event = ""

    def _dispatch(self) -> ServerSentEvent:
        """The event the blank line ends (it has data)."""
        data = self._data
        event = ServerSentEvent(
            data[0] if len(data) == 1 else "\n".join(data),
            self._event or "message",
            self._id,
            self._retry,
        )
        self._data = []
        self._has_data = False
        self._event = ""
        return event

    def _field(self, line: str) -> None:
        """A non-blank line: a comment or a field."""
        if line[0] == ":":
            return
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
        if data[:1] != "{":  # not an object: nothing, the end, or an error below
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

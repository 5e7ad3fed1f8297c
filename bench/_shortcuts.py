"""What each fast-path shortcut of the hot path saves, measured paired in the bench run.

Code comments point here by name (``bench/results.md, 'SSE lines'``...) instead of holding
figures. Each shortcut is timed against the general way it stands in for, on the same
input, interleaved round by round (:func:`bench._common.paired_rounds`); a figure is the
median per-round saving of one operation. A shortcut that stopped paying shows up here as
a figure near zero (or negative).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from bench._common import paired_rounds

__all__ = ["saving_lines"]

_BATCH = 200
_ROUNDS = 100


def _saving(slow: Callable[[], object], fast: Callable[[], object]) -> float:
    """Median seconds ``fast`` saves over ``slow`` per operation (paired rounds)."""

    def many(function: Callable[[], object]) -> Callable[[], object]:
        return lambda: [function() for _ in range(_BATCH)]

    series = paired_rounds({"slow": many(slow), "fast": many(fast)}, rounds=_ROUNDS)
    pairs = zip(series["slow"], series["fast"], strict=True)
    return statistics.median(s - f for s, f in pairs) / _BATCH


def _event() -> tuple[bytes, dict[str, Any]]:
    from bench.hotpath import answer_events

    raw = answer_events(3)[2]  # a content-only chunk, as the reference server sends it
    import json

    return raw, json.loads(raw[6:-2])


def _sse(raw: bytes) -> float:
    """One whole one-data-line event per read, against the general line loop."""
    from arli._sse import SSEDecoder

    fast_decoder, general_decoder = SSEDecoder(), SSEDecoder()

    def fast() -> object:
        fast_decoder._event = ""
        return fast_decoder.feed(raw)

    def general() -> object:
        # an earlier "event: message" field: the same event, by the general loop
        general_decoder._event = "message"
        return general_decoder.feed(raw)

    return _saving(general, fast)


def _chunk(payload: dict[str, Any]) -> tuple[float, float]:
    """Parsing a content-only chunk, and turning it into a LangChain chunk, short vs general."""
    from arli.text.parse import _chat_chunk, _text_chunk
    from langchain_arli._convert import _delta_generation, chunk_to_generation

    parse = _saving(lambda: _chat_chunk(payload), lambda: _text_chunk(payload))
    chunk = _chat_chunk(payload)
    delta = chunk.choices[0]
    convert = _saving(lambda: _delta_generation(chunk, delta), lambda: chunk_to_generation(chunk))
    return parse, convert


def _options() -> tuple[float, float]:
    """A skin's per-call options unchecked vs checked; a private read direct vs pydantic's."""
    from arli._kwargs import unchecked
    from arli.text.calls import CallOptions
    from llama_index_arli import Arli

    llm = Arli(model="m", api_key="k", base_url="http://bench.invalid")
    fields = llm._options()
    kwargs = {name: getattr(fields, name) for name in CallOptions.__dataclass_fields__}
    build = unchecked(CallOptions)
    options = _saving(lambda: CallOptions(**kwargs), lambda: build(**kwargs))
    private = llm.__pydantic_private__
    assert private is not None
    read = _saving(lambda: llm._client, lambda: private["_client"])
    return options, read


def _cookies() -> float:
    """A response without Set-Cookie given to our clients' cookie store vs httpx's own."""
    import httpx

    from arli._transport.wire import LazyCookies

    request = httpx.Request(
        "POST",
        "http://bench.invalid/v1/chat/completions",
        headers={"authorization": "Bearer k", "content-type": "application/json"},
        content=b"{}",
    )
    response = httpx.Response(
        200, headers={"content-type": "application/json", "content-length": "2"}, request=request
    )
    lazy, plain = LazyCookies(), httpx.Cookies()
    return _saving(lambda: plain.extract_cookies(response), lambda: lazy.extract_cookies(response))


def saving_lines() -> list[str]:
    """The markdown list items, one per shortcut, measured now."""
    raw, payload = _event()
    sse = _sse(raw)
    parse, convert = _chunk(payload)
    options, read = _options()
    cookies = _cookies()

    def us(seconds: float) -> str:
        return f"{seconds * 1e6:.2f} µs"

    return [
        f"- 'SSE lines': a network read of exactly one `data:` event, decoded without the "
        f"line loop, saves {us(sse)} per streamed token (arli._sse.SSEDecoder.feed).",
        f"- 'content-only chunks': a chunk that only adds text, parsed the short way, saves "
        f"{us(parse)} per streamed token (arli.text.parse); its LangChain chunk built with "
        f"fewer fields saves {us(convert)} more (langchain_arli._convert).",
        f"- 'per-call options': a skin's CallOptions built without the typo checks saves "
        f"{us(options)} per call; reading the text model's cached client or parameters "
        f"from pydantic's private store saves {us(read)} per read (two or more a call).",
        f"- 'cookie-less responses': a response without Set-Cookie, not handed to the stdlib "
        f"cookie jar by our clients' store, saves {us(cookies)} per call and per stream "
        f"(arli._transport.wire.LazyCookies).",
    ]

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
    """A content-only chunk parsed short vs general; merged without parsing vs parsed+added."""
    from arli.text.accumulate import ChatStreamAccumulator
    from arli.text.parse import _chat_chunk, _text_chunk, parse_chat_chunk

    parse = _saving(lambda: _chat_chunk(payload), lambda: _text_chunk(payload))
    acc = ChatStreamAccumulator()
    acc.add(parse_chat_chunk(payload))  # the stream's first chunk begins choice 0
    assert acc.add_text(payload) is not None
    deltas = _saving(lambda: acc.add(parse_chat_chunk(payload)), lambda: acc.add_text(payload))
    return parse, deltas


def _stamps(text: str) -> tuple[float, float]:
    """The stream objects of a text-only chunk stamped vs constructed (LangChain, LlamaIndex)."""
    from langchain_core.messages import AIMessageChunk
    from langchain_core.outputs import ChatGenerationChunk
    from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole, TextBlock

    from arli.text.accumulate import ChatStreamAccumulator
    from langchain_arli._convert import text_generation
    from llama_index_arli._convert import ChatStream

    def lc_built() -> object:
        metadata = {"model_provider": "arli"}
        message = AIMessageChunk(content=text, id="chatcmpl-1", response_metadata=metadata)
        return ChatGenerationChunk(message=message)

    def li_built() -> object:
        message = ChatMessage(role=MessageRole.ASSISTANT, blocks=[TextBlock(text=text)])
        return ChatResponse(message=message, delta=text, raw={})

    acc = ChatStreamAccumulator()

    def li_stamped() -> object:
        return ChatStream(acc).add_text(text, {})  # a fresh stream: the message is `text`

    def li_plain() -> object:
        ChatStream(acc)  # the same setup as li_stamped
        return li_built()

    lc = _saving(lc_built, lambda: text_generation(text, "chatcmpl-1"))
    return lc, _saving(li_plain, li_stamped)


def _answer() -> float:
    """A LangChain text answer's message and generation stamped vs constructed."""
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration

    from langchain_arli._convert import _ANSWER, _ANSWER_GENERATION

    def values() -> dict[str, Any]:
        usage = {"input_tokens": 9, "output_tokens": 8, "total_tokens": 17}
        metadata = {"model_name": "m", "model_provider": "arli", "finish_reason": "stop"}
        return {
            "content": "a short answer",
            "usage_metadata": {**usage, "input_token_details": {}, "output_token_details": {}},
            "response_metadata": metadata,
            "id": "chatcmpl-1",
        }

    def built() -> object:
        given = values()
        message = AIMessage(**given)
        return ChatGeneration(message=message, generation_info={"finish_reason": "stop"})

    def stamped() -> object:
        given = values()
        message = _ANSWER.make(given)
        info = {"finish_reason": "stop"}
        answer = {"message": message, "generation_info": info, "text": given["content"]}
        return _ANSWER_GENERATION.make(answer)

    return _saving(built, stamped)


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


def _keys() -> float:
    """An idempotency key from the per-process prefix and counter vs a uuid4 per call."""
    import uuid

    from arli._transport.attempts import idempotency_key

    return _saving(lambda: f"arli-{uuid.uuid4()}", idempotency_key)


def saving_lines() -> list[str]:
    """The markdown list items, one per shortcut, measured now."""
    raw, payload = _event()
    sse = _sse(raw)
    parse, deltas = _chunk(payload)
    lc_stamps, li_stamps = _stamps(payload["choices"][0]["delta"]["content"])
    options, read = _options()
    answer = _answer()
    cookies = _cookies()
    keys = _keys()

    def us(seconds: float) -> str:
        return f"{seconds * 1e6:.2f} µs"

    return [
        f"- 'SSE lines': a network read of exactly one `data:` event, decoded without the "
        f"line loop, saves {us(sse)} per streamed token (arli._sse.SSEDecoder.feed).",
        f"- 'content-only chunks': a chunk that only adds text, parsed the short way, saves "
        f"{us(parse)} per chunk parsed (arli.text.parse; a stream's first chunk, and "
        f"`TextClient.stream_chat`).",
        f"- 'text deltas': a chunk that only adds text, merged into the stream's accumulator "
        f"without being parsed, saves {us(deltas)} per streamed token over parsing and "
        f"adding it (arli.text.accumulate.ChatStreamAccumulator.add_text).",
        f"- 'stamped stream objects': the framework objects of a text-only token copied from "
        f"a checked template instead of validated save {us(lc_stamps)} per streamed token "
        f"in LangChain and {us(li_stamps)} in LlamaIndex (arli._stamp).",
        f"- 'stamped answers': a LangChain text answer's message and generation copied from "
        f"checked templates instead of validated save {us(answer)} per call "
        f"(langchain_arli._convert.completion_to_result).",
        f"- 'per-call options': a skin's CallOptions built without the typo checks saves "
        f"{us(options)} per call; reading the text model's cached client or parameters "
        f"from pydantic's private store saves {us(read)} per read (two or more a call).",
        f"- 'cookie-less responses': a response without Set-Cookie, not handed to the stdlib "
        f"cookie jar by our clients' store, saves {us(cookies)} per call and per stream "
        f"(arli._transport.wire.LazyCookies).",
        f"- 'idempotency keys': a POST's key drawn from a per-process random prefix and a "
        f"counter instead of a uuid4 saves {us(keys)} per call "
        f"(arli._transport.attempts.idempotency_key).",
    ]

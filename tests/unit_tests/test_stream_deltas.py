"""The short way of a stream gives exactly what parsing and adding every chunk gives.

``ChatStreamAccumulator.add_text`` merges a raw chunk that only adds text to choice 0
without parsing it, and the skins turn its ``(text, raw)`` into their objects
(``text_generation``, ``ChatStream.add``). These tests feed the recorded streams and many
mutated chunks both ways and require the accumulators to agree after every chunk, and the
skins' objects to be the general translation's; they also require the short way to be
taken for the plain text chunks, so they fail if it stops being used.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable
from typing import Any

import pytest

from arli import ArliResponseError
from arli.text.accumulate import ChatStreamAccumulator
from arli.text.parse import ChatChunk, parse_chat_chunk
from tests.helpers import CAPTURES, parse_raw_response
from tests.unit_tests.test_parse_fast_path import (
    _CHOICE,
    _DELTA,
    _TEXT,
    _TOP,
    _one_field_variants,
    _payloads,
    _set,
    recorded_streams,
)

_FIRST = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1795242718,
    "model": "tiny",
    "choices": [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": ""},
            "logprobs": None,
            "finish_reason": None,
        }
    ],
}


def _state(acc: ChatStreamAccumulator) -> str:
    """Everything an accumulator holds, as text (1 == 1.0 == True, but not in a repr)."""
    return repr(
        (
            acc.result(),
            acc.chunks,
            acc.id,
            acc.model,
            acc.created,
            acc.system_fingerprint,
            acc.usage,
            acc._final_usage,
            acc.finished,
            acc.has_choices,
            acc.tool_calls(0),
        )
    )


def _feed_both(chunks: Iterable[Any]) -> list[tuple[str, ChatChunk, str]]:
    """Feed ``chunks`` the short way and the general way; ``(text, parsed, id)`` of each taken.

    Fails unless both accumulators hold the same after every chunk, and every chunk the
    short way took is one the general way parses to a lone text delta of choice 0 with the
    stream's id.
    """
    short, general = ChatStreamAccumulator(), ChatStreamAccumulator()
    taken = []
    for data in chunks:
        before = copy.deepcopy(data)
        text = short.add_text(data)
        assert data == before  # add_text never changes the chunk
        try:
            parsed = parse_chat_chunk(data)
        except ArliResponseError:
            assert text is None, f"the short way took what the parser refuses: {data!r}"
            return taken
        general.add(parsed)
        if text is None:
            short.add(parsed)
        else:
            (delta,) = parsed.choices
            assert text == delta.content
            assert (delta.index, parsed.usage, parsed.id) == (0, None, short.id)
            assert not (delta.role)
            assert not (delta.reasoning)
            assert not (delta.tool_calls)
            assert not (delta.finish_reason)
            assert delta.logprobs is None
            taken.append((text, parsed, short.id))
        assert _state(short) == _state(general), data
    return taken


def test_every_recorded_stream_merges_the_same_and_takes_the_short_way() -> None:
    streams = recorded_streams()
    assert len(streams) > 20
    taken = [t for stream in streams for t in _feed_both(stream)]
    assert len(taken) > 100


def test_a_real_vllm_stream_takes_the_short_way_for_every_text_chunk() -> None:
    body = parse_raw_response(CAPTURES / "03_chat_stream_usage.resp").body
    chunks = [c for c in _payloads(body) if c.get("object") == "chat.completion.chunk"]
    text_chunks = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    taken = _feed_both(chunks)
    # the first chunk begins the choice (role, empty content); every later text chunk is short
    assert [text for text, _, _ in taken] == [
        c["choices"][0]["delta"]["content"] for c in text_chunks
    ]
    assert len(taken) > 5


_FIRSTS = [copy.deepcopy(_FIRST)]
for _key, _values in _TOP.items():
    for _value in _values:
        _first = copy.deepcopy(_FIRST)
        _set(_first, _key, _value)
        _FIRSTS.append(_first)


@pytest.mark.parametrize("first", _FIRSTS, ids=[repr(sorted(f.items()))[:60] for f in _FIRSTS])
def test_one_changed_field_after_every_kind_of_first_chunk(first: dict[str, Any]) -> None:
    """A first chunk with (or without) each envelope value, then each one-field variant."""
    for variant in _one_field_variants():
        _feed_both([first, variant, variant])


def test_pairs_of_changed_fields_after_a_first_chunk() -> None:
    keys = [("choice", k) for k in _CHOICE] + [("delta", k) for k in _DELTA]
    keys += [("top", k) for k in _TOP]
    fields = {"choice": _CHOICE, "delta": _DELTA, "top": _TOP}
    taken = 0
    for (w1, k1), (w2, k2) in itertools.combinations(keys, 2):
        for v1, v2 in itertools.product(fields[w1][k1], fields[w2][k2]):
            data = copy.deepcopy(_TEXT)
            where = {"top": data, "choice": data["choices"][0]}
            where["delta"] = data["choices"][0]["delta"]
            _set(where[w1], k1, v1)
            _set(where[w2], k2, v2)
            taken += len(_feed_both([_FIRST, data]))
    assert taken > 0


def test_a_chunk_before_its_choice_began_takes_the_general_way() -> None:
    assert _feed_both([_TEXT, _TEXT])
    assert ChatStreamAccumulator().add_text(_TEXT) is None


def _taken_everywhere() -> list[tuple[str, ChatChunk, str]]:
    taken = [t for stream in recorded_streams() for t in _feed_both(stream)]
    for first in _FIRSTS:
        for variant in _one_field_variants():
            taken += _feed_both([first, variant])
    return taken


def test_langchain_turns_a_text_delta_into_the_general_chunk() -> None:
    from langchain_arli._convert import _delta_generation, text_generation

    taken = _taken_everywhere()
    assert len(taken) > 100
    for text, parsed, message_id in taken:
        ours = text_generation(text, message_id)
        general = _delta_generation(parsed, parsed.choices[0])
        assert general is not None
        assert ours == general
        assert ours.message.model_dump() == general.message.model_dump()
        assert type(ours.message) is type(general.message)
        assert ours.generation_info == general.generation_info


def test_llama_index_turns_a_text_delta_into_the_general_response() -> None:
    from arli.text.parse import ToolCall
    from llama_index_arli._convert import ChatStream

    taken = _taken_everywhere()
    assert len(taken) > 100
    befores: list[dict[str, Any]] = [
        {},
        {"content": "Hello"},
        {"content": "Hello", "reasoning": "first, think"},
        {"tool_calls": [ToolCall(id="call_1", name="f", arguments="{}", index=0)]},
    ]
    for (text, parsed, _), before in itertools.product(taken, befores):
        short, general = ChatStream(ChatStreamAccumulator()), ChatStream(ChatStreamAccumulator())
        for stream in (short, general):
            for name, value in before.items():
                setattr(stream, name, copy.copy(value))
        ours = short.add((text, parsed.raw))
        theirs = general.general_add(parsed)
        assert ours is not None
        assert theirs is not None
        assert ours == theirs
        assert ours.model_dump() == theirs.model_dump()
        assert ours.raw is parsed.raw
        assert short.content == general.content

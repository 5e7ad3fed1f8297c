"""The fast path of ``parse_chat_chunk`` gives exactly what the general parser gives.

``parse_chat_chunk`` builds chunks that only add text without the general parser
(``arli.text.parse._text_chunk``); anything else goes to ``_chat_chunk``. These tests run
both over every chunk of the recorded streams (vLLM and Aphrodite wire examples, the
vLLM 0.32 captures and the cassettes) and over many mutated shapes, and require the fast
path either to decline or to return a chunk equal to the general one, field types included.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from arli import ArliResponseError
from arli._sse import JSONEventStream, iter_sse
from arli.text import parse
from arli.text.parse import ChatChunk, parse_chat_chunk
from tests.helpers import CAPTURES, WIRE, parse_raw_response

ROOT = Path(__file__).resolve().parents[2]
_MISSING = object()


def _payloads(body: bytes) -> list[dict[str, Any]]:
    stream = JSONEventStream()
    return [p for e in iter_sse([body]) if (p := stream.decode(e)) is not None]


def _cassette_bodies() -> Iterator[bytes]:
    for path in sorted((ROOT / "cassettes").rglob("*.yaml")):
        text = path.read_text()
        if "chat.completion.chunk" not in text:
            continue
        for interaction in yaml.safe_load(text).get("interactions", []):
            body = interaction["response"]["body"].get("string", "")
            if "chat.completion.chunk" in body:
                yield body.encode()


def recorded_streams() -> list[list[dict[str, Any]]]:
    """The chat chunk payloads of every stream the repository has recorded, stream by stream."""
    bodies = [p.read_bytes() for p in sorted(WIRE.glob("*.sse"))]
    bodies += [parse_raw_response(p).body for p in sorted(CAPTURES.glob("*stream*.resp"))]
    bodies += list(_cassette_bodies())
    streams = [
        [c for c in _payloads(body) if c.get("object") == "chat.completion.chunk"]
        for body in bodies
    ]
    return [s for s in streams if s]


def recorded_chunks() -> list[dict[str, Any]]:
    """Every chat chunk payload the repository has recorded."""
    return [c for stream in recorded_streams() for c in stream]


def _same(data: Any) -> ChatChunk | None:
    """Run both paths on ``data``; fail unless the fast one declines or agrees exactly."""
    fast = parse._text_chunk(copy.deepcopy(data))
    try:
        general = parse._chat_chunk(copy.deepcopy(data))
    except ArliResponseError:
        assert fast is None, f"the fast path accepted what the parser refuses: {data!r}"
        with pytest.raises(ArliResponseError):
            parse_chat_chunk(data)
        return None
    if fast is not None:
        assert fast == general, data
        assert repr(fast) == repr(general), data  # 1 == 1.0 == True, but not in a repr
        assert fast.raw == general.raw
    assert parse_chat_chunk(data) == general
    return fast


def test_every_recorded_chunk_parses_the_same_and_text_chunks_take_the_fast_path() -> None:
    chunks = recorded_chunks()
    assert len(chunks) > 200  # the recorded streams are all there
    fast = [c for c in chunks if _same(c) is not None]
    # the fast path is the common case: every chunk whose delta holds only text
    text_only = [
        c
        for c in chunks
        if len(c["choices"]) == 1
        and set(c["choices"][0]["delta"]) <= {"content", "role"}
        and c["choices"][0].get("finish_reason") is None
        and c["choices"][0].get("logprobs") is None
    ]
    assert len(text_only) > 100
    assert {id(c) for c in fast} == {id(c) for c in text_only}


def test_the_fast_path_takes_a_real_vllm_text_chunk() -> None:
    body = parse_raw_response(CAPTURES / "03_chat_stream_usage.resp").body
    chunk = _payloads(body)[1]
    assert chunk["choices"][0]["delta"] == {"content": " age"}
    fast = _same(chunk)
    assert fast is not None
    assert fast.choices[0].content == " age"
    assert fast.choices[0].tool_calls == []


_TEXT = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1795242718,
    "model": "tiny",
    "choices": [
        {"index": 0, "delta": {"content": " age"}, "logprobs": None, "finish_reason": None}
    ],
}

_TOP = {
    "id": [_MISSING, None, "", 5, "chatcmpl-x"],
    "model": [_MISSING, None, 3.5, "m"],
    "created": [_MISSING, None, 1.0, 2.5, True, 7, "7"],
    "system_fingerprint": [_MISSING, None, "fp", 3],
    "usage": [
        _MISSING,
        None,
        "bad",
        {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        {"prompt_tokens": 3, "completion_tokens_details": {"reasoning_tokens": 1}},
    ],
}
_CHOICE = {
    "index": [_MISSING, None, 0, 1, True, 2.0, "0"],
    "finish_reason": [_MISSING, None, "stop", 3],
    "logprobs": [_MISSING, None, {}, {"content": [{"token": "a", "logprob": -0.1}]}, "x"],
    "stop_reason": [_MISSING, None, 7, "</s>", True],
}
_DELTA = {
    "content": [_MISSING, None, "", "x", 5, ["a"]],
    "role": [_MISSING, None, "assistant", 1],
    "reasoning": [_MISSING, None, "think"],
    "reasoning_content": [_MISSING, None, "think"],
    "tool_calls": [
        _MISSING,
        None,
        [],
        [{"index": 0, "id": "call_1", "function": {"name": "f", "arguments": "{"}}],
    ],
    "refusal": [_MISSING, None],
}


def _set(target: dict[str, Any], key: str, value: Any) -> None:
    if value is _MISSING:
        target.pop(key, None)
    else:
        target[key] = value


def _one_field_variants() -> Iterator[dict[str, Any]]:
    for where, fields in (("top", _TOP), ("choice", _CHOICE), ("delta", _DELTA)):
        for key, values in fields.items():
            for value in values:
                data = copy.deepcopy(_TEXT)
                target = {
                    "top": data,
                    "choice": data["choices"][0],
                    "delta": data["choices"][0]["delta"],
                }[where]
                _set(target, key, value)
                yield data


@pytest.mark.parametrize("data", list(_one_field_variants()))
def test_one_changed_field(data: dict[str, Any]) -> None:
    _same(data)


def test_pairs_of_changed_fields() -> None:
    """Two fields changed at once (the delta and choice fields that decide the path)."""
    keys = [("choice", k) for k in _CHOICE] + [("delta", k) for k in _DELTA]
    taken = 0
    for (w1, k1), (w2, k2) in itertools.combinations(keys, 2):
        values1 = (_CHOICE if w1 == "choice" else _DELTA)[k1]
        values2 = (_CHOICE if w2 == "choice" else _DELTA)[k2]
        for v1, v2 in itertools.product(values1, values2):
            data = copy.deepcopy(_TEXT)
            choice = data["choices"][0]
            _set(choice if w1 == "choice" else choice["delta"], k1, v1)
            _set(choice if w2 == "choice" else choice["delta"], k2, v2)
            taken += _same(data) is not None
    assert taken > 0


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "data",
        {},
        {"choices": None},
        {"choices": {}},
        {**_TEXT, "choices": []},
        {**_TEXT, "choices": [None]},
        {**_TEXT, "choices": ["x"]},
        {**_TEXT, "choices": [_TEXT["choices"][0], {**_TEXT["choices"][0], "index": 1}]},
        {**_TEXT, "choices": [{"index": 0}]},
        {**_TEXT, "choices": [{"index": 0, "delta": None}]},
        {**_TEXT, "choices": [{"index": 0, "delta": "text"}]},
        {**_TEXT, "choices": [{"index": 0, "delta": {}}]},
    ],
)
def test_other_shapes(data: Any) -> None:
    _same(data)


def test_a_str_subclass_goes_to_the_general_path() -> None:
    class Text(str):
        pass

    data = copy.deepcopy(_TEXT)
    data["choices"][0]["delta"]["content"] = Text("x")
    assert parse._text_chunk(data) is None
    assert parse_chat_chunk(data).choices[0].content == "x"


def _delta_shapes() -> Iterator[ChatChunk]:
    """Parsed chunks: every recorded one and every mutated one the parser accepts."""
    for data in [*recorded_chunks(), *_one_field_variants()]:
        try:
            yield parse_chat_chunk(data)
        except ArliResponseError:
            continue


def test_chunk_to_generation_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """LangChain: a text-only delta gives the chunk the general translation gives.

    ``taken`` counts the chunks ``chunk_to_generation`` answered without the general
    translation, so the test fails if the short way stops being used.
    """
    from langchain_arli import _convert

    general_way = _convert._delta_generation
    calls: list[ChatChunk] = []

    def counted(chunk: ChatChunk, delta: Any) -> Any:
        calls.append(chunk)
        return general_way(chunk, delta)

    monkeypatch.setattr(_convert, "_delta_generation", counted)
    taken = 0
    for chunk in _delta_shapes():
        before = len(calls)
        ours = _convert.chunk_to_generation(chunk)
        short_way = len(calls) == before
        if not chunk.choices or chunk.choices[0].index != 0:
            continue
        general = general_way(chunk, chunk.choices[0])
        assert ours == general, chunk
        if ours is not None:
            assert ours.message.model_dump() == general.message.model_dump()
            assert ours.generation_info == general.generation_info
            taken += short_way
    assert taken > 100


def test_chat_stream_fast_path() -> None:
    """LlamaIndex: a text-only chunk gives the response the general translation gives."""
    from arli.text.accumulate import ChatStreamAccumulator
    from llama_index_arli._convert import ChatStream

    class Counting(ChatStream):
        general_calls = 0

        def general_add(self, chunk: ChatChunk) -> Any:
            self.general_calls += 1
            return super().general_add(chunk)

    taken = 0  # responses add gave without general_add: the short way is in use
    for chunk in _delta_shapes():
        for before in ("", "Hello"):  # a first chunk, and one after earlier text
            fast, general = Counting(ChatStreamAccumulator()), ChatStream(ChatStreamAccumulator())
            fast.content = general.content = before
            fast.acc.add(chunk)
            general.acc.add(chunk)
            ours, theirs = fast.add(chunk), general.general_add(chunk)
            assert ours == theirs, chunk
            assert fast.content == general.content
            if ours is not None and theirs is not None:
                assert ours.model_dump() == theirs.model_dump()
                taken += not fast.general_calls
    assert taken > 100

"""The SSE decoder and the JSON event layer, on real fixtures and generated framings."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arli import ArliError, ArliResponseError, BadRequestError, InternalServerError
from arli._sse import JSONEventStream, ServerSentEvent, SSEDecoder, iter_sse
from tests.helpers import CAPTURES, WIRE, parse_raw_response


def _events(data: bytes, *, split: list[int] | None = None) -> list[ServerSentEvent]:
    if split is None:
        return list(iter_sse([data]))
    chunks, last = [], 0
    for cut in sorted(split):
        chunks.append(data[last:cut])
        last = cut
    chunks.append(data[last:])
    return list(iter_sse(chunks))


@pytest.mark.parametrize(
    "name",
    [
        "chat_stream.sse",
        "chat_stream_tool_calls.sse",
        "chat_stream_continuous_usage.sse",
        "chat_stream_stop_string_no_usage.sse",
        "chat_stream_reasoning_v0.11.sse",
        "completion_stream.sse",
        "aphrodite_v0.6_chat_stream_include_usage.sse",
    ],
)
def test_fixture_streams_decode_to_json_then_done(name: str) -> None:
    raw = (WIRE / name).read_bytes()
    expected = [
        line[len("data: ") :] for line in raw.decode().split("\n") if line.startswith("data: ")
    ]
    events = _events(raw)
    assert [e.data for e in events] == expected
    stream = JSONEventStream()
    payloads = [p for e in events if (p := stream.decode(e)) is not None]
    assert stream.done
    assert len(payloads) == len(expected) - 1
    assert all(isinstance(p, dict) for p in payloads)


def test_real_vllm_capture_stream_through_chunked_body() -> None:
    raw = parse_raw_response(CAPTURES / "03_chat_stream_usage.resp")
    stream = JSONEventStream()
    payloads = [p for e in iter_sse([raw.body]) if (p := stream.decode(e)) is not None]
    assert stream.done
    assert payloads[0]["choices"][0]["delta"]["role"] == "assistant"
    assert payloads[-1]["choices"] == []
    assert payloads[-1]["usage"]["prompt_tokens"] > 0


def test_multiline_data_comments_event_id_retry() -> None:
    raw = (
        b": keep-alive\r\n"
        b"event: update\r\nid: 7\r\nretry: 1500\r\n"
        b"data: line one\r\ndata:line two\r\ndata\r\n\r\n"
        b":another comment\n\n"
        b"data: x\n\n"
    )
    events = _events(raw)
    assert events[0] == ServerSentEvent(
        data="line one\nline two\n", event="update", id="7", retry=1500
    )
    assert events[1].data == "x"
    assert events[1].event == "message"
    assert events[1].id == "7"  # the last event id persists


def test_cr_only_line_endings_and_crlf_split_across_chunks() -> None:
    raw = b"data: a\r\r\ndata: b\r\n\r\n"
    # split between every byte: a CR at the end of one chunk and LF at the start of the next
    events = list(iter_sse([raw[i : i + 1] for i in range(len(raw))]))
    assert [e.data for e in events] == ["a", "b"]


def test_utf8_split_inside_a_character() -> None:
    raw = "data: héllo 😀\n\n".encode()
    events = list(iter_sse([raw[:8], raw[8:10], raw[10:]]))
    assert events[0].data == "héllo 😀"


def test_cut_mid_line_is_dropped_but_complete_last_line_counts() -> None:
    assert [e.data for e in _events(b'data: {"a":1}\n\ndata: {"b"')] == ['{"a":1}']
    assert [e.data for e in _events(b"data: [DONE]\n")] == ["[DONE]"]


def test_error_event_raises_status_error() -> None:
    stream = JSONEventStream(method="POST", url="http://x/v1/chat/completions")
    event = ServerSentEvent(
        data=json.dumps(
            {"error": {"message": "bad", "type": "BadRequestError", "param": None, "code": 400}}
        )
    )
    with pytest.raises(BadRequestError, match="bad"):
        stream.decode(event)


def test_event_type_error_raises() -> None:
    stream = JSONEventStream()
    with pytest.raises(InternalServerError):
        stream.decode(ServerSentEvent(data='{"message": "overloaded"}', event="error"))


@pytest.mark.parametrize("data", ['{"choices": [', "not json", "[1, 2]", '"s"'])
def test_malformed_event_raises_response_error(data: str) -> None:
    with pytest.raises(ArliResponseError):
        JSONEventStream().decode(ServerSentEvent(data=data))


# -- generated framings ------------------------------------------------------------------

payload_st = st.dictionaries(
    st.sampled_from(["id", "content", "n", "x"]),
    st.one_of(st.text(max_size=20), st.integers(), st.none()),
    max_size=4,
)


@st.composite
def framed_streams(draw: st.DrawFn) -> tuple[bytes, list[dict], list[int]]:
    payloads = draw(st.lists(payload_st, max_size=8))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    parts: list[str] = []
    for payload in payloads:
        if draw(st.booleans()):
            parts.append(": ping" + newline)
        ascii_only = draw(st.booleans())
        items = [
            json.dumps(k, ensure_ascii=ascii_only) + ": " + json.dumps(v, ensure_ascii=ascii_only)
            for k, v in payload.items()
        ]
        text = "{" + ", ".join(items) + "}"
        if len(items) >= 2 and draw(st.booleans()):
            # a JSON value spread over several data lines is joined with "\n": still valid JSON
            head = "{" + ", ".join(items[:1]) + ","
            tail = ", ".join(items[1:]) + "}"
            parts.append(f"data: {head}{newline}data: {tail}{newline}{newline}")
            continue
        sep = draw(st.sampled_from(["data: ", "data:"]))
        parts.append(f"{sep}{text}{newline}{newline}")
    parts.append(f"data: [DONE]{newline}{newline}")
    raw = "".join(parts).encode()
    cuts = draw(st.lists(st.integers(min_value=0, max_value=len(raw)), max_size=12))
    return raw, payloads, cuts


@settings(max_examples=300, deadline=None)
@given(framed_streams())
def test_any_framing_and_chunking_yields_the_same_payloads(
    case: tuple[bytes, list[dict], list[int]],
) -> None:
    raw, payloads, cuts = case
    stream = JSONEventStream()
    got = []
    for event in _events(raw, split=cuts):
        value = stream.decode(event)
        if stream.done:
            break
        if value is not None:
            got.append(value)
    assert stream.done
    assert got == payloads


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0, max_value=300), max_size=6))
def test_decoder_never_crashes_on_garbage(data: bytes, cuts: list[int]) -> None:
    decoder = SSEDecoder()
    last = 0
    for cut in sorted(c for c in cuts if c <= len(data)):
        decoder.feed(data[last:cut])
        last = cut
    decoder.feed(data[last:])
    decoder.flush()
    stream = JSONEventStream()
    for event in iter_sse([data]):
        try:
            stream.decode(event)
        except ArliError as exc:  # our typed errors are the only acceptable failures
            assert str(exc)


_LINES = st.lists(
    st.sampled_from(
        [
            "data: x",
            "data:y",
            "data",
            "data:  two spaces",
            "data: héllo 😀",
            'data: {"a": [1, 2]}',
            "",
            ": keep-alive",
            "event: update",
            "id: 3",
            "retry: 10",
            "retry: x",
            "field: v",
            "dat: a",
        ]
    ),
    max_size=30,
)


def _split_anywhere(data: bytes, cuts: list[int]) -> list[bytes]:
    chunks, last = [], 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        chunks.append(data[last:cut])
        last = cut
    return [*chunks, data[last:]]


@settings(max_examples=300, deadline=None)
@given(
    lines=_LINES,
    tail=st.sampled_from(["", "\n", "\n\n", "data: cut"]),
    cuts=st.lists(st.integers(0, 10_000), max_size=6),
)
def test_lf_streams_decode_like_crlf_and_cr_streams(
    lines: list[str], tail: str, cuts: list[int]
) -> None:
    """LF-only text takes the decoder's split-once path; CRLF and CR text the general loop."""
    text = "\n".join(lines) + tail
    lf = list(iter_sse(_split_anywhere(text.encode(), cuts)))
    for ending in ("\r\n", "\r"):
        other = text.replace("\n", ending).encode()
        assert list(iter_sse(_split_anywhere(other, cuts))) == lf
        assert list(iter_sse([other])) == lf
    assert list(iter_sse([text.encode()])) == lf


def test_one_event_reads_keep_the_fields_of_earlier_reads() -> None:
    """A read holding exactly one ``data:`` event keeps an ``event:``/``id:`` sent before it."""
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 7\n") == []
    assert decoder.feed(b"event: error\n") == []
    (first,) = decoder.feed(b'data: {"a":1}\n\n')
    assert (first.data, first.event, first.id) == ('{"a":1}', "error", "7")
    (second,) = decoder.feed(b"data: x\n\n")
    assert (second.data, second.event, second.id) == ("x", "message", "7")

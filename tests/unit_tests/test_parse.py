"""Response and chunk parsers on the engines' real shapes."""

from __future__ import annotations

import json

import pytest

from arli import ArliResponseError
from arli._sse import JSONEventStream, iter_sse
from arli.text.accumulate import ChatStreamAccumulator, CompletionStreamAccumulator
from arli.text.parse import (
    ToolCall,
    parse_chat_chunk,
    parse_chat_completion,
    parse_completion,
    parse_completion_chunk,
    parse_models,
    parse_tokenize,
)
from tests.helpers import CAPTURES, WIRE, parse_raw_response


def _sse_payloads(raw: bytes) -> list[dict]:
    stream = JSONEventStream()
    out = [p for e in iter_sse([raw]) if (p := stream.decode(e)) is not None]
    assert stream.done
    return out


def _accumulate(raw: bytes) -> ChatStreamAccumulator:
    acc = ChatStreamAccumulator()
    for payload in _sse_payloads(raw):
        acc.add(parse_chat_chunk(payload))
    return acc


def test_chat_response() -> None:
    r = parse_chat_completion(json.loads((WIRE / "chat_response.json").read_text()))
    assert r.id.startswith("chatcmpl-")
    assert r.model == "Mistral-Nemo-12B-Instruct-2407"
    assert r.text
    assert r.choices[0].finish_reason == "stop"
    assert r.usage is not None
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.choices[0].tool_calls == []


def test_chat_response_tool_calls() -> None:
    r = parse_chat_completion(json.loads((WIRE / "chat_response_tool_calls.json").read_text()))
    choice = r.choices[0]
    assert choice.content is None
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.tool_calls
    assert call.name == "get_weather"
    assert call.id.startswith("chatcmpl-tool-")
    assert call.parsed_arguments() == {"city": "Paris", "unit": "celsius"}


def test_real_vllm_032_response_with_extra_null_keys() -> None:
    raw = parse_raw_response(CAPTURES / "19_tool_choice_named.resp")
    r = parse_chat_completion(json.loads(raw.body))
    assert r.choices[0].tool_calls[0].name == "get_weather"
    assert isinstance(r.choices[0].tool_calls[0].parsed_arguments(), dict)
    assert r.system_fingerprint is not None
    assert r.system_fingerprint.startswith("vllm-")


def test_chat_stream_accumulates_text_usage_and_finish() -> None:
    acc = _accumulate((WIRE / "chat_stream.sse").read_bytes())
    r = acc.result()
    assert r.text == "Hello! How can I help you today?"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (21, 10)
    assert acc.finished


def test_chat_stream_tool_call_fragments_are_joined() -> None:
    r = _accumulate((WIRE / "chat_stream_tool_calls.sse").read_bytes()).result()
    (call,) = r.choices[0].tool_calls
    assert call.name == "get_weather"
    assert call.id.startswith("chatcmpl-tool-")
    assert call.parsed_arguments()["city"] == "Paris"
    assert r.choices[0].finish_reason == "tool_calls"


def test_real_vllm_named_tool_stream() -> None:
    raw = parse_raw_response(CAPTURES / "20_tool_choice_named_stream.resp")
    r = _accumulate(raw.body).result()
    (call,) = r.choices[0].tool_calls
    assert call.name == "get_weather"
    assert set(call.parsed_arguments()) == {"location", "unit"}
    assert r.usage is not None
    assert r.usage.completion_tokens > 0


def test_reasoning_content_stream_v011() -> None:
    r = _accumulate((WIRE / "chat_stream_reasoning_v0.11.sse").read_bytes()).result()
    assert r.choices[0].reasoning
    assert r.choices[0].reasoning.startswith("Okay, the user greets me.")
    assert r.choices[0].content


@pytest.mark.parametrize("key", ["reasoning_content", "reasoning"])
def test_both_reasoning_field_names(key: str) -> None:
    data = {
        "id": "x",
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "a", key: "think"}}],
    }
    assert parse_chat_completion(data).choices[0].reasoning == "think"


def test_vllm_012_mirrored_reasoning_is_not_doubled() -> None:
    chunk = {
        "id": "x",
        "model": "m",
        "choices": [
            {"index": 0, "delta": {"reasoning": "abc", "reasoning_content": "abc"}},
        ],
    }
    acc = ChatStreamAccumulator()
    acc.add(parse_chat_chunk(chunk))
    assert acc.result().choices[0].reasoning == "abc"


def test_continuous_usage_keeps_cumulative_final_usage() -> None:
    r = _accumulate((WIRE / "chat_stream_continuous_usage.sse").read_bytes()).result()
    assert r.usage is not None
    assert r.usage.completion_tokens > 1


def test_aphrodite_v06_per_chunk_usage_final_chunk_wins() -> None:
    r = _accumulate((WIRE / "aphrodite_v0.6_chat_stream_include_usage.sse").read_bytes()).result()
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (21, 3, 24)
    assert r.id.startswith("chat-")


def test_stop_reason_string_and_no_usage() -> None:
    acc = _accumulate((WIRE / "chat_stream_stop_string_no_usage.sse").read_bytes())
    r = acc.result()
    assert r.choices[0].stop_reason == "three"
    assert r.usage is None


def test_n2_two_choices() -> None:
    raw = parse_raw_response(CAPTURES / "25_chat_n2.resp")
    r = parse_chat_completion(json.loads(raw.body))
    assert [c.index for c in r.choices] == [0, 1]


def test_logprobs_chat() -> None:
    raw = parse_raw_response(CAPTURES / "24_chat_logprobs.resp")
    r = parse_chat_completion(json.loads(raw.body))
    lp = r.choices[0].logprobs
    assert lp is not None
    assert lp["content"][0]["top_logprobs"]


def test_completion_response_and_stream() -> None:
    r = parse_completion(json.loads((WIRE / "completion_response.json").read_text()))
    assert r.text
    assert r.usage is not None
    acc = CompletionStreamAccumulator()
    for payload in _sse_payloads((WIRE / "completion_stream.sse").read_bytes()):
        acc.add(parse_completion_chunk(payload))
    assert acc.finished
    assert acc.result().text
    assert acc.usage is not None


def test_real_vllm_completions_stream() -> None:
    raw = parse_raw_response(CAPTURES / "06_completions_stream.resp")
    acc = CompletionStreamAccumulator()
    for payload in _sse_payloads(raw.body):
        acc.add(parse_completion_chunk(payload))
    assert acc.finished
    assert acc.usage is not None


def test_tokenize_vllm_and_aphrodite_orders() -> None:
    t = parse_tokenize(json.loads((WIRE / "tokenize_response.json").read_text()))
    assert t.count == 14
    assert len(t.tokens) == 14
    assert t.max_model_len == 16384
    t = parse_tokenize({"tokens": [1, 2, 3], "count": 3, "max_model_len": 4096})
    assert (t.count, t.max_model_len) == (3, 4096)
    raw = parse_raw_response(CAPTURES / "08_tokenize_messages.resp")
    assert parse_tokenize(json.loads(raw.body)).count > 0


def test_models() -> None:
    (m,) = parse_models(json.loads((WIRE / "models_response.json").read_text()))
    assert (m.id, m.max_model_len, m.owned_by) == ("Mistral-Nemo-12B-Instruct-2407", 16384, "vllm")
    raw = parse_raw_response(CAPTURES / "01_models.resp")
    assert parse_models(json.loads(raw.body))[0].max_model_len == 1024
    # Featherless-style entries without max_model_len, and a bare list of names
    models = parse_models({"data": [{"id": "a", "object": "model"}, "b"]})
    assert [x.id for x in models] == ["a", "b"]
    assert models[0].max_model_len is None


@pytest.mark.parametrize(
    "data", [None, [], {"choices": None}, {"object": "error"}, {"choices": [1]}, "text"]
)
def test_unusable_responses_raise_our_error(data: object) -> None:
    with pytest.raises(ArliResponseError):
        parse_chat_completion(data)


def test_tool_arguments_with_raw_control_character_are_tolerated() -> None:
    call = ToolCall(id="1", name="f", arguments='{"name": "a\x10b"}')
    assert call.parsed_arguments() == {"name": "a\x10b"}
    with pytest.raises(ValueError, match="not a JSON object"):
        ToolCall(id="1", name="f", arguments="[1]").parsed_arguments()

"""ChatArli / ArliLLM without a server: conversion, metadata, secrets, serialization."""

from __future__ import annotations

import base64
import logging

import pytest
from langchain_core.load import dumpd, dumps, load
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from arli import ArliValidationError
from arli.text.parse import parse_chat_chunk, parse_chat_completion
from langchain_arli import ArliLLM, ChatArli
from langchain_arli._convert import chunk_to_generation, completion_to_result, to_openai_messages

FAKE_KEY = "sk-arli-FAKE-0123456789abcdef-SECRET"
MODEL = "Mistral-Nemo-12B-Instruct-2407"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 20).decode()


def test_message_conversion() -> None:
    msgs = [
        SystemMessage("be brief"),
        HumanMessage("hello", name="example_user"),
        AIMessage(
            content="",
            tool_calls=[{"name": "f", "args": {"x": 1}, "id": "call_1", "type": "tool_call"}],
        ),
        ToolMessage('{"result": 3}', tool_call_id="call_1"),
        ToolMessage([{"type": "text", "text": "oops"}], tool_call_id="call_2", status="error"),
        AIMessage(content=[{"type": "text", "text": "a"}, {"type": "tool_use", "id": "x"}]),
        ChatMessage(role="developer", content="meta"),
    ]
    assert to_openai_messages(msgs) == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello", "name": "example_user"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"x": 1}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"result": 3}'},
        {"role": "tool", "tool_call_id": "call_2", "content": "oops"},
        {"role": "assistant", "content": "a"},
        {"role": "developer", "content": "meta"},
    ]


@pytest.mark.parametrize(
    ("block", "url"),
    [
        (
            {"type": "image", "base64": PNG, "mime_type": "image/png"},
            f"data:image/png;base64,{PNG}",
        ),
        (
            {"type": "image", "source_type": "base64", "data": PNG, "mime_type": "image/jpeg"},
            f"data:image/jpeg;base64,{PNG}",
        ),
        ({"type": "image", "url": "https://x.test/a.png"}, "https://x.test/a.png"),
        (
            {"type": "image", "source_type": "url", "url": "https://x.test/b.png"},
            "https://x.test/b.png",
        ),
        ({"type": "image", "path": "/tmp/c.png"}, "/tmp/c.png"),
        (
            {"type": "image_url", "image_url": {"url": "https://x.test/d.png"}},
            "https://x.test/d.png",
        ),
        ({"type": "image_url", "image_url": "https://x.test/e.png"}, "https://x.test/e.png"),
    ],
)
def test_image_blocks_become_image_url_parts(block: dict, url: str) -> None:
    (msg,) = to_openai_messages([HumanMessage(content=[{"type": "text", "text": "what?"}, block])])
    assert msg["content"][0] == {"type": "text", "text": "what?"}
    assert msg["content"][1]["image_url"]["url"] == url


@pytest.mark.parametrize("kind", ["file", "audio"])
def test_unsupported_blocks_are_a_clear_error(kind: str) -> None:
    with pytest.raises(ArliValidationError, match=f"a '{kind}' content block"):
        to_openai_messages([HumanMessage(content=[{"type": kind, "base64": "x"}])])
    with pytest.raises(ArliValidationError, match="file_id"):
        to_openai_messages([HumanMessage(content=[{"type": "image", "file_id": "f"}])])


def test_result_conversion_reasoning_tool_calls_usage() -> None:
    completion = parse_chat_completion(
        {
            "id": "chatcmpl-1",
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "reasoning": "think first",
                        "tool_calls": [
                            {"id": "t1", "function": {"name": "f", "arguments": '{"a": 1}'}},
                            {"id": "t2", "function": {"name": "g", "arguments": "{broken"}},
                        ],
                    },
                    "finish_reason": "tool_calls",
                    "stop_reason": None,
                }
            ],
            "usage": {
                "prompt_tokens": 5,
                "completion_tokens": 7,
                "total_tokens": 12,
                "prompt_tokens_details": {"cached_tokens": 2},
            },
        }
    )
    result = completion_to_result(completion)
    msg = result.generations[0].message
    assert isinstance(msg, AIMessage)
    assert msg.additional_kwargs["reasoning_content"] == "think first"
    assert msg.tool_calls == [{"name": "f", "args": {"a": 1}, "id": "t1", "type": "tool_call"}]
    assert msg.invalid_tool_calls[0]["name"] == "g"
    assert msg.usage_metadata == {
        "input_tokens": 5,
        "output_tokens": 7,
        "total_tokens": 12,
        "input_token_details": {"cache_read": 2},
        "output_token_details": {},
    }
    assert msg.response_metadata["finish_reason"] == "tool_calls"
    assert msg.response_metadata["model_provider"] == "arli"
    assert result.llm_output is not None
    assert result.llm_output["token_usage"]["total_tokens"] == 12


def test_chunk_conversion() -> None:
    chunk = parse_chat_chunk(
        {
            "id": "c",
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "reasoning_content": "hm",
                        "tool_calls": [
                            {"index": 0, "id": "t", "function": {"name": "f", "arguments": '{"a'}}
                        ],
                    },
                    "finish_reason": None,
                }
            ],
        }
    )
    gen = chunk_to_generation(chunk)
    assert gen is not None
    assert gen.message.additional_kwargs == {"reasoning_content": "hm"}
    assert gen.message.tool_call_chunks[0]["args"] == '{"a'  # type: ignore[attr-defined]
    empty = parse_chat_chunk(
        {"id": "c", "model": MODEL, "choices": [{"index": 0, "delta": {"content": ""}}]}
    )
    assert chunk_to_generation(empty) is None
    usage = parse_chat_chunk(
        {
            "id": "c",
            "model": MODEL,
            "choices": [],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2},
        }
    )
    last = chunk_to_generation(usage)
    assert last is not None
    assert last.message.chunk_position == "last"  # type: ignore[attr-defined]
    assert last.message.usage_metadata["total_tokens"] == 3  # type: ignore[attr-defined]


def test_fields_aliases_and_validation() -> None:
    llm = ChatArli(model_name=MODEL, api_key="k", mirostat=2, request_timeout=5)
    assert llm.model == MODEL
    assert llm.mirostat_mode == 2
    assert llm.timeout == 5
    with pytest.raises(ValueError, match=r"top_p=1.5 is out of range: allowed \(0, 1\]"):
        ChatArli(model=MODEL, api_key="k", top_p=1.5)
    with pytest.raises(ValueError, match="No API key"):
        ChatArli(model=MODEL)


def test_ls_params() -> None:
    llm = ChatArli(model=MODEL, api_key="k", temperature=0.3, max_tokens=9, stop=["x"])
    assert llm._get_ls_params() == {
        "ls_provider": "arli",
        "ls_model_name": MODEL,
        "ls_model_type": "chat",
        "ls_temperature": 0.3,
        "ls_max_tokens": 9,
        "ls_stop": ["x"],
    }
    assert llm._get_ls_params(model="tiny")["ls_model_name"] == "tiny"
    llm_params = ArliLLM(model=MODEL, api_key="k")._get_ls_params()
    assert llm_params["ls_model_type"] == "llm"


def test_bind_tools_rejects_an_unknown_forced_tool() -> None:
    llm = ChatArli(model=MODEL, api_key="k")

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    with pytest.raises(ArliValidationError, match="not among the tools: add"):
        llm.bind_tools([add], tool_choice="multiply")
    with pytest.raises(ValueError, match="method='magic'"):
        llm.with_structured_output({"type": "object"}, method="magic")  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [ChatArli, ArliLLM])
def test_key_never_leaks(cls: type, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    llm = cls(model=MODEL, api_key=FAKE_KEY, min_p=0.1)
    texts = [
        repr(llm),
        str(llm),
        llm.model_dump_json(),
        str(llm.model_dump()),
        dumps(llm),
        str(dumpd(llm)),
        str(llm._get_ls_params()),
        str(llm._identifying_params),
        repr(llm.client),
    ]
    for text in texts:
        assert FAKE_KEY not in text
        assert "0123456789abcdef" not in text
    assert FAKE_KEY not in caplog.text
    assert dumpd(llm)["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["ARLIAI_API_KEY"]}


def test_serialization_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARLIAI_API_KEY", FAKE_KEY)
    llm = ChatArli(
        model=MODEL, api_key=FAKE_KEY, min_p=0.1, dry_multiplier=0.8, guided_decoding_style="guided"
    )
    revived = load(
        dumpd(llm),
        valid_namespaces=["langchain_arli"],
        allowed_objects=[ChatArli],
        secrets_from_env=True,
    )
    assert isinstance(revived, ChatArli)
    assert revived.model_dump() == llm.model_dump()
    assert revived.api_key is not None
    assert revived.api_key.get_secret_value() == FAKE_KEY

"""The stalled-stream limit (issue 14 point 15) set on each skin, and per call.

``ChatArli``/``ArliLLM``/LlamaIndex ``Arli`` take ``stall_timeout`` as a typed, validated
field, and each streamed call takes ``stall_timeout=`` too (the call's wins). Against the
reference server, a stream that sends two events and then nothing raises
:class:`~arli.StreamStalledError` after the limit, saying how many chunks arrived and the
limit that applied; the request is sent once (a stream that started is never re-sent).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from arli import (
    ArliConnectionError,
    ArliError,
    ArliValidationError,
    IncompleteResponseError,
    StreamStalledError,
)
from tests.reference_server import Fault, ReferenceServer

MODEL = "Mistral-Nemo-12B-Instruct-2407"
KEY = "test-key"
CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"


def _stall(server: ReferenceServer, path: str = CHAT) -> None:
    server.add_fault(Fault(path=path, kind="stall_mid_stream", after_events=2, delay=5.0))


def _chat(server: ReferenceServer, **fields: Any) -> Any:
    from langchain_arli import ChatArli

    return ChatArli(model=MODEL, api_key=KEY, base_url=server.url, max_tokens=16, **fields)


def _llama(server: ReferenceServer, **fields: Any) -> Any:
    from llama_index_arli import Arli

    return Arli(model=MODEL, api_key=KEY, base_url=server.url, max_tokens=16, **fields)


def _check(info: pytest.ExceptionInfo[StreamStalledError], limit: float, got: int) -> None:
    assert info.value.stall_timeout == pytest.approx(limit)
    assert info.value.chunks_received == 2
    assert "after 2 chunks arrived" in str(info.value)
    assert got >= 1  # what arrived before the stall reached the caller


def test_chat_arli_field(reference_server: ReferenceServer) -> None:
    _stall(reference_server)
    llm = _chat(reference_server, stall_timeout=0.3)
    got: list[Any] = []
    with pytest.raises(StreamStalledError) as info:
        got.extend(llm.stream("Hello"))
    _check(info, 0.3, len(got))
    assert len(reference_server.requests_for(CHAT)) == 1


def test_chat_arli_per_call_wins(reference_server: ReferenceServer) -> None:
    _stall(reference_server)
    llm = _chat(reference_server, stall_timeout=60)
    got: list[Any] = []
    with pytest.raises(StreamStalledError) as info:
        got.extend(llm.stream("Hello", stall_timeout=0.3))
    _check(info, 0.3, len(got))


def test_chat_arli_invoke_that_streams(reference_server: ReferenceServer) -> None:
    _stall(reference_server)
    llm = _chat(reference_server, streaming=True)
    with pytest.raises(StreamStalledError) as info:
        llm.invoke("Hello", stall_timeout=0.3)
    assert info.value.stall_timeout == pytest.approx(0.3)
    assert info.value.chunks_received == 2


def test_chat_arli_async_stream(reference_server: ReferenceServer) -> None:
    _stall(reference_server)
    llm = _chat(reference_server)

    async def consume() -> int:
        count = 0
        async for _ in llm.astream("Hello", stall_timeout=0.3):
            count += 1
        return count

    with pytest.raises(StreamStalledError) as info:
        asyncio.run(consume())
    assert info.value.stall_timeout == pytest.approx(0.3)


def test_arli_llm_completion_stream(reference_server: ReferenceServer) -> None:
    from langchain_arli import ArliLLM

    _stall(reference_server, COMPLETIONS)
    llm = ArliLLM(model=MODEL, api_key=KEY, base_url=reference_server.url, stall_timeout=0.3)
    got: list[str] = []
    with pytest.raises(StreamStalledError) as info:
        got.extend(llm.stream("Once upon a time"))
    _check(info, 0.3, len(got))


def test_llama_index_field_and_per_call(reference_server: ReferenceServer) -> None:
    from llama_index.core.llms import ChatMessage

    messages = [ChatMessage(role="user", content="Hello")]
    _stall(reference_server)
    llm = _llama(reference_server, stall_timeout=0.3)
    got: list[Any] = []
    with pytest.raises(StreamStalledError) as info:
        got.extend(llm.stream_chat(messages))
    _check(info, 0.3, len(got))

    _stall(reference_server)
    slow = _llama(reference_server, stall_timeout=60)
    got = []
    with pytest.raises(StreamStalledError) as info:
        got.extend(slow.stream_chat(messages, stall_timeout=0.4))
    _check(info, 0.4, len(got))


def test_a_bad_per_call_limit_is_refused_before_sending(reference_server: ReferenceServer) -> None:
    from llama_index.core.llms import ChatMessage

    with pytest.raises(ArliValidationError, match=r"stall_timeout=-1 is out of range"):
        _chat(reference_server).stream("Hello", stall_timeout=-1).__next__()
    with pytest.raises(ArliValidationError, match=r"stall_timeout='5' is not a number"):
        _llama(reference_server).stream_chat(
            [ChatMessage(role="user", content="Hi")], stall_timeout="5"
        )
    assert reference_server.requests_for(CHAT) == []


def test_zero_per_call_turns_the_field_off(reference_server: ReferenceServer) -> None:
    # A short stall (0.5 s, then the server closes): with the limit off, the stream ends
    # as a cut-short stream, not as a stall.
    reference_server.add_fault(Fault(path=CHAT, kind="stall_mid_stream", after_events=2, delay=0.5))
    llm = _chat(reference_server, stall_timeout=0.1)
    with pytest.raises(ArliError) as info:
        list(llm.stream("Hello", stall_timeout=0))
    assert not isinstance(info.value, StreamStalledError)
    assert isinstance(info.value, (ArliConnectionError, IncompleteResponseError))

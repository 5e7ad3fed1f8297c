"""Both skins stream the short way: only the chunks that are not plain text get parsed.

``ChatArli`` and LlamaIndex ``Arli`` iterate ``ChatCallStream.deltas()``: a chunk that only
adds text is merged into the accumulator without a chunk object (``add_text``) and
becomes the framework's object directly. Against the reference server, sync and async,
the text streamed equals the non-streamed answer, the usage and finish reason still
arrive, and the parser sees only the first, the finishing and the usage chunk.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from arli.text import calls
from arli.text.parse import ChatChunk, parse_chat_chunk
from tests.reference_server import ReferenceServer

MODEL = "Mistral-Nemo-12B-Instruct-2407"
KEY = "test-key"
PROMPT = "Tell me a story about a lighthouse."


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[ChatChunk]:
    """Every chunk a call stream parsed, in order."""
    seen: list[ChatChunk] = []

    def counting(data: Any) -> ChatChunk:
        chunk = parse_chat_chunk(data)
        seen.append(chunk)
        return chunk

    monkeypatch.setattr(calls.ChatCallStream, "_parse", staticmethod(counting))
    return seen


def _check(parsed: list[ChatChunk], pieces: list[str], answer: str) -> None:
    assert "".join(pieces) == answer
    assert len([p for p in pieces if p]) > 10  # a real stream of many text chunks
    # the first chunk begins the choice; then the finish reason and the usage chunk
    assert len(parsed) <= 3, [c.raw for c in parsed]
    assert parsed[-1].usage is not None


def test_chat_arli_parses_only_the_chunks_that_are_not_text(
    reference_server: ReferenceServer, parsed: list[ChatChunk]
) -> None:
    from langchain_arli import ChatArli

    llm = ChatArli(model=MODEL, api_key=KEY, base_url=reference_server.url, max_tokens=64)
    answer = llm.invoke(PROMPT).text
    parsed.clear()
    chunks = list(llm.stream(PROMPT))
    _check(parsed, [c.text for c in chunks], answer)
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert merged.usage_metadata is not None
    assert merged.usage_metadata["output_tokens"] > 10
    assert merged.response_metadata["finish_reason"] in ("stop", "length")
    assert merged.id is not None
    assert merged.id.startswith("chatcmpl")
    assert {c.id for c in chunks if c.text} == {merged.id}

    async def astream() -> list[Any]:
        return [c async for c in llm.astream(PROMPT)]

    parsed.clear()
    _check(parsed, [c.text for c in asyncio.run(astream())], answer)


def test_llama_index_arli_parses_only_the_chunks_that_are_not_text(
    reference_server: ReferenceServer, parsed: list[ChatChunk]
) -> None:
    from llama_index.core.llms import ChatMessage

    from llama_index_arli import Arli

    llm = Arli(model=MODEL, api_key=KEY, base_url=reference_server.url, max_tokens=64)
    messages = [ChatMessage(role="user", content=PROMPT)]
    answer = llm.chat(messages).message.content or ""
    parsed.clear()
    responses = list(llm.stream_chat(messages))
    _check(parsed, [r.delta or "" for r in responses], answer)
    assert responses[-1].message.content == answer
    assert responses[-1].additional_kwargs["completion_tokens"] > 10
    assert all(r.raw for r in responses)

    async def astream() -> list[Any]:
        return [r async for r in await llm.astream_chat(messages)]

    parsed.clear()
    _check(parsed, [r.delta or "" for r in asyncio.run(astream())], answer)

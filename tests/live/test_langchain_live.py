"""ChatArli and ArliLLM against the real vLLM server (structure only: the model is random).

The cassette tests recorded from vLLM run here unchanged against the live server (their
``cassette_target`` fixture is pointed at it), plus batch and async, which the cassettes
do not cover.
"""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import AIMessage

from langchain_arli import ChatArli
from tests.conftest import Target
from tests.integration_tests.test_langchain_vllm import (
    chat,
    llm,
    test_arli_llm,
    test_invoke,
    test_legacy_guided_fields_are_ignored_by_vllm_and_we_say_so,
    test_n_logprobs_stop_seed,
    test_named_and_required_tool_calls,
    test_stream_with_usage,
    test_structured_output_via_structured_outputs,
    test_tokens_and_models,
)

__all__ = [
    "llm",
    "test_arli_llm",
    "test_invoke",
    "test_legacy_guided_fields_are_ignored_by_vllm_and_we_say_so",
    "test_n_logprobs_stop_seed",
    "test_named_and_required_tool_calls",
    "test_stream_with_usage",
    "test_structured_output_via_structured_outputs",
    "test_tokens_and_models",
]


@pytest.fixture
def cassette_target(live_base_url: str, live_model: str) -> Target:
    return Target("vllm", live_base_url, "live-test-key", live_model, True)


def test_batch_and_async(cassette_target: Target) -> None:
    model: ChatArli = chat(cassette_target, max_tokens=6)
    answers = model.batch(["one", "two", "three"])
    assert all(isinstance(a, AIMessage) and a.usage_metadata for a in answers)

    async def run() -> None:
        results = await asyncio.gather(*(model.ainvoke(f"hi {i}") for i in range(4)))
        assert len(results) == 4
        chunks = [c async for c in model.astream("hello")]
        assert sum(1 for c in chunks if c.usage_metadata) == 1
        assert len(await model.abatch(["a", "b"])) == 2

    asyncio.run(run())

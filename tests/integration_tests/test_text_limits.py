"""The per-account parallel-request limit (seed 003) on every text adapter.

``max_concurrent_requests`` caps the requests in flight for one key and base URL across
the whole process, whatever instance sends them. The reference server counts the text
requests it is serving at once (streams until their last byte) and answers 429 past its
own limit, the way Arli blocks requests over the account's; clients here never retry, so
one request over the cap would fail the test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from langchain_core.language_models import BaseLanguageModel
from llama_index.core.base.llms.types import ChatMessage

from arli import ArliConfigError
from langchain_arli import ArliLLM, ChatArli, ChatFeatherless, FeatherlessLLM
from llama_index_arli import Arli, Featherless
from tests.reference_server import ReferenceServer

MODEL = "Mistral-Nemo-12B-Instruct-2407"
LATENCY = 0.4
ADAPTERS: dict[str, type[Any]] = {
    "ChatArli": ChatArli,
    "ChatFeatherless": ChatFeatherless,
    "ArliLLM": ArliLLM,
    "FeatherlessLLM": FeatherlessLLM,
    "llama_index.Arli": Arli,
    "llama_index.Featherless": Featherless,
}
PROVIDER = {"ChatFeatherless", "FeatherlessLLM", "llama_index.Featherless"}


@pytest.fixture(params=list(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def keys() -> tuple[str, str]:
    """Two accounts of this test only (limiters are per key and base URL, process-wide)."""
    return f"sk-a-{uuid.uuid4().hex}", f"sk-b-{uuid.uuid4().hex}"


@pytest.fixture
def server(adapter: str) -> Iterator[ReferenceServer]:
    """Any key is accepted (each has its own account); streams and answers take a while."""
    provider = "featherless" if adapter in PROVIDER else "arli"
    with ReferenceServer(provider=provider, text_latency=LATENCY) as srv:
        yield srv


def make(adapter: str, server: ReferenceServer, key: str, limit: int | None) -> Any:
    options: dict[str, Any] = {
        "model": MODEL,
        "api_key": key,
        "base_url": server.url,
        "max_tokens": 4,
        "max_retries": 0,
        "max_concurrent_requests": limit,
    }
    if adapter.startswith("llama_index"):
        options["discover_context_window"] = False
    return ADAPTERS[adapter](**options)


def call(llm: Any, i: int) -> str:
    """One request: a plain answer for even ``i``, a whole stream for odd ``i``."""
    if isinstance(llm, BaseLanguageModel):
        if i % 2:
            return "".join(str(getattr(c, "content", c)) for c in llm.stream(f"hi {i}"))
        answer = llm.invoke(f"hi {i}")
        return str(getattr(answer, "content", answer))
    messages = [ChatMessage(role="user", content=f"hi {i}")]
    if i % 2:
        return "".join(r.delta or "" for r in llm.stream_chat(messages))
    return str(llm.chat(messages).message.content)


async def acall(llm: Any, i: int) -> str:
    """Async :func:`call`."""
    if isinstance(llm, BaseLanguageModel):
        if i % 2:
            return "".join([str(getattr(c, "content", c)) async for c in llm.astream(f"hi {i}")])
        answer = await llm.ainvoke(f"hi {i}")
        return str(getattr(answer, "content", answer))
    messages = [ChatMessage(role="user", content=f"hi {i}")]
    if i % 2:
        return "".join([r.delta or "" async for r in await llm.astream_chat(messages)])
    return str((await llm.achat(messages)).message.content)


def run_threads(work: list[tuple[Any, int]]) -> list[str]:
    with ThreadPoolExecutor(max_workers=len(work)) as pool:
        return list(pool.map(lambda job: call(*job), work))


def run_tasks(work: list[tuple[Any, int]]) -> list[str]:
    async def main() -> list[str]:
        return list(await asyncio.gather(*(acall(llm, i) for llm, i in work)))

    return asyncio.run(main())


RUNNERS: dict[str, Callable[[list[tuple[Any, int]]], list[str]]] = {
    "threads": run_threads,
    "tasks": run_tasks,
}


@pytest.mark.parametrize("runner", list(RUNNERS))
def test_two_instances_of_one_key_share_one_cap(
    adapter: str, server: ReferenceServer, runner: str, keys: tuple[str, str]
) -> None:
    server.settings.text_parallel_limit = 2  # a third request in flight gets a 429
    first = make(adapter, server, keys[0], 2)
    second = make(adapter, server, keys[0], 2)
    work = [(first, i) for i in range(3)] + [(second, i) for i in range(3, 6)]
    answers = RUNNERS[runner](work)
    assert all(answers)
    stats = server.stats
    assert stats["rate_limited"] == 0
    assert stats["max_in_flight_text"] == 2
    assert (
        len(server.requests_for("/v1/chat/completions"))
        + len(server.requests_for("/v1/completions"))
        == 6
    )


@pytest.mark.parametrize("runner", list(RUNNERS))
def test_an_instance_without_the_setting_follows_the_keys_cap(
    adapter: str, server: ReferenceServer, runner: str, keys: tuple[str, str]
) -> None:
    server.settings.text_parallel_limit = 2
    unset = make(adapter, server, keys[0], None)  # made first: the order does not matter
    capped = make(adapter, server, keys[0], 2)
    work = [(unset, i) for i in range(4)] + [(capped, i) for i in range(4, 6)]
    assert all(RUNNERS[runner](work))
    assert server.stats["rate_limited"] == 0
    assert server.stats["max_in_flight_text"] == 2
    assert unset.client.transport.limiter is capped.client.transport.limiter


@pytest.mark.parametrize("runner", list(RUNNERS))
def test_without_a_limit_the_same_load_goes_over(
    adapter: str, server: ReferenceServer, runner: str, keys: tuple[str, str]
) -> None:
    """The control: the load above does reach the server all at once when nothing caps it."""
    first = make(adapter, server, keys[0], None)
    second = make(adapter, server, keys[0], None)
    RUNNERS[runner]([(first, i) for i in range(3)] + [(second, i) for i in range(3, 6)])
    assert server.stats["max_in_flight_text"] == 6


@pytest.mark.parametrize("runner", list(RUNNERS))
def test_different_keys_do_not_share(
    adapter: str, server: ReferenceServer, runner: str, keys: tuple[str, str]
) -> None:
    alice = make(adapter, server, keys[0], 2)
    bob = make(adapter, server, keys[1], 2)
    assert alice.client.transport.limiter is not bob.client.transport.limiter
    RUNNERS[runner]([(alice, i) for i in range(4)] + [(bob, i) for i in range(4, 8)])
    assert server.stats["max_in_flight_text"] == 4  # two for each account
    per_key = dict.fromkeys(keys, 0)
    for request in server.requests:
        per_key[request.headers["authorization"].removeprefix("Bearer ")] += 1
    assert per_key == dict.fromkeys(keys, 4)


@pytest.mark.parametrize("value", [0, -1, -6])
def test_a_limit_below_one_is_refused(adapter: str, value: int) -> None:
    with pytest.raises(ArliConfigError) as caught:
        ADAPTERS[adapter](model=MODEL, api_key="k", max_concurrent_requests=value)
    message = str(caught.value)
    assert f"max_concurrent_requests={value} would let no request through" in message
    assert "use an integer >= 1" in message


@pytest.mark.parametrize("value", [True, 2.5, "3"])
def test_a_limit_that_is_not_a_count_is_refused(adapter: str, value: Any) -> None:
    with pytest.raises((ArliConfigError, ValueError), match="max_concurrent_requests"):
        ADAPTERS[adapter](model=MODEL, api_key="k", max_concurrent_requests=value)


def test_the_limit_reaches_the_core_not_just_the_field(adapter: str, keys: tuple[str, str]) -> None:
    llm = ADAPTERS[adapter](model=MODEL, api_key=keys[0], max_concurrent_requests=3)
    assert llm.client.settings.text_max_concurrency == 3
    limiter = llm.client.transport.limiter
    assert limiter is not None
    assert limiter.limit == 3
    unlimited = ADAPTERS[adapter](model=MODEL, api_key=keys[1])
    assert unlimited.client.transport.limiter is None  # Arli's and Featherless's: per plan

"""The keyless Arli proxy (seed 000) from every text adapter, against the reference server.

The proxy maps text routes to Arli's ``/v1/`` under its ``/api`` prefix, needs no key and
allows 6 parallel requests in all (a 7th gets a 429). What is checked is what reached the
server: the paths, the bodies, and that no ``Authorization`` header was ever sent, even
with Arli keys in the environment or passed by mistake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage

from arli import ArliConfigError, ImageClient
from langchain_arli import ArliLLM, ChatArli, ChatFeatherless, FeatherlessLLM
from llama_index_arli import Arli, Featherless
from tests.reference_server import ReferenceServer

MODEL = "Mistral-Nemo-12B-Instruct-2407"
ARLI_KEY = "sk-arli-must-never-reach-the-proxy"
CHAT, COMPLETIONS = "/api/v1/chat/completions", "/api/v1/completions"
TOKENIZE, MODELS = "/api/v1/tokenize", "/api/v1/models"
UNUSED = "http://127.0.0.1:9/api"  # never contacted


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReferenceServer]:
    """The proxy, with the user's Arli key and base URL in the environment (not for it)."""
    for name in ("ARLIAI_API_KEY", "ARLI_TEXT_KEY"):
        monkeypatch.setenv(name, ARLI_KEY)
    monkeypatch.setenv("ARLI_BASE_URL", UNUSED)  # nothing listens there
    with ReferenceServer(provider="arli-proxy") as srv:
        monkeypatch.setenv("ARLI_PROXY_BASE_URL", f"{srv.url}/api")
        yield srv


def assert_keyless(srv: ReferenceServer) -> None:
    assert srv.requests, "nothing reached the proxy"
    for request in srv.requests:
        assert "authorization" not in request.headers, request.path
        assert ARLI_KEY not in request.body.decode(errors="replace")


def test_chat_arli_chat_stream_tokenize_models(proxy: ReferenceServer) -> None:
    llm = ChatArli(provider="arli-proxy", model=MODEL, max_tokens=8, temperature=0.5)
    assert llm.invoke("Hello").content
    assert "".join(str(c.content) for c in llm.stream("Tell me a story"))
    assert llm.get_num_tokens("hello world") > 0
    assert [m.id for m in llm.list_models()] == [MODEL, "tiny"]
    plain, streamed = proxy.requests_for(CHAT)
    assert plain.json == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hello"}],
        "max_tokens": 8,
        "temperature": 0.5,
        "stream": False,
    }
    assert streamed.json["stream"] is True
    assert streamed.json["messages"] == [{"role": "user", "content": "Tell me a story"}]
    assert proxy.requests_for(TOKENIZE)[0].json == {"model": MODEL, "prompt": "hello world"}
    assert [r.method for r in proxy.requests_for(MODELS)] == ["GET"]
    assert {r.path for r in proxy.requests} == {CHAT, TOKENIZE, MODELS}
    assert_keyless(proxy)


async def test_chat_arli_async_and_explicit_key_dropped(proxy: ReferenceServer) -> None:
    llm = ChatArli(provider="arli-proxy", model=MODEL, api_key="sk-typed-by-mistake")
    assert (await llm.ainvoke("Hello")).content
    assert [c async for c in llm.astream("Hi")]
    assert await llm.alist_models()
    assert len(proxy.requests_for(CHAT)) == 2
    assert_keyless(proxy)
    assert "sk-typed-by-mistake" not in str(proxy.requests)


def test_arli_llm_completions_and_stream(proxy: ReferenceServer) -> None:
    llm = ArliLLM(provider="arli-proxy", model=MODEL, max_tokens=5, min_p=0.05)
    assert llm.invoke("The sky is")
    assert "".join(llm.stream("Once upon a time"))
    assert llm.get_num_tokens("one two") > 0
    assert [m.id for m in llm.list_models()] == [MODEL, "tiny"]
    plain, streamed = proxy.requests_for(COMPLETIONS)
    assert plain.json == {
        "model": MODEL,
        "prompt": "The sky is",
        "max_tokens": 5,
        "min_p": 0.05,
        "stream": False,
    }
    assert streamed.json["stream"] is True
    assert streamed.json["prompt"] == "Once upon a time"
    assert proxy.requests_for(TOKENIZE)[0].json == {"model": MODEL, "prompt": "one two"}
    assert {r.path for r in proxy.requests} == {COMPLETIONS, TOKENIZE, MODELS}
    assert_keyless(proxy)


def test_llama_index_arli_every_text_route(proxy: ReferenceServer) -> None:
    llm = Arli(provider="arli-proxy", model=MODEL, max_tokens=6, use_completions_endpoint=True)
    messages = [ChatMessage(role="user", content="Hello")]
    assert llm.chat(messages).message.content
    assert "".join(r.delta or "" for r in llm.stream_chat(messages))
    assert llm.complete("The sky is").text
    assert "".join(r.delta or "" for r in llm.stream_complete("Once"))
    assert llm.count_tokens("hello world") > 0
    assert llm.metadata.context_window == 8192  # max_model_len, read from /api/v1/models
    chats = proxy.requests_for(CHAT)
    assert [r.json["stream"] for r in chats] == [False, True]
    assert chats[0].json["messages"] == [{"role": "user", "content": "Hello"}]
    completions = proxy.requests_for(COMPLETIONS)
    assert [(r.json["prompt"], r.json["stream"]) for r in completions] == [
        ("The sky is", False),
        ("Once", True),
    ]
    assert {r.path for r in proxy.requests} == {CHAT, COMPLETIONS, TOKENIZE, MODELS}
    assert_keyless(proxy)


async def test_llama_index_arli_async(proxy: ReferenceServer) -> None:
    llm = Arli(provider="arli-proxy", model=MODEL, api_key="sk-typed-by-mistake")
    assert (await llm.achat([ChatMessage(role="user", content="Hi")])).message.content
    assert (await llm.acomplete("The sky is")).text
    assert await llm.alist_models()
    assert llm.client.settings.text_api_key is None  # kept on the model, never sent
    assert len(proxy.requests_for(CHAT)) == 2
    assert_keyless(proxy)


def test_without_the_variable_the_default_is_the_documented_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARLIAI_API_KEY", ARLI_KEY)
    for llm in (
        ChatArli(provider="arli-proxy", model=MODEL),
        ArliLLM(provider="arli-proxy", model=MODEL),
        Arli(provider="arli-proxy", model=MODEL),
    ):
        transport = llm.client.transport
        assert transport.base_url == "https://generate.kim8.s4s.host/api"
        assert llm.client.settings.text_api_key is None
        assert transport.limiter is not None
        assert transport.limiter.limit == 6


def test_proxy_limit_of_six_counts_text_and_images_together(proxy: ReferenceServer) -> None:
    proxy.settings.text_latency = proxy.settings.image_latency = 0.3
    base_url = f"{proxy.url}/api"
    chat = ChatArli(provider="arli-proxy", base_url=base_url, model=MODEL, max_retries=0)
    llm = Arli(provider="arli-proxy", base_url=base_url, model=MODEL, max_retries=0)
    images = ImageClient(provider="arli-proxy", base_url=base_url, max_retries=0)

    def text(i: int) -> str:
        if i % 2:
            return str(chat.invoke(f"hello {i}").content)
        return str(llm.complete(f"hello {i}").text)

    def image(i: int) -> int:
        return len(images.txt2img({"prompt": f"cat {i}", "width": 64, "height": 64}).images)

    with ThreadPoolExecutor(max_workers=12) as pool:
        texts = [pool.submit(text, i) for i in range(6)]
        pictures = [pool.submit(image, i) for i in range(6)]
        assert all(f.result() for f in texts)
        assert all(f.result() == 1 for f in pictures)
    stats = proxy.stats
    assert stats["rate_limited"] == 0  # a 7th request in flight would have got a 429
    assert stats["max_in_flight_proxy"] == 6


@pytest.mark.parametrize("make", [ChatArli, ArliLLM, Arli])
def test_more_than_the_proxy_allows_is_refused(make: Any) -> None:
    with pytest.raises(ArliConfigError, match="max_concurrent_requests=7 is more than the"):
        make(provider="arli-proxy", model=MODEL, max_concurrent_requests=7)
    # (a URL of its own: limiters are process-wide, this one must not change the others')
    fewer = make(provider="arli-proxy", base_url=UNUSED, model=MODEL, max_concurrent_requests=3)
    assert fewer.client.transport.limiter.limit == 3


@pytest.mark.parametrize(
    ("make", "provider"),
    [
        (ChatArli, "featherless"),
        (ArliLLM, "featherless"),
        (Arli, "featherless"),
        (ChatFeatherless, "arli-proxy"),
        (FeatherlessLLM, "arli"),
        (Featherless, "arli-proxy"),
    ],
)
def test_a_provider_of_another_family_is_refused(make: Any, provider: str) -> None:
    with pytest.raises(ArliConfigError, match=rf"takes provider=.* not '{provider}'"):
        make(provider=provider, model=MODEL, api_key="k")


def test_async_calls_share_the_proxy_limit(proxy: ReferenceServer) -> None:
    proxy.settings.text_latency = 0.2
    llm = ChatArli(provider="arli-proxy", base_url=f"{proxy.url}/api", model=MODEL, max_retries=0)

    async def run() -> list[Any]:
        return await asyncio.gather(*(llm.ainvoke(f"hi {i}") for i in range(10)))

    assert len(asyncio.run(run())) == 10
    assert proxy.stats["rate_limited"] == 0
    assert proxy.stats["max_in_flight_proxy"] == 6

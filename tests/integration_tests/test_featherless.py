"""ChatFeatherless / FeatherlessLLM against the reference server in Featherless mode."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from arli import ArliValidationError
from langchain_arli import ArliLLM, ChatArli, ChatFeatherless, FeatherlessLLM
from llama_index_arli import Arli, Featherless
from tests.reference_server import ReferenceServer

MODEL = "Mistral-Nemo-12B-Instruct-2407"
KEY = "fl-test-key"


@pytest.fixture
def server() -> ReferenceServer:
    with ReferenceServer(api_key=KEY, provider="featherless") as srv:
        yield srv  # type: ignore[misc]


def test_chat_sends_only_documented_fields(server: ReferenceServer) -> None:
    llm = ChatFeatherless(model=MODEL, api_key=KEY, base_url=server.url, min_p=0.05, top_k=40)
    assert llm.invoke("Hello").content
    body = server.requests_for("/v1/chat/completions")[-1].json
    assert body == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hello"}],
        "min_p": 0.05,
        "top_k": 40,
        "stream": False,
    }
    with pytest.raises(ArliValidationError, match="does not document 'xtc_threshold'"):
        llm.invoke("Hello", xtc_threshold=0.1)
    assert len(server.requests_for("/v1/chat/completions")) == 1


def test_image_url_reaches_the_server_as_a_url(server: ReferenceServer) -> None:
    llm = ChatFeatherless(model=MODEL, api_key=KEY, base_url=server.url)
    url = "https://example.com/receipt.jpg"
    msg = HumanMessage(content=[{"type": "text", "text": "Read it"}, {"type": "image", "url": url}])
    assert url in str(llm.invoke([msg]).content)  # the server saw the URL, not base64
    sent = server.requests_for("/v1/chat/completions")[-1].json
    assert sent["messages"][0]["content"][1]["image_url"]["url"] == url


def test_models_on_plan_tokenize_and_completions(server: ReferenceServer) -> None:
    llm = ChatFeatherless(model=MODEL, api_key=KEY, base_url=server.url)
    on_plan = llm.list_models(available_on_current_plan=True)
    everything = llm.list_models(available_on_current_plan=False)
    assert len(on_plan) < len(everything)
    assert everything[0].owned_by == "featherless"
    assert server.requests_for("/v1/models")[0].query == {"available_on_current_plan": "1"}
    assert llm.get_num_tokens("hello world") > 0
    assert server.requests_for("/v1/tokenize")  # Featherless serves /v1/tokenize
    completion = FeatherlessLLM(model=MODEL, api_key=KEY, base_url=server.url, max_tokens=5)
    assert completion.invoke("The sky is")
    assert server.requests_for("/v1/completions")[-1].json["max_tokens"] == 5


def test_structured_output_uses_json_schema(server: ReferenceServer) -> None:
    from pydantic import BaseModel

    class Joke(BaseModel):
        setup: str
        punchline: str

    llm = ChatFeatherless(model=MODEL, api_key=KEY, base_url=server.url)
    assert isinstance(llm.with_structured_output(Joke).invoke("Tell me a joke about cats."), Joke)
    body = server.requests_for("/v1/chat/completions")[-1].json
    assert body["response_format"]["type"] == "json_schema"
    assert "guided_json" not in body


# -- the plan filter from every Featherless adapter --------------------------------------------

PLAN_ADAPTERS: dict[str, Any] = {
    "ChatFeatherless": ChatFeatherless,
    "FeatherlessLLM": FeatherlessLLM,
    "llama_index.Featherless": Featherless,
}


@pytest.mark.parametrize("name", list(PLAN_ADAPTERS))
def test_list_models_sends_the_plan_filter(server: ReferenceServer, name: str) -> None:
    llm = PLAN_ADAPTERS[name](model=MODEL, api_key=KEY, base_url=server.url)
    on_plan = [m.id for m in llm.list_models(available_on_current_plan=True)]
    everything = [m.id for m in llm.list_models(available_on_current_plan=False)]
    default = [m.id for m in llm.list_models()]
    assert on_plan == [MODEL]  # the reference server's plan holds the first model only
    assert everything == default == [MODEL, "tiny"]
    assert [r.query for r in server.requests_for("/v1/models")] == [
        {"available_on_current_plan": "1"},
        {"available_on_current_plan": "0"},
        {},
    ]


@pytest.mark.parametrize("name", list(PLAN_ADAPTERS))
async def test_alist_models_sends_the_plan_filter(server: ReferenceServer, name: str) -> None:
    llm = PLAN_ADAPTERS[name](model=MODEL, api_key=KEY, base_url=server.url)
    assert [m.id for m in await llm.alist_models(available_on_current_plan=True)] == [MODEL]
    assert len(await llm.alist_models(available_on_current_plan=False)) == 2
    assert [r.query for r in server.requests_for("/v1/models")] == [
        {"available_on_current_plan": "1"},
        {"available_on_current_plan": "0"},
    ]


@pytest.mark.parametrize("make", [ChatArli, ArliLLM, Arli])
def test_the_plan_filter_is_refused_where_it_is_not_documented(make: Any) -> None:
    with ReferenceServer(api_key=KEY) as arli:
        llm = make(model=MODEL, api_key=KEY, base_url=arli.url)
        with pytest.raises(ArliValidationError, match="available_on_current_plan is a Featherless"):
            llm.list_models(available_on_current_plan=True)
        assert not arli.requests  # refused before sending
        assert llm.list_models()


def test_the_plan_filter_takes_a_bool(server: ReferenceServer) -> None:
    llm = ChatFeatherless(model=MODEL, api_key=KEY, base_url=server.url)
    with pytest.raises(ArliValidationError, match=r"=1 must be True .* False .* or None"):
        llm.list_models(available_on_current_plan=1)  # type: ignore[arg-type]
    assert not server.requests

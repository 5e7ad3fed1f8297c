"""Model profiles (LangChain ``.profile``), model facts shared with LlamaIndex, and
``langchain_arli.init_chat_model``."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator
from typing import Any, get_type_hints

import pytest
from langchain_core.language_models.model_profile import ModelProfile

from arli import ArliError
from arli.text.catalog import facts_for
from arli.text.facts import forget_listings
from langchain_arli import ChatArli, ChatFeatherless, init_chat_model
from llama_index_arli import Arli
from tests.reference_server import ReferenceServer


@pytest.fixture(autouse=True)
def fresh_listings() -> Iterator[None]:
    forget_listings()
    yield
    forget_listings()


@pytest.fixture
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(
        api_key="test-key", models=("Qwen/Qwen3.5-VL", "tiny"), max_model_len=32768
    ) as srv:
        yield srv


def _chat(server: ReferenceServer, model: str, **kwargs: Any) -> ChatArli:
    return ChatArli(model=model, api_key="test-key", base_url=server.url, **kwargs)


def test_profile_keys_are_all_langchain_profile_keys() -> None:
    declared = set(get_type_hints(ModelProfile))
    for model in ("Qwen/Qwen3.5-VL", "Mistral-Nemo-12B-Instruct-2407", "unlisted-model"):
        profile = ChatArli(model=model, api_key="k", base_url="http://127.0.0.1:9").profile
        assert isinstance(profile, dict)
        assert set(profile.known()) <= declared  # type: ignore[attr-defined]


def test_documented_vision_model_says_images_and_pdfs(server: ReferenceServer) -> None:
    profile = _chat(server, "Qwen/Qwen3.5-VL").profile
    assert profile is not None
    assert profile.get("image_inputs") is True
    assert profile.get("pdf_inputs") is True
    assert profile.get("image_tool_message") is True
    assert profile.get("tool_calling") is True
    # the documents list this one as a reasoning model; a vision model is not said to reason
    assert "reasoning_output" not in profile
    r1 = ChatFeatherless(model="deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", api_key="k").profile
    assert r1 is not None
    assert r1.known()["reasoning_output"] is True  # type: ignore[attr-defined]


def test_unlisted_model_leaves_unknown_capabilities_out(server: ReferenceServer) -> None:
    profile = _chat(server, "tiny").profile
    assert profile is not None
    # not in any document: no claim either way about images or reasoning
    assert "image_inputs" not in profile
    assert "reasoning_output" not in profile
    assert profile["text_inputs"] is True


def test_max_input_tokens_from_the_server_once_per_base_url(server: ReferenceServer) -> None:
    vl = _chat(server, "Qwen/Qwen3.5-VL")
    tiny = _chat(server, "tiny")
    assert server.requests_for("/v1/models") == []  # building a model makes no request
    assert vl.profile is not None
    assert tiny.profile is not None
    assert vl.profile["max_input_tokens"] == 32768
    assert tiny.profile.get("max_input_tokens") == 32768
    assert dict(vl.profile)["max_input_tokens"] == 32768
    assert len(server.requests_for("/v1/models")) == 1  # one listing for both models


def test_calls_never_read_the_listing(server: ReferenceServer) -> None:
    llm = _chat(server, "Qwen/Qwen3.5-VL")
    llm.invoke("hi")
    assert server.requests_for("/v1/models") == []


def test_unreachable_listing_leaves_max_input_tokens_out() -> None:
    llm = ChatArli(
        model="Qwen/Qwen3.5-VL", api_key="k", base_url="http://127.0.0.1:9", max_retries=0
    )
    assert llm.profile is not None
    assert "max_input_tokens" not in llm.profile
    assert llm.profile.get("image_inputs") is True


def test_profile_building_warns_nothing() -> None:
    gc.collect()  # earlier tests' garbage (unclosed sockets) must not warn inside the block
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ChatArli(model="Qwen/Qwen3.5-VL", api_key="k", base_url="http://127.0.0.1:9")


def test_explicit_profile_wins() -> None:
    llm = ChatArli(model="m", api_key="k", profile={"tool_calling": False})
    assert llm.profile == {"tool_calling": False}


def test_a_copy_with_another_model_or_server_has_that_ones_profile(
    server: ReferenceServer,
) -> None:
    vl = _chat(server, "Qwen/Qwen3.5-VL")
    assert vl.profile is not None
    assert vl.profile.get("image_inputs") is True
    tiny = vl.model_copy(update={"model": "tiny"})
    assert tiny.profile is not None
    assert "image_inputs" not in tiny.profile  # not the vision model's capabilities
    with ReferenceServer(
        api_key="test-key", models=("Qwen/Qwen3.5-VL",), max_model_len=4096
    ) as other:
        moved = vl.model_copy(update={"base_url": other.url})
        assert moved.profile is not None
        assert moved.profile["max_input_tokens"] == 4096  # the new server's window
        assert len(other.requests_for("/v1/models")) == 1
    assert vl.profile["max_input_tokens"] == 32768  # the original is untouched


def test_assigning_the_model_or_url_rederives_the_profile(server: ReferenceServer) -> None:
    llm = _chat(server, "Qwen/Qwen3.5-VL")
    assert llm.profile is not None
    assert llm.profile.get("image_inputs") is True
    llm.model = "tiny"
    assert "image_inputs" not in llm.profile
    with ReferenceServer(api_key="test-key", models=("tiny",), max_model_len=2048) as other:
        llm.base_url = other.url
        assert llm.profile["max_input_tokens"] == 2048
    explicit = _chat(server, "tiny", profile={"tool_calling": False})
    explicit.model = "Qwen/Qwen3.5-VL"
    assert explicit.profile == {"tool_calling": False}  # a profile the caller gave stays


def test_copies_and_pickles_make_no_request_and_look_up_their_own(server: ReferenceServer) -> None:
    import copy
    import pickle

    llm = _chat(server, "Qwen/Qwen3.5-VL")
    deep = copy.deepcopy(llm)
    revived = pickle.loads(pickle.dumps(llm))
    assert server.requests_for("/v1/models") == []  # neither copying nor pickling reads it
    for each in (deep, revived):
        assert each.profile is not None
        assert each.profile["max_input_tokens"] == 32768
        assert each.profile.get("image_inputs") is True


def test_facts_for_proxy_reads_arli_table() -> None:
    assert facts_for("arli-proxy", "Qwen/Qwen3.5-VL").vision is True
    assert facts_for("featherless", "Qwen/Qwen3.5-VL").vision is None


# -- init_chat_model ---------------------------------------------------------------------------


def test_init_chat_model_provider_strings() -> None:
    arli = init_chat_model("arli:Mistral-Nemo-12B-Instruct-2407", api_key="k", temperature=0.2)
    assert isinstance(arli, ChatArli)
    assert not isinstance(arli, ChatFeatherless)
    assert (arli.model, arli.temperature, arli.provider) == (
        "Mistral-Nemo-12B-Instruct-2407",
        0.2,
        "arli",
    )
    fl = init_chat_model("featherless:Qwen/Qwen2.5-0.5B-Instruct", api_key="k")
    assert isinstance(fl, ChatFeatherless)
    assert fl.model == "Qwen/Qwen2.5-0.5B-Instruct"
    proxy = init_chat_model("m", model_provider="arli_proxy", base_url="http://proxy.example/api")
    assert isinstance(proxy, ChatArli)
    assert proxy.provider == "arli-proxy"


@pytest.mark.parametrize(
    ("model", "provider", "needle"),
    [
        ("Mistral-Nemo-12B-Instruct-2407", None, "no provider"),
        ("openai:gpt-4o", None, "no provider"),
        ("m", "openai", "unknown model_provider 'openai'"),
        ("arli:", None, "model id is empty"),
    ],
)
def test_init_chat_model_refuses(model: str, provider: str | None, needle: str) -> None:
    with pytest.raises(ArliError, match=needle):
        init_chat_model(model, model_provider=provider, api_key="k")


def test_init_chat_model_checks_constructor_arguments() -> None:
    with pytest.raises(ArliError, match="min_P"):
        init_chat_model("arli:m", api_key="k", min_P=0.1)


def test_init_chat_model_configurable_fields(server: ReferenceServer) -> None:
    runnable = init_chat_model(
        "arli:Qwen/Qwen3.5-VL",
        api_key="test-key",
        base_url=server.url,
        configurable_fields=("temperature",),
        config_prefix="chat",
    )
    runnable.invoke("hi", config={"configurable": {"chat_temperature": 0.3}})
    runnable.invoke("hi")
    bodies = [r.json for r in server.requests_for("/v1/chat/completions")]
    assert bodies[0]["temperature"] == 0.3
    assert "temperature" not in bodies[1]
    with pytest.raises(ArliError, match="no field 'temprature'"):
        init_chat_model("arli:m", api_key="k", configurable_fields=("temprature",))


# -- LlamaIndex reads the same facts -------------------------------------------------------------


def test_llama_index_metadata_and_langchain_profile_share_one_listing(
    server: ReferenceServer,
) -> None:

    lc = _chat(server, "Qwen/Qwen3.5-VL")
    li = Arli(model="Qwen/Qwen3.5-VL", api_key="test-key", base_url=server.url)
    assert lc.profile is not None
    assert lc.profile["max_input_tokens"] == 32768
    meta = li.metadata
    assert meta.context_window == lc.profile["max_input_tokens"]
    assert meta.is_function_calling_model is lc.profile["tool_calling"] is True
    assert len(server.requests_for("/v1/models")) == 1  # the same per-base-URL listing


def test_llama_index_function_calling_comes_from_the_facts_unless_set() -> None:

    default = Arli(model="tiny", api_key="k", base_url="http://127.0.0.1:9")
    assert default.is_function_calling_model is None  # not decided in the skin
    assert default.metadata.is_function_calling_model is True
    off = Arli(
        model="tiny", api_key="k", base_url="http://127.0.0.1:9", is_function_calling_model=False
    )
    assert off.metadata.is_function_calling_model is False


def test_upstream_init_chat_model_refuses_our_provider_as_the_readme_says() -> None:
    # the README sends users to langchain_arli.init_chat_model because of exactly this
    upstream = pytest.importorskip("langchain.chat_models")
    with pytest.raises(ValueError, match=r"Unable to infer model provider"):
        upstream.init_chat_model("arli:Mistral-Nemo-12B-Instruct-2407", api_key="k")
    with pytest.raises(ValueError, match=r"Unsupported (model_)?provider='arli'"):
        upstream.init_chat_model("Mistral-Nemo-12B-Instruct-2407", model_provider="arli")
    ours = init_chat_model("arli:Mistral-Nemo-12B-Instruct-2407", api_key="k")
    assert isinstance(ours, ChatArli)

"""Featherless: its documented parameters only, keys, URLs passed through, serialization."""

from __future__ import annotations

import pytest
from langchain_core.load import dumpd, load
from langchain_core.messages import HumanMessage

from arli import ArliConfigError, ArliSettings, ArliValidationError, TextClient
from arli._providers import FEATHERLESS_PARAMS, PROVIDERS
from langchain_arli import ChatArli, ChatFeatherless, FeatherlessLLM

MODEL = "Qwen/Qwen2.5-72B-Instruct"
FAKE = "fl-FAKE-0123456789abcdef-SECRET"


def test_documented_parameters_are_accepted() -> None:
    llm = ChatFeatherless(
        model=MODEL, api_key="k", temperature=0.7, top_p=0.9, top_k=40, min_p=0.05,
        repetition_penalty=1.1, presence_penalty=0.5, frequency_penalty=0.5, stop=["x"],
        seed=1, max_tokens=100,
    )  # fmt: skip
    assert set(llm.sampling_params) == FEATHERLESS_PARAMS


@pytest.mark.parametrize("field", ["top_a", "dry_multiplier", "mirostat_mode", "guided_regex"])
def test_arli_extras_are_rejected_before_sending(field: str) -> None:
    value = {"top_a": 0.1, "dry_multiplier": 0.8, "mirostat_mode": 2, "guided_regex": "a"}[field]
    with pytest.raises(ValueError, match=f"Featherless AI does not document '{field}'"):
        ChatFeatherless(model=MODEL, api_key="k", **{field: value})
    llm = ChatFeatherless(model=MODEL, api_key="k")
    with pytest.raises(ArliValidationError, match="extra_body"):  # refused before sending
        llm.invoke("x", **{field: value})
    with pytest.raises(ValueError, match="does not document"):
        FeatherlessLLM(model=MODEL, api_key="k", **{field: value})


def test_the_same_extras_are_fine_on_arli() -> None:
    assert ChatArli(model=MODEL, api_key="k", top_a=0.1).top_a == 0.1


def test_key_and_url_from_featherless_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATHERLESS_API_KEY", "fk")
    monkeypatch.setenv("ARLIAI_API_KEY", "arli-key-must-not-be-used")
    llm = ChatFeatherless(model=MODEL)
    assert llm.api_key is not None
    assert llm.api_key.get_secret_value() == "fk"
    assert llm.client.transport.base_url == "https://api.featherless.ai"
    settings = ArliSettings.resolve(provider="featherless", env={})
    with pytest.raises(ArliConfigError, match="FEATHERLESS_API_KEY"):
        settings.require_api_key("text")
    from arli import ImageClient

    with pytest.raises(ArliConfigError, match=r"has no .*image API"):
        ImageClient(provider="featherless", api_key="k")


def test_image_urls_pass_through_but_paths_are_inlined(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from arli.text.payload import inline_images

    llm = ChatFeatherless(model=MODEL, api_key="k")
    assert llm.inline_image_urls is False
    msgs = [
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}],
        }
    ]
    inline_images(msgs, inline_urls=llm.inline_image_urls)
    assert msgs[0]["content"][0]["image_url"]["url"] == "https://x/a.png"
    assert ChatArli(model=MODEL, api_key="k").inline_image_urls is True


def test_structured_output_default_and_guided_refused() -> None:
    llm = ChatFeatherless(model=MODEL, api_key="k")
    with pytest.raises(ArliValidationError, match="does not document guided decoding"):
        llm.with_structured_output({"type": "object", "title": "X"}, method="guided_json")
    chain = llm.with_structured_output({"type": "object", "title": "X", "properties": {}})
    bound = chain.first  # type: ignore[attr-defined]
    assert bound.kwargs["response_format"]["type"] == "json_schema"


def test_identity_and_secrets() -> None:
    llm = ChatFeatherless(model=MODEL, api_key=FAKE)
    assert llm._llm_type == "featherless-chat"
    assert llm._get_ls_params()["ls_provider"] == "featherless"
    assert FAKE not in repr(llm)
    assert FAKE not in str(dumpd(llm))
    assert dumpd(llm)["kwargs"]["api_key"]["id"] == ["FEATHERLESS_API_KEY"]


def test_serialization_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATHERLESS_API_KEY", FAKE)
    llm = ChatFeatherless(model=MODEL, api_key=FAKE, min_p=0.1)
    revived = load(
        dumpd(llm),
        valid_namespaces=["langchain_arli"],
        allowed_objects=[ChatFeatherless],
        secrets_from_env=True,
    )
    assert isinstance(revived, ChatFeatherless)
    assert revived.model_dump() == llm.model_dump()


def test_provider_presets_are_consistent() -> None:
    assert PROVIDERS["featherless"].text_params == FEATHERLESS_PARAMS
    client = TextClient(provider="featherless", api_key="k")
    assert client.allowed_params == FEATHERLESS_PARAMS
    assert TextClient(api_key="k").allowed_params is None
    assert HumanMessage  # imported for the message-based tests in the integration module

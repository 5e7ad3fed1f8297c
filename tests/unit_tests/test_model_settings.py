"""Keys are normalized everywhere, and a text model's client follows its settings.

The rule for both frameworks (arli/_text_model.py): the client is derived from the
connection settings; an assignment is validated like the constructor and rebuilds what
depends on it; a copy with other settings is a new object with its own client.
"""

from __future__ import annotations

import copy
import json
import pickle
import socket
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from langchain_core.load import dumpd, load
from langchain_core.runnables import ConfigurableField

from arli import ArliConfigError, ArliError, ArliValidationError, TextClient
from langchain_arli import ArliLLM, ChatArli, ChatFeatherless, FeatherlessLLM
from llama_index_arli import Arli

RAW = "sk-settings-audit-4b1f"
TEXT_MODELS = [ChatArli, ArliLLM, ChatFeatherless, Arli]


@pytest.mark.parametrize("cls", TEXT_MODELS)
def test_surrounding_whitespace_is_stripped_from_argument_and_env_keys(
    cls: type[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = cls(model="m", api_key=f"  {RAW}\n")
    assert llm.api_key.get_secret_value() == RAW
    assert llm.client.settings.text_api_key.get_secret_value() == RAW
    for variable in ("ARLI_TEXT_KEY", "ARLIAI_API_KEY", "FEATHERLESS_API_KEY"):
        monkeypatch.setenv(variable, f"{RAW}\r\n")
    from_env = cls(model="m")
    assert from_env.client.settings.text_api_key.get_secret_value() == RAW


@pytest.mark.parametrize("cls", [*TEXT_MODELS, TextClient])
@pytest.mark.parametrize("bad", [f"{RAW}\ninner", f"{RAW}\x00", f"{RAW}é"])
def test_a_key_no_header_can_carry_is_refused_without_quoting_it(cls: type[Any], bad: str) -> None:
    with pytest.raises(ArliConfigError) as info:
        cls(model="m", api_key=bad) if cls is not TextClient else cls(api_key=bad)
    assert RAW not in str(info.value)
    assert RAW not in repr(info.value.args)


@pytest.fixture
def listening() -> Iterator[str]:
    """A loopback socket that accepts connections (h11 refuses the request before sending)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def test_header_values_are_scrubbed_from_httpx_errors_and_their_chain(listening: str) -> None:
    client = TextClient(
        api_key="sk-good-key-123",
        base_url=listening,
        max_retries=0,
        default_headers={"X-Api-Key": f"{RAW}\nsecond-line"},
    )
    with pytest.raises(ArliError) as info:
        client.list_models()
    texts = [str(e) for e in _chain(info.value)] + [repr(e.args) for e in _chain(info.value)]
    assert len(texts) > 2  # the httpx/h11 errors are still chained
    assert all(RAW not in t and "second-line" not in t for t in texts)
    assert all("sk-good-key-123" not in t for t in texts)
    assert "Illegal header" in str(info.value)


@pytest.mark.parametrize("cls", TEXT_MODELS)
def test_model_copy_with_update_gets_its_own_client(cls: type[Any]) -> None:
    llm = cls(model="m", api_key="k1", base_url="http://one.test")
    moved = llm.model_copy(update={"api_key": RAW, "base_url": "http://two.test"})
    assert moved.client is not llm.client
    assert moved.client.transport.base_url == "http://two.test"
    assert moved.client.settings.text_api_key.get_secret_value() == RAW
    assert RAW not in repr(moved)
    assert llm.client.transport.base_url == "http://one.test"
    with pytest.raises(ArliValidationError):
        llm.model_copy(update={"temperature": -5})  # checked like a new object


@pytest.mark.parametrize("cls", TEXT_MODELS)
def test_assigning_a_connection_setting_rebuilds_the_client(cls: type[Any]) -> None:
    llm = cls(model="m", api_key="k1", base_url="http://one.test")
    llm.base_url = "http://two.test"
    assert llm.client.transport.base_url == "http://two.test"
    llm.api_key = f" {RAW}\n"
    assert llm.client.settings.text_api_key.get_secret_value() == RAW
    llm.max_retries = 5
    assert llm.client.settings.max_retries == 5
    llm.timeout = 7.5
    assert llm.client.settings.text_timeout == 7.5
    with pytest.raises(ArliConfigError):
        llm.base_url = "ftp://nowhere"
    assert llm.base_url == "http://two.test"  # the old setting and its client stay
    assert llm.client.transport.base_url == "http://two.test"


@pytest.mark.parametrize("cls", TEXT_MODELS)
def test_assigning_a_sampler_validates_like_the_constructor(cls: type[Any]) -> None:
    llm = cls(model="m", api_key="k")
    with pytest.raises(ArliValidationError, match="temperature"):
        llm.temperature = -5
    with pytest.raises(ArliValidationError, match="not a number"):
        llm.temperature = True
    with pytest.raises(ArliValidationError, match="model"):
        llm.model = ""
    llm.temperature = 0.5
    assert llm.sampling_params["temperature"] == 0.5


def test_featherless_refuses_an_undocumented_sampler_on_assignment() -> None:
    llm = ChatFeatherless(model="m", api_key="k")
    with pytest.raises(ArliValidationError, match="dry_multiplier"):
        llm.dry_multiplier = 0.8
    assert llm.dry_multiplier is None


@pytest.mark.parametrize("cls", [ChatArli, ArliLLM, ChatFeatherless])
def test_configurable_fields_build_a_model_with_its_own_client(cls: type[Any]) -> None:
    llm = cls(model="m", api_key="k1", base_url="http://one.test")
    configurable = llm.configurable_fields(
        base_url=ConfigurableField(id="base_url"), api_key=ConfigurableField(id="api_key")
    )
    built, _ = configurable._prepare(
        {"configurable": {"base_url": "http://two.test", "api_key": RAW}}
    )
    assert built.client.transport.base_url == "http://two.test"
    assert built.client.settings.text_api_key.get_secret_value() == RAW
    with pytest.raises(ArliError):
        configurable._prepare({"configurable": {"base_url": "ftp://x"}})


@pytest.mark.parametrize("cls", TEXT_MODELS)
def test_deepcopy_and_pickle_work_or_raise_an_arli_error(cls: type[Any]) -> None:
    import httpx

    llm = cls(model="m", api_key=RAW, base_url="http://one.test", temperature=0.3)
    for twin in (copy.deepcopy(llm), pickle.loads(pickle.dumps(llm))):
        assert twin.client is not llm.client
        assert twin.temperature == 0.3
        assert twin.client.transport.base_url == "http://one.test"
    with httpx.Client() as http:
        injected = cls(model="m", api_key="k", http_client=http)
        assert copy.deepcopy(injected).http_client is http  # shared, not copied
        with pytest.raises(ArliConfigError, match="cannot be pickled"):
            pickle.dumps(injected)


LOADABLE = [
    (ChatArli, "ARLIAI_API_KEY"),
    (ArliLLM, "ARLIAI_API_KEY"),
    (ChatFeatherless, "FEATHERLESS_API_KEY"),
    (FeatherlessLLM, "FEATHERLESS_API_KEY"),
]


@pytest.mark.parametrize(("cls", "variable"), LOADABLE)
def test_load_of_dumpd_rebuilds_the_model_with_the_key_of_secrets_map(
    cls: type[Any], variable: str
) -> None:
    llm = cls(model="m", api_key="sk-first-key-0000", base_url="http://one.test", min_p=0.05)
    manifest = dumpd(llm)
    assert "sk-first-key-0000" not in json.dumps(manifest)
    secrets = {variable: f"{RAW}\n"}  # as read from a secrets file
    documented = {"valid_namespaces": ["langchain_arli"], "allowed_objects": [cls]}
    for options in (documented, {"allowed_objects": [cls]}):  # the namespace is trusted
        restored = load(manifest, secrets_map=secrets, **options)
        assert type(restored) is cls
        assert (restored.model, restored.min_p) == ("m", 0.05)
        assert restored.client.transport.base_url == "http://one.test"
        assert restored.client.settings.text_api_key.get_secret_value() == RAW


@pytest.mark.parametrize(("cls", "variable"), LOADABLE)
def test_a_refused_load_never_shows_the_key(cls: type[Any], variable: str) -> None:
    manifest = dumpd(cls(model="m", api_key="k"))
    tampered = copy.deepcopy(manifest)
    tampered["kwargs"]["temperature"] = -5
    secrets = {variable: RAW}
    refusals: list[Callable[[], Any]] = [
        lambda: load(manifest, secrets_map=secrets),  # LangChain's default: core classes only
        lambda: load(manifest, secrets_map=secrets, allowed_objects="all"),
        lambda: load(tampered, secrets_map=secrets, allowed_objects=[cls]),
        lambda: load(manifest, secrets_map={variable: f"{RAW}\nx"}, allowed_objects=[cls]),
    ]
    for refusal in refusals:
        with pytest.raises(ValueError) as info:
            refusal()
        shown = "".join(traceback.format_exception(info.value)) + repr(info.value.args)
        assert RAW not in shown

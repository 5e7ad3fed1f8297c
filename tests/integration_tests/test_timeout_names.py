"""One name per idea for the per-call timeout, against a server that never answers.

``timeout`` is a call's read timeout in seconds (per attempt) everywhere: the transport's
option (``timeout_kind`` picks which setting applies when it is not given), the core
clients' keyword and the skins' field (LangChain: alias ``request_timeout``, as ChatOpenAI;
LlamaIndex: ``timeout``, as OpenAILike). Each spelling is shown to reach the transport by
the call failing with an :class:`~arli.ArliTimeoutError` that names that limit, long
before any other timeout could fire. The spellings from before (``timeout=<kind>``,
``timeout_seconds=`` on the transport) still work with a ``DeprecationWarning``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from arli import ArliSettings, ArliTimeoutError, ArliValidationError
from arli._transport import get_transport
from langchain_arli import ArliLLM, ChatArli
from llama_index_arli import Arli
from tests.reference_server import Fault, ReferenceServer

MODEL = "Mistral-Nemo-12B-Instruct-2407"
KEY = "test-key"
CHAT = "/v1/chat/completions"
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
#: the settings' read timeouts: long, except the listing one
SETTINGS = {"text_timeout": 30.0, "image_timeout": 30.0, "listing_timeout": 0.25}


def _hang(server: ReferenceServer, path: str = CHAT) -> None:
    server.add_fault(Fault(path=path, kind="hang", times=-1))


def _transport(server: ReferenceServer) -> Any:
    settings = ArliSettings.resolve(api_key=KEY, base_url=server.url, max_retries=0, **SETTINGS)
    return get_transport(settings, "text")


def test_transport_timeout_is_the_seconds_and_timeout_kind_the_setting(
    reference_server: ReferenceServer,
) -> None:
    _hang(reference_server)
    transport = _transport(reference_server)
    with pytest.raises(ArliTimeoutError, match=r"after 0\.2 s"):
        transport.request("POST", CHAT, json_body=BODY, timeout=0.2)
    with pytest.raises(ArliTimeoutError, match=r"after 0\.25 s"):
        transport.request("POST", CHAT, json_body=BODY, timeout_kind="listing")
    with pytest.raises(ArliTimeoutError, match=r"after 0\.2 s"):
        list(transport.stream_events("POST", CHAT, json_body=BODY, timeout=0.2))


def test_transport_old_spellings_still_work_and_warn(reference_server: ReferenceServer) -> None:
    _hang(reference_server)
    transport = _transport(reference_server)
    with (
        pytest.warns(DeprecationWarning, match=r"naming a kind is deprecated, use timeout_kind="),
        pytest.raises(ArliTimeoutError, match=r"after 0\.25 s"),
    ):
        transport.request("POST", CHAT, json_body=BODY, timeout="listing")
    with (
        pytest.warns(DeprecationWarning, match=r"timeout_seconds= is deprecated, use timeout="),
        pytest.raises(ArliTimeoutError, match=r"after 0\.2 s"),
    ):
        transport.request("POST", CHAT, json_body=BODY, timeout_seconds=0.2)
    with (
        pytest.warns(DeprecationWarning, match=r"timeout_seconds= is deprecated"),
        pytest.raises(ArliTimeoutError, match=r"after 0\.2 s"),
    ):
        list(transport.stream_events("POST", CHAT, json_body=BODY, timeout_seconds=0.2))


def test_transport_refuses_both_spellings_at_once(reference_server: ReferenceServer) -> None:
    transport = _transport(reference_server)
    with (
        pytest.warns(DeprecationWarning, match=r"timeout_seconds= is deprecated"),
        pytest.raises(ArliValidationError, match=r"give timeout= only"),
    ):
        transport.request("POST", CHAT, json_body=BODY, timeout=1.0, timeout_seconds=2.0)
    with (
        pytest.warns(DeprecationWarning, match=r"naming a kind is deprecated"),
        pytest.raises(ArliValidationError, match=r"timeout_kind= its kind"),
    ):
        transport.request("POST", CHAT, json_body=BODY, timeout="text", timeout_kind="image")
    assert not [r for r in reference_server.requests if r.path == CHAT]


SKINS: dict[str, Callable[[str, dict[str, Any]], Any]] = {
    "ChatArli": lambda url, kw: ChatArli(model=MODEL, api_key=KEY, base_url=url, **kw),
    "ArliLLM": lambda url, kw: ArliLLM(model=MODEL, api_key=KEY, base_url=url, **kw),
    "LlamaIndex Arli": lambda url, kw: Arli(model=MODEL, api_key=KEY, base_url=url, **kw),
}


def _call(name: str, llm: Any) -> Any:
    if name == "LlamaIndex Arli":
        return llm.complete("Hi")
    return llm.invoke("Hi")


def _stream(name: str, llm: Any) -> Any:
    if name == "LlamaIndex Arli":
        return list(llm.stream_complete("Hi"))
    return list(llm.stream("Hi"))


@pytest.mark.parametrize(
    ("name", "spelling"),
    [
        ("ChatArli", "timeout"),
        ("ChatArli", "request_timeout"),
        ("ArliLLM", "timeout"),
        ("ArliLLM", "request_timeout"),
        ("LlamaIndex Arli", "timeout"),
    ],
)
def test_each_skins_timeout_spelling_reaches_the_transport(
    reference_server: ReferenceServer, name: str, spelling: str
) -> None:
    _hang(reference_server, "/v1/completions")
    _hang(reference_server)
    llm = SKINS[name](reference_server.url, {spelling: 0.2, "max_retries": 0})
    assert llm.timeout == 0.2
    with pytest.raises(ArliTimeoutError, match=r"after 0\.2 s"):
        _call(name, llm)
    with pytest.raises(ArliTimeoutError, match=r"after 0\.2 s"):
        _stream(name, llm)


def test_llama_index_names_it_timeout_only_and_says_so() -> None:
    with pytest.raises(ArliValidationError, match=r"'request_timeout'. Did you mean 'timeout'"):
        Arli(model=MODEL, api_key=KEY, request_timeout=0.2)

"""Calls that go wrong the way the programmer, not the model, must hear about.

- ``with_structured_output(..., include_raw=True)`` returns LangChain's
  ``{"raw", "parsed": None, "parsing_error"}`` for an answer that breaks its constraint
  (the constraint is still checked, by the parser) instead of raising.
- A configuration error (a wrong base URL answering 404, a rejected key) raises to the
  programmer from every tool; it is never handed to the agent as an argument to fix
  ("Check `an argument`"). A 404 naming a model, sampler or upscaler still is.
- An empty message list (or prompt list) is refused before anything is sent; the pooled
  async clients of an event loop are closed when the loop shuts down (no ``ResourceWarning``
  and no socket left open after ``asyncio.run``); every public object can be deep-copied and
  pickled, or refuses with an error saying why.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import json
import os
import pickle
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import ToolException
from pydantic import BaseModel

from arli import (
    ArliError,
    ArliValidationError,
    AuthenticationError,
    ConstraintViolationError,
    NotFoundError,
)
from langchain_arli import ChatArli
from tests.reference_server import ReferenceServer
from tests.unit_tests.test_unknown_arguments import CASES, PUBLIC


class Joke(BaseModel):
    """A schema the canned answers break or keep."""

    setup: str
    punchline: str


def answering(content: str, bodies: list[dict[str, Any]] | None = None) -> httpx.Client:
    """An httpx client whose server answers every chat with ``content``."""

    def handler(request: httpx.Request) -> httpx.Response:
        if bodies is not None:
            bodies.append(json.loads(request.content))
        message = {"role": "assistant", "content": content}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        usage = {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
        body = {"id": "c1", "object": "chat.completion", "model": "m", "created": 0}
        return httpx.Response(200, json={**body, "choices": [choice], "usage": usage})

    return httpx.Client(transport=httpx.MockTransport(handler))


def chat(content: str, bodies: list[dict[str, Any]] | None = None, **kwargs: Any) -> ChatArli:
    client = answering(content, bodies)
    return ChatArli(model="m", api_key="k", base_url="http://t", http_client=client, **kwargs)


SCHEMAS: list[tuple[str, Callable[[], Any]]] = [
    ("pydantic", lambda: Joke),
    ("dict", Joke.model_json_schema),
]


@pytest.mark.parametrize("method", ["guided_json", "json_schema", "json_mode"])
@pytest.mark.parametrize(("kind", "schema"), SCHEMAS, ids=[k for k, _ in SCHEMAS])
def test_include_raw_returns_the_parsing_error_instead_of_raising(
    method: str, kind: str, schema: Callable[[], Any]
) -> None:
    broken = '{"setup": "why?"}' if method != "json_mode" else '["not", "an", "object"]'
    llm = chat(broken)
    out = llm.with_structured_output(schema(), method=method, include_raw=True).invoke("joke")
    assert set(out) == {"raw", "parsed", "parsing_error"}
    assert out["parsed"] is None
    assert isinstance(out["parsing_error"], ConstraintViolationError)
    assert isinstance(out["raw"], AIMessage)
    assert out["raw"].content == broken
    assert out["raw"].usage_metadata is not None  # the whole answer, usage included
    assert out["raw"].usage_metadata["total_tokens"] == 8
    # without include_raw, the same answer still raises
    with pytest.raises(ConstraintViolationError):
        llm.with_structured_output(schema(), method=method).invoke("joke")


@pytest.mark.parametrize(("kind", "schema"), SCHEMAS, ids=[k for k, _ in SCHEMAS])
def test_include_raw_parses_a_conforming_answer(kind: str, schema: Callable[[], Any]) -> None:
    bodies: list[dict[str, Any]] = []
    llm = chat('{"setup": "why?", "punchline": "because"}', bodies)
    out = llm.with_structured_output(schema(), include_raw=True).invoke("joke")
    assert out["parsing_error"] is None
    expected = {"setup": "why?", "punchline": "because"}
    parsed = out["parsed"].model_dump() if kind == "pydantic" else out["parsed"]
    assert parsed == expected
    assert bodies[0]["guided_json"]["required"] == ["setup", "punchline"]


def test_include_raw_keeps_an_unchecked_model_unchecked() -> None:
    llm = chat('{"setup": "why?"}', check_guided_output=False)
    out = llm.with_structured_output(Joke.model_json_schema(), include_raw=True).invoke("x")
    assert out["parsed"] == {"setup": "why?"}  # the caller turned the check off
    assert out["parsing_error"] is None


# -- configuration errors are the programmer's ---------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(api_key="sk-right-key-0000") as srv:
        yield srv


def _image_tools(base_url: str, api_key: str, out: Path) -> list[Callable[[], Any]]:
    from langchain_arli import ArliImageGenerationTool
    from llama_index_arli import ArliImageToolSpec

    key: dict[str, Any] = {"api_key": api_key, "base_url": base_url, "model": "FLUX.2-klein-4B"}
    fast = {"max_retries": 0}
    langchain_tool = ArliImageGenerationTool(**key, output_dir=out, client_options=fast)
    spec = ArliImageToolSpec(**key, output_dir=out, **fast)
    return [
        lambda: langchain_tool.invoke({"prompt": "a fox", "width": 64, "height": 64}),
        lambda: spec.generate_image(prompt="a fox", width=64, height=64),
    ]


@pytest.mark.parametrize(
    ("mistake", "raised"),
    [("wrong base URL", NotFoundError), ("wrong key", AuthenticationError)],
)
def test_a_configuration_error_reaches_the_programmer_not_the_agent(
    mistake: str, raised: type[Exception], server: ReferenceServer, tmp_path: Path
) -> None:
    url, key = server.url, "sk-right-key-0000"
    if mistake == "wrong base URL":
        url += "/not-the-api"
    else:
        key = "sk-wrong-key-0000"
    for call in _image_tools(url, key, tmp_path):
        with pytest.raises(raised) as info:
            call()
        assert not isinstance(info.value, ToolException)
        assert "an argument" not in str(info.value)
        assert "call the tool again" not in str(info.value)


def test_an_unknown_model_is_still_told_to_the_agent(tmp_path: Path) -> None:
    from arli import ImageClient
    from arli.images.tooling import ImageToolbox

    box = ImageToolbox(ImageClient(api_key="k", base_url="http://t"), output_dir=tmp_path)
    model_missing = NotFoundError("Model 'fluxx' not found", status_code=404)
    route_missing = NotFoundError("Not Found", status_code=404)
    box.adapter.names = lambda listing: ["FLUX.2-klein-4B"]  # type: ignore[method-assign]
    told = box.explain(model_missing)
    assert told is not None
    assert "`model`" in told
    assert "FLUX.2-klein-4B" in told
    assert box.explain(route_missing) is None  # a route the server lacks: configuration


# -- small refusals and the life of per-loop clients ------------------------------------------


def _empty_calls() -> list[Callable[[], Any]]:
    from llama_index_arli import Arli

    lc = ChatArli(model="m", api_key="k", base_url="http://t", http_client=refusing())
    li = Arli(model="m", api_key="k", base_url="http://t", http_client=refusing())
    li.discover_context_window = False
    return [
        lambda: lc.invoke([]),
        lambda: list(lc.stream([])),
        lambda: asyncio.run(lc.ainvoke([])),
        lambda: li.chat([]),
        lambda: list(li.stream_chat([])),
        lambda: asyncio.run(li.achat([])),
    ]


def refusing() -> httpx.Client:
    """An httpx client that fails the test if a request is sent."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"a request was sent: {request.url}")

    return httpx.Client(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize("index", range(6))
def test_an_empty_message_list_is_refused_before_sending(index: int) -> None:
    with pytest.raises(ArliValidationError, match="messages is empty") as info:
        _empty_calls()[index]()
    assert info.value.field == "messages"


def test_an_empty_prompt_list_is_refused_before_sending() -> None:
    from arli import TextClient
    from arli.text.calls import CallOptions, TextCalls

    calls = TextCalls(TextClient(api_key="k", base_url="http://t", http_client=refusing()))
    with pytest.raises(ArliValidationError, match="prompt is an empty list"):
        calls.complete(CallOptions(model="m"), [], {})


def _open_sockets() -> int:
    return sum(1 for fd in os.listdir("/proc/self/fd") if "socket" in _link(fd))


def _link(fd: str) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts sockets in /proc")
def test_per_loop_clients_are_closed_when_their_loop_closes(server: ReferenceServer) -> None:
    from llama_index.core.llms import ChatMessage

    from arli import TextClient
    from llama_index_arli import Arli

    model = "Mistral-Nemo-12B-Instruct-2407"
    key: dict[str, Any] = {"api_key": "sk-right-key-0000", "base_url": server.url}
    lc = ChatArli(model=model, **key)
    li = Arli(model=model, **key, discover_context_window=False)
    core = TextClient(**key)
    body = {"model": model, "messages": [{"role": "user", "content": "x"}]}

    async def calls() -> None:
        await lc.ainvoke("x")
        await li.achat([ChatMessage(role="user", content="x")])
        await core.achat(body)
        [c async for c in core.astream_chat(body)]

    gc.collect()
    before = _open_sockets()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(4):  # each run: a new loop, so new pooled clients
            asyncio.run(calls())
        gc.collect()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []
    assert _open_sockets() <= before  # every connection of those loops was closed
    asyncio.run(calls())  # and the objects still work on the next loop


@pytest.mark.parametrize("name", sorted(CASES))
def test_deepcopy_and_pickle_of_public_objects_work_or_raise_clearly(
    name: str, tmp_path: Path
) -> None:
    cls, case = PUBLIC[name], CASES[name]
    obj = cls(*case.args, **case.kwargs(tmp_path))
    for how, twin in (("deepcopy", copy.deepcopy), ("pickle", _pickled)):
        try:
            copied = twin(obj)
        except (ArliError, TypeError) as exc:  # refused, with a message that says why
            assert "cannot be pickled" in str(exc), (how, str(exc))  # not "cannot pickle lock"
            assert how == "pickle"  # a deep copy always works
        else:
            assert type(copied) is type(obj)
            if isinstance(obj, BaseModel) or type(obj).__eq__ is object.__eq__:
                if type(obj).__repr__ is not object.__repr__:  # addresses of inner objects aside
                    assert _no_addresses(repr(copied)) == _no_addresses(repr(obj)), how
            else:
                assert copied == obj, how


def _pickled(obj: Any) -> Any:
    return pickle.loads(pickle.dumps(obj))


def _no_addresses(text: str) -> str:
    return re.sub(r" at 0x[0-9a-f]+", "", text)


def _skin_calls(**call: Any) -> list[Callable[[], Any]]:
    from llama_index.core.llms import ChatMessage

    from arli import OCREngine
    from llama_index_arli import Arli

    lc = ChatArli(model="m", api_key="k", base_url="http://t", http_client=refusing())
    li = Arli(model="m", api_key="k", base_url="http://t", http_client=refusing())
    li.discover_context_window = False
    return [
        lambda: lc.invoke("x", **call),
        lambda: lc.bind(**call).invoke("x"),
        lambda: li.chat([ChatMessage(role="user", content="x")], **call),
        lambda: li.complete("x", **call),
        lambda: OCREngine(api_key="k", **call),
    ]


@pytest.mark.parametrize(
    ("call", "refusal"),
    [({"model": " "}, "model must be a model id"), ({"temperature": True}, "not a number")],
    ids=["blank-model", "bool-temperature"],
)
@pytest.mark.parametrize("index", range(5))
def test_a_blank_model_or_a_bool_sampler_is_refused_per_call(
    call: dict[str, Any], refusal: str, index: int
) -> None:
    with pytest.raises(ArliValidationError, match=refusal):
        _skin_calls(**call)[index]()

"""Calls that go wrong the way the programmer, not the model, must hear about.

- ``with_structured_output(..., include_raw=True)`` returns LangChain's
  ``{"raw", "parsed": None, "parsing_error"}`` for an answer that breaks its constraint
  (the constraint is still checked, by the parser) instead of raising.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage
from pydantic import BaseModel

from arli import ConstraintViolationError
from langchain_arli import ChatArli


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

"""``with_structured_output(..., tools=[...])``: a format and tools in one request.

As in ``langchain-openai``: the model may call one of the tools instead of answering; the
parsed value is then ``None`` and the call is on the raw message. Checked on the wire
(the reference server) and on what comes back, for each method.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.tools import tool
from pydantic import BaseModel

from langchain_arli import ChatArli
from tests.reference_server import ReferenceServer, ScriptEntry

KEY = "test-key"
CHAT = "/v1/chat/completions"


class Answer(BaseModel):
    """The final answer."""

    city: str
    degrees: int


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


SCRIPT = [
    ScriptEntry("look it up", tool_call=("get_weather", {"city": "Paris"})),
    ScriptEntry("answer now", reply='{"city": "Paris", "degrees": 21}'),
    ScriptEntry("answer by tool", tool_call=("Answer", {"city": "Oslo", "degrees": 3})),
]


@pytest.fixture
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(api_key=KEY, script=SCRIPT) as srv:
        yield srv


def _llm(server: ReferenceServer) -> ChatArli:
    return ChatArli(model="Mistral-Nemo-12B-Instruct-2407", api_key=KEY, base_url=server.url)


def _body(server: ReferenceServer) -> dict[str, Any]:
    body = server.requests_for(CHAT)[-1].json
    assert isinstance(body, dict)
    return body


def test_json_schema_with_tools_sends_both_and_a_tool_call_parses_to_none(
    server: ReferenceServer,
) -> None:
    structured = _llm(server).with_structured_output(
        Answer, method="json_schema", strict=True, include_raw=True, tools=[get_weather]
    )
    out = structured.invoke("look it up")
    assert out["parsed"] is None
    assert out["parsing_error"] is None  # a tool call is not a broken answer
    assert [c["name"] for c in out["raw"].tool_calls] == ["get_weather"]
    assert out["raw"].tool_calls[0]["args"] == {"city": "Paris"}
    body = _body(server)
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather"]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "Answer"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["tools"][0]["function"]["strict"] is True


def test_json_schema_with_tools_parses_an_answer(server: ReferenceServer) -> None:
    structured = _llm(server).with_structured_output(
        Answer, method="json_schema", tools=[get_weather]
    )
    assert structured.invoke("answer now") == Answer(city="Paris", degrees=21)


def test_guided_json_with_tools_does_not_check_a_tool_call_as_an_answer(
    server: ReferenceServer,
) -> None:
    llm = _llm(server)
    assert llm.check_guided_output  # the core checks constrained answers by default
    structured = llm.with_structured_output(Answer, tools=[get_weather])
    assert structured.invoke("look it up") is None
    assert "guided_json" in _body(server) or "structured_outputs" in _body(server)
    assert _body(server)["tools"][0]["function"]["name"] == "get_weather"


def test_function_calling_with_tools_requires_a_call_and_the_schema_call_is_the_answer(
    server: ReferenceServer,
) -> None:
    structured = _llm(server).with_structured_output(
        Answer, method="function_calling", tools=[get_weather], include_raw=True
    )
    out = structured.invoke("answer by tool")
    assert out["parsed"] == Answer(city="Oslo", degrees=3)
    body = _body(server)
    assert body["tool_choice"] == "required"
    assert [t["function"]["name"] for t in body["tools"]] == ["Answer", "get_weather"]
    other = structured.invoke("look it up")
    assert other["parsed"] is None
    assert other["parsing_error"] is None
    assert other["raw"].tool_calls[0]["name"] == "get_weather"


def test_function_calling_with_tools_and_a_dict_schema(server: ReferenceServer) -> None:
    schema = {**Answer.model_json_schema(), "title": "Answer"}
    structured = _llm(server).with_structured_output(
        schema, method="function_calling", tools=[get_weather]
    )
    assert structured.invoke("answer by tool") == {"city": "Oslo", "degrees": 3}


def test_json_schema_name_is_always_sent(server: ReferenceServer) -> None:
    titled = {"title": "Weather", "type": "object", "properties": {"city": {"type": "string"}}}
    llm = _llm(server)
    llm.with_structured_output(titled, method="json_schema").invoke("answer now")
    assert _body(server)["response_format"]["json_schema"]["name"] == "Weather"
    llm.with_structured_output(Answer, method="json_schema").invoke("answer now")
    sent = _body(server)["response_format"]["json_schema"]
    assert sent["name"] == "Answer"
    assert "strict" not in sent  # not given: the server's default

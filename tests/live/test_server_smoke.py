"""Smoke test of the live vLLM server itself, with plain httpx.

If these fail, the problem is the server set-up (scripts/live), not the client code.
"""

from collections.abc import Iterator

import httpx
import pytest

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def http(live_base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_base_url, timeout=30.0) as client:
        yield client


def test_health(http: httpx.Client) -> None:
    response = http.get("/health")
    assert response.status_code == 200


def test_models_lists_tiny(http: httpx.Client, live_model: str) -> None:
    response = http.get("/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    models = {m["id"]: m for m in body["data"]}
    assert live_model in models, f"{live_model!r} not served; got {sorted(models)}"
    assert models[live_model]["object"] == "model"
    assert models[live_model]["max_model_len"] == 1024


def test_chat_completion_generates(http: httpx.Client, live_model: str) -> None:
    # A random-weight model: check the shape, never the text.
    response = http.post(
        "/v1/chat/completions",
        json={
            "model": live_model,
            "messages": [{"role": "user", "content": "hello"}],
            "max_tokens": 4,
            "temperature": 0,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == live_model
    (choice,) = body["choices"]
    assert choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] in {"stop", "length"}
    assert 1 <= body["usage"]["completion_tokens"] <= 4
    assert body["usage"]["total_tokens"] == (
        body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )

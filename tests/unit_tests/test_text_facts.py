"""``arli.text.facts.ContextWindow``: one lookup of ``/v1/models``, its failure remembered."""

from __future__ import annotations

import httpx

from arli.text.client import TextClient
from arli.text.facts import ContextWindow, forget_listings

MODELS = {"object": "list", "data": [{"id": "m", "max_model_len": 4096}, {"id": "bare"}]}


def client_answering(status: int, seen: list[str]) -> TextClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(status, json=MODELS if status == 200 else {"error": "down"})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    return TextClient(api_key="k", base_url="http://facts.test", http_client=http, max_retries=0)


def test_the_window_is_looked_up_once() -> None:
    seen: list[str] = []
    client = client_answering(200, seen)
    window = ContextWindow()
    assert window.known(1000) == 1000  # known() never asks
    assert seen == []
    assert window.get(client, "m", 1000) == 4096
    assert window.get(client, "m", 1000) == 4096
    assert window.known(1000) == 4096
    assert seen == ["/v1/models"]
    bare = ContextWindow()
    assert bare.get(client, "bare", 1000) == 1000  # listed without max_model_len
    assert bare.get(client, "bare", 1000) == 1000
    assert len(seen) == 1  # one listing per base URL, shared by every window
    forget_listings()
    assert ContextWindow().get(client, "m", 1000) == 4096
    assert len(seen) == 2  # forgotten listings are fetched again


def test_a_failed_lookup_falls_back_and_is_not_repeated() -> None:
    seen: list[str] = []
    client = client_answering(500, seen)
    window = ContextWindow()
    assert window.get(client, "m", 1234) == 1234
    assert window.get(client, "m", 1234) == 1234
    assert seen == ["/v1/models"]

"""``request_timeout``, the one name of a call's read timeout, reaches the wire on every client.

Each call's read timeout is read from the request httpx sends (its ``timeout`` extension):
the per-call value when given, else (with a caller's httpx client, as here) that client's
own timeout: the settings' ``text_timeout``/``image_timeout``/``listing_timeout`` are for
the clients we build.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import httpx
from PIL import Image

from arli import AiArtClient, ImageClient, TextClient
from tests.aiart_helpers import BASE, FakeAiArt

_SETTINGS = {"text_timeout": 11.0, "image_timeout": 22.0, "listing_timeout": 3.0}
_OWN = 9.0  # the caller's client's own timeout


def _read_timeout(request: httpx.Request) -> float | None:
    timeout: dict[str, float | None] = request.extensions.get("timeout", {})
    return timeout.get("read")


class _Recorder:
    """Remembers each request's path and read timeout, then lets ``answer`` reply."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.seen: list[tuple[str, float | None]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.url.path, _read_timeout(request)))
        return self.answer(request)  # type: ignore[no-any-return]


def _png_b64() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _sdnext(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("txt2img"):
        return httpx.Response(200, json={"images": [_png_b64()], "parameters": {}, "info": "{}"})
    return httpx.Response(200, json=[{"name": "Euler a", "aliases": [], "options": {}}])


def _text(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("models"):
        return httpx.Response(200, json={"object": "list", "data": [{"id": "m"}]})
    body = json.loads(request.content)
    if body.get("stream"):
        event = {
            "id": "c",
            "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}],
        }
        sse = b"data: " + json.dumps(event).encode() + b"\n\n"
        return httpx.Response(
            200, content=sse + b"data: [DONE]\n\n", headers={"content-type": "text/event-stream"}
        )
    return httpx.Response(
        200, json={"id": "c", "choices": [{"index": 0, "message": {"content": "hi"}}]}
    )


def test_text_client_calls_take_request_timeout_else_the_clients_own() -> None:
    server = _Recorder(_text)
    client = TextClient(
        api_key="k",
        base_url="http://arli.test",
        max_retries=0,
        **_SETTINGS,
        http_client=httpx.Client(transport=httpx.MockTransport(server), timeout=_OWN),
    )
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    client.chat(body, request_timeout=4.5)
    list(client.stream_chat(body, request_timeout=5.5))
    client.chat(body)
    client.list_models()
    assert [t for _, t in server.seen] == [4.5, 5.5, _OWN, _OWN]


def test_image_client_generations_take_request_timeout_else_the_clients_own() -> None:
    server = _Recorder(_sdnext)
    client = ImageClient(
        api_key="k",
        base_url="http://arli.test",
        max_retries=0,
        **_SETTINGS,
        limit_from_server=False,
        http_client=httpx.Client(transport=httpx.MockTransport(server), timeout=_OWN),
    )
    client.txt2img(prompt="p", model="m", width=64, height=64, steps=1, request_timeout=6.5)
    client.txt2img(prompt="p", model="m", width=64, height=64, steps=1)
    client.list_samplers()
    assert [t for _, t in server.seen] == [6.5, _OWN, _OWN]


def test_aiart_generations_take_request_timeout_else_the_clients_own() -> None:
    fake = FakeAiArt()
    server = _Recorder(fake)
    client = AiArtClient(
        base_url=BASE,
        max_retries=0,
        **_SETTINGS,
        http_client=httpx.Client(transport=httpx.MockTransport(server), timeout=_OWN),
    )
    client.generate("a cat", request_timeout=8.5)
    client.generate("a cat")
    generations = [t for path, t in server.seen if path == "/api/generate"]
    assert generations == [8.5, _OWN]

"""``timeout``, the one name of a call's read timeout, reaches the wire on every client.

Each call's read timeout is read from the request httpx sends (its ``timeout`` extension):
the per-call value when given, else (with a caller's httpx client, as here) that client's
own timeout: the settings' ``text_timeout``/``image_timeout``/``listing_timeout`` are for
the clients we build. ``request_timeout=``, the spelling before one name per idea, still
works on every client call: it warns (``DeprecationWarning``) and reaches the wire the same.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import httpx
import pytest
from PIL import Image

from arli import AiArtClient, ArliValidationError, GenerationTimeoutError, ImageClient, TextClient
from arli.text.calls import CallOptions, TextCalls
from tests.aiart_helpers import BASE, FakeAiArt

_SETTINGS = {"text_timeout": 11.0, "image_timeout": 22.0, "listing_timeout": 3.0}
_OWN = 9.0  # the caller's client's own timeout


def _read_timeout(request: httpx.Request) -> float | None:
    timeout: dict[str, float | None] = request.extensions.get("timeout", {})
    return timeout.get("read")


class _Recorder:
    """Remembers each request's path, read timeout and JSON body, then lets ``answer`` reply."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.seen: list[tuple[str, float | None]] = []
        self.bodies: list[Any] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.url.path, _read_timeout(request)))
        if request.headers.get("content-type") == "application/json":
            self.bodies.append(json.loads(request.read()))
        return self.answer(request)  # type: ignore[no-any-return]


def _png_b64() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _sdnext(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("txt2img"):
        return httpx.Response(200, json={"images": [_png_b64()], "parameters": {}, "info": "{}"})
    return httpx.Response(200, json=[{"name": "Euler a", "aliases": [], "options": {}}])


def _completion(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    choice = {"index": 0, "text": "hi", "finish_reason": "stop"}
    if body.get("stream"):
        sse = b"data: " + json.dumps({"id": "c", "choices": [choice]}).encode() + b"\n\n"
        return httpx.Response(
            200, content=sse + b"data: [DONE]\n\n", headers={"content-type": "text/event-stream"}
        )
    return httpx.Response(200, json={"id": "c", "choices": [choice]})


def _text_or_completion(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/completions") and "chat" not in request.url.path:
        return _completion(request)
    return _text(request)


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


def _text_client(server: _Recorder) -> TextClient:
    return TextClient(
        api_key="k",
        base_url="http://arli.test",
        max_retries=0,
        **_SETTINGS,
        http_client=httpx.Client(transport=httpx.MockTransport(server), timeout=_OWN),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(server), timeout=_OWN),
    )


def _image_client(server: _Recorder) -> ImageClient:
    return ImageClient(
        api_key="k",
        base_url="http://arli.test",
        max_retries=0,
        **_SETTINGS,
        limit_from_server=False,
        http_client=httpx.Client(transport=httpx.MockTransport(server), timeout=_OWN),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(server), timeout=_OWN),
    )


def _aiart_client(server: _Recorder) -> AiArtClient:
    return AiArtClient(
        base_url=BASE,
        max_retries=0,
        **_SETTINGS,
        http_client=httpx.Client(transport=httpx.MockTransport(server), timeout=_OWN),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(server), timeout=_OWN),
    )


_CHAT = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
_PROMPT = {"model": "m", "prompt": "x"}
_SMALL = {"prompt": "p", "model": "m", "width": 64, "height": 64, "steps": 1}


def test_text_client_calls_take_timeout_else_the_clients_own() -> None:
    server = _Recorder(_text)
    client = _text_client(server)
    client.chat(_CHAT, timeout=4.5)
    list(client.stream_chat(_CHAT, timeout=5.5))
    client.chat(_CHAT)
    client.list_models()
    assert [t for _, t in server.seen] == [4.5, 5.5, _OWN, _OWN]


def test_image_client_generations_take_timeout_else_the_clients_own() -> None:
    server = _Recorder(_sdnext)
    client = _image_client(server)
    client.txt2img(**_SMALL, timeout=6.5)
    client.txt2img(**_SMALL)
    client.list_samplers()
    assert [t for _, t in server.seen] == [6.5, _OWN, _OWN]


def test_aiart_generations_take_timeout_else_the_clients_own() -> None:
    server = _Recorder(FakeAiArt())
    client = _aiart_client(server)
    client.generate("a cat", timeout=8.5)
    client.generate("a cat")
    generations = [t for path, t in server.seen if path == "/api/generate"]
    assert generations == [8.5, _OWN]


def test_the_call_layer_takes_timeout_for_plain_calls_and_streams() -> None:
    server = _Recorder(_text)
    calls = TextCalls(_text_client(server))
    options = CallOptions(model="m", timeout=2.5)
    calls.chat(options, [{"role": "user", "content": "x"}], {})
    list(calls.stream_chat(options, [{"role": "user", "content": "x"}], {}))
    calls.complete(options, "x", {})
    assert [t for _, t in server.seen] == [2.5, 2.5, 2.5]


# -- request_timeout=, the deprecated spelling ---------------------------------------------------

#: every text client call that takes a per-call timeout: (method, body, streamed)
_TEXT_CALLS = [
    ("chat", _CHAT, False),
    ("stream_chat", _CHAT, True),
    ("complete", _PROMPT, False),
    ("stream_complete", _PROMPT, True),
]


@pytest.mark.parametrize(("method", "body", "streamed"), _TEXT_CALLS)
def test_request_timeout_still_reaches_the_wire_of_every_text_call_and_warns(
    method: str, body: dict[str, Any], streamed: bool
) -> None:
    server = _Recorder(_text_or_completion)
    client = _text_client(server)
    with pytest.warns(DeprecationWarning, match=r"request_timeout= is deprecated, use timeout="):
        answer = getattr(client, method)(body, request_timeout=3.25)
    if streamed:
        list(answer)
    assert [t for _, t in server.seen] == [3.25]


@pytest.mark.parametrize(("method", "body", "streamed"), _TEXT_CALLS)
async def test_request_timeout_still_reaches_the_wire_of_every_async_text_call(
    method: str, body: dict[str, Any], streamed: bool
) -> None:
    server = _Recorder(_text_or_completion)
    client = _text_client(server)
    call = getattr(client, "a" + method)
    if streamed:
        with pytest.warns(DeprecationWarning, match=r"request_timeout= is deprecated"):
            chunks = call(body, request_timeout=3.75)
        assert [c async for c in chunks]
    else:
        with pytest.warns(DeprecationWarning, match=r"request_timeout= is deprecated"):
            await call(body, request_timeout=3.75)
    assert [t for _, t in server.seen] == [3.75]


def test_timeout_and_request_timeout_together_are_refused_before_sending() -> None:
    server = _Recorder(_text)
    client = _text_client(server)
    with pytest.raises(ArliValidationError, match=r"give timeout= only") as info:
        client.chat(_CHAT, timeout=1.0, request_timeout=2.0)
    assert info.value.field == "request_timeout"
    with pytest.raises(ArliValidationError, match=r"give timeout= only"):
        CallOptions(model="m", timeout=1.0, request_timeout=2.0)
    assert server.seen == []


def test_call_options_request_timeout_still_works_and_warns() -> None:
    server = _Recorder(_text)
    with pytest.warns(DeprecationWarning, match=r"CallOptions: request_timeout= is deprecated"):
        options = CallOptions(model="m", request_timeout=4.25)
    assert options.timeout == 4.25
    TextCalls(_text_client(server)).chat(options, [{"role": "user", "content": "x"}], {})
    assert [t for _, t in server.seen] == [4.25]


async def test_image_clients_request_timeout_still_reaches_the_wire_and_warns() -> None:
    sdnext = _Recorder(_sdnext)
    images = _image_client(sdnext)
    with pytest.warns(DeprecationWarning, match=r"txt2img: request_timeout= is deprecated"):
        images.txt2img(**_SMALL, request_timeout=6.25)
    with pytest.warns(DeprecationWarning, match=r"atxt2img: request_timeout= is deprecated"):
        await images.atxt2img(**_SMALL, request_timeout=6.75)
    assert [t for _, t in sdnext.seen] == [6.25, 6.75]
    aiart = _Recorder(FakeAiArt())
    client = _aiart_client(aiart)
    with pytest.warns(DeprecationWarning, match=r"generate: request_timeout= is deprecated"):
        client.generate("a cat", request_timeout=8.25)
    with pytest.warns(DeprecationWarning, match=r"agenerate: request_timeout= is deprecated"):
        await client.agenerate("a cat", request_timeout=8.75)
    assert [t for path, t in aiart.seen if path == "/api/generate"] == [8.25, 8.75]


def test_an_image_request_timeout_is_never_sent_as_an_sdnext_field() -> None:
    server = _Recorder(_sdnext)
    with pytest.warns(DeprecationWarning, match=r"request_timeout= is deprecated"):
        _image_client(server).txt2img(**_SMALL, request_timeout=6.0)
    assert "request_timeout" not in server.bodies[0]
    assert "timeout" not in server.bodies[0]


def test_the_polling_budget_of_a_video_is_poll_timeout_and_timeout_still_works(
    clock: Any,
) -> None:
    fake = FakeAiArt(polls=1000)
    client = _aiart_client(_Recorder(fake))
    with pytest.raises(GenerationTimeoutError):
        client.video_result("a1b2c3d4e5f6", poll_interval=1.0, poll_timeout=2.0)
    assert clock.sleeps == [1.0, 1.0]
    with (
        pytest.warns(DeprecationWarning, match=r"timeout= is deprecated, use poll_timeout="),
        pytest.raises(GenerationTimeoutError),
    ):
        client.video_result("a1b2c3d4e5f6", poll_interval=1.0, timeout=3.0)
    assert clock.sleeps == [1.0, 1.0, 1.0, 1.0, 1.0]
    with pytest.raises(ArliValidationError, match=r"poll_timeout=-1 must be >= 0"):
        client.img2video(b"x", poll_timeout=-1)

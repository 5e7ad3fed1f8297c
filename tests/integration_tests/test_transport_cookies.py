"""Cookies on the transport's own clients: a response that sets one is kept and sent back.

The transport's pooled clients skip handing a response without ``Set-Cookie`` to the cookie
jar (``arli._transport.wire.LazyCookies``: bench/results.md, 'cookie-less responses'). These
tests check, against a real HTTP server on 127.0.0.1, that cookies still behave as in httpx:
a cookie a response sets is sent with the next request, sync and async, plain and streamed.
"""

from __future__ import annotations

import asyncio
import http.server
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from arli._transport import Transport
from arli._transport.wire import LazyCookies
from tests.helpers import serve_http


class CookieServer(http.server.BaseHTTPRequestHandler):
    """Sets ``session=abc`` on the first request; every answer echoes the Cookie it got."""

    seen: list[str | None] = []  # one list per test (the fixture resets it)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        cookie = self.headers.get("cookie")
        type(self).seen.append(cookie)
        streamed = self.path.endswith("/stream")
        body = (
            b'data: {"cookie": ' + json.dumps(cookie).encode() + b"}\n\ndata: [DONE]\n\n"
            if streamed
            else json.dumps({"cookie": cookie}).encode()
        )
        self.send_response(200)
        self.send_header("content-type", "text/event-stream" if streamed else "application/json")
        self.send_header("content-length", str(len(body)))
        if len(type(self).seen) == 1:
            self.send_header("set-cookie", "session=abc; Path=/")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def url() -> Iterator[str]:
    CookieServer.seen = []
    with serve_http(CookieServer) as base:
        yield base


def test_a_cookie_set_by_a_response_is_sent_with_the_next_request(url: str) -> None:
    t = Transport(base_url=url, authorization="k")
    assert t.request("POST", "/v1/a", json_body={}).json() == {"cookie": None}
    assert t.request("POST", "/v1/a", json_body={}).json() == {"cookie": "session=abc"}
    events = list(t.stream_events("POST", "/v1/stream", json_body={}))
    assert events == [{"cookie": "session=abc"}]
    assert CookieServer.seen == [None, "session=abc", "session=abc"]
    assert isinstance(t.sync_client().cookies, LazyCookies)


def test_the_async_client_keeps_cookies_too(url: str) -> None:
    async def calls() -> list[Any]:
        t = Transport(base_url=url, authorization="k")
        first = (await t.arequest("POST", "/v1/a", json_body={})).json()
        second = [e async for e in t.astream_events("POST", "/v1/stream", json_body={})]
        assert isinstance(t.async_client().cookies, LazyCookies)
        await t.aclose()
        return [first, second]

    assert asyncio.run(calls()) == [{"cookie": None}, [{"cookie": "session=abc"}]]


def test_a_client_the_caller_passes_is_left_as_it_is(url: str) -> None:
    mine = httpx.Client()
    t = Transport(base_url=url, authorization="k", http_client=mine)
    t.request("POST", "/v1/a", json_body={})
    t.request("POST", "/v1/a", json_body={})
    assert type(mine.cookies) is httpx.Cookies
    assert CookieServer.seen == [None, "session=abc"]  # httpx's own store at work
    mine.close()

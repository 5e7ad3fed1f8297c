"""A stream read to ``[DONE]`` gives its connection back to the pool.

httpcore returns a connection to the pool only when the response body was read to its end;
the transport reads the end of the chunked body after ``[DONE]`` so the next call reuses
the connection instead of opening a new one (before, every stream opened one). The unit
tests below check that a failure or extra bytes after ``[DONE]`` never cost the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from arli import TextClient
from tests.reference_server import ReferenceServer

MODEL = "Mistral-Nemo-12B-Instruct-2407"
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8}
KEY = "test-key"


def _connections(http: httpx.Client | httpx.AsyncClient) -> list[Any]:
    return list(http._transport._pool.connections)  # type: ignore[attr-defined]


def _text(chunks: list[Any]) -> str:
    return "".join(c.choices[0].content or "" for c in chunks if c.choices)


def test_streams_reuse_one_connection(reference_server: ReferenceServer) -> None:
    client = TextClient(api_key=KEY, base_url=reference_server.url)
    http = client.transport.sync_client()
    texts = [_text(list(client.stream_chat(BODY))) for _ in range(3)]
    assert all(texts)
    (conn,) = _connections(http)
    assert conn.is_idle()
    assert _text(list(client.stream_chat(BODY)))
    assert _connections(http) == [conn]  # the same connection served the fourth stream
    assert client.chat(BODY).text
    assert _connections(http) == [conn]


def test_async_streams_reuse_one_connection(reference_server: ReferenceServer) -> None:
    async def main() -> None:
        client = TextClient(api_key=KEY, base_url=reference_server.url)
        http = client.transport.async_client()
        for _ in range(3):
            assert _text([c async for c in client.astream_chat(BODY)])
        (conn,) = _connections(http)
        assert conn.is_idle()
        assert _text([c async for c in client.astream_chat(BODY)])
        assert _connections(http) == [conn]
        await client.aclose()

    asyncio.run(main())


_EVENTS = [
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n',
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop"}]}\n\n',
    b"data: [DONE]\n\n",
]


class _Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """The events, then ``after``: more bytes, or an exception raised by the next read."""

    def __init__(self, after: list[bytes | Exception]) -> None:
        self.after = after
        self.reads_after_done = 0

    def _parts(self) -> Iterator[bytes]:
        yield from _EVENTS
        for part in self.after:
            self.reads_after_done += 1
            if isinstance(part, Exception):
                raise part
            yield part

    def __iter__(self) -> Iterator[bytes]:
        return self._parts()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self._parts():
            yield part


def _client(body: _Body) -> tuple[TextClient, TextClient]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=body)

    transport = httpx.MockTransport(handler)
    sync = TextClient(
        api_key=KEY, base_url="http://tail.invalid", http_client=httpx.Client(transport=transport)
    )
    aio = TextClient(
        api_key=KEY,
        base_url="http://tail.invalid",
        http_async_client=httpx.AsyncClient(transport=transport),
    )
    return sync, aio


def test_a_failure_after_done_keeps_the_answer() -> None:
    for error in (httpx.ReadError("reset"), httpx.RemoteProtocolError("cut")):
        body = _Body([error])
        sync, aio = _client(body)
        assert _text(list(sync.stream_chat(BODY))) == "Hi"
        assert body.reads_after_done == 1

        async def main(client: TextClient = aio) -> str:
            return _text([c async for c in client.astream_chat(BODY)])

        assert asyncio.run(main()) == "Hi"
        assert body.reads_after_done == 2


def test_bytes_after_done_are_read_a_bounded_number_of_times() -> None:
    body = _Body([b"data: ignored\n\n"] * 100)
    sync, _ = _client(body)
    assert _text(list(sync.stream_chat(BODY))) == "Hi"
    assert 1 <= body.reads_after_done < 10  # a server that keeps talking only loses the reuse

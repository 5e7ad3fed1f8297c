"""The transport against the reference server: retries, faults, streams, limits, pooling, auth."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import socket
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from arli import (
    ArliConnectionError,
    ArliResponseError,
    ArliStatusError,
    ArliTimeoutError,
    AuthenticationError,
    BadRequestError,
    IncompleteResponseError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    TextClient,
    UnprocessableEntityError,
    __version__,
    get_transport,
)
from arli._settings import ArliSettings
from tests.reference_server import Fault, ReferenceServer

MODEL = "Mistral-Nemo-12B-Instruct-2407"
CHAT = "/v1/chat/completions"
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 16}
KEY = "test-key"


def client_for(server: ReferenceServer, **options: object) -> TextClient:
    options.setdefault("retry_initial_backoff", 0.01)
    options.setdefault("retry_max_backoff", 0.05)
    return TextClient(api_key=KEY, base_url=server.url, **options)


@pytest.fixture
def server(reference_server: ReferenceServer) -> ReferenceServer:
    return reference_server


def retry_delays(caplog: pytest.LogCaptureFixture) -> list[float]:
    delays = []
    for record in caplog.records:
        m = re.search(r"in (\d+\.\d+) s \(retry", record.getMessage())
        if m:
            delays.append(float(m.group(1)))
    return delays


# -- success paths -------------------------------------------------------------------------


def test_chat_roundtrip_sends_auth_user_agent_and_compact_json(server: ReferenceServer) -> None:
    client = client_for(server)
    answer = client.chat(BODY)
    assert answer.text
    assert answer.usage is not None
    assert answer.usage.total_tokens > 0
    (req,) = server.requests_for(CHAT)
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["user-agent"].startswith(f"arli-integrations/{__version__}")
    assert req.headers["content-type"] == "application/json"
    assert req.json == {**BODY, "stream": False}
    assert b": " not in req.body  # compact separators


def test_stream_with_usage(server: ReferenceServer) -> None:
    chunks = list(client_for(server).stream_chat(BODY))
    text = "".join(c.choices[0].content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    (req,) = server.requests_for(CHAT)
    assert req.json["stream"] is True
    assert req.json["stream_options"] == {"include_usage": True}
    assert req.headers["accept"] == "text/event-stream"


def test_tokenize_falls_back_to_vllm_path_and_remembers_it(server: ReferenceServer) -> None:
    client = client_for(server)
    first = client.tokenize(model=MODEL, prompt="Hello world")
    second = client.tokenize(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    assert first.count == len(first.tokens) > 0
    assert second.count > 0
    paths = [r.path for r in server.requests if "tokenize" in r.path]
    assert paths == ["/v1/tokenize", "/tokenize", "/tokenize"]


def test_tokenize_unknown_model_is_not_mistaken_for_a_missing_route(
    server: ReferenceServer,
) -> None:
    client = client_for(server)
    client.tokenize(model=MODEL, prompt="x")
    with pytest.raises(NotFoundError, match="does not exist"):
        client.tokenize(model="nope", prompt="x")


def test_models(server: ReferenceServer) -> None:
    models = client_for(server).list_models()
    assert MODEL in [m.id for m in models]
    assert all(m.max_model_len for m in models)


# -- retry rules ---------------------------------------------------------------------------


def test_429_retry_after_seconds_is_honoured(
    server: ReferenceServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="arli")
    server.add_fault(Fault(path=CHAT, kind="status", status=429, headers={"Retry-After": "1"}))
    start = time.monotonic()
    assert client_for(server).chat(BODY).text
    assert time.monotonic() - start >= 1.0
    assert len(server.requests_for(CHAT)) == 2
    assert retry_delays(caplog) == [1.0]


def test_429_retry_after_http_date(server: ReferenceServer) -> None:
    when = email.utils.formatdate(time.time() + 1, usegmt=True)
    server.add_fault(Fault(path=CHAT, kind="status", status=429, headers={"Retry-After": when}))
    assert client_for(server).chat(BODY).text
    assert len(server.requests_for(CHAT)) == 2


def test_retry_after_beyond_the_cap_raises_at_once(server: ReferenceServer) -> None:
    server.add_fault(Fault(path=CHAT, kind="status", status=429, headers={"Retry-After": "3600"}))
    start = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        client_for(server).chat(BODY)
    assert time.monotonic() - start < 1
    assert info.value.retry_after == 3600
    assert len(server.requests_for(CHAT)) == 1


def test_503_that_clears_after_two_attempts(
    server: ReferenceServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="arli")
    server.add_fault(Fault(path=CHAT, kind="status", status=503, times=2))
    assert client_for(server, retry_initial_backoff=0.05, retry_max_backoff=1).chat(BODY).text
    assert len(server.requests_for(CHAT)) == 3
    delays = retry_delays(caplog)
    assert len(delays) == 2
    assert 0.0375 <= delays[0] <= 0.05  # backoff with jitter
    assert 0.075 <= delays[1] <= 0.1  # doubled


def test_503_forever_gives_up_after_max_retries(server: ReferenceServer) -> None:
    server.add_fault(Fault(path=CHAT, kind="status", status=503, times=-1))
    with pytest.raises(InternalServerError) as info:
        client_for(server, max_retries=3).chat(BODY)
    assert info.value.status_code == 503
    assert len(server.requests_for(CHAT)) == 4


@pytest.mark.parametrize("status", [408, 500, 502, 504])
def test_other_retryable_statuses(server: ReferenceServer, status: int) -> None:
    server.add_fault(Fault(path=CHAT, kind="status", status=status))
    assert client_for(server).chat(BODY).text
    assert len(server.requests_for(CHAT)) == 2


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, ArliStatusError),
        (404, NotFoundError),
        (422, UnprocessableEntityError),
    ],
)
def test_client_errors_are_never_retried(server: ReferenceServer, status: int, cls: type) -> None:
    server.add_fault(Fault(path=CHAT, kind="status", status=status, times=-1))
    with pytest.raises(cls):
        client_for(server, max_retries=5).chat(BODY)
    assert len(server.requests_for(CHAT)) == 1


def test_html_502_page_is_retried_then_reported_as_text(server: ReferenceServer) -> None:
    server.add_fault(Fault(path=CHAT, kind="html_502", times=-1))
    with pytest.raises(InternalServerError) as info:
        client_for(server, max_retries=1).chat(BODY)
    assert "HTML error page" in info.value.message
    assert "<" not in info.value.message
    assert len(server.requests_for(CHAT)) == 2


def test_malformed_json_is_a_response_error_and_not_retried(server: ReferenceServer) -> None:
    server.add_fault(Fault(path=CHAT, kind="malformed_json"))
    with pytest.raises(ArliResponseError, match="not valid JSON"):
        client_for(server).chat(BODY)
    assert len(server.requests_for(CHAT)) == 1


def test_connection_reset_before_response_is_retried(server: ReferenceServer) -> None:
    server.add_fault(Fault(path=CHAT, kind="drop_before_response"))
    assert client_for(server).chat(BODY).text
    assert len(server.requests_for(CHAT)) == 2


def test_connection_reset_forever_raises_connection_error(server: ReferenceServer) -> None:
    server.add_fault(Fault(path=CHAT, kind="drop_before_response", times=-1))
    with pytest.raises(ArliConnectionError):
        client_for(server).chat(BODY)
    assert len(server.requests_for(CHAT)) == 3


def test_connection_refused_is_retried_then_raised() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = TextClient(
        api_key=KEY, base_url=f"http://127.0.0.1:{port}", retry_initial_backoff=0.01
    )
    start = time.monotonic()
    with pytest.raises(ArliConnectionError, match="could not connect"):
        client.chat(BODY)
    assert time.monotonic() - start < 5


def test_timed_out_post_is_not_resent(server: ReferenceServer) -> None:
    server.add_fault(Fault(path=CHAT, kind="delay", delay=1.5))
    with pytest.raises(ArliTimeoutError) as info:
        client_for(server, text_timeout=0.3).chat(BODY)
    assert info.value.phase == "read"
    time.sleep(1.3)  # let the server finish the delayed request
    assert len(server.requests_for(CHAT)) == 1


def test_timed_out_post_is_resent_when_asked(server: ReferenceServer) -> None:
    server.add_fault(Fault(path=CHAT, kind="delay", delay=1.0))
    answer = client_for(server, text_timeout=0.3, retry_read_timeouts=True).chat(BODY)
    assert answer.text
    assert len(server.requests_for(CHAT)) == 2


def test_timed_out_get_is_retried(server: ReferenceServer) -> None:
    server.add_fault(Fault(path="/v1/models", kind="delay", delay=1.0))
    assert client_for(server, listing_timeout=0.3).list_models()
    assert len(server.requests_for("/v1/models")) == 2


def test_a_body_much_larger_than_allowed_is_refused(server: ReferenceServer) -> None:
    server.add_fault(Fault(path=CHAT, kind="large_body", size=3_000_000))
    client = client_for(server)
    client.transport.max_response_bytes = 1_000_000
    try:
        with pytest.raises(ArliResponseError, match="byte limit"):
            client.chat(BODY)
    finally:
        client.transport.max_response_bytes = 64 * 2**20


# -- streams -------------------------------------------------------------------------------


def test_stream_503_before_first_event_is_retried(server: ReferenceServer) -> None:
    server.add_fault(Fault(path=CHAT, kind="status", status=503))
    chunks = list(client_for(server).stream_chat(BODY))
    assert chunks
    assert len(server.requests_for(CHAT)) == 2


def test_stream_reset_before_response_is_retried(server: ReferenceServer) -> None:
    server.add_fault(Fault(path=CHAT, kind="drop_before_response"))
    assert list(client_for(server).stream_chat(BODY))
    assert len(server.requests_for(CHAT)) == 2


def test_stream_reset_mid_stream_is_not_retried(server: ReferenceServer) -> None:
    server.add_fault(Fault(path=CHAT, kind="drop_mid_stream", after_events=3))
    got = []
    with pytest.raises(ArliConnectionError, match="after 3 events"):
        got.extend(client_for(server).stream_chat(BODY))
    assert len(got) == 3
    assert len(server.requests_for(CHAT)) == 1


def test_truncated_stream_without_done_is_incomplete(server: ReferenceServer) -> None:
    server.add_fault(Fault(path=CHAT, kind="truncate_sse", after_events=3))
    with pytest.raises(IncompleteResponseError, match="incomplete"):
        list(client_for(server).stream_chat(BODY))
    assert len(server.requests_for(CHAT)) == 1


def test_error_object_inside_the_stream(server: ReferenceServer) -> None:
    server.add_fault(Fault(path=CHAT, kind="stream_error", after_events=2))
    with pytest.raises(BadRequestError, match="inside the event stream"):
        list(client_for(server).stream_chat(BODY))


def test_abandoned_stream_releases_its_limiter_slot(server: ReferenceServer) -> None:
    client = client_for(server, text_max_concurrency=1)
    stream = client.stream_chat(BODY)
    next(stream)
    limiter = client.transport.limiter
    assert limiter is not None
    assert limiter.in_flight == 1
    stream.close()
    assert limiter.in_flight == 0


# -- async ---------------------------------------------------------------------------------


async def test_async_chat_stream_and_retry(server: ReferenceServer) -> None:
    server.add_fault(Fault(path=CHAT, kind="status", status=502))
    client = client_for(server)
    answer = await client.achat(BODY)
    assert answer.text
    chunks = [c async for c in client.astream_chat(BODY)]
    assert chunks[-1].usage is not None
    assert (await client.atokenize(model=MODEL, prompt="a b c")).count > 0
    assert await client.alist_models()
    assert len(server.requests_for(CHAT)) == 3


async def test_async_mid_stream_reset(server: ReferenceServer) -> None:
    server.add_fault(Fault(path=CHAT, kind="drop_mid_stream", after_events=2))
    with pytest.raises(ArliConnectionError):
        async for _ in client_for(server).astream_chat(BODY):
            pass


async def test_async_timeout_not_resent(server: ReferenceServer) -> None:
    server.add_fault(Fault(path=CHAT, kind="delay", delay=1.0))
    with pytest.raises(ArliTimeoutError):
        await client_for(server, text_timeout=0.2).achat(BODY)
    await asyncio.sleep(0.9)
    assert len(server.requests_for(CHAT)) == 1


def test_async_client_survives_several_event_loops(server: ReferenceServer) -> None:
    client = client_for(server)
    for _ in range(3):  # each asyncio.run has a new loop; pooled connections must not leak over
        assert asyncio.run(client.achat(BODY)).text


# -- limits, pooling, auth, secrets -----------------------------------------------------------


def test_thirty_concurrent_image_requests_never_hit_the_servers_cap() -> None:
    with ReferenceServer(api_key=KEY, image_parallel_limit=6, image_latency=0.05) as srv:
        settings = ArliSettings.resolve(api_key=KEY, base_url=srv.url, image_max_concurrency=6)
        transport = get_transport(settings, "image")
        body = {"prompt": "a cat", "width": 64, "height": 64, "steps": 1}

        def generate(_: int) -> int:
            return transport.request(
                "POST", "/sdapi/v1/txt2img", json_body=body, timeout_kind="image", max_retries=0
            ).status_code

        with ThreadPoolExecutor(max_workers=30) as pool:
            statuses = list(pool.map(generate, range(30)))
        assert statuses == [200] * 30
        assert srv.stats["rate_limited"] == 0
        assert srv.stats["max_in_flight_images"] <= 6
        assert transport.limiter is not None
        assert transport.limiter.max_in_flight == 6


async def test_thirty_concurrent_async_image_requests_without_429() -> None:
    with ReferenceServer(api_key=KEY, image_parallel_limit=6, image_latency=0.05) as srv:
        settings = ArliSettings.resolve(api_key=KEY, base_url=srv.url)
        transport = get_transport(settings, "image")
        body = {"prompt": "a cat", "width": 64, "height": 64, "steps": 1}
        results = await asyncio.gather(
            *(
                transport.arequest("POST", "/sdapi/v1/txt2img", json_body=body, max_retries=0)
                for _ in range(30)
            )
        )
        assert all(r.status_code == 200 for r in results)
        assert srv.stats["rate_limited"] == 0


def test_image_basic_auth() -> None:
    with ReferenceServer(api_key=KEY) as srv:
        settings = ArliSettings.resolve(api_key=KEY, base_url=srv.url, image_auth="basic")
        result = get_transport(settings, "image").request(
            "GET", "/sdapi/v1/samplers", timeout_kind="listing"
        )
        assert result.json()
        assert srv.requests[-1].headers["authorization"].startswith("Basic ")


def test_clients_with_equal_settings_share_one_pool(server: ReferenceServer) -> None:
    a, b = client_for(server), client_for(server)
    assert a.transport is b.transport
    assert a.transport.sync_client() is b.transport.sync_client()
    a.chat(BODY)
    b.chat(BODY)
    c = client_for(server, max_retries=5)
    assert c.transport is not a.transport


def test_close_then_reuse(server: ReferenceServer) -> None:
    client = client_for(server)
    client.chat(BODY)
    first = client.transport.sync_client()
    client.close()
    assert first.is_closed
    assert client.chat(BODY).text  # a new pool opens on demand


@pytest.mark.parametrize(
    ("body", "extra"),
    [(None, None), (b'{"a":1}', None), (b'{"a":1}', {"X-Trace": "t1", "Accept": "text/plain"})],
)
def test_requests_on_our_clients_equal_httpx_build_request(
    body: bytes | None, extra: dict[str, str] | None
) -> None:
    """Our own clients skip httpx's per-call merging: the request must be the same."""
    transport = TextClient(api_key=KEY, base_url="http://127.0.0.1:9").transport
    client = transport.sync_client()
    timeout = transport._timeout("text", None)
    ours = transport._build(client, "POST", CHAT, body, None, timeout, extra)
    base = transport._json_headers if body is not None else transport._headers
    theirs = client.build_request(
        "POST",
        transport.url(CHAT),
        content=body,
        headers={**base, **(extra or {})},
        timeout=timeout,
    )
    assert ours.method == theirs.method
    assert ours.url == theirs.url
    assert ours.headers.multi_items() == theirs.headers.multi_items()
    assert ours.extensions == theirs.extensions
    assert ours.read() == theirs.read()
    again = transport._build(client, "POST", CHAT, body, None, timeout, None)
    assert "x-trace" not in again.headers  # per-call headers never stick


def test_cookies_the_server_set_are_sent_back(server: ReferenceServer) -> None:
    """A sticky-session cookie in our pool goes out with the next requests."""
    client = client_for(server, max_retries=0)
    pool = client.transport.sync_client()
    pool.cookies.set("route", "backend-2", domain="127.0.0.1")
    try:
        client.chat(BODY)
    finally:
        pool.cookies.clear()
    assert server.requests_for(CHAT)[-1].headers.get("cookie") == "route=backend-2"
    client.chat(BODY)
    assert "cookie" not in server.requests_for(CHAT)[-1].headers


def test_injected_client_is_used_and_left_open(server: ReferenceServer) -> None:
    seen: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda r: seen.append(r.url.path)]})
    client = TextClient(api_key=KEY, base_url=server.url, http_client=http)
    client.chat(BODY)
    client.close()
    assert seen == [CHAT]
    assert not http.is_closed
    http.close()


def test_wrong_key_is_401_with_advice_and_never_leaks(server: ReferenceServer) -> None:
    secret = "sk-WRONG-0123456789abcdefSECRET"
    client = TextClient(api_key=secret, base_url=server.url)
    with pytest.raises(AuthenticationError) as info:
        client.chat(BODY)
    assert info.value.status_code == 401
    assert "ARLIAI_API_KEY" in str(info.value)
    rendered = "".join(traceback.format_exception(info.value))
    assert secret not in rendered
    assert secret not in repr(info.value)
    assert len(server.requests_for(CHAT)) == 1


def test_key_not_in_connection_error_traceback_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "sk-CONN-0123456789abcdefSECRET"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = TextClient(
        api_key=secret,
        base_url=f"http://127.0.0.1:{port}",
        max_retries=1,
        retry_initial_backoff=0.01,
    )
    with pytest.raises(ArliConnectionError) as info:
        client.chat(BODY)
    assert secret not in "".join(traceback.format_exception(info.value))
    assert secret not in caplog.text

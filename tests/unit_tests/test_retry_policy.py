"""Retry decisions and Retry-After parsing (the I/O side is tested against the server)."""

from __future__ import annotations

import email.utils
import time

import pytest

from arli import ArliConnectionError, ArliTimeoutError, RetryPolicy
from arli._transport import parse_retry_after


def test_retry_after_seconds_ms_and_http_date() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3
    assert parse_retry_after({"retry-after": "0.5"}) == 0.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    now = time.time()
    date = email.utils.formatdate(now + 7, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(7, abs=1)
    past = email.utils.formatdate(now - 100, usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=now) == 0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-1"}) is None
    assert parse_retry_after({}) is None


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses(status: int) -> None:
    assert RetryPolicy().delay_for_status(0, status, None) is not None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 415, 422, 501])
def test_other_statuses_are_never_retried(status: int) -> None:
    assert RetryPolicy(max_retries=5).delay_for_status(0, status, None) is None


def test_backoff_grows_with_jitter_and_cap() -> None:
    policy = RetryPolicy(initial_backoff=1.0, max_backoff=4.0, jitter=0.25)
    for attempt, base in [(0, 1.0), (1, 2.0), (2, 4.0), (5, 4.0)]:
        delays = {policy.backoff(attempt) for _ in range(50)}
        assert all(base * 0.75 <= d <= base for d in delays)
        assert len(delays) > 1  # jittered


def test_retry_after_is_honoured_and_capped() -> None:
    policy = RetryPolicy(max_retry_after=10)
    assert policy.delay_for_status(0, 429, 3.0) == 3.0
    assert policy.delay_for_status(0, 503, 2.0) == 2.0
    assert policy.delay_for_status(0, 429, 11.0) is None  # too long: raise, do not hang


def test_max_retries_bounds_attempts() -> None:
    policy = RetryPolicy(max_retries=2)
    assert policy.delay_for_status(1, 503, None) is not None
    assert policy.delay_for_status(2, 503, None) is None
    assert RetryPolicy(max_retries=0).delay_for_status(0, 503, None) is None


def test_timed_out_post_is_not_resent_unless_asked() -> None:
    read = ArliTimeoutError("t", phase="read")
    connect = ArliTimeoutError("t", phase="connect")
    refused = ArliConnectionError("refused")
    policy = RetryPolicy()
    assert policy.delay_for_error(0, read, "POST") is None
    assert policy.delay_for_error(0, read, "GET") is not None
    assert policy.delay_for_error(0, connect, "POST") is not None
    assert policy.delay_for_error(0, refused, "POST") is not None
    assert RetryPolicy(retry_read_timeouts=True).delay_for_error(0, read, "POST") is not None


def test_multipart_body_is_sent_again_on_retry() -> None:
    import httpx

    from arli._transport import Multipart, Transport

    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.read())
        assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
        return httpx.Response(503 if len(seen) == 1 else 200, json={"ok": True})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    transport = Transport(
        base_url="http://h", http_client=client, retry=RetryPolicy(initial_backoff=0.001)
    )
    body = Multipart(data={"prompt": "a cat"}, files={"image": ("a.png", b"PNGDATA", "image/png")})
    assert transport.request("POST", "/api/img2img", multipart=body).json() == {"ok": True}
    assert len(seen) == 2
    for raw in seen:
        assert b'name="prompt"' in raw
        assert b"a cat" in raw
        assert b'filename="a.png"' in raw
        assert b"PNGDATA" in raw

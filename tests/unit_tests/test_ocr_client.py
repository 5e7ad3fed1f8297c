"""The engine's text client: OCR's retry policy on its own counting transport (mock HTTP)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from arli import ArliSettings, ArliTimeoutError, TextClient
from arli._limits import Limiter
from arli._transport import get_transport
from arli.ocr import OCREngine
from tests.helpers import FIXTURES

KEY = "sk-ocr-SECRET-0123456789abcdef"
JPEG = (FIXTURES / "ocr" / "page-1.jpg").read_bytes()
ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "vision-model",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Total"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
}


class Flaky:
    """Fails the first ``failures`` requests with ``fail``, then answers."""

    def __init__(self, failures: int, fail: Any):
        self.failures = failures
        self.fail = fail
        self.calls = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls <= self.failures:
            return self.fail(request)  # type: ignore[no-any-return]
        return httpx.Response(200, json=ANSWER)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))


def _timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def _settings(**options: Any) -> ArliSettings:
    return ArliSettings.resolve(
        api_key=KEY, base_url="http://ocr.test", retry_initial_backoff=0, **options
    )


async def test_a_timed_out_page_is_sent_again_and_counted() -> None:
    server = Flaky(1, _timeout)
    engine = OCREngine(
        model="vision-model", settings=_settings(), http_async_client=server.client()
    )
    [page] = (await engine.aocr(JPEG)).pages
    assert (page.text, page.attempts, page.error) == ("Total", 2, None)
    assert server.calls == 2


async def test_the_settings_alone_do_not_resend_a_timed_out_post() -> None:
    # The engine's policy is its own: a text client of the same settings keeps theirs.
    server = Flaky(1, _timeout)
    settings = _settings()
    client = TextClient(settings=settings, http_async_client=server.client())
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(ArliTimeoutError):
        await client.achat(body)
    assert server.calls == 1


async def test_max_retries_of_the_engine_wins_over_the_settings_and_leaves_them_alone() -> None:
    # 25 is above what the settings accept (20): the engine's own bound is >= 0.
    server = Flaky(30, lambda request: httpx.Response(503, json={"error": "busy"}))
    settings = _settings(max_retries=2)
    engine = OCREngine(
        model="vision-model",
        settings=settings,
        max_retries=25,
        on_page_error="placeholder",
        http_async_client=server.client(),
    )
    [page] = (await engine.aocr(JPEG)).pages
    assert page.error is not None
    assert (page.attempts, page.error.attempts, page.error.status_code) == (26, 26, 503)
    assert server.calls == 26
    assert engine.settings is settings
    assert engine.settings.max_retries == 2
    assert not engine.settings.retry_read_timeouts


async def test_each_engine_counts_only_its_own_requests() -> None:
    first, second = Flaky(1, _timeout), Flaky(0, _timeout)
    one = OCREngine(model="vision-model", settings=_settings(), http_async_client=first.client())
    two = OCREngine(model="vision-model", settings=_settings(), http_async_client=second.client())
    assert one.transport is not two.transport
    a, b = (await one.aocr(JPEG)).pages[0], (await two.aocr(JPEG)).pages[0]
    assert (a.attempts, b.attempts) == (2, 1)
    assert one.last_report is not None
    assert two.last_report is not None
    assert (one.last_report.requests, two.last_report.requests) == (2, 1)


def test_a_transport_with_a_limiter_of_its_own_is_never_shared() -> None:
    settings = _settings()
    own = Limiter(2)
    mine = get_transport(settings, "text", limiter=own)
    shared = get_transport(settings, "text")
    assert mine is not shared
    assert mine.limiter is own
    assert get_transport(settings, "text", limiter=own) is not mine
    assert get_transport(settings, "text") is shared

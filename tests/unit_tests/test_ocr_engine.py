"""The OCR request on the wire, answer handling, validation and secrets (mock HTTP, no server)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from arli import (
    ArliConfigError,
    ArliValidationError,
    AuthenticationError,
    OCRPageError,
)
from arli.ocr import MARKDOWN_PROMPT, TEXT_PROMPT, OCREngine, page_metadata
from tests.helpers import FIXTURES
from tests.ocr_helpers import encode, page_image

KEY = "sk-ocr-SECRET-0123456789abcdef"
JPEG = (FIXTURES / "ocr" / "page-1.jpg").read_bytes()


def completion(text: str, finish: str = "stop", prompt_tokens: int = 1200) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "vision-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": 7,
            "total_tokens": prompt_tokens + 7,
        },
    }


class Recorder:
    """A mock server: answers with ``reply(body)`` and records every request body."""

    def __init__(self, reply: Callable[[dict[str, Any]], httpx.Response]):
        self.reply = reply
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[httpx.Headers] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        self.headers.append(request.headers)
        return self.reply(body)

    def engine(self, **options: Any) -> OCREngine:
        client = httpx.AsyncClient(transport=httpx.MockTransport(self.handler))
        options.setdefault("model", "vision-model")
        options.setdefault("api_key", KEY)
        options.setdefault("base_url", "http://ocr.test")
        return OCREngine(http_async_client=client, **options)


def ok(text: str = "# Invoice\n\nTotal: 42.00 EUR") -> Recorder:
    return Recorder(lambda body: httpx.Response(200, json=completion(text)))


async def test_one_user_message_with_prompt_and_image_and_deterministic_sampling() -> None:
    server = ok()
    result = await server.engine().aocr(JPEG)
    [body] = server.bodies
    assert body["model"] == "vision-model"
    assert body["temperature"] == 0.0
    assert body["max_tokens"] == 4096
    assert body["stream"] is False
    [message] = body["messages"]
    assert message["role"] == "user"
    text, image = message["content"]
    assert text == {"type": "text", "text": MARKDOWN_PROMPT}
    url = image["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == JPEG  # a JPEG input is sent as it is
    assert server.headers[0]["authorization"] == f"Bearer {KEY}"
    page = result.pages[0]
    assert page.text == "# Invoice\n\nTotal: 42.00 EUR"
    assert (page.page, page.page_label, page.total_pages, page.attempts) == (1, "1", 1, 1)
    assert (page.image_width, page.image_height, page.image_mime) == (300, 200, "image/jpeg")
    assert (page.usage.prompt_tokens, page.usage.completion_tokens) == (1200, 7)
    assert result.report.requests == 1
    assert result.report.prompt_tokens == 1200


async def test_sampler_extras_system_prompt_and_extra_body_go_on_the_wire() -> None:
    server = ok()
    engine = server.engine(
        output_format="text",
        system_prompt="You are a careful OCR engine.",
        max_tokens=2048,
        model_kwargs={"min_p": 0.05, "repetition_penalty": 1.05, "dry_multiplier": 0.8},
        extra_body={"top_k": 20, "chat_template_kwargs": {"enable_thinking": False}},
    )
    await engine.aocr(encode(page_image("x"), "PNG"))
    [body] = server.bodies
    assert body["messages"][0] == {"role": "system", "content": "You are a careful OCR engine."}
    assert body["messages"][1]["content"][0]["text"] == TEXT_PROMPT
    assert body["messages"][1]["content"][1]["image_url"]["url"].startswith(
        "data:image/png;base64,"
    )
    assert (body["max_tokens"], body["min_p"], body["repetition_penalty"]) == (2048, 0.05, 1.05)
    assert body["dry_multiplier"] == 0.8
    assert body["top_k"] == 20
    assert body["chat_template_kwargs"] == {"enable_thinking": False}


async def test_custom_prompt_and_png_encoding() -> None:
    server = ok()
    engine = server.engine(prompt="List the words.", image_format="png", passthrough=False)
    await engine.aocr(JPEG)
    content = server.bodies[0]["messages"][0]["content"]
    assert content[0]["text"] == "List the words."
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")


async def test_fences_around_the_answer_are_stripped() -> None:
    server = ok("```markdown\n# Title\n\n| a | b |\n|---|---|\n```")
    result = await server.engine().aocr(JPEG)
    assert result.pages[0].text == "# Title\n\n| a | b |\n|---|---|"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"model_kwargs": {"top_p": 1.5}}, "top_p"),
        ({"temperature": -1}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"on_page_error": "ignore"}, "on_page_error"),
        ({"output_format": "html"}, "output_format"),
        ({"dpi": 2}, "dpi"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"length_retry_factor": 0.5}, "length_retry_factor"),
    ],
)
def test_bad_options_fail_before_any_request(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ArliValidationError) as info:
        OCREngine(api_key=KEY, **options)
    assert info.value.field == field


def test_unknown_sampler_name_suggests_the_right_one() -> None:
    with pytest.raises(ArliValidationError, match="Did you mean 'min_p'"):
        OCREngine(api_key=KEY, model_kwargs={"minp": 0.1})


def test_a_key_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ArliConfigError, match="No API key"):
        OCREngine()
    monkeypatch.setenv("ARLIAI_API_KEY", KEY)
    assert OCREngine().settings.api_key_for("text") is not None
    assert OCREngine(api_key=None, require_key=False, base_url="http://local:8000")


def test_default_model_and_environment_override(monkeypatch: pytest.MonkeyPatch) -> None:
    from arli.ocr import DEFAULT_OCR_MODEL

    assert OCREngine(api_key=KEY).model == DEFAULT_OCR_MODEL
    monkeypatch.setenv("ARLI_OCR_MODEL", "Other-VL")
    assert OCREngine(api_key=KEY).model == "Other-VL"
    assert OCREngine(api_key=KEY, model="Explicit").model == "Explicit"


async def test_concurrency_defaults_to_the_keys_process_wide_limit() -> None:
    assert OCREngine(api_key=KEY).max_concurrency == 4
    assert OCREngine(api_key=KEY + "2", text_max_concurrency=3).max_concurrency == 3
    assert OCREngine(api_key=KEY, max_concurrency=7).max_concurrency == 7


async def test_the_key_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    def reply(body: dict[str, Any]) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": "engine crashed", "code": 500}})

    server = Recorder(reply)
    engine = server.engine(on_page_error="placeholder", max_retries=1)
    with caplog.at_level(logging.DEBUG):
        result = await engine.aocr(JPEG)
    page = result.pages[0]
    texts = [
        repr(engine),
        str(engine.settings),
        repr(engine.client),
        repr(result),
        json.dumps(result.report.as_dict()),
        json.dumps(page.as_dict()),
        json.dumps(page_metadata(page)),
        result.report.summary(),
        caplog.text,
    ]
    assert page.error is not None
    assert "engine crashed" in page.error.error
    for text in texts:
        assert KEY not in text

    def deny(body: dict[str, Any]) -> httpx.Response:
        return httpx.Response(401, json={"error": "Unauthorized"})

    with pytest.raises(AuthenticationError) as info:
        await Recorder(deny).engine(on_page_error="skip").aocr(JPEG)
    assert KEY not in str(info.value)
    assert KEY not in repr(info.value)

    with pytest.raises(OCRPageError) as page_error:
        await server.engine(max_retries=0).aocr(JPEG)
    assert KEY not in str(page_error.value)
    assert KEY not in repr(page_error.value.__dict__)


async def test_answer_without_choices_is_a_page_failure() -> None:
    server = Recorder(lambda body: httpx.Response(200, json={**completion(""), "choices": []}))
    result = await server.engine(on_page_error="placeholder").aocr(JPEG)
    page = result.pages[0]
    assert page.error is not None
    assert page.error.error_type == "ArliResponseError"
    assert page.text == ""


async def test_a_loop_fixed_by_a_warmer_retry_is_replaced() -> None:
    def reply(body: dict[str, Any]) -> httpx.Response:
        if body["temperature"] == 0.0:
            return httpx.Response(200, json=completion("Total " + "| 0 | 0 |\n" * 80, "length"))
        return httpx.Response(200, json=completion("| a | b |\n|---|---|\n| 1 | 2 |"))

    server = Recorder(reply)
    result = await server.engine().aocr(JPEG)
    page = result.pages[0]
    assert [b["temperature"] for b in server.bodies] == [0.0, 0.3]
    assert (page.text, page.repetition, page.truncated, page.attempts) == (
        "| a | b |\n|---|---|\n| 1 | 2 |",
        False,
        False,
        2,
    )
    assert page.usage.prompt_tokens == 2400  # both requests are counted


def test_the_sync_api_refuses_to_run_on_its_own_loop() -> None:
    errors: list[BaseException] = []
    engine: OCREngine

    def callback(result: Any, done: int, total: int | None) -> None:
        try:
            engine.ocr(JPEG)
        except RuntimeError as exc:
            errors.append(exc)

    engine = ok().engine(on_page_done=callback)
    assert len(engine.ocr(JPEG)) == 1
    assert "use the async API" in str(errors[0])


def test_ocr_modules_import_pillow_and_pdfium_only_when_rendering() -> None:
    import subprocess
    import sys

    code = (
        "import sys, arli.ocr, arli.ocr.tooling, langchain_arli.document_loaders, "
        "langchain_arli.tools.ocr; from langchain_arli import ArliOCRLoader, ArliOCRTool; "
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    ).stdout.split()
    for name in ("PIL", "pypdfium2", "llama_index", "openai"):
        assert name not in out, name

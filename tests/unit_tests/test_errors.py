"""Error envelopes → typed errors with the server's own message."""

from __future__ import annotations

import json

import pytest

from arli import (
    ArliError,
    ArliStatusError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from arli._errors import (
    error_from_stream_event,
    extract_error_message,
    status_error_class,
    status_error_from_response,
)
from tests.helpers import CAPTURES, FIXTURES, WIRE, parse_raw_response

# (fixture file, status it is served with, expected exception class, expected message, param)
ENVELOPES = [
    ("error_400.json", 400, BadRequestError, "temperature must be non-negative, got -0.5.", None),
    (
        "error_400_context_length.json",
        400,
        BadRequestError,
        "This model's maximum context length is 16384 tokens.",
        None,
    ),
    (
        "error_400_validation.json",
        400,
        BadRequestError,
        "Stream options can only be defined when `stream=True`.",
        None,
    ),
    ("error_404_model.json", 404, NotFoundError, "The model `gpt-4` does not exist.", None),
    ("error_legacy_flat.json", 404, NotFoundError, "The model `gpt-4` does not exist.", None),
    ("sd_404_sampler_not_found.json", 404, NotFoundError, "Sampler not found", None),
    (
        "sd_422_error.json",
        422,
        UnprocessableEntityError,
        "body.steps: Input should be a valid integer, unable to parse string as an integer; "
        "body.width: Input should be a valid integer, got a number with a fractional part",
        "steps",
    ),
    (
        "sd_extra_422_range.json",
        422,
        UnprocessableEntityError,
        "body.upscaling_resize: Input should be less than or equal to 8",
        "upscaling_resize",
    ),
    ("sd_img2img_no_init_images_400.json", 400, BadRequestError, "Init image is none", None),
]


@pytest.mark.parametrize(("name", "status", "cls", "message", "param"), ENVELOPES)
def test_every_wire_error_envelope(name, status, cls, message, param) -> None:
    body = (WIRE / name).read_text()
    err = status_error_from_response(status, body, reason="x", method="POST", url="http://h/p")
    assert type(err) is cls
    assert message in err.message
    assert err.status_code == status
    assert err.body == body
    assert err.param == param
    assert message in str(err)
    assert f"HTTP {status}" in str(err)


@pytest.mark.parametrize(
    ("capture", "cls", "message", "param"),
    [
        (
            "31_error_unknown_model.resp",
            NotFoundError,
            "The model `nope` does not exist. Valid aliases: tiny.",
            "model",
        ),
        (
            "32_error_max_tokens_too_big.resp",
            BadRequestError,
            "max_tokens=5000 cannot be greater than max_model_len=1024",
            "max_tokens",
        ),
        (
            "33_error_bad_type.resp",
            BadRequestError,
            "'loc': 'body.temperature'",
            "body.temperature",
        ),
        (
            "34_error_missing_messages.resp",
            BadRequestError,
            "'msg': 'Field required'",
            "body.messages",
        ),
    ],
)
def test_real_vllm_error_captures(capture, cls, message, param) -> None:
    raw = parse_raw_response(CAPTURES / capture)
    err = status_error_from_response(raw.status, raw.body)
    assert type(err) is cls
    assert message in err.message
    assert err.param == param
    assert err.code == raw.status


def test_vllm_unauthorized_plain_string() -> None:
    err = status_error_from_response(401, b'{"error": "Unauthorized"}')
    assert isinstance(err, AuthenticationError)
    assert err.message == "Unauthorized"
    assert "ARLIAI_API_KEY" in str(err)  # tells the user what to do


def test_sdnext_exception_without_detail_uses_errors_text() -> None:
    body = json.dumps(
        {"error": "ValidationError", "code": 500, "detail": "", "body": "", "errors": "1 error: x"}
    )
    err = status_error_from_response(500, body)
    assert isinstance(err, InternalServerError)
    assert err.message == "1 error: x"
    assert err.error_type == "ValidationError"


def test_fastapi_detail_string() -> None:
    assert extract_error_message('{"detail":"Not Found"}') == "Not Found"


@pytest.mark.parametrize(
    ("page", "expected", "not_expected"),
    [
        ("nginx_502.html", "502 Bad Gateway", "nginx/1.24.0"),
        ("cloudflare_524.html", "524: A timeout occurred", "_cf_chl_opt"),
        ("bare_503.html", "Service temporarily unavailable & overloaded", "<p>"),
    ],
)
def test_html_error_pages_become_short_text(page, expected, not_expected) -> None:
    body = (FIXTURES / "html" / page).read_text()
    err = status_error_from_response(502, body)
    assert isinstance(err, InternalServerError)
    assert expected in err.message
    assert not_expected not in err.message
    assert "HTML error page" in err.message
    assert len(err.message) < 300
    assert err.body == body  # the raw page is still available


def test_empty_body_uses_reason_phrase() -> None:
    err = status_error_from_response(503, b"", reason="Service Unavailable")
    assert err.message == "Service Unavailable"


def test_plain_text_body_is_quoted_and_truncated() -> None:
    err = status_error_from_response(500, "x" * 5000)
    assert len(err.message) <= 300


def test_unparseable_json_looking_body_is_kept_as_text() -> None:
    err = status_error_from_response(500, '{"error": {"message": "cut')
    assert '{"error": {"message": "cut' in err.message


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, InternalServerError),
        (504, InternalServerError),
        (409, ArliStatusError),
        (413, ArliStatusError),
    ],
)
def test_status_classes(status, cls) -> None:
    assert status_error_class(status) is cls
    assert issubclass(cls, ArliError)


def test_rate_limit_carries_retry_after_and_request_id() -> None:
    err = status_error_from_response(
        429, '{"error":{"message":"slow down","code":429}}', retry_after=2.5, request_id="abc"
    )
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 2.5
    assert err.request_id == "abc"
    assert "request id abc" in str(err)


def test_stream_error_event_maps_code_to_class() -> None:
    event = {"error": {"message": "boom", "type": "BadRequestError", "param": None, "code": 400}}
    err = error_from_stream_event(event)
    assert isinstance(err, BadRequestError)
    assert "boom" in err.message
    assert "inside the event stream" in err.message
    err = error_from_stream_event({"error": {"message": "x", "code": "weird"}})
    assert isinstance(err, InternalServerError)


def test_gateway_wrapping_an_upstream_envelope() -> None:
    body = json.dumps(
        {
            "error": "Upstream error",
            "status": 404,
            "detail": {"error": "HTTPException", "code": 404, "detail": "Sampler not found"},
        }
    )
    err = status_error_from_response(502, body)
    assert isinstance(err, InternalServerError)
    assert err.message == "Upstream error: Sampler not found"

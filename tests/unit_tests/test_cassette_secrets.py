"""No cassette may hold a credential; the scanner itself is checked on planted secrets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from arli._cassettes import find_secrets, json_body_matcher, scrub_response, vcr_config

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes"


def _cassette_files() -> list[Path]:
    return sorted(p for p in CASSETTES.rglob("*") if p.is_file() and p.suffix in {".yaml", ".yml"})


def test_every_cassette_is_free_of_credentials() -> None:
    files = _cassette_files()
    assert len(files) >= 5, "the cassette sets listed in cassettes/README.md are missing"
    known = tuple(
        v
        for k in ("ARLIAI_API_KEY", "ARLI_TEXT_KEY", "ARLI_IMAGE_KEY", "FEATHERLESS_API_KEY")
        if (v := os.environ.get(k))
    )
    leaks = {
        str(p.relative_to(CASSETTES)): hits
        for p in files
        if (hits := find_secrets(p.read_text(errors="replace"), known))
    }
    assert not leaks, f"cassettes with credentials: {leaks}"


def test_every_cassette_has_its_auth_header_redacted() -> None:
    for path in _cassette_files():
        text = path.read_text(errors="replace")
        for line_no, line in enumerate(text.splitlines()):
            if line.strip().lower() in ("authorization:", "x-api-key:", "api-key:"):
                value = text.splitlines()[line_no + 1].strip()
                assert value == "- REDACTED", f"{path}: {line.strip()} {value}"


@pytest.mark.parametrize(
    "planted",
    [
        "authorization:\n      - Bearer sk-live-abcdefghijklmnop1234",
        "Authorization: Basic dXNlcjpwYXNzd29yZDEyMzQ=",
        '{"api_key": "abcdefghijklmnopqrstu"}',
        "key is sk-abcdefghijklmnopqrstuvwx",
    ],
)
def test_scanner_catches_planted_secrets(planted: str) -> None:
    assert find_secrets(planted)


def test_scanner_catches_a_known_key_anywhere() -> None:
    assert find_secrets("body: hello my-own-key-value-123 world", ("my-own-key-value-123",))


@pytest.mark.parametrize(
    "clean",
    [
        "authorization:\n      - REDACTED",
        "Authorization: Bearer REDACTED",
        '{"messages": [{"role": "user", "content": "Hello"}], "model": "tiny"}',
        "max_tokens: 1024",
    ],
)
def test_scanner_passes_clean_text(clean: str) -> None:
    assert find_secrets(clean) == []


def test_config_filters_every_auth_header_and_has_no_record_mode() -> None:
    config = vcr_config()
    filtered = {name for name, _ in config["filter_headers"]}
    assert {"authorization", "x-api-key", "api-key", "cookie"} <= filtered
    assert "record_mode" not in config  # the CLI --record-mode=none must win
    assert config["match_on"] == ["method", "path", "json_body"]


def test_scrub_response_removes_cookies() -> None:
    response = {"headers": {"Set-Cookie": ["session=abc"], "content-type": ["x"]}}
    assert scrub_response(response)["headers"]["Set-Cookie"] == ["REDACTED"]


class _Req:
    def __init__(self, body: bytes | None) -> None:
        self.body = body


def test_json_body_matcher_ignores_key_order_not_values() -> None:
    json_body_matcher(_Req(b'{"a":1,"b":[1,2]}'), _Req(b'{"b": [1, 2], "a": 1}'))
    with pytest.raises(AssertionError):
        json_body_matcher(_Req(b'{"a":1}'), _Req(b'{"a":2}'))
    with pytest.raises(AssertionError):
        json_body_matcher(_Req(b"x"), _Req(b"y"))
    json_body_matcher(_Req(None), _Req(None))

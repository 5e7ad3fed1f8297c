"""Cache keys (image + model + prompt + parameters) and the directory cache."""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

import pytest

from arli.ocr.cache import DirectoryCache, OCRCache, cache_key


def body(**changes):
    base = {
        "model": "vision-model",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Transcribe."},
                    {
                        "type": "image_url",
                        "image_url": {
                            "url": "data:image/jpeg;base64," + base64.b64encode(b"img").decode()
                        },
                    },
                ],
            }
        ],
        "temperature": 0.0,
        "max_tokens": 4096,
    }
    base.update(changes)
    return base


def test_key_is_stable_and_covers_what_shapes_the_answer() -> None:
    key = cache_key(b"img", body())
    assert key == cache_key(b"img", body())
    assert len(key) == 64
    assert key == cache_key(b"img", dict(reversed(list(body().items()))))  # key order
    others = {
        cache_key(b"other image", body()),
        cache_key(b"img", body(model="another-model")),
        cache_key(b"img", body(temperature=0.3)),
        cache_key(b"img", body(max_tokens=100)),
        cache_key(b"img", body(min_p=0.05)),
        cache_key(
            b"img",
            body(messages=[{"role": "user", "content": [{"type": "text", "text": "Other."}]}]),
        ),
    }
    assert key not in others
    assert len(others) == 6


def test_the_image_is_digested_not_copied_into_the_key_material() -> None:
    big = body()
    big["messages"][0]["content"][1]["image_url"]["url"] = "data:image/png;base64," + "A" * 100_000
    assert len(cache_key(b"x", big)) == 64


def test_directory_cache_round_trip(tmp_path: Path) -> None:
    cache = DirectoryCache(tmp_path / "cache")
    assert isinstance(cache, OCRCache)
    key = cache_key(b"img", body())
    assert cache.get(key) is None
    cache.set(key, {"text": "héllo", "finish_reason": "stop"})
    assert cache.get(key) == {"text": "héllo", "finish_reason": "stop"}
    stored = tmp_path / "cache" / key[:2] / f"{key}.json"
    assert json.loads(stored.read_text(encoding="utf-8"))["text"] == "héllo"
    assert [p.name for p in stored.parent.iterdir()] == [stored.name]  # no temporary left


def test_broken_entries_are_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = DirectoryCache(tmp_path)
    key = "ab" * 32
    (tmp_path / "ab").mkdir()
    (tmp_path / "ab" / f"{key}.json").write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="arli.ocr"):
        assert cache.get(key) is None
    assert "unreadable" in caplog.text
    with pytest.raises(ValueError, match="not a cache key"):
        cache.get("../../etc/passwd")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_cache_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tmp_path.chmod(0o500)
    try:
        cache = DirectoryCache(tmp_path / "sub")
        with caplog.at_level(logging.WARNING, logger="arli.ocr"):
            cache.set("cd" * 32, {"text": "x"})
            cache.set("ef" * 32, {"text": "y"})
        assert caplog.text.count("cannot write the OCR cache") == 1
    finally:
        tmp_path.chmod(0o700)


def test_unwritable_cache_path_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = DirectoryCache(blocker)
    with caplog.at_level(logging.WARNING, logger="arli.ocr"):
        cache.set("cd" * 32, {"text": "x"})
    assert "cannot write the OCR cache" in caplog.text

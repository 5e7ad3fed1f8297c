"""The page cache and outputs at an fsspec URL (:mod:`arli.ocr.job.storage`).

``memory://`` and ``file://`` are exercised here; object stores (``s3://``, ``gs://``) go
through the same fsspec calls but are not tested (no network in tests).
"""

from __future__ import annotations

import pickle
import uuid
from pathlib import Path

import pytest

from arli.ocr.cache import DirectoryCache, cache_key
from arli.ocr.job.storage import FsspecCache, local_path, open_cache, publish

fsspec = pytest.importorskip("fsspec", reason='fsspec comes with "arli-integrations[ray]"')

KEY = cache_key(b"page-bytes", {"model": "m", "messages": []})


def test_memory_cache_round_trip_and_survives_pickling() -> None:
    url = f"memory://cache-{uuid.uuid4().hex}"
    cache = FsspecCache(url)
    assert cache.get(KEY) is None
    cache.set(KEY, {"text": "héllo", "tokens": 3})
    assert cache.get(KEY) == {"text": "héllo", "tokens": 3}
    clone = pickle.loads(pickle.dumps(cache))
    assert clone.get(KEY) == {"text": "héllo", "tokens": 3}
    fs = fsspec.filesystem("memory")
    assert fs.exists(f"{url[len('memory://') :]}/{KEY[:2]}/{KEY}.json")


def test_file_url_cache_is_the_same_layout_as_the_directory_cache(tmp_path: Path) -> None:
    FsspecCache(f"file://{tmp_path}").set(KEY, {"text": "a"})
    assert DirectoryCache(tmp_path).get(KEY) == {"text": "a"}
    assert not list(tmp_path.rglob(".tmp-*"))
    DirectoryCache(tmp_path).set("ab" + KEY[2:], {"text": "b"})
    assert FsspecCache(f"file://{tmp_path}").get("ab" + KEY[2:]) == {"text": "b"}


def test_unreadable_entry_is_a_miss(tmp_path: Path) -> None:
    path = tmp_path / KEY[:2] / f"{KEY}.json"
    path.parent.mkdir()
    path.write_text("{broken")
    assert FsspecCache(f"file://{tmp_path}").get(KEY) is None


def test_bad_key_is_refused() -> None:
    with pytest.raises(ValueError, match="not a cache key"):
        FsspecCache("memory://x").get("../../etc/passwd")


def test_open_cache_picks_by_location(tmp_path: Path) -> None:
    assert isinstance(open_cache(tmp_path), DirectoryCache)
    assert isinstance(open_cache(f"file://{tmp_path}"), FsspecCache)
    assert local_path(f"file://{tmp_path}") == tmp_path
    assert local_path(tmp_path) == tmp_path
    assert local_path("memory://x") is None


def test_publish_copies_every_file(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# a")
    (tmp_path / "pages.jsonl").write_text("{}\n")
    url = f"memory://out-{uuid.uuid4().hex}"
    assert publish(tmp_path, url) == ["docs/a.md", "pages.jsonl"]
    fs = fsspec.filesystem("memory")
    root = url[len("memory://") :]
    assert fs.cat_file(f"{root}/docs/a.md") == b"# a"
    assert fs.cat_file(f"{root}/pages.jsonl") == b"{}\n"

"""A content-addressed cache of page transcriptions, so an interrupted run resumes cheaply.

The key of a page is the SHA-256 of the page image's bytes together with everything that
shapes the answer: the model, the prompt and system prompt, and every request parameter
(temperature, ``max_tokens``, sampler extras, ``extra_body``). The same page sent the same
way is answered from the cache; change the model, the prompt, a sampler value, the DPI or
the image encoding and the page is transcribed again. Only successful transcriptions are
stored, never failures.

:class:`DirectoryCache` keeps one small JSON file per page under a directory (written
atomically, so a run killed mid-write leaves no broken entry, and several processes can
share the directory). Any object with ``get(key)`` and ``set(key, value)`` works as a
cache (:class:`OCRCache`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from arli._kwargs import checks_arguments

__all__ = ["CACHE_VERSION", "DirectoryCache", "OCRCache", "cache_key", "entry_name", "read_entry"]

logger = logging.getLogger("arli.ocr")

#: Bumped when the stored entry format or the key recipe changes.
CACHE_VERSION = 1


@runtime_checkable
class OCRCache(Protocol):
    """Where finished pages are kept: any object with these two methods."""

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored entry for ``key``, or ``None``."""

    def set(self, key: str, value: dict[str, Any]) -> None:
        """Store ``value`` (a JSON-serializable dict) under ``key``."""


def _strip_images(value: Any) -> Any:
    """A copy of a request body with each image ``data:`` URI replaced by its SHA-256."""
    if isinstance(value, Mapping):
        return {k: _strip_images(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_images(v) for v in value]
    if isinstance(value, str) and value.startswith("data:") and ";base64," in value[:80]:
        return "sha256:" + hashlib.sha256(value.encode("ascii", "replace")).hexdigest()
    return value


def cache_key(image: bytes, body: Mapping[str, Any]) -> str:
    """The key of one page: its image bytes plus the request body that transcribes it.

    Args:
        image: the encoded page image exactly as sent.
        body: the chat request body (model, messages, parameters); the image inside it is
            reduced to a digest, so the key does not depend on base64 formatting.
    """
    material = {
        "v": CACHE_VERSION,
        "image": hashlib.sha256(image).hexdigest(),
        "body": _strip_images(body),
    }
    text = json.dumps(material, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def entry_name(key: str) -> str:
    """Where the entry of ``key`` lives under a cache's root: ``ab/abcdef….json``.

    Raises:
        ValueError: ``key`` is not a cache key (hex digits only: no path can be forged).
    """
    if len(key) < 8 or not all(c in "0123456789abcdef" for c in key):
        msg = f"not a cache key: {key[:40]!r}"
        raise ValueError(msg)
    return f"{key[:2]}/{key}.json"


def read_entry(where: object, read: Callable[[], bytes]) -> dict[str, Any] | None:
    """The entry ``read()`` returns (the bytes at ``where``); ``None`` when missing or unreadable.

    Every cache reads the same way: a missing entry is a miss, a broken one is logged
    and is a miss too (the page is transcribed again, never failed for it).
    """
    try:
        data = json.loads(read().decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("ignoring unreadable OCR cache entry %s: %s", where, exc)
        return None
    return data if isinstance(data, dict) else None


@checks_arguments()
class DirectoryCache:
    """Page transcriptions as JSON files under a directory (``<dir>/ab/abcdef….json``).

    Args:
        directory: where entries live (created when needed; nothing else is written and
            nothing is ever deleted).
    """

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory).expanduser()
        self._warned = False

    def __repr__(self) -> str:
        return f"DirectoryCache({str(self.directory)!r})"

    def _path(self, key: str) -> Path:
        return self.directory / entry_name(key)

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry for ``key``; ``None`` when missing or unreadable."""
        path = self._path(key)
        return read_entry(path, path.read_bytes)

    def set(self, key: str, value: dict[str, Any]) -> None:
        """Write the entry atomically (a temporary file renamed into place).

        A cache that cannot be written is reported once in the log and otherwise
        ignored: the transcription itself is not lost.
        """
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(value, fh, ensure_ascii=False)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            if not self._warned:
                self._warned = True
                logger.warning("cannot write the OCR cache in %s: %s", self.directory, exc)

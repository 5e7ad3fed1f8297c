"""Shared storage for a job that runs on many machines: the page cache and the outputs at a URL.

On one machine the page cache is a directory (:class:`~arli.ocr.cache.DirectoryCache`). On
a cluster every worker must see the same cache, or a restarted job pays again for pages a
dead worker already transcribed; so it lives at an `fsspec <https://filesystem-spec.
readthedocs.io>`_ URL (``s3://bucket/ocr-cache``, ``gs://…``, ``file:///shared/nfs/…``):

- :class:`FsspecCache` is that cache: the same keys and entries as ``DirectoryCache``
  (``<root>/ab/abcdef….json``), written whole (a temporary file renamed into place on a
  local or mounted file system; one ``PUT`` on an object store, which is atomic there).
- :func:`open_cache` picks the cache for a location: a plain path is a ``DirectoryCache``,
  a URL an ``FsspecCache``.
- :func:`publish` copies a finished output directory to a URL (the outputs are written
  locally first by the job's sink, then uploaded); :func:`pull` brings an earlier run's
  ``job.json`` and ``pages.jsonl`` back from the URL, so a job resumes there as it does in
  a local directory.

fsspec comes with the ``ray`` extra (``pip install "arli-integrations[ray]"``); object
stores need their own fsspec package (``s3fs``, ``gcsfs``...).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

from arli._errors import OCRDependencyError
from arli.ocr.cache import DirectoryCache, OCRCache, entry_name, read_entry

__all__ = ["FsspecCache", "is_url", "local_path", "open_cache", "publish", "pull"]

logger = logging.getLogger("arli.ocr")


def is_url(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is a URL (``scheme://…``) rather than a local path."""
    return "://" in os.fspath(location)


def local_path(location: str | os.PathLike[str]) -> Path | None:
    """The local path of ``location`` (a path or a ``file://`` URL), else ``None``."""
    text = os.fspath(location)
    if text.startswith("file://"):
        return Path(text[len("file://") :])
    return None if is_url(text) else Path(text).expanduser()


def _fsspec() -> Any:
    try:
        import fsspec  # noqa: PLC0415 - optional dependency, imported on first use
    except ImportError as exc:
        msg = f'a URL location needs fsspec: pip install "arli-integrations[ray]" ({exc})'
        raise OCRDependencyError(msg) from exc
    return fsspec


class FsspecCache:
    """Page transcriptions as JSON objects under an fsspec URL (``<url>/ab/abcdef….json``).

    Picklable: a Ray worker receives the URL and options and opens the file system itself.

    Args:
        url: the cache's root (``s3://bucket/prefix``, ``file:///mnt/shared/cache``...).
        storage_options: passed to fsspec (credentials belong in the environment or the
            file system's own configuration, not here: they would travel with the job).
    """

    def __init__(self, url: str, **storage_options: Any):
        self.url = url.rstrip("/")
        self.storage_options = storage_options
        self._fs: Any = None
        self._root = ""
        self._warned = False

    def __repr__(self) -> str:
        return f"FsspecCache({self.url!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "storage_options": self.storage_options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], **state["storage_options"])  # type: ignore[misc]

    def _open(self) -> tuple[Any, str]:
        if self._fs is None:
            fs, root = _fsspec().core.url_to_fs(self.url, **self.storage_options)
            self._fs, self._root = fs, root.rstrip("/")
        return self._fs, self._root

    def _path(self, key: str) -> str:
        return f"{self._open()[1]}/{entry_name(key)}"

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry for ``key``; ``None`` when missing or unreadable."""
        path = self._path(key)
        fs = self._open()[0]
        return read_entry(path, lambda: bytes(fs.cat_file(path)))

    def set(self, key: str, value: dict[str, Any]) -> None:
        """Write the entry whole; a cache that cannot be written is logged once, not raised."""
        path = self._path(key)
        fs = self._open()[0]
        data = json.dumps(value, ensure_ascii=False).encode("utf-8")
        try:
            parent = path.rsplit("/", 1)[0]
            fs.makedirs(parent, exist_ok=True)
            if _is_local(fs):
                tmp = f"{parent}/.tmp-{uuid.uuid4().hex}.json"
                fs.pipe_file(tmp, data)
                fs.mv(tmp, path)
            else:
                fs.pipe_file(path, data)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                logger.warning("cannot write the OCR cache at %s: %s", self.url, exc)


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocol or "local" in protocol


def open_cache(location: str | os.PathLike[str], **storage_options: Any) -> OCRCache:
    """The page cache at ``location``: a directory for a path, :class:`FsspecCache` for a URL."""
    if is_url(location):
        return FsspecCache(os.fspath(location), **storage_options)
    return DirectoryCache(location)


def publish(local_dir: str | os.PathLike[str], url: str, **storage_options: Any) -> list[str]:
    """Copy every file under ``local_dir`` to ``url`` (same relative names); the names copied."""
    fs, root = _fsspec().core.url_to_fs(url, **storage_options)
    root = root.rstrip("/")
    base = Path(local_dir)
    copied = []
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        rel = path.relative_to(base).as_posix()
        target = f"{root}/{rel}"
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        fs.pipe_file(target, path.read_bytes())
        copied.append(rel)
    return copied


def pull(
    url: str, local_dir: str | os.PathLike[str], names: tuple[str, ...], **storage_options: Any
) -> list[str]:
    """Copy the files ``names`` (relative to ``url``) that exist there into ``local_dir``.

    Returns the names copied; a missing file (or a URL with nothing yet) is not an error.
    """
    fs, root = _fsspec().core.url_to_fs(url, **storage_options)
    root = root.rstrip("/")
    base = Path(local_dir)
    copied = []
    for name in names:
        try:
            data = fs.cat_file(f"{root}/{name}")
        except FileNotFoundError:
            continue
        target = base / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        copied.append(name)
    return copied

"""What to transcribe: documents given as paths, URLs, bytes or images, and which pages.

:class:`OCRSource` names one document (path, bytes or URL, built with
:meth:`OCRSource.of` from whatever the caller passed); :func:`parse_page_spec` and
:func:`select_pages` turn ``"1-3,7"``-style selections into page numbers, checked against
a document's page count. Nothing here opens a document: :mod:`arli.ocr.render` does.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arli._errors import ArliValidationError
from arli._kwargs import checks_arguments
from arli.media import ImageData, is_http_url

__all__ = [
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "OCRSource",
    "PageSpec",
    "as_sources",
    "parse_page_spec",
    "select_pages",
]

#: Largest document accepted from a URL or a file object (paths are read lazily).
DEFAULT_MAX_DOWNLOAD_BYTES = 256 * 2**20


# -- sources -------------------------------------------------------------------------------


@checks_arguments()
@dataclass(frozen=True)
class OCRSource:
    """One document to transcribe.

    Exactly one of ``path``, ``data`` and ``url`` is set. Build it with :meth:`of`.

    Attributes:
        name: how the document is named in results and metadata (path, URL or file name).
        path: a local file (read lazily: a PDF is never loaded whole into memory).
        data: the document's bytes.
        url: an http(s) URL, downloaded with a size cap when the run reaches it.
    """

    name: str
    path: Path | None = None
    data: bytes | None = field(default=None, repr=False)
    url: str | None = None

    @property
    def file_name(self) -> str:
        """The last component of the name (``report.pdf``)."""
        if self.url is not None:
            tail = self.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            return tail or self.url
        return Path(self.name).name or self.name

    @classmethod
    def of(cls, value: Any, *, max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES) -> OCRSource:
        """Build a source from a path, URL, bytes, binary file object, ImageData or PIL image.

        Raises:
            ArliValidationError: for anything else (a text-mode file, another URL scheme).
        """
        if isinstance(value, OCRSource):
            return value
        if isinstance(value, os.PathLike):
            path = Path(value)
            return cls(name=str(value), path=path)
        if isinstance(value, str):
            text = value.strip()
            if is_http_url(text):
                return cls(name=text, url=text)
            if "://" in text[:12]:
                scheme = text.split("://", 1)[0]
                msg = f"documents can be read from http(s) URLs only, not {scheme}://"
                raise ArliValidationError(msg, field="source", allowed="http, https")
            return cls(name=value, path=Path(text).expanduser())
        if isinstance(value, (bytes, bytearray, memoryview)):
            return cls(name="bytes", data=bytes(value))
        if isinstance(value, ImageData):
            return cls(name=value.source, data=value.data)
        if type(value).__module__.startswith("PIL.") and hasattr(value, "save"):
            buf = io.BytesIO()
            value.save(buf, format="PNG")
            return cls(name="a PIL image", data=buf.getvalue())
        if hasattr(value, "read"):
            raw_name = getattr(value, "name", None)
            name = os.fsdecode(raw_name) if isinstance(raw_name, (str, bytes)) else "a file object"
            data = value.read(max_bytes + 1)
            if isinstance(data, str):
                msg = f"{name} was opened in text mode; open documents with 'rb'"
                raise ArliValidationError(msg, field="source")
            if len(data) > max_bytes:
                msg = f"{name} is more than the {max_bytes} byte limit (max_download_bytes)"
                raise ArliValidationError(msg, field="source", allowed=f"<= {max_bytes} bytes")
            return cls(name=name, data=bytes(data))
        msg = (
            f"cannot OCR a {type(value).__name__}: pass a file path, an http(s) URL, bytes, "
            "a file opened with 'rb' or a PIL image (or a list of them)"
        )
        raise ArliValidationError(msg, field="source")


def as_sources(value: Any, *, max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES) -> list[OCRSource]:
    """One source, or a list/tuple of them, as a list of :class:`OCRSource`.

    Raises:
        ArliValidationError: for an empty list or an unusable item.
    """
    if isinstance(value, (list, tuple)):
        if not value:
            msg = "nothing to OCR: the list of sources is empty"
            raise ArliValidationError(msg, field="source")
        return [OCRSource.of(v, max_bytes=max_bytes) for v in value]
    return [OCRSource.of(value, max_bytes=max_bytes)]


# -- page selection ------------------------------------------------------------------------

#: A parsed page selection: ``(first, last)`` ranges, 1-based, ``None`` = to the end.
PageSpec = tuple[tuple[int, int | None], ...]

_RANGE_RE = re.compile(r"^\s*(\d*)\s*(-)?\s*(\d*)\s*$")


def parse_page_spec(spec: str | int | Iterable[int] | None) -> PageSpec | None:
    """Check the syntax of a page selection (1-based): ``"1-3,7"``, ``"5-"``, ``[1, 2]``.

    Raises:
        ArliValidationError: for anything that is not page numbers or ranges.
    """
    if spec is None:
        return None
    allowed = "page numbers from 1, ranges like '1-3,7' or '5-', or a list of numbers"
    if isinstance(spec, bool):
        msg = f"pages={spec!r} is not a page selection"
        raise ArliValidationError(msg, field="pages", allowed=allowed)
    if isinstance(spec, int):
        spec = [spec]
    if isinstance(spec, str):
        ranges: list[tuple[int, int | None]] = []
        for part in spec.split(","):
            m = _RANGE_RE.match(part)
            if m is None or not (m.group(1) or m.group(3)) or (m.group(2) is None and m.group(3)):
                msg = f"pages={spec!r}: {part.strip()!r} is not a page number or range"
                raise ArliValidationError(msg, field="pages", allowed=allowed)
            first = int(m.group(1)) if m.group(1) else 1
            last: int | None = first
            if m.group(2) is not None:
                last = int(m.group(3)) if m.group(3) else None
            if first < 1 or (last is not None and last < first):
                msg = f"pages={spec!r}: {part.strip()!r} is not a valid range (pages start at 1)"
                raise ArliValidationError(msg, field="pages", allowed=allowed)
            ranges.append((first, last))
        return tuple(ranges)
    numbers = list(spec)
    if not numbers:
        msg = "pages=[] selects no page"
        raise ArliValidationError(msg, field="pages", allowed=allowed)
    for n in numbers:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            msg = f"pages contains {n!r}: page numbers are integers from 1"
            raise ArliValidationError(msg, field="pages", allowed=allowed)
    return tuple((n, n) for n in numbers)


def select_pages(
    spec: PageSpec | None, page_count: int, *, source: str = "the document"
) -> list[int]:
    """The selected 1-based page numbers, sorted and unique, checked against ``page_count``.

    Raises:
        ArliValidationError: when a page is beyond the end of the document.
    """
    if spec is None:
        return list(range(1, page_count + 1))
    chosen: set[int] = set()
    for first, last in spec:
        end = page_count if last is None else last
        if first > page_count or end > page_count:
            shown = f"{first}" if last == first else f"{first}-{'' if last is None else last}"
            msg = (
                f"pages: {shown} is beyond the end of {source}, which has {page_count} "
                f"page{'s' if page_count != 1 else ''}"
            )
            raise ArliValidationError(msg, field="pages", allowed=f"1-{page_count}")
        chosen.update(range(first, end + 1))
    return sorted(chosen)

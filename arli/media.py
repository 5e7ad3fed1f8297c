"""Image inputs of every kind → ``(bytes, MIME type)`` → base64 / ``data:`` URI.

Arli's vision models and its image API take base64 only, so every input a user may hold
is normalized here once: raw bytes, a file path, a ``data:`` URI, a bare base64 string, an
open binary file, a PIL image (Pillow is imported only if one is passed) or an http(s) URL
(downloaded with a size cap and a timeout, following redirects only to http(s), and never
with the API key). The format is detected from magic bytes, not trusted from names.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from arli._errors import (
    ArliConnectionError,
    ArliStatusError,
    ArliTimeoutError,
    ArliValidationError,
    AuthenticationError,
    status_error_class,
)
from arli._version import __version__

__all__ = [
    "DEFAULT_MAX_IMAGE_BYTES",
    "ImageData",
    "afetch_url",
    "aload_image",
    "fetch_url",
    "is_http_url",
    "load_image",
    "parse_data_uri",
    "sniff_mime",
]

#: Largest image accepted from any source (bytes), unless a caller says otherwise.
DEFAULT_MAX_IMAGE_BYTES = 20 * 2**20
#: Seconds allowed to download an image URL.
DEFAULT_FETCH_TIMEOUT = 30.0
_MAX_REDIRECTS = 5
_USER_AGENT = f"arli-integrations/{__version__} (image fetch)"
_TIMEOUT_PHASES: dict[type[Exception], str] = {
    httpx.ConnectTimeout: "connect",
    httpx.ReadTimeout: "read",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "pool",
}

_DATA_URI_RE = re.compile(
    r"^data:(?P<mime>[\w.+\-]+/[\w.+\-]+)?(?P<params>(?:;[^,;]*)*?),(?P<data>.*)$", re.S
)
_B64_RE = re.compile(r"^[A-Za-z0-9+/_\-\s]+={0,2}\s*$")


def sniff_mime(data: bytes) -> str | None:
    """Detect an image (or PDF) format from its first bytes; ``None`` when unknown."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"BM") and len(data) > 14:
        return "image/bmp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


@dataclass(frozen=True)
class ImageData:
    """Image bytes with their detected MIME type.

    Attributes:
        data: the encoded image (PNG, JPEG, ...), exactly as it will be sent.
        mime_type: e.g. ``"image/png"``, detected from the bytes.
        source: a short description of where it came from (for error messages).
    """

    data: bytes
    mime_type: str
    source: str = "bytes"

    def __repr__(self) -> str:
        return f"ImageData({self.mime_type}, {len(self.data)} bytes, from {self.source})"

    @property
    def extension(self) -> str:
        """A file extension for the format (``"png"``, ``"jpg"``...)."""
        sub = self.mime_type.split("/", 1)[-1]
        return {"jpeg": "jpg", "svg+xml": "svg"}.get(sub, sub)

    def b64(self) -> str:
        """The bytes as standard base64 (no ``data:`` prefix, as SDNext expects)."""
        return base64.b64encode(self.data).decode("ascii")

    def data_uri(self) -> str:
        """The bytes as a ``data:<mime>;base64,...`` URI (as vision chat models expect)."""
        return f"data:{self.mime_type};base64,{self.b64()}"


def is_http_url(value: str) -> bool:
    """True for ``http://`` and ``https://`` URLs."""
    return value[:8].lower().startswith(("http://", "https://"))


def _checked(data: bytes, source: str, max_bytes: int, mime_hint: str | None = None) -> ImageData:
    if not data:
        msg = f"the image from {source} is empty"
        raise ArliValidationError(msg, field="image")
    if len(data) > max_bytes:
        msg = (
            f"the image from {source} is {len(data)} bytes, more than the {max_bytes} byte limit; "
            "downscale it or raise max_bytes"
        )
        raise ArliValidationError(msg, field="image", allowed=f"<= {max_bytes} bytes")
    mime = sniff_mime(data)
    if mime is None or mime == "application/pdf":
        hint = f" (declared {mime_hint})" if mime_hint else ""
        what = "a PDF" if mime == "application/pdf" else "not a recognized image"
        msg = (
            f"the data from {source}{hint} is {what}; supported formats are PNG, JPEG, WEBP, GIF, "
            "BMP and TIFF"
        )
        raise ArliValidationError(msg, field="image", allowed="PNG, JPEG, WEBP, GIF, BMP, TIFF")
    return ImageData(data, mime, source)


def parse_data_uri(uri: str, *, max_bytes: int = DEFAULT_MAX_IMAGE_BYTES) -> ImageData:
    """Decode a ``data:`` URI holding a base64 image.

    Raises:
        ArliValidationError: when it is not base64 or not an image.
    """
    m = _DATA_URI_RE.match(uri.strip())
    if m is None or ";base64" not in (m.group("params") or ""):
        msg = "a data: URI must look like data:image/png;base64,<data>"
        raise ArliValidationError(msg, field="image")
    return _checked(
        _b64decode(m.group("data"), "a data: URI"), "a data: URI", max_bytes, m.group("mime")
    )


def _b64decode(text: str, source: str) -> bytes:
    cleaned = "".join(text.split())
    try:
        if "-" in cleaned or "_" in cleaned:
            return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        msg = f"{source} is not valid base64"
        raise ArliValidationError(msg, field="image") from None


def _pil_to_bytes(image: Any) -> bytes:
    fmt = (getattr(image, "format", None) or "PNG").upper()
    if fmt not in ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"):
        fmt = "PNG"
    if fmt == "JPEG" and getattr(image, "mode", "RGB") not in ("RGB", "L", "CMYK"):
        fmt = "PNG"
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


def _is_pil_image(obj: Any) -> bool:
    return type(obj).__module__.startswith("PIL.") and hasattr(obj, "save") and hasattr(obj, "size")


def _local(source: Any, max_bytes: int) -> ImageData | None:
    """Load every kind of input that needs no network; ``None`` for URLs."""
    if isinstance(source, ImageData):
        return _checked(source.data, source.source, max_bytes)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _checked(bytes(source), "bytes", max_bytes)
    if _is_pil_image(source):
        return _checked(_pil_to_bytes(source), "a PIL image", max_bytes)
    if hasattr(source, "read") and not isinstance(source, (str, os.PathLike)):
        name = getattr(source, "name", None)
        data = source.read(max_bytes + 1)
        label = f"file {name}" if isinstance(name, str) else "a file object"
        if isinstance(data, str):
            msg = f"{label} was opened in text mode; open images with 'rb'"
            raise ArliValidationError(msg, field="image")
        return _checked(data, label, max_bytes)
    if isinstance(source, os.PathLike):
        return _read_path(Path(source), max_bytes)
    if isinstance(source, str):
        text = source.strip()
        if text.startswith("data:"):
            return parse_data_uri(text, max_bytes=max_bytes)
        if is_http_url(text):
            return None
        if "://" in text[:12]:
            scheme = text.split("://", 1)[0]
            msg = f"image URLs must be http:// or https://, not {scheme}://"
            raise ArliValidationError(msg, field="image", allowed="http, https")
        path = Path(text).expanduser()
        if len(text) < 4096 and path.is_file():
            return _read_path(path, max_bytes)
        if len(text) >= 16 and _B64_RE.match(text[:4096]):
            try:
                decoded = _b64decode(text, "the base64 string")
            except ArliValidationError:
                decoded = b""
            if sniff_mime(decoded[:16]) is not None:
                return _checked(decoded, "a base64 string", max_bytes)
        return _read_path(path, max_bytes)
    msg = (
        f"cannot use {type(source).__name__} as an image: pass a path, bytes, a file opened "
        "with 'rb', a data: URI, base64 text, a PIL image or an http(s) URL"
    )
    raise ArliValidationError(msg, field="image")


def _read_path(path: Path, max_bytes: int) -> ImageData:
    try:
        size = path.stat().st_size
    except OSError:
        msg = f"no image file at {str(path)[:200]!r} (not a file path, URL, data: URI or base64)"
        raise ArliValidationError(msg, field="image") from None
    if size > max_bytes:
        msg = f"the image file {path} is {size} bytes, more than the {max_bytes} byte limit"
        raise ArliValidationError(msg, field="image", allowed=f"<= {max_bytes} bytes")
    return _checked(path.read_bytes(), f"file {path}", max_bytes)


def load_image(
    source: Any,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    timeout: float = DEFAULT_FETCH_TIMEOUT,
    allow_urls: bool = True,
    http_client: httpx.Client | None = None,
) -> ImageData:
    """Load an image from any supported source (see the module docstring).

    Args:
        source: path, bytes, file object, ``data:`` URI, base64 text, PIL image or URL.
        max_bytes: the largest image accepted.
        timeout: seconds allowed for a URL download.
        allow_urls: download http(s) URLs (False: reject them).
        http_client: client for downloads (a fresh one without credentials by default).

    Raises:
        ArliValidationError: naming what was wrong and what is accepted.
        ArliStatusError: a URL's host answered an error status (typed by status).
        ArliConnectionError: a URL's host could not be reached, or timed out.
    """
    local = _local(source, max_bytes)
    if local is not None:
        return local
    url = str(source).strip()
    if not allow_urls:
        msg = "image URLs are not allowed here; pass the image itself (path, bytes or base64)"
        raise ArliValidationError(msg, field="image")
    data, ctype = fetch_url(url, max_bytes=max_bytes, timeout=timeout, http_client=http_client)
    return _checked(data, f"URL {url[:200]}", max_bytes, ctype)


async def aload_image(
    source: Any,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    timeout: float = DEFAULT_FETCH_TIMEOUT,
    allow_urls: bool = True,
    http_client: httpx.AsyncClient | None = None,
) -> ImageData:
    """Async :func:`load_image` (URL downloads do not block the event loop)."""
    local = _local(source, max_bytes)
    if local is not None:
        return local
    url = str(source).strip()
    if not allow_urls:
        msg = "image URLs are not allowed here; pass the image itself (path, bytes or base64)"
        raise ArliValidationError(msg, field="image")
    data, ctype = await afetch_url(
        url, max_bytes=max_bytes, timeout=timeout, http_client=http_client
    )
    return _checked(data, f"URL {url[:200]}", max_bytes, ctype)


class _Download:
    """The checks shared by the sync and async downloaders: redirects, status, size cap."""

    def __init__(self, url: str, max_bytes: int):
        if not is_http_url(url):
            msg = f"only http:// and https:// URLs can be downloaded, not {url[:80]!r}"
            raise ArliValidationError(msg, field="image", allowed="http, https")
        self.url = url
        self.current = url
        self.max_bytes = max_bytes
        self.redirects = 0
        self.parts: list[bytes] = []
        self.size = 0

    def follow(self, response: httpx.Response) -> bool:
        """Handle a response's head; True when it redirected (``current`` is the new URL)."""
        if response.is_redirect:
            self.redirects += 1
            if self.redirects > _MAX_REDIRECTS:
                msg = f"{self.url[:200]} redirected more than {_MAX_REDIRECTS} times"
                raise ArliValidationError(msg, field="image")
            location = response.headers.get("location")
            if not location:
                msg = f"{self.current[:200]} redirected without a Location header"
                raise ArliValidationError(msg, field="image")
            target = str(response.url.join(location))
            if not is_http_url(target):
                msg = (
                    f"{self.current[:200]} redirected to a non-http(s) URL ({target[:80]}); "
                    "refusing to follow"
                )
                raise ArliValidationError(msg, field="image", allowed="http, https")
            self.current = target
            return True
        if response.status_code >= 400:
            raise self._refused(response)
        length = response.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_bytes:
            raise self._too_big(f"{length} bytes, ")
        return False

    def add(self, chunk: bytes) -> None:
        """Take one chunk of the body, enforcing the size cap."""
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise self._too_big("")
        self.parts.append(chunk)

    def _too_big(self, got: str) -> ArliValidationError:
        msg = f"{self.current[:200]} is {got}more than the {self.max_bytes} byte limit"
        return ArliValidationError(msg, field="image", allowed=f"<= {self.max_bytes} bytes")

    def _refused(self, response: httpx.Response) -> ArliStatusError:
        """An error status as the status error of that status.

        A 401 is a plain :class:`~arli.ArliStatusError`: no key is sent to an image host,
        so the API-key advice of :class:`~arli.AuthenticationError` would mislead.
        """
        status = response.status_code
        cls = status_error_class(status)
        if cls is AuthenticationError:
            cls = ArliStatusError
        reason = f" ({response.reason_phrase})" if response.reason_phrase else ""
        return cls(
            f"the download failed{reason}",
            status_code=status,
            request_id=response.headers.get("x-request-id"),
            method="GET",
            url=self.current[:200],
        )

    def error(self, exc: Exception) -> ArliConnectionError | ArliValidationError:
        """A failure to download, naming the URL.

        A network failure or timeout is an :class:`~arli.ArliConnectionError` (an
        :class:`~arli.ArliTimeoutError`); a redirect to a URL httpx cannot even build
        (``InvalidURL``) is refused as invalid input, like the other bad redirects.
        """
        msg = f"could not download {self.url[:200]}: {type(exc).__name__}: {exc}"
        url = self.current[:200]
        if isinstance(exc, httpx.TimeoutException):
            phase = _TIMEOUT_PHASES.get(type(exc), "read")
            return ArliTimeoutError(msg, method="GET", url=url, phase=phase)
        if isinstance(exc, httpx.HTTPError):
            return ArliConnectionError(msg, method="GET", url=url)
        return ArliValidationError(msg, field="image")


def fetch_url(
    url: str,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    timeout: float = DEFAULT_FETCH_TIMEOUT,
    http_client: httpx.Client | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[bytes, str | None]:
    """Download an http(s) URL with a size cap; return ``(bytes, content type)``.

    Redirects are followed (at most 5) only to http(s) URLs; no credentials are sent.

    Raises:
        ArliValidationError: a bad scheme or redirect, or more than ``max_bytes``.
        ArliStatusError: the host answered an error status (typed by status).
        ArliConnectionError: the host could not be reached, or timed out.
    """
    job = _Download(url, max_bytes)
    client = http_client or httpx.Client()
    hdrs = {"User-Agent": _USER_AGENT, **(headers or {})}
    try:
        while True:
            with client.stream(
                "GET", job.current, timeout=timeout, headers=hdrs, follow_redirects=False
            ) as resp:
                if job.follow(resp):
                    continue
                for chunk in resp.iter_bytes():
                    job.add(chunk)
                return b"".join(job.parts), resp.headers.get("content-type")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise job.error(exc) from None
    finally:
        if http_client is None:
            client.close()


async def afetch_url(
    url: str,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    timeout: float = DEFAULT_FETCH_TIMEOUT,
    http_client: httpx.AsyncClient | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[bytes, str | None]:
    """Async :func:`fetch_url`."""
    job = _Download(url, max_bytes)
    client = http_client or httpx.AsyncClient()
    hdrs = {"User-Agent": _USER_AGENT, **(headers or {})}
    try:
        while True:
            async with client.stream(
                "GET", job.current, timeout=timeout, headers=hdrs, follow_redirects=False
            ) as resp:
                if job.follow(resp):
                    continue
                async for chunk in resp.aiter_bytes():
                    job.add(chunk)
                return b"".join(job.parts), resp.headers.get("content-type")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise job.error(exc) from None
    finally:
        if http_client is None:
            await client.aclose()

"""Image inputs of every kind → ``(bytes, MIME type)`` → base64 / ``data:`` URI.

Arli's vision models and its image API take base64 only, so every input a user may hold
is normalized here once: raw bytes, a file path, a ``data:`` URI, a bare base64 string, an
open binary file, a PIL image (Pillow is imported only if one is passed) or an http(s) URL
(downloaded by :mod:`arli._fetch` with a size cap and a timeout, following redirects only
to http(s), and never with the API key). The format is detected from magic bytes, not
trusted from names.

Image sources named inside *message content* are untrusted: :func:`load_image` with a
``policy`` (:class:`ImageSourcePolicy`) accepts ``data:`` URIs, base64 and public http(s)
URLs only, and local paths only when the policy allows them (see :mod:`arli._fetch`).

Pixel counts are checked from the header before an image is sent
(:func:`check_pixels`): a small file can claim billions of pixels (a decompression bomb),
and the server answers it with a 500 that would be retried - the upload paid three times.
No limit is documented by Arli or SDNext; the default, :data:`DEFAULT_MAX_PIXELS`
(8192 x 8192, about 67 M pixels), is a 4x upscale of the largest generation (2048 x 2048)
and sits below Pillow's decompression-bomb warning (about 89 M pixels).
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from arli._errors import ArliResponseError, ArliValidationError
from arli._fetch import (
    DEFAULT_FETCH_TIMEOUT,
    DEFAULT_MAX_IMAGE_BYTES,
    ImageSourcePolicy,
    afetch_url,
    fetch_url,
    is_http_url,
    shown_url,
)

__all__ = [
    "DEFAULT_FETCH_TIMEOUT",
    "DEFAULT_MAX_IMAGE_BYTES",
    "DEFAULT_MAX_PIXELS",
    "ImageData",
    "ImageSourcePolicy",
    "afetch_url",
    "aload_image",
    "check_data_uri_pixels",
    "check_pixels",
    "fetch_url",
    "image_size",
    "is_http_url",
    "load_image",
    "parse_data_uri",
    "sniff_mime",
    "too_large",
]

#: The largest image (in pixels) sent or decoded unless a caller says otherwise:
#: 8192 x 8192, a 4x upscale of the largest generation (2048 x 2048).
DEFAULT_MAX_PIXELS = 8192 * 8192

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
        kind = _text_kind(text)
        if kind != "path":
            return _text_image(text, kind, max_bytes)
        path = Path(text).expanduser()
        if len(text) < 4096 and path.is_file():
            return _read_path(path, max_bytes)
        decoded = _b64_image(text, max_bytes)
        return decoded if decoded is not None else _read_path(path, max_bytes)
    msg = (
        f"cannot use {type(source).__name__} as an image: pass a path, bytes, a file opened "
        "with 'rb', a data: URI, base64 text, a PIL image or an http(s) URL"
    )
    raise ArliValidationError(msg, field="image")


def _text_kind(text: str) -> str:
    """``"data"``, ``"url"`` or ``"path"`` (a path or base64); other schemes are refused."""
    if text.startswith("data:"):
        return "data"
    if is_http_url(text):
        return "url"
    if "://" in text[:12]:
        scheme = text.split("://", 1)[0]
        msg = f"image URLs must be http:// or https://, not {scheme}://"
        raise ArliValidationError(msg, field="image", allowed="http, https")
    return "path"


def _text_image(text: str, kind: str, max_bytes: int) -> ImageData | None:
    return parse_data_uri(text, max_bytes=max_bytes) if kind == "data" else None


def _b64_image(text: str, max_bytes: int) -> ImageData | None:
    """``text`` as a base64 image, or ``None`` when it is not one."""
    if len(text) < 16 or not _B64_RE.match(text[:4096]):
        return None
    try:
        decoded = _b64decode(text, "the base64 string")
    except ArliValidationError:
        return None
    if sniff_mime(decoded[:16]) is None:
        return None
    return _checked(decoded, "a base64 string", max_bytes)


def _message_source(source: Any, max_bytes: int, policy: ImageSourcePolicy) -> ImageData | None:
    """An image named in message content: no local file unless the policy allows it."""
    if not isinstance(source, (str, os.PathLike)):
        return _local(source, max_bytes)
    text = str(source).strip()
    kind = _text_kind(text)
    if kind != "path":
        return _text_image(text, kind, max_bytes)
    decoded = _b64_image(text, max_bytes)  # base64 first: a path is not even looked at
    if decoded is not None:
        return decoded
    if not policy.allow_local_files:
        msg = (
            f"the image {text[:200]!r} in a message is neither a data: URI, base64 nor an "
            "http(s) URL; reading local files named in messages is off by default: pass "
            "allow_local_files=True to the model (or client) if its messages are trusted"
        )
        raise ArliValidationError(msg, field="image", allowed="data: URIs, base64, http(s) URLs")
    return _read_path(Path(text).expanduser(), max_bytes)


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


# -- pixel counts, from the header -------------------------------------------------------------

_JPEG_SOF = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)


def _u16be(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "big")


def _le(data: bytes, at: int, size: int, *, signed: bool = False) -> int:
    return int.from_bytes(data[at : at + size], "little", signed=signed)


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    n = len(data)
    while i + 9 < n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if marker in _JPEG_SOF:
            return _u16be(data, i + 7), _u16be(data, i + 5)
        i += 2 + _u16be(data, i + 2)
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        return _le(data, 26, 2) & 0x3FFF, _le(data, 28, 2) & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = _le(data, 21, 4)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return _le(data, 24, 3) + 1, _le(data, 27, 3) + 1
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """Return ``(width, height)`` read from the header, or ``None`` when unknown.

    Supports PNG, JPEG, GIF, BMP and WebP; TIFF and anything else give ``None``.
    """
    size: tuple[int, int] | None = None
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        size = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    elif data.startswith(b"\xff\xd8\xff"):
        size = _jpeg_size(data)
    elif data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        size = _le(data, 6, 2), _le(data, 8, 2)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        size = _webp_size(data)
    elif data.startswith(b"BM") and len(data) >= 26:
        if _le(data, 14, 4) == 12:
            size = _le(data, 18, 2), _le(data, 20, 2)
        else:
            size = abs(_le(data, 18, 4, signed=True)), abs(_le(data, 22, 4, signed=True))
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return size


def too_large(
    what: str,
    width: int,
    height: int,
    max_pixels: int,
    *,
    user_input: bool,
    option: str = "max_pixels",
) -> Exception:
    """The error for an image above the pixel cap (an input's, or a server result's)."""
    msg = (
        f"{what} is {width}x{height} = {width * height} pixels, more than the {max_pixels} pixel "
        f"limit (decompression-bomb guard); raise {option} if this is expected"
    )
    if user_input:
        return ArliValidationError(msg, field="image", allowed=f"<= {max_pixels} pixels")
    return ArliResponseError(msg)


def _pillow_size(data: bytes, what: str) -> tuple[int, int] | None:
    """The size Pillow reads lazily from the header (no decoding); ``None`` without Pillow."""
    try:
        from PIL import Image  # noqa: PLC0415 - Pillow is optional
    except ImportError:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size  # Any in older Pillow's annotations
                return int(width), int(height)
    except Image.DecompressionBombError as exc:
        msg = f"{what} is refused before sending: {exc}"
        raise ArliValidationError(msg, field="image") from None
    except (OSError, ValueError):
        return None  # not decodable here: the server says what it makes of it


def check_pixels(
    image: ImageData, max_pixels: int, *, what: str | None = None, option: str = "max_pixels"
) -> None:
    """Refuse ``image`` when its header says it has more than ``max_pixels`` pixels.

    The size is read from the header (PNG IHDR, JPEG SOF, GIF, BMP, WebP), else by
    Pillow's lazy open when Pillow is installed; nothing is decoded. An image whose size
    cannot be read is let through.

    Raises:
        ArliValidationError: the image is larger (naming ``option``, the setting to raise).
    """
    label = what or f"the image from {image.source}"
    size = image_size(image.data) or _pillow_size(image.data, label)
    if size is not None and size[0] * size[1] > max_pixels:
        raise too_large(label, *size, max_pixels, user_input=True, option=option)


def check_data_uri_pixels(uri: str, max_pixels: int, *, option: str = "max_pixels") -> None:
    """:func:`check_pixels` of a ``data:`` URI's image (one that is not base64 is let through).

    Raises:
        ArliValidationError: the image is larger than ``max_pixels``.
    """
    m = _DATA_URI_RE.match(uri.strip())
    if m is None or ";base64" not in (m.group("params") or ""):
        return
    try:
        data = _b64decode(m.group("data"), "a data: URI")
    except ArliValidationError:
        return
    check_pixels(ImageData(data, "", "a data: URI"), max_pixels, option=option)


# -- loading -------------------------------------------------------------------------------------


def _start(
    source: Any, max_bytes: int, allow_urls: bool, policy: ImageSourcePolicy | None
) -> ImageData | str:
    """The image when it needs no download, else the URL to download."""
    local = (
        _local(source, max_bytes) if policy is None else _message_source(source, max_bytes, policy)
    )
    if local is not None:
        return local
    if not allow_urls:
        msg = "image URLs are not allowed here; pass the image itself (path, bytes or base64)"
        raise ArliValidationError(msg, field="image")
    return str(source).strip()


def _finish(
    image: ImageData | tuple[str, bytes, str | None],
    max_bytes: int,
    max_pixels: int | None,
    policy: ImageSourcePolicy | None,
) -> ImageData:
    if isinstance(image, tuple):
        url, data, ctype = image
        image = _checked(data, f"URL {shown_url(url)}", max_bytes, ctype)
    if max_pixels is not None:  # the models' option is image_max_pixels, the clients' max_pixels
        check_pixels(
            image, max_pixels, option="max_pixels" if policy is None else "image_max_pixels"
        )
    return image


def load_image(
    source: Any,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    timeout: float = DEFAULT_FETCH_TIMEOUT,
    allow_urls: bool = True,
    http_client: httpx.Client | None = None,
    policy: ImageSourcePolicy | None = None,
    max_pixels: int | None = None,
) -> ImageData:
    """Load an image from any supported source (see the module docstring).

    Args:
        source: path, bytes, file object, ``data:`` URI, base64 text, PIL image or URL.
        max_bytes: the largest image accepted.
        timeout: seconds allowed for a URL download.
        allow_urls: download http(s) URLs (False: reject them).
        http_client: client for downloads (a fresh one without credentials by default).
        policy: ``source`` comes from message content: what it may name
            (:class:`ImageSourcePolicy`); ``None``: a programmer's own argument.
        max_pixels: refuse an image whose header says it has more pixels (``None``: no
            check).

    Raises:
        ArliValidationError: naming what was wrong and what is accepted.
        ArliStatusError: a URL's host answered an error status (typed by status).
        ArliConnectionError: a URL's host could not be reached, or timed out.
    """
    first = _start(source, max_bytes, allow_urls, policy)
    if isinstance(first, ImageData):
        return _finish(first, max_bytes, max_pixels, policy)
    data, ctype = fetch_url(
        first, max_bytes=max_bytes, timeout=timeout, http_client=http_client, policy=policy
    )
    return _finish((first, data, ctype), max_bytes, max_pixels, policy)


async def aload_image(
    source: Any,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    timeout: float = DEFAULT_FETCH_TIMEOUT,
    allow_urls: bool = True,
    http_client: httpx.AsyncClient | None = None,
    policy: ImageSourcePolicy | None = None,
    max_pixels: int | None = None,
) -> ImageData:
    """Async :func:`load_image` (URL downloads do not block the event loop)."""
    first = _start(source, max_bytes, allow_urls, policy)
    if isinstance(first, ImageData):
        return _finish(first, max_bytes, max_pixels, policy)
    data, ctype = await afetch_url(
        first, max_bytes=max_bytes, timeout=timeout, http_client=http_client, policy=policy
    )
    return _finish((first, data, ctype), max_bytes, max_pixels, policy)

"""Image dimensions without Pillow, and guarded Pillow decoding (lazy import).

:func:`image_size` reads the width and height from the header of PNG, JPEG, GIF, BMP and
WebP data, so that results know their size and inputs can be checked without decoding (or
without Pillow at all). :func:`open_image` decodes with Pillow after refusing anything
larger than a pixel cap, so a hostile or broken file cannot exhaust memory (a
decompression bomb).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from arli._errors import ArliResponseError, ArliValidationError

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["DEFAULT_MAX_PIXELS", "image_size", "open_image", "require_pillow", "too_large"]

#: The largest image (in pixels) decoded with Pillow unless a caller says otherwise:
#: 8192 x 8192, a 4x upscale of the largest generation (2048 x 2048).
DEFAULT_MAX_PIXELS = 8192 * 8192

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


def require_pillow(purpose: str) -> Any:
    """Import and return ``PIL.Image``, or raise ImportError naming the extra to install."""
    try:
        from PIL import Image  # noqa: PLC0415 - Pillow is optional
    except ImportError as exc:
        msg = (
            f"{purpose} needs Pillow: pip install 'arli-integrations[ocr]' (or pip install pillow)"
        )
        raise ImportError(msg) from exc
    return Image


def too_large(
    what: str, width: int, height: int, max_pixels: int, *, user_input: bool
) -> Exception:
    """The error for an image above the pixel cap (an input's, or a server result's)."""
    msg = (
        f"{what} is {width}x{height} = {width * height} pixels, more than the {max_pixels} pixel "
        "limit (decompression-bomb guard); raise max_pixels if this is expected"
    )
    if user_input:
        return ArliValidationError(msg, field="image", allowed=f"<= {max_pixels} pixels")
    return ArliResponseError(msg)


def open_image(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    what: str = "the image",
    user_input: bool = False,
) -> Image.Image:
    """Decode ``data`` with Pillow, refusing images above ``max_pixels`` before decoding.

    Args:
        data: the encoded image.
        max_pixels: the largest width x height accepted.
        what: how to name the image in error messages.
        user_input: raise :class:`~arli.ArliValidationError` (an input) instead of
            :class:`~arli.ArliResponseError` (a server result) when it is refused.

    Raises:
        ImportError: Pillow is not installed.
        ArliValidationError: (``user_input``) too large or undecodable.
        ArliResponseError: (not ``user_input``) too large or undecodable.
    """
    pil = require_pillow("decoding images")
    size = image_size(data)
    if size is not None and size[0] * size[1] > max_pixels:
        raise too_large(what, size[0], size[1], max_pixels, user_input=user_input)
    try:
        image = pil.open(io.BytesIO(data))
        width, height = image.size
        if width * height > max_pixels:
            raise too_large(what, width, height, max_pixels, user_input=user_input)
        image.load()
    except (OSError, ValueError, pil.DecompressionBombError) as exc:
        if isinstance(exc, (ArliValidationError, ArliResponseError)):
            raise
        msg = f"{what} could not be decoded: {type(exc).__name__}: {exc}"
        if user_input:
            raise ArliValidationError(msg, field="image") from None
        raise ArliResponseError(msg) from None
    return image  # type: ignore[no-any-return]

"""Image dimensions without Pillow, and guarded Pillow decoding (lazy import).

:func:`image_size` (defined in :mod:`arli.media`, where inputs are checked before they are
sent) reads the width and height from the header of PNG, JPEG, GIF, BMP and WebP data, so
that results know their size and inputs can be checked without decoding (or
without Pillow at all). :func:`open_image` decodes with Pillow after refusing anything
larger than a pixel cap, so a hostile or broken file cannot exhaust memory (a
decompression bomb).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from arli._errors import ArliResponseError, ArliValidationError
from arli.media import DEFAULT_MAX_PIXELS, image_size, too_large

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["DEFAULT_MAX_PIXELS", "image_size", "open_image", "require_pillow", "too_large"]


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

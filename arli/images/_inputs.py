"""Image inputs of img2img, inpainting and upscale requests: loading and mask conversion.

Inputs go through :mod:`arli.media` (path, bytes, base64, ``data:`` URI, PIL image, file
or http(s) URL). The inpainting mask is converted to what SDNext expects: a grayscale
(``L``) PNG at the size of the first init image, white marking the area to repaint. A mask
with transparency is composited over black first (painted strokes on a transparent layer
become the area to repaint). A mask with nothing to repaint is rejected before any request.
"""

from __future__ import annotations

import io
from typing import Any

from arli._errors import ArliValidationError
from arli.images._pixels import DEFAULT_MAX_PIXELS, image_size, open_image, too_large
from arli.media import ImageData, aload_image, check_pixels, load_image

__all__ = ["aload_input", "load_input", "prepare_mask"]


def _relabel(exc: ArliValidationError, label: str) -> ArliValidationError:
    field = label.split("[", 1)[0]
    return ArliValidationError(f"{label}: {exc}", field=field, allowed=exc.allowed)


def load_input(source: Any, label: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageData:
    """Load one image input, naming ``label`` (``init_images[0]``, ``mask``...) in errors.

    An input whose header says it has more than ``max_pixels`` pixels is refused here,
    before it is uploaded (the server would answer a 500, and the upload be retried).

    Raises:
        ArliValidationError: the input is unusable or too large (its message starts with
            ``label``).
        ArliStatusError: a URL's host answered an error status (the URL is in the message).
        ArliConnectionError: a URL's host could not be reached, or timed out.
    """
    try:
        image = load_image(source)
    except ArliValidationError as exc:
        raise _relabel(exc, label) from None
    check_pixels(image, max_pixels, what=label)
    return image


async def aload_input(source: Any, label: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageData:
    """Async :func:`load_input` (URL downloads do not block the event loop)."""
    try:
        image = await aload_image(source)
    except ArliValidationError as exc:
        raise _relabel(exc, label) from None
    check_pixels(image, max_pixels, what=label)
    return image


def _size_of(image: ImageData, max_pixels: int) -> tuple[int, int] | None:
    size = image_size(image.data)
    if size is not None:
        return size
    try:
        return open_image(image.data, max_pixels=max_pixels, user_input=True).size
    except ImportError:
        return None


def prepare_mask(
    mask: ImageData,
    init: ImageData,
    *,
    invert: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ImageData:
    """Convert ``mask`` to a grayscale PNG at ``init``'s size; reject an empty mask.

    A mask that already is a grayscale PNG of the right size is sent byte for byte.
    Without Pillow, a mask that already has the init image's size is sent as it is, and
    any other mask is refused with a message saying how to fix it.

    Args:
        mask: the loaded mask.
        init: the (first) init image.
        invert: ``inpainting_mask_invert``: black marks the area to repaint.
        max_pixels: the decompression-bomb cap.

    Raises:
        ArliValidationError: the mask is empty (nothing to repaint), cannot be decoded, or
            needs converting and Pillow is not installed.
    """
    target = image_size(init.data)
    try:
        from PIL import Image  # noqa: PLC0415 - Pillow is optional
    except ImportError:
        got = image_size(mask.data)
        if target is not None and got == target:
            return mask
        want = f"{target[0]}x{target[1]}" if target else "the init image's size"
        have = f" (it is {got[0]}x{got[1]})" if got else ""
        msg = (
            "converting the inpainting mask to the init image's size and mode needs Pillow: "
            f"pip install 'arli-integrations[ocr]' (or pillow), or pass a mask of exactly "
            f"{want} pixels{have}"
        )
        raise ArliValidationError(msg, field="mask", allowed=f"a {want} mask") from None
    if target is None:
        target = open_image(
            init.data, max_pixels=max_pixels, what="init_images[0]", user_input=True
        ).size
    elif target[0] * target[1] > max_pixels:
        # The size comes from the init image's header: the mask would be resized to it.
        raise too_large("init_images[0]", *target, max_pixels, user_input=True)
    img = open_image(mask.data, max_pixels=max_pixels, what="the mask", user_input=True)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        gray = Image.alpha_composite(black, rgba).convert("L")
    else:
        gray = img.convert("L")
    if gray.size != target:
        gray = gray.resize(target, Image.Resampling.BILINEAR)
    low, high = gray.getextrema()
    if (not invert and high == 0) or (invert and low == 255):
        colour, other = ("black", "white") if not invert else ("white", "black")
        msg = (
            f"the mask is empty: it is all {colour}, so nothing would be repainted; paint the "
            f"area to change in {other}"
        )
        raise ArliValidationError(msg, field="mask", allowed=f"a mask with {other} pixels")
    if img.mode == "L" and img.size == target and mask.mime_type == "image/png":
        return mask  # already what SDNext expects: sent byte for byte
    buf = io.BytesIO()
    gray.save(buf, format="PNG", optimize=False)
    return ImageData(buf.getvalue(), "image/png", "the converted mask")


def init_size(init: ImageData, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int] | None:
    """The init image's size, from its header (or Pillow for other formats), if known."""
    return _size_of(init, max_pixels)

"""The images themselves: decoding inputs, drawing outputs, encoding them."""

from __future__ import annotations

import base64
import binascii
import io
import random
from typing import Any

from PIL import Image, ImageDraw

from tests.reference_server.images.validation import _HTTPError, sdnext_error
from tests.reference_server.wire import (
    json_response,
)


def _decode_image(data: Any) -> Image.Image:
    """Decode a base64 image (``data:`` prefix allowed) or raise the SDNext 500."""
    if not isinstance(data, str):
        raise _HTTPError(json_response(500, sdnext_error(500, "Invalid encoded image")))
    if data.startswith("data:"):
        data = data.split(",", 1)[-1]
    try:
        raw = base64.b64decode(data, validate=False)
        img = Image.open(io.BytesIO(raw))
        img.load()
    except (binascii.Error, ValueError, OSError) as exc:
        raise _HTTPError(json_response(500, sdnext_error(500, "Invalid encoded image"))) from exc
    return img


def _make_image(width: int, height: int, seed: int) -> Image.Image:
    rng = random.Random(seed)
    base = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    accent = tuple(255 - c for c in base)
    img = Image.new("RGB", (width, height), base)
    draw = ImageDraw.Draw(img)
    draw.rectangle((width // 4, height // 4, (3 * width) // 4, (3 * height) // 4), fill=accent)
    return img


def _encode(img: Image.Image, fmt: str, quality: int) -> str:
    buf = io.BytesIO()
    fmt = fmt.lower()
    if fmt == "png":
        img.save(buf, format="PNG")
    elif fmt == "webp":
        img.save(buf, format="WEBP", quality=quality)
    else:
        img.convert("RGB").save(buf, format="JPEG", quality=quality)
    return base64.b64encode(buf.getvalue()).decode()

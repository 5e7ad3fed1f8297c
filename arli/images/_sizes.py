"""Pixel sizes for the tools' aspect ratios (shared by the toolbox and the SDNext adapter)."""

from __future__ import annotations

import math
import re

from arli._errors import ArliValidationError
from arli.images.contract import ASPECT_RATIOS

__all__ = ["ratio", "size_for_aspect_ratio", "snap8"]

_SNAP = 64


def ratio(text: str) -> tuple[float, float]:
    """The two sides of ``"W:H"`` (also ``WxH``, ``W/H``).

    Raises:
        ArliValidationError: not ``W:H`` with positive numbers.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[:x/]\s*(\d+(?:\.\d+)?)\s*", text)
    if match is None or float(match.group(1)) <= 0 or float(match.group(2)) <= 0:
        msg = f"aspect_ratio={text!r} is not valid: use one of {', '.join(ASPECT_RATIOS)}"
        raise ArliValidationError(msg, field="aspect_ratio", allowed=", ".join(ASPECT_RATIOS))
    return float(match.group(1)), float(match.group(2))


def size_for_aspect_ratio(aspect: str, base: int = 1024) -> tuple[int, int]:
    """Width and height for ``aspect`` with about ``base`` x ``base`` pixels, in steps of 64.

    ``"1:1"`` gives 1024x1024, ``"16:9"`` 1344x768, ``"2:3"`` 832x1280 (``base=1024``);
    sides stay within 64..2048.

    Raises:
        ArliValidationError: for a ratio that is not ``W:H`` with positive numbers.
    """
    a, b = ratio(aspect)
    width = math.sqrt(base * base * a / b)
    height = width * b / a

    def snap(side: float) -> int:
        return int(min(2048, max(64, round(side / _SNAP) * _SNAP)))

    return snap(width), snap(height)


def snap8(value: float) -> int:
    """``value`` rounded to a multiple of 8 within 64..2048."""
    return max(64, min(2048, math.floor(value / 8 + 0.5) * 8))

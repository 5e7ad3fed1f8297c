"""The one-call OCR helpers: :func:`ocr` and :func:`aocr` (a one-off :class:`OCREngine`).

Re-exported by :mod:`arli.ocr.engine` (their import path).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

if TYPE_CHECKING:
    from arli.ocr.results import OCRResult

__all__ = ["aocr", "ocr"]


def ocr(
    sources: Any,
    *,
    pages: str | int | Sequence[int] | None = None,
    password: str | SecretStr | None = None,
    **options: Any,
) -> OCRResult:
    """Transcribe documents with a one-off :class:`OCREngine` (``options`` are its arguments).

    Works inside a running event loop too.

    Example:
        .. code-block:: python

            from arli.ocr import ocr

            result = ocr("invoice.pdf", model="Qwen/Qwen3.5-VL", pages="1-2")
            print(result.text())
    """
    from arli.ocr.engine import OCREngine  # noqa: PLC0415 - engine imports this module

    with OCREngine(**options) as engine:
        return engine.ocr(sources, pages=pages, password=password)


async def aocr(
    sources: Any,
    *,
    pages: str | int | Sequence[int] | None = None,
    password: str | SecretStr | None = None,
    **options: Any,
) -> OCRResult:
    """Async :func:`ocr`."""
    from arli.ocr.engine import OCREngine  # noqa: PLC0415

    async with OCREngine(**options) as engine:
        return await engine.aocr(sources, pages=pages, password=password)

"""What travels between an OCR run's producer and its consumer, and one page's rasterizing.

The producer (:meth:`arli.ocr.OCREngine.aiter_pages`) opens documents and rasterizes
pages on the renderer thread (:func:`render_one`); it puts pages, document failures
(:class:`SourceFailed`), a fatal error (:class:`Fatal`) or the end (:class:`End`) on the
queue the consumer reads in page order.
"""

from __future__ import annotations

from dataclasses import dataclass

from arli._errors import OCRDependencyError, OCRSourceError
from arli.ocr.render import Document, PageImage, RawPage, RenderOptions
from arli.ocr.sources import OCRSource

__all__ = ["End", "Fatal", "SourceFailed", "render_one"]


@dataclass
class End:
    """The producer is done: every source was opened and every selected page queued."""


@dataclass
class Fatal:
    """The producer failed in a way that ends the run (a missing dependency, a bug)."""

    error: BaseException


@dataclass
class SourceFailed:
    """A document that could not be opened or read; its pages never reach the queue."""

    index: int
    source: OCRSource
    error: OCRSourceError


def render_one(
    document: Document, number: int, options: RenderOptions
) -> tuple[str, PageImage | RawPage | Exception]:
    """Rasterize one page on the renderer thread; a failure is returned, not raised."""
    try:
        label = document.label(number)
    except Exception:  # noqa: BLE001 - a broken label must not lose the page
        label = str(number)
    try:
        return label, document.rasterize(number, options)
    except OCRDependencyError:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded as the page's failure
        return label, exc

"""Page images: how a page becomes an image for the vision model, and its encoding.

:class:`RenderOptions` (resolution, size and byte caps, format, blank-page detection),
:class:`PageImage` (an encoded page), :class:`RawPage` (a rasterized page not encoded yet)
and :func:`encode_page`. The documents that produce them are in :mod:`arli.ocr.render`
(which re-exports these names).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from arli._errors import ArliValidationError, OCRDependencyError
from arli._kwargs import checks_arguments
from arli.media import ImageData

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = [
    "ImageFormat",
    "PageImage",
    "RawPage",
    "RenderOptions",
    "encode_page",
    "finish_page",
    "ink_fraction",
]

ImageFormat = Literal["jpeg", "png"]

EXTRA_HINT = 'pip install "arli-integrations[ocr]"'


def _pil() -> Any:
    try:
        from PIL import Image  # noqa: PLC0415 - optional dependency, imported on first use
    except ImportError as exc:
        msg = f"OCR needs Pillow to read and encode page images: {EXTRA_HINT}"
        raise OCRDependencyError(msg) from exc
    return Image


# -- options -------------------------------------------------------------------------------


@checks_arguments()
@dataclass(frozen=True)
class RenderOptions:
    """How pages become images for the model.

    Attributes:
        dpi: PDF rendering resolution (dots per inch; PDF units are 1/72 in).
        max_side_px: the longest side of a page image, for PDFs and images alike.
        image_format: ``"jpeg"`` (small, fast) or ``"png"`` (lossless).
        jpeg_quality: JPEG quality, 1-95.
        max_image_bytes: the largest encoded page; bigger pages are downscaled to fit.
        max_input_pixels: the largest image decoded (width x height): a guard against
            decompression bombs.
        passthrough: send a JPEG or PNG input as it is when it needs no change.
        blank_threshold: skip detection: a page whose share of ink pixels is below this
            is blank (``None``: no detection).
    """

    dpi: float = 150.0
    max_side_px: int = 2000
    image_format: ImageFormat = "jpeg"
    jpeg_quality: int = 90
    max_image_bytes: int = 4 * 2**20
    max_input_pixels: int = 64_000_000
    passthrough: bool = True
    blank_threshold: float | None = None

    def __post_init__(self) -> None:
        checks: list[tuple[str, bool, str]] = [
            ("dpi", 18 <= self.dpi <= 1200, "18-1200"),
            ("max_side_px", 64 <= self.max_side_px <= 20000, "64-20000"),
            ("image_format", self.image_format in ("jpeg", "png"), "'jpeg' or 'png'"),
            ("jpeg_quality", 1 <= self.jpeg_quality <= 95, "1-95"),
            ("max_image_bytes", self.max_image_bytes >= 16 * 1024, ">= 16384"),
            ("max_input_pixels", self.max_input_pixels >= 64 * 64, ">= 4096"),
            (
                "blank_threshold",
                self.blank_threshold is None or 0 <= self.blank_threshold < 1,
                "[0, 1) or None",
            ),
        ]
        for name, ok, allowed in checks:
            if not ok:
                value = getattr(self, name)
                msg = f"{name}={value!r} is out of range: allowed {allowed}"
                raise ArliValidationError(msg, field=name, allowed=allowed)

    @property
    def mime_type(self) -> str:
        """The MIME type of re-encoded pages."""
        return "image/png" if self.image_format == "png" else "image/jpeg"


# -- page images ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PageImage:
    """One rendered page, ready to send.

    Attributes:
        page: the 1-based page number in the document.
        label: the page label (PDF page label, else the number as text).
        image: the encoded image (bytes and MIME type).
        width: image width in pixels.
        height: image height in pixels.
        dpi: the effective rendering resolution (PDF pages only).
        blank: whether the page looked blank (``None`` when not checked).
    """

    page: int
    label: str
    image: ImageData = field(repr=False)
    width: int
    height: int
    dpi: float | None = None
    blank: bool | None = None


def ink_fraction(image: PILImage) -> float:
    """The share of pixels that differ clearly (> 64 grey levels) from the background.

    The background is the most frequent grey level, so a dark page with light text counts
    the same as a white one. Faint scanner noise does not count as ink.
    """
    gray = image if image.mode == "L" else image.convert("L")
    hist = gray.histogram()
    total = sum(hist)
    if not total:
        return 0.0
    background = max(range(256), key=hist.__getitem__)
    ink = sum(count for level, count in enumerate(hist) if abs(level - background) > 64)
    return ink / total


def _flatten(image: PILImage) -> PILImage:
    """Convert to RGB or L: alpha onto white, 16-bit and 1-bit to 8-bit grey, CMYK to RGB."""
    mode = image.mode
    if mode in ("RGB", "L"):
        return image
    pil = _pil()
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I;16") or mode in ("I", "F"):
        wide = image.convert("I") if mode.startswith("I;16") else image
        if mode == "F":
            wide = image.convert("I")
        return wide.point(lambda v: v * (1 / 256)).convert("L")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        if image.mode == "RGB":
            return image
    if mode in ("LA", "La", "PA"):
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "RGBa"):
        rgba = image.convert("RGBA")
        background = pil.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background  # type: ignore[no-any-return]
    return image.convert("RGB")


def _fit(image: PILImage, max_side: int) -> PILImage:
    width, height = image.size
    if max(width, height) <= max_side:
        return image
    ratio = max_side / max(width, height)
    size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
    return image.resize(size, _pil().Resampling.LANCZOS, reducing_gap=3.0)


def _save(image: PILImage, options: RenderOptions) -> bytes:
    buf = io.BytesIO()
    if options.image_format == "png":
        image.save(buf, format="PNG", compress_level=1)
    else:
        image.save(buf, format="JPEG", quality=options.jpeg_quality, optimize=False)
    return buf.getvalue()


def encode_page(image: PILImage, options: RenderOptions) -> tuple[bytes, int, int]:
    """Encode a page image: flattened, at most ``max_side_px``, at most ``max_image_bytes``.

    Returns:
        ``(bytes, width, height)`` in ``options.image_format``.

    Raises:
        ArliValidationError: when even a strongly downscaled page does not fit.
    """
    image = _fit(_flatten(image), options.max_side_px)
    for _ in range(8):
        data = _save(image, options)
        if len(data) <= options.max_image_bytes:
            return data, image.width, image.height
        factor = min(0.9, math.sqrt(options.max_image_bytes / len(data)) * 0.95)
        size = (max(1, int(image.width * factor)), max(1, int(image.height * factor)))
        if min(size) < 32:
            break
        image = image.resize(size, _pil().Resampling.LANCZOS)
    msg = (
        f"the page image does not fit in max_image_bytes={options.max_image_bytes} even "
        "downscaled; raise max_image_bytes or use image_format='jpeg'"
    )
    raise ArliValidationError(msg, field="max_image_bytes")


def finish_page(
    image: PILImage, page: int, label: str, dpi: float | None, options: RenderOptions
) -> PageImage:
    """The :class:`PageImage` of a rendered page: checked for blankness, then encoded."""
    blank = None
    if options.blank_threshold is not None:
        blank = ink_fraction(image) < options.blank_threshold
    data, width, height = encode_page(image, options)
    return PageImage(
        page=page,
        label=label,
        image=ImageData(data, options.mime_type, f"page {label}"),
        width=width,
        height=height,
        dpi=dpi,
        blank=blank,
    )


@dataclass
class RawPage:
    """A rasterized page not encoded yet (:meth:`Document.rasterize`).

    Encoding needs no PDFium, so the OCR engine does it off the renderer thread, while the
    next page is being rasterized.

    Attributes:
        page: the 1-based page number.
        label: the page label.
        image: the rasterized page.
        dpi: the effective rendering resolution.
    """

    page: int
    label: str
    image: PILImage = field(repr=False)
    dpi: float | None = None

    def finish(self, options: RenderOptions) -> PageImage:
        """Check for a blank page and encode (see :func:`encode_page`)."""
        return finish_page(self.image, self.page, self.label, self.dpi, options)

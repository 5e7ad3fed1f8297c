"""Pages from images and PDFs, rendered one at a time and encoded for a vision model.

Inputs (:class:`OCRSource`, and page selections, live in :mod:`arli.ocr.sources`; they are
re-exported here): file paths, bytes, binary file objects (their ``name`` names
the document), PIL images and http(s) URLs. The format is detected from the bytes, never
from the name:

- **PDF** through pypdfium2 (the ``ocr`` extra: no poppler, permissively licensed). Pages
  are rendered on demand at ``dpi`` (default 150), with the longest side capped at
  ``max_side_px`` (default 2000 px, which also bounds the memory a page with a huge media
  box can take), form fields drawn, ``/Rotate`` applied, and the PDF page labels read.
  Encrypted files open with ``password``. PDFium is not thread-safe: every call into it
  holds one process-wide lock, and the OCR engine makes all of them on one renderer
  thread (:func:`render_executor`); encoding a rasterized page (:class:`RawPage`) needs no
  PDFium and happens on worker threads while the next page is rasterized.
- **Images**: PNG, JPEG, WEBP, GIF (first frame), BMP and TIFF (every frame is a page).
  Decoding is guarded against decompression bombs (``max_input_pixels``); EXIF orientation
  is applied, transparency is flattened onto white, 16-bit and 1-bit images become 8-bit
  grey.

Encoding (:func:`encode_page`): JPEG (quality 90) by default or PNG, the MIME type in the
data URI always matching the bytes, and at most ``max_image_bytes`` per page (the image is
downscaled until it fits). A JPEG or PNG input that needs no change is sent as it is
(``passthrough``): no second lossy encoding, and the same bytes whatever Pillow version.

Pillow and pypdfium2 are imported only when a page is rendered; without them the error
names the extra to install.
"""

from __future__ import annotations

import io
import os
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from arli._errors import ArliValidationError, OCRDependencyError, OCRSourceError
from arli._secrets import secret_password
from arli.media import ImageData, sniff_mime
from arli.ocr.pages import (
    EXTRA_HINT,
    ImageFormat,
    PageImage,
    RawPage,
    RenderOptions,
    _pil,
    encode_page,
    finish_page,
    ink_fraction,
)
from arli.ocr.sources import (
    DEFAULT_MAX_DOWNLOAD_BYTES,
    OCRSource,
    PageSpec,
    as_sources,
    parse_page_spec,
    select_pages,
)

if TYPE_CHECKING:
    pass

__all__ = [
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "Document",
    "ImageDocument",
    "ImageFormat",
    "OCRSource",
    "PageImage",
    "PageSpec",
    "PdfDocument",
    "RawPage",
    "RenderOptions",
    "as_sources",
    "encode_executor",
    "encode_page",
    "ink_fraction",
    "open_document",
    "parse_page_spec",
    "render_executor",
    "render_pages",
    "select_pages",
]

#: Every call into PDFium holds this lock (PDFium is not thread-safe).
PDFIUM_LOCK = threading.RLock()

_executor: ThreadPoolExecutor | None = None
_encoder: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()

_IMAGE_FORMATS = {"PNG", "JPEG", "MPO", "WEBP", "GIF", "BMP", "DIB", "TIFF"}
_SUPPORTED = "PDF, PNG, JPEG, WEBP, GIF, BMP and TIFF"


def render_executor() -> ThreadPoolExecutor:
    """The one renderer thread shared by every OCR run in the process (created on first use)."""
    global _executor  # noqa: PLW0603 - a lazily created process-wide singleton
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="arli-ocr-render")
    return _executor


def encode_executor() -> ThreadPoolExecutor:
    """The two threads that encode rasterized pages (Pillow releases the GIL meanwhile)."""
    global _encoder  # noqa: PLW0603 - a lazily created process-wide singleton
    if _encoder is None:
        with _executor_lock:
            if _encoder is None:
                _encoder = ThreadPoolExecutor(max_workers=2, thread_name_prefix="arli-ocr-encode")
    return _encoder


def _pdfium() -> Any:
    try:
        import pypdfium2  # noqa: PLC0415 - optional dependency, imported on first use
    except ImportError as exc:
        msg = f"OCR of PDF files needs pypdfium2: {EXTRA_HINT}"
        raise OCRDependencyError(msg) from exc
    return pypdfium2


# -- documents -----------------------------------------------------------------------------


class Document(ABC):
    """An open document whose pages can be rendered one at a time (see :func:`open_document`).

    Attributes:
        source: the source it was opened from.
        kind: ``"pdf"`` or ``"image"``.
        page_count: how many pages it has.
    """

    kind: str = ""

    def __init__(self, source: OCRSource, page_count: int):
        self.source = source
        self.page_count = page_count

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source.name!r}, pages={self.page_count})"

    def __enter__(self) -> Document:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def label(self, page: int) -> str:
        """The label of a 1-based page (the number as text unless the document has labels)."""
        return str(page)

    def rasterize(self, page: int, options: RenderOptions) -> PageImage | RawPage:
        """The part of :meth:`render` that needs the document (the rest is ``finish``)."""
        return self.render(page, options)

    @abstractmethod
    def render(self, page: int, options: RenderOptions) -> PageImage:
        """Render and encode one page (1-based)."""

    @abstractmethod
    def close(self) -> None:
        """Release the document (files, PDFium handles)."""


class PdfDocument(Document):
    """A PDF opened with pypdfium2 (every PDFium call holds :data:`PDFIUM_LOCK`).

    PDFium keeps the objects of every page it has loaded until the document is closed
    (about the size of the page's compressed content: a scanned page's JPEG), so a long
    document is reopened every :attr:`REOPEN_EVERY` pages; reopening costs well under a
    millisecond and keeps memory flat whatever the page count.
    """

    kind = "pdf"
    #: Pages rendered before the document is closed and opened again.
    REOPEN_EVERY = 16

    def __init__(self, source: OCRSource, data: bytes | None, password: SecretStr | None):
        self._target: Any = data if data is not None else str(source.path)
        self._password = password  # unwrapped only in the call that opens the file
        self._source_for_errors = source
        with PDFIUM_LOCK:
            pdf = self._open()
            try:
                count = len(pdf)
            except Exception:
                pdf.close()
                raise
            if count == 0:
                pdf.close()
                raise OCRSourceError(f"{source.name} has no pages", source=source.name)
        self._pdf: Any = pdf
        self._rendered = 0
        self._labels: dict[int, str] = {}
        super().__init__(source, count)

    def _open(self) -> Any:
        pdfium = _pdfium()
        try:
            secret = self._password
            pdf = pdfium.PdfDocument(
                self._target, password=secret.get_secret_value() if secret is not None else None
            )
        except pdfium.PdfiumError as exc:
            if _has_no_pages(self._target):
                name = self._source_for_errors.name
                raise OCRSourceError(f"{name} has no pages", source=name, cause=exc) from exc
            raise _pdf_error(self._source_for_errors, exc, self._password) from exc
        try:
            pdf.init_forms()
        except Exception:
            pdf.close()
            raise
        return pdf

    def label(self, page: int) -> str:
        """The PDF page label of a 1-based page (``"iii"``, ``"A-1"``), else its number."""
        label = self._labels.get(page)
        if label is None:
            with PDFIUM_LOCK:
                try:
                    label = self._pdf.get_page_label(page - 1) or str(page)
                except Exception:  # noqa: BLE001 - a broken label tree must not lose the page
                    label = str(page)
            self._labels[page] = label
        return label

    def render(self, page: int, options: RenderOptions) -> PageImage:
        """Render one page at ``options.dpi`` (longest side capped), then encode it."""
        return self.rasterize(page, options).finish(options)

    def rasterize(self, page: int, options: RenderOptions) -> RawPage:
        """Render one page at ``options.dpi`` (longest side capped), not encoded yet."""
        label = self.label(page)
        with PDFIUM_LOCK:
            if self._rendered >= self.REOPEN_EVERY:
                self._pdf.close()
                self._pdf = None
                self._pdf = self._open()
                self._rendered = 0
            self._rendered += 1
            pdf_page = self._pdf[page - 1]
            try:
                width_pt, height_pt = pdf_page.get_size()
                if width_pt <= 0 or height_pt <= 0:
                    msg = f"page {page} of {self.source.name} has an empty page box"
                    raise ArliValidationError(msg, field="source")
                scale = options.dpi / 72.0
                longest = max(width_pt, height_pt)
                if longest * scale > options.max_side_px:
                    scale = options.max_side_px / longest
                # RGB straight from PDFium: no byte swapping afterwards.
                bitmap = pdf_page.render(scale=scale, may_draw_forms=True, rev_byteorder=True)
                try:
                    image = bitmap.to_pil()
                    if image.readonly:  # it shares the bitmap's memory, about to be freed
                        image = image.copy()
                finally:
                    bitmap.close()
            finally:
                pdf_page.close()
        return RawPage(page, label, image, round(scale * 72.0, 2))

    def text_layer(self, page: int) -> str:
        """The embedded text of a 1-based page (``""`` when it has none)."""
        with PDFIUM_LOCK:
            pdf_page = self._pdf[page - 1]
            try:
                textpage = pdf_page.get_textpage()
                try:
                    return str(textpage.get_text_bounded())
                finally:
                    textpage.close()
            finally:
                pdf_page.close()

    def close(self) -> None:
        """Close the PDF (under the PDFium lock)."""
        pdf, self._pdf = self._pdf, None
        if pdf is not None:
            with PDFIUM_LOCK:
                pdf.close()


#: PDFium's load-error texts. pypdfium2 5 gives the code as ``err_code``; 4.x only names it in
#: the message ("Failed to load document (PDFium: Incorrect password error).").
_PDFIUM_LOAD_ERRORS = {"File access error": 2, "Data format error": 3, "Incorrect password": 4}
_PAGE_TREE_EMPTY = re.compile(
    rb"/Type\s*/Pages\b[^>]*?/Count\s+0\b|/Count\s+0\b[^>]*?/Type\s*/Pages\b"
)
_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
#: Files up to this size are read to tell "no pages" from "corrupt" when PDFium fails.
_PAGELESS_CHECK_MAX = 8 * 1024 * 1024


def _has_no_pages(target: bytes | str) -> bool:
    """Whether a PDF PDFium refused is well formed but has an empty page tree.

    PDFium refuses such a file without setting an error code (``FPDF_GetLastError`` then
    returns whatever an earlier call left), so the code cannot tell it from a corrupt one.
    """
    if isinstance(target, str):
        try:
            if os.path.getsize(target) > _PAGELESS_CHECK_MAX:
                return False
            with open(target, "rb") as fh:
                target = fh.read()
        except OSError:
            return False
    return bool(_PAGE_TREE_EMPTY.search(target)) and not _PAGE_OBJECT.search(target)


def _pdf_error(source: OCRSource, exc: Exception, password: SecretStr | None) -> OCRSourceError:
    code = getattr(exc, "err_code", None)
    if code is None:
        text = str(exc)
        code = next((c for name, c in _PDFIUM_LOAD_ERRORS.items() if name in text), None)
    if code == 4:  # FPDF_ERR_PASSWORD
        if password is None:
            msg = f"{source.name} is encrypted: pass password=... to open it"
        else:
            msg = f"{source.name}: the password is wrong"
    elif code == 3:  # FPDF_ERR_FORMAT
        msg = f"{source.name} is not a readable PDF (corrupt or truncated)"
    elif code == 2:  # FPDF_ERR_FILE
        msg = f"{source.name} could not be opened"
    else:
        msg = f"{source.name} could not be opened as a PDF: {exc}"
    return OCRSourceError(msg, source=source.name, cause=exc)


class ImageDocument(Document):
    """An image file: one page, or one page per frame for a multi-frame TIFF."""

    kind = "image"

    def __init__(self, source: OCRSource, data: bytes | None, options: RenderOptions):
        pil = _pil()
        self._data = data
        try:
            image = pil.open(io.BytesIO(data) if data is not None else source.path)
        except (OSError, ValueError, pil.DecompressionBombError) as exc:
            msg = f"{source.name} could not be read as an image: {exc}"
            raise OCRSourceError(msg, source=source.name, cause=exc) from exc
        if image.format not in _IMAGE_FORMATS:
            image.close()
            msg = f"{source.name} is a {image.format} image; supported formats are {_SUPPORTED}"
            raise OCRSourceError(msg, source=source.name)
        self._image: Any = image
        self._format = "BMP" if image.format == "DIB" else str(image.format)
        frames = int(getattr(image, "n_frames", 1)) if self._format == "TIFF" else 1
        super().__init__(source, frames)
        self._check_pixels(image, 1, options)

    def _check_pixels(self, image: Any, page: int, options: RenderOptions) -> None:
        width, height = image.size
        if width * height > options.max_input_pixels:
            msg = (
                f"page {page} of {self.source.name} is {width}x{height} pixels, more than "
                f"max_input_pixels={options.max_input_pixels} (a guard against decompression "
                "bombs); raise max_input_pixels if the image is genuine"
            )
            raise OCRSourceError(msg, source=self.source.name)

    def _raw(self) -> bytes:
        if self._data is not None:
            return self._data
        assert self.source.path is not None
        return self.source.path.read_bytes()

    def _passthrough(self, image: Any, options: RenderOptions) -> ImageData | None:
        """The original bytes, when they can be sent as they are."""
        if not options.passthrough or self.page_count != 1:
            return None
        mime = {"JPEG": "image/jpeg", "PNG": "image/png"}.get(self._format)
        if mime is None or getattr(image, "n_frames", 1) != 1:
            return None
        if max(image.size) > options.max_side_px:
            return None
        if mime == "image/jpeg" and image.mode not in ("RGB", "L"):
            return None
        if mime == "image/png" and (
            image.mode not in ("RGB", "L", "P") or "transparency" in image.info
        ):
            return None
        if image.getexif().get(0x0112, 1) != 1:  # EXIF orientation: needs rotating
            return None
        size = (
            len(self._data)
            if self._data is not None
            else self.source.path.stat().st_size
            if self.source.path is not None
            else 0
        )
        if size > options.max_image_bytes:
            return None
        raw = self._raw()
        if sniff_mime(raw[:16]) != mime:
            return None
        return ImageData(raw, mime, self.source.name)

    def render(self, page: int, options: RenderOptions) -> PageImage:
        """Decode one frame (EXIF orientation applied), then encode it (or pass it through)."""
        pil = _pil()
        from PIL import ImageOps  # noqa: PLC0415 - optional dependency

        image = self._image
        if page > 1 or self.page_count > 1:
            image.seek(page - 1)
        self._check_pixels(image, page, options)
        label = self.label(page)
        original = self._passthrough(image, options)
        if original is not None and options.blank_threshold is None:
            return PageImage(page, label, original, image.width, image.height)
        if self._format == "JPEG" and max(image.size) > options.max_side_px:
            ratio = options.max_side_px / max(image.size)
            image.draft(image.mode, (int(image.width * ratio), int(image.height * ratio)))
        try:
            frame = image.copy() if self.page_count > 1 else image
            frame.load()
        except (OSError, ValueError, pil.DecompressionBombError) as exc:
            msg = f"page {page} of {self.source.name} could not be decoded: {exc}"
            raise OCRSourceError(msg, source=self.source.name, cause=exc) from exc
        frame = ImageOps.exif_transpose(frame) or frame
        if original is not None:
            blank = None
            if options.blank_threshold is not None:
                blank = ink_fraction(frame) < options.blank_threshold
            return PageImage(page, label, original, frame.width, frame.height, None, blank)
        return finish_page(frame, page, label, None, options)

    def close(self) -> None:
        """Close the image file."""
        image, self._image = self._image, None
        if image is not None:
            image.close()


def _head(source: OCRSource, data: bytes | None) -> bytes:
    if data is not None:
        return data[:16]
    assert source.path is not None
    try:
        with source.path.open("rb") as fh:
            return fh.read(16)
    except FileNotFoundError as exc:
        msg = f"no such file: {source.name}"
        raise OCRSourceError(msg, source=source.name, cause=exc) from exc
    except IsADirectoryError as exc:
        msg = f"{source.name} is a directory, not a document"
        raise OCRSourceError(msg, source=source.name, cause=exc) from exc
    except OSError as exc:
        msg = f"{source.name} could not be read: {exc}"
        raise OCRSourceError(msg, source=source.name, cause=exc) from exc


def open_document(
    source: OCRSource,
    *,
    data: bytes | None = None,
    password: str | SecretStr | None = None,
    options: RenderOptions | None = None,
) -> Document:
    """Open a document from a local path or bytes (URLs are downloaded by the caller).

    Args:
        source: the document.
        data: its bytes (when ``source.data`` is unset and it is not a path: a download).
        password: the password of an encrypted PDF (``str`` or ``SecretStr``; held as a
            ``SecretStr``, unwrapped only to open the file).
        options: render options (for the image decoding guard).

    Raises:
        OCRSourceError: missing file, unsupported format, corrupt file, wrong password.
        OCRDependencyError: Pillow (or pypdfium2 for PDFs) is not installed.
    """
    options = options or RenderOptions()
    data = data if data is not None else source.data
    if data is None and source.path is None:
        msg = f"{source.name} must be downloaded before it is opened"
        raise OCRSourceError(msg, source=source.name)
    if data is not None and not data:
        msg = f"{source.name} is empty"
        raise OCRSourceError(msg, source=source.name)
    mime = sniff_mime(_head(source, data))
    if mime == "application/pdf":
        return PdfDocument(source, data, secret_password(password))
    if mime is None:
        msg = f"{source.name} is not a supported document; supported formats are {_SUPPORTED}"
        raise OCRSourceError(msg, source=source.name)
    return ImageDocument(source, data, options)


def render_pages(
    source: Any,
    *,
    pages: str | int | Sequence[int] | None = None,
    password: str | SecretStr | None = None,
    options: RenderOptions | None = None,
) -> Iterator[PageImage]:
    """Render the pages of a local document one at a time, in the calling thread.

    Handy to look at what the model will see (``page.image.data`` is the encoded image).
    URLs are not accepted here.

    Raises:
        OCRSourceError: the document cannot be opened.
        ArliValidationError: a bad page selection.
    """
    src = OCRSource.of(source)
    if src.url is not None:
        msg = "render_pages reads local documents only; download the URL first"
        raise ArliValidationError(msg, field="source")
    options = options or RenderOptions()
    spec = parse_page_spec(pages)
    with open_document(src, password=password, options=options) as document:
        for page in select_pages(spec, document.page_count, source=src.name):
            yield document.render(page, options)

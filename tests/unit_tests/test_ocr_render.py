"""Page rendering: every image format, PDFs (count, labels, rotation, password), selection,
encoding with the size cap, blank detection, sources, and the PDFium lock."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from PIL import Image

from arli import ArliValidationError, OCRDependencyError, OCRSourceError
from arli.ocr.render import (
    OCRSource,
    RenderOptions,
    as_sources,
    encode_page,
    ink_fraction,
    open_document,
    parse_page_spec,
    render_pages,
    select_pages,
)
from tests.helpers import FIXTURES
from tests.ocr_helpers import (
    PdfPage,
    blank_image,
    build_pdf,
    encode,
    page_image,
    pillow_pdf,
)

OCR_FIXTURES = FIXTURES / "ocr"


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# -- image formats ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "options", "sent_mime"),
    [
        ("PNG", {}, "image/png"),  # passed through unchanged
        ("JPEG", {"quality": 90}, "image/jpeg"),  # passed through unchanged
        ("WEBP", {"quality": 90}, "image/jpeg"),
        ("BMP", {}, "image/jpeg"),
        ("GIF", {}, "image/jpeg"),
        ("TIFF", {}, "image/jpeg"),
    ],
)
def test_every_image_format_becomes_one_page(fmt: str, options: dict, sent_mime: str) -> None:
    data = encode(page_image("Hello OCR", (320, 180)), fmt, **options)
    pages = list(render_pages(data))
    assert len(pages) == 1
    page = pages[0]
    assert (page.page, page.label) == (1, "1")
    assert page.image.mime_type == sent_mime
    assert (page.width, page.height) == (320, 180)
    assert decode(page.image.data).size == (320, 180)
    assert page.image.data_uri().startswith(f"data:{sent_mime};base64,")


def test_jpeg_and_png_inputs_are_sent_byte_for_byte() -> None:
    jpeg = (OCR_FIXTURES / "page-1.jpg").read_bytes()
    assert next(render_pages(OCR_FIXTURES / "page-1.jpg")).image.data == jpeg
    png = encode(page_image("x"), "PNG")
    assert next(render_pages(png)).image.data == png
    # ...unless asked not to
    again = next(render_pages(jpeg, options=RenderOptions(passthrough=False)))
    assert again.image.data != jpeg
    assert again.image.mime_type == "image/jpeg"


def test_multi_frame_tiff_gives_a_page_per_frame() -> None:
    frames = [page_image(f"Frame {i}", (200 + 10 * i, 100)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    pages = list(render_pages(buf.getvalue()))
    assert [(p.page, p.label, p.width, p.height) for p in pages] == [
        (1, "1", 200, 100),
        (2, "2", 210, 100),
        (3, "3", 220, 100),
    ]
    assert [p.page for p in render_pages(buf.getvalue(), pages="2-")] == [2, 3]


def test_animated_gif_gives_its_first_frame_only() -> None:
    frames = [page_image("first", (120, 80)), Image.new("RGB", (120, 80), "black")]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    pages = list(render_pages(buf.getvalue()))
    assert len(pages) == 1
    assert decode(pages[0].image.data).convert("L").getpixel((110, 70)) > 200  # white, not black


def test_transparency_is_flattened_onto_white() -> None:
    image = Image.new("RGBA", (100, 60), (0, 0, 0, 0))  # transparent black
    image.paste((0, 0, 0, 255), (10, 10, 30, 30))
    page = next(render_pages(encode(image, "PNG")))
    assert page.image.mime_type == "image/jpeg"  # not passed through: it has alpha
    out = decode(page.image.data).convert("L")
    assert out.getpixel((80, 50)) > 240  # the transparent area is white
    assert out.getpixel((20, 20)) < 30


def test_exif_orientation_is_applied() -> None:
    image = page_image("rotate me", (300, 100))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = encode(image, "JPEG", exif=exif.tobytes())
    page = next(render_pages(data))
    assert (page.width, page.height) == (100, 300)


@pytest.mark.parametrize("mode", ["1", "I;16", "CMYK", "P", "LA"])
def test_unusual_modes_become_8_bit(mode: str) -> None:
    image = page_image("modes", (120, 60)).convert(mode if mode != "I;16" else "I")
    if mode == "I;16":
        image = image.point(lambda v: v * 256).convert("I;16")
    fmt = "JPEG" if mode == "CMYK" else "TIFF" if mode in ("1", "I;16") else "PNG"
    page = next(render_pages(encode(image, fmt)))
    out = decode(page.image.data)
    assert out.mode in (("RGB", "L", "P") if mode == "P" else ("RGB", "L"))  # P: passed through
    gray = out.convert("L")
    assert gray.getpixel((115, 55)) > 200  # the background stays light


def test_images_larger_than_max_side_are_downscaled() -> None:
    data = encode(page_image("big", (3000, 1500), font_size=120), "JPEG")
    page = next(render_pages(data, options=RenderOptions(max_side_px=1000)))
    assert (page.width, page.height) == (1000, 500)
    assert decode(page.image.data).size == (1000, 500)


def test_decompression_bomb_guard() -> None:
    data = encode(Image.new("L", (1000, 1000), 255), "PNG")
    with pytest.raises(OCRSourceError, match="max_input_pixels"):
        list(render_pages(data, options=RenderOptions(max_input_pixels=500_000)))


# -- PDF -------------------------------------------------------------------------------------


def test_pillow_pdf_pages_sizes_and_default_labels(tmp_path: Path) -> None:
    path = tmp_path / "three.pdf"
    pillow_pdf([page_image(f"Page {i}", (300 + i, 200)) for i in range(1, 4)], path)
    pages = list(render_pages(path, options=RenderOptions(dpi=72)))
    assert [(p.page, p.label, p.width, p.height, p.dpi) for p in pages] == [
        (1, "1", 301, 200, 72.0),
        (2, "2", 302, 200, 72.0),
        (3, "3", 303, 200, 72.0),
    ]
    assert all(p.image.mime_type == "image/jpeg" for p in pages)
    at_150 = next(render_pages(path, pages=[1]))
    assert (at_150.width, at_150.height, at_150.dpi) == (628, 417, 150.0)  # PDFium rounds up


def test_pdf_page_labels() -> None:
    data = build_pdf(
        [PdfPage(page_image(f"p{i}")) for i in range(4)], labels="0 << /S /r >> 2 << /S /D >>"
    )
    pages = list(render_pages(data, options=RenderOptions(dpi=72)))
    assert [(p.page, p.label) for p in pages] == [(1, "i"), (2, "ii"), (3, "1"), (4, "2")]


def test_rotated_page_is_rendered_upright() -> None:
    data = build_pdf(
        [
            PdfPage(page_image("bar on top", (300, 200), bar=True), rotate=90),
            PdfPage(page_image("x")),
        ]
    )
    first, second = render_pages(data, options=RenderOptions(dpi=72))
    assert (first.width, first.height) == (200, 300)
    image = decode(first.image.data).convert("L")
    # the bar along the top of the unrotated page is on the right after a 90° turn
    assert image.getpixel((first.width - 2, 150)) < 60
    assert image.getpixel((2, 150)) > 200
    assert (second.width, second.height) == (300, 200)


def test_password_protected_pdf() -> None:
    data = build_pdf([PdfPage(page_image("secret")), PdfPage(page_image("two"))], password="s3cret")
    with pytest.raises(OCRSourceError, match="encrypted: pass password"):
        list(render_pages(data))
    with pytest.raises(OCRSourceError, match="password is wrong"):
        list(render_pages(data, password="nope"))
    pages = list(render_pages(data, password="s3cret", options=RenderOptions(dpi=72)))
    assert [p.page for p in pages] == [1, 2]
    assert ink_fraction(decode(pages[0].image.data)) > 0.001


@pytest.mark.parametrize(
    ("pdfium_text", "expected"),
    [
        ("Incorrect password error", "encrypted: pass password"),
        ("Data format error", "not a readable PDF"),
        ("File access error", "could not be opened$"),
    ],
)
def test_pypdfium2_4_errors_without_err_code(
    monkeypatch: pytest.MonkeyPatch, pdfium_text: str, expected: str
) -> None:
    # pypdfium2 4.x (our lower bound is 4.30) raises PdfiumError with the PDFium error only
    # in its message, no err_code: the same advice must come out as with 5.x.
    import pypdfium2

    def old_style(*_args: object, **_kwargs: object) -> None:
        raise pypdfium2.PdfiumError(f"Failed to load document (PDFium: {pdfium_text}).")

    monkeypatch.setattr(pypdfium2, "PdfDocument", old_style)
    data = build_pdf([PdfPage(page_image("one"))])
    with pytest.raises(OCRSourceError, match=expected):
        list(render_pages(data))


def test_pdf_longest_side_cap() -> None:
    huge = build_pdf([PdfPage(page_image("poster", (400, 300)), size=(14400.0, 10800.0))])
    page = next(render_pages(huge, options=RenderOptions(dpi=300, max_side_px=1200)))
    assert (page.width, page.height) == (1200, 900)
    assert page.dpi == pytest.approx(6.0)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"%PDF-1.4 not really a pdf", "not a readable PDF"),
        (b"plain text, not a document", "not a supported document"),
        (b"", "is empty"),
    ],
)
def test_unreadable_documents(data: bytes, match: str) -> None:
    with pytest.raises(OCRSourceError, match=match):
        open_document(OCRSource(name="doc", data=data))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(OCRSourceError, match="no such file"):
        open_document(OCRSource.of(tmp_path / "missing.pdf"))
    with pytest.raises(OCRSourceError, match="is a directory"):
        open_document(OCRSource.of(tmp_path))


def test_pdfium_is_used_from_many_threads_safely(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    pillow_pdf([page_image(f"Page {i}", (200, 150)) for i in range(6)], path)
    errors: list[BaseException] = []
    counts: list[int] = []

    def work() -> None:
        try:
            counts.append(len(list(render_pages(path, options=RenderOptions(dpi=100)))))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert counts == [6] * 6


# -- page selection --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "count", "expected"),
    [
        (None, 3, [1, 2, 3]),
        ("1-3,7", 9, [1, 2, 3, 7]),
        (" 2 , 5-6 ", 9, [2, 5, 6]),
        ("5-", 7, [5, 6, 7]),
        ("-2", 7, [1, 2]),
        ("3,1,3", 5, [1, 3]),
        ([4, 2], 5, [2, 4]),
        (2, 5, [2]),
        ((1, 1, 5), 5, [1, 5]),
    ],
)
def test_page_selection(spec, count: int, expected: list[int]) -> None:
    assert select_pages(parse_page_spec(spec), count) == expected


@pytest.mark.parametrize(
    "spec", ["", "a", "1-b", "0", "3-1", "1,,2", "1-2-3", [], [0], [True], True]
)
def test_bad_page_selection_syntax(spec) -> None:
    with pytest.raises(ArliValidationError) as info:
        parse_page_spec(spec)
    assert info.value.field == "pages"


def test_page_selection_beyond_the_end_names_the_count() -> None:
    with pytest.raises(
        ArliValidationError, match=r"7 is beyond the end of x.pdf, which has 5 pages"
    ):
        select_pages(parse_page_spec("1-3,7"), 5, source="x.pdf")
    with pytest.raises(ArliValidationError, match="1 page"):
        select_pages(parse_page_spec("2-"), 1)


# -- encoding --------------------------------------------------------------------------------


def test_size_cap_downscales_until_it_fits() -> None:
    import random

    rng = random.Random(3)
    noise = Image.frombytes(
        "RGB", (800, 800), bytes(rng.randrange(256) for _ in range(800 * 800 * 3))
    )
    options = RenderOptions(max_image_bytes=64 * 1024, jpeg_quality=90)
    data, width, height = encode_page(noise, options)
    assert len(data) <= 64 * 1024
    assert width < 800
    assert height == width
    assert decode(data).size == (width, height)


def test_png_option_and_mime_type() -> None:
    page = next(
        render_pages(encode(page_image("x"), "WEBP"), options=RenderOptions(image_format="png"))
    )
    assert page.image.mime_type == "image/png"
    assert page.image.data.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("field", "value"),
    [("dpi", 5), ("max_side_px", 10), ("image_format", "gif"), ("jpeg_quality", 0)],
)
def test_render_options_are_validated(field: str, value) -> None:
    with pytest.raises(ArliValidationError) as info:
        RenderOptions(**{field: value})
    assert info.value.field == field


# -- blank pages -----------------------------------------------------------------------------


def test_blank_detection() -> None:
    options = RenderOptions(blank_threshold=5e-5)
    assert next(render_pages(encode(blank_image((600, 800)), "PNG"), options=options)).blank
    noisy = blank_image((600, 800), noise=40)
    assert next(render_pages(encode(noisy, "PNG"), options=options)).blank
    text = page_image("Page 3", (600, 800), font_size=18)
    assert next(render_pages(encode(text, "PNG"), options=options)).blank is False
    # dark page with light text: the background is what is most frequent
    inverted = Image.eval(text, lambda v: 255 - v)
    assert ink_fraction(inverted) == pytest.approx(ink_fraction(text))
    # not checked unless asked
    assert next(render_pages(encode(text, "PNG"))).blank is None


# -- sources ---------------------------------------------------------------------------------


def test_sources_of_every_kind(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(encode(page_image("a"), "PNG"))
    assert OCRSource.of(str(path)).path == path
    assert OCRSource.of(path).name == str(path)
    url = OCRSource.of("https://example.com/docs/scan.pdf?x=1")
    assert (url.url, url.file_name) == ("https://example.com/docs/scan.pdf?x=1", "scan.pdf")
    assert OCRSource.of(b"%PDF-").data == b"%PDF-"
    with path.open("rb") as fh:
        source = OCRSource.of(fh)
    assert (source.name, source.file_name, source.data) == (str(path), "a.png", path.read_bytes())
    pil = OCRSource.of(page_image("pil"))
    assert pil.data is not None
    assert pil.data.startswith(b"\x89PNG")
    assert [s.name for s in as_sources([path, b"x"])] == [str(path), "bytes"]


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("ftp://example.com/a.pdf", "http"),
        (12, "cannot OCR a int"),
        ([], "empty"),
    ],
)
def test_bad_sources(value, match: str) -> None:
    with pytest.raises(ArliValidationError, match=match):
        as_sources(value)


def test_text_mode_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("hello")
    with path.open() as fh, pytest.raises(ArliValidationError, match="text mode"):
        OCRSource.of(fh)


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    data = pillow_pdf([page_image("x")])
    png = encode(page_image("x"), "PNG")
    monkeypatch.setitem(sys.modules, "pypdfium2", None)
    with pytest.raises(OCRDependencyError, match=r"arli-integrations\[ocr\]"):
        open_document(OCRSource(name="x.pdf", data=data))
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(OCRDependencyError, match=r"Pillow.*arli-integrations\[ocr\]"):
        open_document(OCRSource(name="x.png", data=png))


def test_long_pdfs_are_reopened_as_they_go(monkeypatch: pytest.MonkeyPatch) -> None:
    from arli.ocr.render import PdfDocument

    monkeypatch.setattr(PdfDocument, "REOPEN_EVERY", 1)
    data = build_pdf(
        [PdfPage(page_image(f"p{i}", (300 + i, 200))) for i in range(1, 6)],
        labels="0 << /S /R >>",
        password="pw",
    )
    pages = list(render_pages(data, password="pw", options=RenderOptions(dpi=72)))
    assert [(p.page, p.label, p.width) for p in pages] == [
        (1, "I", 301),
        (2, "II", 302),
        (3, "III", 303),
        (4, "IV", 304),
        (5, "V", 305),
    ]


def test_a_pdf_without_pages_says_so() -> None:
    import pypdfium2

    empty = pypdfium2.PdfDocument.new()
    buf = io.BytesIO()
    empty.save(buf)
    empty.close()
    # PDFium sets no error code for it: after a corrupt file, the stale code says "format"
    with pytest.raises(OCRSourceError, match="not a readable PDF"):
        list(render_pages(b"%PDF-1.4 not really a pdf"))
    with pytest.raises(OCRSourceError, match=r"^bytes has no pages$"):
        list(render_pages(buf.getvalue()))

"""Fixture builders for the OCR tests: page images with known text, and small PDFs.

Everything is made here, at test time, with Pillow (pages, images, and multi-page PDFs
through Pillow's own PDF writer) and with :func:`build_pdf`, a minimal PDF writer for what
Pillow cannot write: page labels, a ``/Rotate`` entry and the standard security handler
(RC4, revision 2) for a password-protected file.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def page_image(
    text: str,
    size: tuple[int, int] = (300, 200),
    *,
    font_size: int = 24,
    bar: bool = False,
    mode: str = "RGB",
) -> Image.Image:
    """A white page with ``text`` in black (and optionally a black bar along the top)."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=font_size)
    y = 12
    for line in text.splitlines() or [""]:
        draw.text((12, y), line, fill="black", font=font)
        y += font_size + 6
    if bar:
        draw.rectangle((0, 0, size[0] - 1, max(4, size[1] // 20)), fill="black")
    return image.convert(mode) if mode != "RGB" else image


def blank_image(
    size: tuple[int, int] = (300, 200), *, noise: int = 0, seed: int = 1
) -> Image.Image:
    """A blank white page, optionally with faint scanner noise (values down to 255 - noise)."""
    image = Image.new("L", size, 255)
    if noise:
        import random

        rng = random.Random(seed)
        pixels = image.load()
        assert pixels is not None
        for _ in range(size[0] * size[1] // 10):
            pixels[rng.randrange(size[0]), rng.randrange(size[1])] = 255 - rng.randrange(noise)
    return image.convert("RGB")


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    """``image`` saved in ``fmt`` (``"JPEG"``, ``"PNG"``...) as bytes."""
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


def pillow_pdf(images: Sequence[Image.Image], path: Path | None = None) -> bytes:
    """A multi-page PDF written by Pillow (one page per image, 72 dpi: 1 px = 1 pt)."""
    buf = io.BytesIO()
    first, *rest = [im.convert("RGB") for im in images]
    first.save(buf, format="PDF", save_all=True, append_images=rest, resolution=72.0)
    data = buf.getvalue()
    if path is not None:
        path.write_bytes(data)
    return data


@dataclass
class PdfPage:
    """One page of :func:`build_pdf`: an image drawn over the whole page.

    ``text`` adds a text layer (Helvetica, one line per line of text, drawn over the
    image: a born-digital page); ``invisible`` draws it in render mode 3 (an OCR layer).
    """

    image: Image.Image
    size: tuple[float, float] | None = None  # in points; default: the image size (72 dpi)
    rotate: int = 0
    text: str | None = None
    invisible: bool = False


def _text_ops(page: PdfPage, height: float) -> bytes:
    if not page.text:
        return b""
    lines = []
    for line in page.text.splitlines():
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        lines.append(f"({escaped}) '")
    mode = "3 Tr " if page.invisible else ""
    return (f" BT {mode}/F1 9 Tf 11 TL 10 {height - 10:g} Td {' '.join(lines)} ET").encode(
        "latin-1"
    )


def _rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def _padded(password: str) -> bytes:
    return (password.encode("latin-1") + _PAD)[:32]


class _Security:
    """The standard security handler, revision 2 (40-bit RC4)."""

    def __init__(self, user: str, owner: str, file_id: bytes):
        self.p = -4
        owner_key = hashlib.md5(_padded(owner or user)).digest()[:5]
        self.o = _rc4(owner_key, _padded(user))
        perms = (self.p & 0xFFFFFFFF).to_bytes(4, "little")
        self.key = hashlib.md5(_padded(user) + self.o + perms + file_id).digest()[:5]
        self.u = _rc4(self.key, _PAD)

    def encrypt(self, num: int, data: bytes) -> bytes:
        seed = self.key + num.to_bytes(3, "little") + (0).to_bytes(2, "little")
        return _rc4(hashlib.md5(seed).digest()[:10], data)

    def dictionary(self) -> bytes:
        return (
            b"<< /Filter /Standard /V 1 /R 2 /O <"
            + self.o.hex().encode()
            + b"> /U <"
            + self.u.hex().encode()
            + b"> /P "
            + str(self.p).encode()
            + b" >>"
        )


def build_pdf(
    pages: Sequence[PdfPage],
    *,
    labels: str | None = None,
    password: str | None = None,
) -> bytes:
    """A PDF whose pages are JPEG images, with optional page labels, rotation and password.

    Args:
        pages: the pages.
        labels: a ``/PageLabels`` number tree body, e.g. ``"0 << /S /r >> 2 << /S /D >>"``
            (roman numerals for pages 1-2, then decimal from 1).
        password: encrypt with this user password (RC4, revision 2).
    """
    file_id = hashlib.md5(b"arli-ocr-test").digest()
    security = _Security(password, password + "-owner", file_id) if password else None
    objects: dict[int, bytes] = {}
    streams: dict[int, tuple[bytes, bytes]] = {}
    kids = []
    next_num = 3
    for page in pages:
        page_num, content_num, image_num = next_num, next_num + 1, next_num + 2
        font_num = next_num + 3
        next_num += 4
        kids.append(f"{page_num} 0 R")
        image = page.image.convert("RGB")
        w_pt, h_pt = page.size or (float(image.width), float(image.height))
        rotate = f" /Rotate {page.rotate}" if page.rotate else ""
        objects[page_num] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w_pt:g} {h_pt:g}]{rotate} "
            f"/Resources << /XObject << /Im0 {image_num} 0 R >> /Font << /F1 {font_num} 0 R >> "
            f">> /Contents {content_num} 0 R >>"
        ).encode()
        objects[font_num] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
        draw = f"q {w_pt:g} 0 0 {h_pt:g} 0 0 cm /Im0 Do Q".encode() + _text_ops(page, h_pt)
        streams[content_num] = (b"<<", draw)
        jpeg = encode(image, "JPEG", quality=90)
        head = (
            f"<< /Type /XObject /Subtype /Image /Width {image.width} /Height {image.height} "
            "/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode"
        ).encode()
        streams[image_num] = (head, jpeg)
    page_labels = f" /PageLabels << /Nums [{labels}] >>" if labels else ""
    objects[1] = f"<< /Type /Catalog /Pages 2 0 R{page_labels} >>".encode()
    objects[2] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    for num, (head, data) in streams.items():
        body = security.encrypt(num, data) if security else data
        objects[num] = head + f" /Length {len(body)} >>\nstream\n".encode() + body + b"\nendstream"
    encrypt_num = None
    if security:
        encrypt_num = next_num
        objects[encrypt_num] = security.dictionary()
        next_num += 1
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for num in sorted(objects):
        offsets[num] = len(out)
        out += f"{num} 0 obj\n".encode() + objects[num] + b"\nendobj\n"
    xref = len(out)
    size = max(objects) + 1
    out += f"xref\n0 {size}\n0000000000 65535 f \n".encode()
    for num in range(1, size):
        out += f"{offsets[num]:010d} 00000 n \n".encode()
    trailer = f"<< /Size {size} /Root 1 0 R /ID [<{file_id.hex()}> <{file_id.hex()}>]"
    if encrypt_num:
        trailer += f" /Encrypt {encrypt_num} 0 R"
    out += f"trailer\n{trailer} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def sizes_reply(sizes: Sequence[tuple[int, int]]) -> list[str]:
    """The reference server's default answers for pages of these pixel sizes."""
    return [f"An image of {w}x{h} pixels." for w, h in sizes]

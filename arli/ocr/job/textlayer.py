r"""When a PDF page's embedded text layer is good enough to use instead of the model.

A born-digital page carries its text; a scanned one has none, or an OCR layer of unknown
quality, or glyphs without a usable Unicode mapping (``\ufffd``, private-use code points,
control characters: what a PDF with a broken ``/ToUnicode`` map gives). The rules are
measurable and all must hold (:func:`judge`):

- at least :data:`MIN_CHARS` non-space characters on the page;
- at least :data:`MIN_PRINTABLE` of the characters printable (or whitespace);
- at most :data:`MAX_GARBAGE` of them glyph garbage (replacement characters, private use,
  controls);
- at least :data:`MIN_WORDLIKE` of the non-space characters letters or digits (a layer of
  stray punctuation from vector art is not text).

:func:`anchored_prompt` is the olmOCR-style hint: the layer's text sent with the image so
the model can keep its spelling (off by default).
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "MAX_GARBAGE",
    "MIN_CHARS",
    "MIN_PRINTABLE",
    "MIN_WORDLIKE",
    "anchored_prompt",
    "judge",
]

#: Non-space characters a page needs before its layer is used.
MIN_CHARS = 100
#: Share of printable characters (whitespace counts as printable).
MIN_PRINTABLE = 0.97
#: Share of glyph garbage allowed (U+FFFD, private-use, control characters).
MAX_GARBAGE = 0.01
#: Share of letters and digits among non-space characters.
MIN_WORDLIKE = 0.5
#: The longest layer text sent as a hint (characters).
ANCHOR_MAX_CHARS = 6000


def _is_garbage(ch: str) -> bool:
    if ch == "\ufffd":
        return True
    category = unicodedata.category(ch)
    return category in ("Co", "Cs", "Cn") or (category == "Cc" and ch not in "\n\r\t\f")


def judge(text: str | None) -> tuple[bool, str]:
    """Whether a page's layer is good enough to use, and why (or why not).

    Returns:
        ``(ok, reason)``: ``reason`` names the rule that failed, or the figures that passed.
    """
    if not text:
        return False, "no text layer"
    chars = [c for c in text if not c.isspace()]
    if len(chars) < MIN_CHARS:
        return False, f"{len(chars)} characters < {MIN_CHARS}"
    total = len(text)
    printable = sum(1 for c in text if c.isprintable() or c.isspace()) / total
    if printable < MIN_PRINTABLE:
        return False, f"{printable:.1%} printable < {MIN_PRINTABLE:.0%}"
    garbage = sum(1 for c in text if _is_garbage(c)) / total
    if garbage > MAX_GARBAGE:
        return False, f"{garbage:.1%} glyph garbage > {MAX_GARBAGE:.0%}"
    wordlike = sum(1 for c in chars if c.isalnum()) / len(chars)
    if wordlike < MIN_WORDLIKE:
        return False, f"{wordlike:.0%} letters/digits < {MIN_WORDLIKE:.0%}"
    return True, f"{len(chars)} characters, {printable:.0%} printable, {garbage:.1%} garbage"


def clean(text: str) -> str:
    """A layer's text as page text: PDFium's CR LF line ends made LF, trailing space gone."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


def anchored_prompt(prompt: str, layer: str) -> str:
    """``prompt`` followed by the page's text layer as a hint (the image stays the truth)."""
    hint = clean(layer)[:ANCHOR_MAX_CHARS]
    return (
        f"{prompt}\n\nThe PDF's embedded text layer for this page follows; it may be "
        "incomplete, out of order or wrong. Use it only to check spelling and numbers, "
        f"and transcribe what the image shows.\n<text_layer>\n{hint}\n</text_layer>"
    )

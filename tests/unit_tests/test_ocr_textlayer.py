"""The measurable rules that decide when a PDF page's text layer replaces the model."""

from __future__ import annotations

import pytest

from arli.ocr.job.textlayer import MIN_CHARS, anchored_prompt, clean, judge

GOOD = "The committee met on 4 March 2024 and approved the budget for the new library. " * 2


@pytest.mark.parametrize(
    ("text", "ok", "reason"),
    [
        (GOOD, True, "characters"),
        (None, False, "no text layer"),
        ("", False, "no text layer"),
        ("p. 4", False, f"< {MIN_CHARS}"),
        ("a" * 99, False, f"99 characters < {MIN_CHARS}"),
        (GOOD + "\x00\x01\x02\x03\x04\x05" * 2, False, "printable"),
        (GOOD[:150] + "\ufffd" * 3, False, "glyph garbage"),
        (GOOD[:150] + "\ue000\ue001\ue002", False, "glyph garbage"),
        ("-- .. ,, ;; ** " * 20, False, "letters/digits"),
    ],
)
def test_judge(text: str | None, ok: bool, reason: str) -> None:
    verdict, why = judge(text)
    assert verdict is ok
    assert reason in why


def test_clean_and_anchor() -> None:
    assert clean("a  \r\nb\r\n\r\n") == "a\nb"
    prompt = anchored_prompt("Transcribe.", "line one\r\nline two")
    assert prompt.startswith("Transcribe.")
    assert "<text_layer>\nline one\nline two\n</text_layer>" in prompt
    assert len(anchored_prompt("p", "x" * 10_000)) < 7000

"""Prompt presets, the request messages, fence stripping and repetition-loop detection."""

from __future__ import annotations

import pytest

from arli.ocr.prompts import (
    MARKDOWN_PROMPT,
    TEXT_PROMPT,
    build_messages,
    looks_repetitive,
    resolve_prompt,
    strip_code_fences,
)


def test_presets_ask_for_verbatim_text_and_empty_answers_for_blank_pages() -> None:
    for prompt in (MARKDOWN_PROMPT, TEXT_PROMPT):
        assert "verbatim" in prompt
        assert "no text, return an empty response" in prompt
        assert "code fences" in prompt
        assert "commentary" in prompt
    assert "Markdown tables" in MARKDOWN_PROMPT
    assert "plain text" in TEXT_PROMPT
    assert resolve_prompt("markdown", None) == MARKDOWN_PROMPT
    assert resolve_prompt("text", None) == TEXT_PROMPT
    assert resolve_prompt("text", "Read it.") == "Read it."
    with pytest.raises(ValueError, match="output_format"):
        resolve_prompt("html", None)


def test_one_user_message_with_prompt_and_image() -> None:
    uri = "data:image/jpeg;base64,AAAA"
    assert build_messages("Read.", uri) == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Read."},
                {"type": "image_url", "image_url": {"url": uri}},
            ],
        }
    ]
    with_system = build_messages("Read.", uri, system_prompt="You are an OCR engine.")
    assert with_system[0] == {"role": "system", "content": "You are an OCR engine."}
    assert len(with_system) == 2


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("# Title\n\nBody", "# Title\n\nBody"),
        ("```markdown\n# Title\n\nBody\n```", "# Title\n\nBody"),
        ("```md\n| a | b |\n|---|---|\n```\n", "| a | b |\n|---|---|"),
        ("```\nplain\n```", "plain"),
        ("  ```text\nhello\n```  ", "hello"),
        ("~~~markdown\nhello\n~~~", "hello"),
        ("```markdown\n# Cut off mid-page", "# Cut off mid-page"),  # no closing fence
        ("```python\nprint(1)\n```", "```python\nprint(1)\n```"),  # a code page keeps it
        (
            "```markdown\nIntro\n```python\nx = 1\n```\nOutro\n```",
            "Intro\n```python\nx = 1\n```\nOutro",
        ),
        ("Text with ```inline``` fences", "Text with ```inline``` fences"),
        ("Before\n```\ncode\n```", "Before\n```\ncode\n```"),  # not wrapping everything
        ("", ""),
        ("```markdown\n```", ""),  # a blank page, fenced
    ],
)
def test_strip_code_fences(answer: str, expected: str) -> None:
    assert strip_code_fences(answer) == expected


@pytest.mark.parametrize(
    "text",
    [
        "the " * 100,
        "Intro paragraph.\n" + "| 1 | 2 | 3 |\n" * 40,
        "Header\n" + "." * 400,
        "Some text. " + "I am stuck in a loop. " * 30,
    ],
)
def test_repetition_loops_are_detected(text: str) -> None:
    assert looks_repetitive(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "short",
        "A normal page of text with varied words, numbers 1, 2, 3 and punctuation. " * 2,
        "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n",
        "Chapter 1 " + "." * 40 + " 5\nChapter 2 " + "." * 40 + " 9\n",
        "\n".join(f"{i}. item number {i}" for i in range(1, 60)),
    ],
)
def test_ordinary_text_is_not_a_loop(text: str) -> None:
    assert not looks_repetitive(text)

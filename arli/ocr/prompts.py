"""Prompt presets for page transcription, the request messages, and answer clean-up.

The presets ask for a verbatim transcription (not a summary, not a description of the
page), with no commentary and no code fences, and for an empty answer when the page has
no text (vision models otherwise invent text for blank pages). Answers are cleaned of a
fence wrapping the whole answer, which models add anyway; fences inside the text stay.
"""

from __future__ import annotations

import contextvars
import re
from typing import Any, Literal

__all__ = [
    "MARKDOWN_PROMPT",
    "PROMPT_OVERRIDE",
    "PROMPTS",
    "TEXT_PROMPT",
    "OutputFormat",
    "build_messages",
    "looks_repetitive",
    "resolve_prompt",
    "strip_code_fences",
]

OutputFormat = Literal["markdown", "text"]

#: A prompt replacing the engine's for the requests of the current task (a bulk job sets
#: it per page, e.g. to send the page's text layer as a hint); ``None``: the engine's.
PROMPT_OVERRIDE: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "arli_ocr_prompt_override", default=None
)

#: The default preset: a verbatim Markdown transcription.
MARKDOWN_PROMPT = (
    "Transcribe all the text on this page image verbatim, in natural reading order, as "
    "Markdown. Keep the original wording, spelling, numbers and line structure; use Markdown "
    "headings, lists and emphasis where the page has them, write tables as Markdown tables "
    "and mathematics as LaTeX. Include headers, footers, captions and page numbers. Do not "
    "summarize, translate, correct or describe the page, add no commentary or explanation, "
    "and do not wrap the output in code fences. If the page has no text, return an empty "
    "response."
)

#: The ``output_format="text"`` preset: a verbatim plain-text transcription.
TEXT_PROMPT = (
    "Transcribe all the text on this page image verbatim, in natural reading order, as plain "
    "text. Keep the original wording, spelling, numbers and line breaks; separate paragraphs "
    "with a blank line and table cells with a tab. Include headers, footers, captions and "
    "page numbers. Use no Markdown or other formatting. Do not summarize, translate, correct "
    "or describe the page, add no commentary or explanation, and do not wrap the output in "
    "code fences. If the page has no text, return an empty response."
)

PROMPTS: dict[str, str] = {"markdown": MARKDOWN_PROMPT, "text": TEXT_PROMPT}


def resolve_prompt(output_format: str, prompt: str | None) -> str:
    """The user prompt: ``prompt`` when given, else the preset for ``output_format``.

    Raises:
        ValueError: for an unknown ``output_format``.
    """
    if prompt is not None:
        return prompt
    try:
        return PROMPTS[output_format]
    except KeyError:
        msg = f"output_format must be 'markdown' or 'text', not {output_format!r}"
        raise ValueError(msg) from None


def build_messages(
    prompt: str, image_data_uri: str, *, system_prompt: str | None = None
) -> list[dict[str, Any]]:
    """One user message holding the prompt and the page image (after an optional system one)."""
    messages: list[dict[str, Any]] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.append(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": prompt},
                {"type": "image_url", "image_url": {"url": image_data_uri}},
            ],
        }
    )
    return messages


_FENCE_LANGS = frozenset({"", "markdown", "md", "text", "txt", "plain", "plaintext", "html"})
_OPEN_RE = re.compile(r"\A(`{3,}|~{3,})[ \t]*([\w+-]*)[ \t]*\r?\n")
_CLOSE_RE = re.compile(r"(?:\A|\r?\n)[ \t]*(`{3,}|~{3,})\Z")
_FENCE_LINE_RE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+-]*)[ \t]*$")


def _balanced(inner: str) -> bool:
    """Whether every code block opened inside ``inner`` is closed inside it too."""
    open_fence: str | None = None
    for line in inner.splitlines():
        m = _FENCE_LINE_RE.match(line)
        if m is None:
            continue
        fence, lang = m.group(1), m.group(2)
        if open_fence is None:
            open_fence = fence
        elif not lang and fence[0] == open_fence[0] and len(fence) >= len(open_fence):
            open_fence = None
    return open_fence is None


def strip_code_fences(text: str) -> str:
    """Remove a code fence wrapping the whole answer (```` ```markdown ... ``` ````).

    Only a fence around everything is removed, and only for a Markdown/text language tag
    (or none): a page that is a Python listing keeps its fence, and code blocks inside the
    text stay. An opening fence whose closing one is missing (a cut-off answer) is removed
    too.
    """
    text = text.strip()
    opening = _OPEN_RE.match(text)
    if opening is None or opening.group(2).lower() not in _FENCE_LANGS:
        return text
    fence = opening.group(1)
    body = text[opening.end() :]
    closing = _CLOSE_RE.search(body)
    if closing is not None and closing.group(1)[0] == fence[0]:
        inner = body[: closing.start()]
        return inner.strip() if _balanced(inner) else text
    if "\n" + fence[0] * 3 not in "\n" + body:  # cut off before its closing fence
        return body.strip()
    return text


def looks_repetitive(
    text: str, *, min_repeats: int = 10, min_span: int = 200, max_unit: int = 200
) -> bool:
    """Whether ``text`` ends in a repetition loop (one unit repeated over and over).

    A loop is a unit of 1 to ``max_unit`` characters repeated at least ``min_repeats``
    times, covering at least ``min_span`` characters at the end of the answer: what a
    vision model at temperature 0 produces when it gets stuck (a table row, a word, a
    line of dots). Ordinary text never satisfies both conditions.
    """
    tail = text.rstrip()[-4000:]
    n = len(tail)
    if n < min_span:
        return False
    for unit in range(1, min(max_unit, n // min_repeats) + 1):
        i = n - 1
        while i - unit >= 0 and tail[i] == tail[i - unit]:
            i -= 1
        span = (n - 1 - i) + unit
        if span >= min_span and span >= unit * min_repeats:
            return True
    return False

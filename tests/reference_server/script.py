"""Scripted replies, so that standard test prompts get meaningful answers.

A :class:`ScriptEntry` matches the text of the last user message and supplies
a reply, a tool call and/or reasoning. User entries are consulted before
:data:`DEFAULT_SCRIPT`, which covers the ``langchain-tests`` chat integration
prompts.

Regex entries (``match="re:…"``) can use their capture groups in ``reply``,
``reasoning`` and in string values of ``tool_call`` arguments: ``$0`` is the
whole match, ``$1`` … ``$9`` the groups. A string value that is exactly
``"$N:int"`` or ``"$N:float"`` is replaced by the group converted to a number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_SCRIPT", "JOKE_JSON", "JOKE_TEXT", "ScriptEntry", "ScriptMatch", "find_matches"]

JOKE_TEXT = "Why don't cats play poker in the jungle? Too many cheetahs!"
JOKE_JSON = (
    '{"setup": "Why don\'t cats play poker in the jungle?", "punchline": "Too many cheetahs!"}'
)
GREETING = "Hello! How can I help you today?"

_GROUP_REF = re.compile(r"\$(\d)")
_TYPED_REF = re.compile(r"^\$(\d):(int|float)$")


@dataclass
class ScriptEntry:
    """One scripted reply.

    Attributes:
        match: Case-insensitive substring of the last user message text, or a
            regular expression (searched, case-insensitive) if it starts with ``"re:"``.
            The empty string matches everything.
        reply: Text content of the answer.
        tool_call: ``(function name, arguments)``; used only when that tool is
            offered in the request (and ``tool_choice`` allows a call).
        reasoning: Reasoning text, emitted as ``reasoning_content`` / ``reasoning``.
        when_tool_result: Match only when the last message is a tool result
            (entries without it match only when it is not).
        has_image: ``True``: only when the last user message carries an image;
            ``False``: only when it does not; ``None``: either.
        image_size: only when the last user message carries an image of this size
            (``"WxH"``), so different pages of a document can get different answers.
    """

    match: str
    reply: str | None = None
    tool_call: tuple[str, dict[str, Any]] | None = None
    reasoning: str | None = None
    when_tool_result: bool = False
    has_image: bool | None = None
    image_size: str | None = None

    def search(self, text: str) -> tuple[str, ...] | None:
        """Match this entry against ``text``.

        Args:
            text: The last user message text (or completion prompt).

        Returns:
            ``(whole match, group 1, …)`` when it matches, else ``None``.
        """
        if self.match.startswith("re:"):
            m = re.search(self.match[3:], text, re.IGNORECASE | re.DOTALL)
            if m is None:
                return None
            return (m.group(0), *(g or "" for g in m.groups()))
        if self.match.lower() in text.lower():
            return (self.match,)
        return None


def _substitute(value: Any, groups: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        typed = _TYPED_REF.match(value)
        if typed and int(typed.group(1)) < len(groups):
            raw = groups[int(typed.group(1))]
            try:
                return int(raw) if typed.group(2) == "int" else float(raw)
            except ValueError:
                return raw

        def repl(m: re.Match[str]) -> str:
            index = int(m.group(1))
            return groups[index] if index < len(groups) else m.group(0)

        return _GROUP_REF.sub(repl, value)
    if isinstance(value, dict):
        return {k: _substitute(v, groups) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, groups) for v in value]
    return value


@dataclass
class ScriptMatch:
    """A script entry that matched, with its capture groups.

    Attributes:
        entry: The matching entry.
        groups: ``(whole match, group 1, …)``.
    """

    entry: ScriptEntry
    groups: tuple[str, ...]

    @property
    def reply(self) -> str | None:
        """The reply with group references substituted."""
        return None if self.entry.reply is None else _substitute(self.entry.reply, self.groups)

    @property
    def reasoning(self) -> str | None:
        """The reasoning with group references substituted."""
        if self.entry.reasoning is None:
            return None
        return str(_substitute(self.entry.reasoning, self.groups))

    @property
    def tool_name(self) -> str | None:
        """Name of the scripted tool call, if any."""
        return self.entry.tool_call[0] if self.entry.tool_call else None

    @property
    def tool_args(self) -> dict[str, Any]:
        """Arguments of the scripted tool call with group references substituted."""
        if not self.entry.tool_call:
            return {}
        return dict(_substitute(dict(self.entry.tool_call[1]), self.groups))


def find_matches(
    entries: list[ScriptEntry],
    text: str,
    *,
    tool_result: bool,
    has_image: bool,
    images: tuple[str, ...] = (),
) -> list[ScriptMatch]:
    """Return every entry that matches, in script order.

    Args:
        entries: User entries followed by the default script.
        text: Last user message text (chat) or the prompt (completions).
        tool_result: Whether the last message is a tool result.
        has_image: Whether the last user message carries an image.
        images: The sizes (``"WxH"``) of the last user message's images.

    Returns:
        The matches, best first.
    """
    out = []
    for entry in entries:
        if entry.when_tool_result != tool_result:
            continue
        if entry.has_image is not None and entry.has_image != has_image:
            continue
        if entry.image_size is not None and entry.image_size not in images:
            continue
        groups = entry.search(text)
        if groups is not None:
            out.append(ScriptMatch(entry=entry, groups=groups))
    return out


DEFAULT_SCRIPT: list[ScriptEntry] = [
    ScriptEntry(
        match="magic_function_no_args",
        tool_call=("magic_function_no_args", {}),
        reply="The value of magic_function_no_args() is 5.",
    ),
    ScriptEntry(
        match="re:magic_function\\((-?\\d+)\\)",
        tool_call=("magic_function", {"input": "$1:int"}),
        reply="The value of magic_function($1) is 5.",
    ),
    ScriptEntry(
        match="re:what is (-?\\d+) \\+ (-?\\d+)",
        tool_call=("my_adder_tool", {"a": "$1:int", "b": "$2:int"}),
        reply="$1 + $2 = 7.",
    ),
    ScriptEntry(
        match="weather in san francisco",
        tool_call=("get_weather", {"location": "San Francisco, CA"}),
        reply="It is sunny and 18 degrees in San Francisco.",
    ),
    ScriptEntry(
        match="re:weather (?:in|for) ([^?.!]+)",
        tool_call=("get_weather", {"location": "$1"}),
        reply="It is sunny and 18 degrees in $1.",
    ),
    ScriptEntry(
        match="pirate greeting",
        tool_call=("greeting_generator", {"answer_style": "pirate"}),
        reply="Ahoy there, matey!",
    ),
    ScriptEntry(
        match="re:customer named '([^']+)'(?: \\(([^)]*)\\))?(?: - (.+))?",
        tool_call=("unicode_customer", {"customer_name": "$1", "description": "$3"}),
        reply="Created customer $1.",
    ),
    ScriptEntry(match="re:joke about cats.*json|json.*joke about cats", reply=JOKE_JSON),
    ScriptEntry(match="joke about cats", reply=JOKE_TEXT),
    ScriptEntry(match="joke about cats", reply=JOKE_JSON),
    ScriptEntry(match="re:\\bjoke\\b", reply=JOKE_TEXT),
    ScriptEntry(
        match="2 haikus",
        reply=(
            "An old silent pond\nA frog jumps into the pond\nSplash! Silence again.\n\n"
            "Autumn moonlight falls\nA worm digs silently\nInto the chestnut."
        ),
    ),
    ScriptEntry(
        match="story about a cat",
        reply=(
            "Once upon a time, a curious cat named Whiskers lived in a quiet village. "
            "Every night she climbed onto the roof to watch the stars. "
            "One evening she saw a shooting star and made a wish. "
            "The next morning, a warm bowl of milk was waiting by the door."
        ),
    ),
    ScriptEntry(
        match="lighthouse keeper",
        reply=(
            "Every night for forty years the keeper climbed the spiral stairs to light a lamp "
            "that no passing ship ever thanked him for."
        ),
    ),
    ScriptEntry(
        match="how are you",
        reply="I'm doing well, thank you for asking! How can I help you today?",
    ),
    ScriptEntry(
        match="re:^\\W*(hello|hey|hi|hiya|howdy|greetings|good morning)\\b", reply=GREETING
    ),
]

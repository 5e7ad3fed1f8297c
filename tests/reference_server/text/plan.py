"""The generation plan: constraints, decisions, emitted steps and the token budget
(stop strings, ``max_tokens``), plus the seeded ids.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import zlib
from dataclasses import dataclass, field
from typing import Any

from tests.reference_server import schema_gen
from tests.reference_server.text.tokenizer import Tokenizer


@dataclass
class _Constraint:
    kind: str  # json | json_object | regex | choice | grammar
    spec: Any = None
    grammar: schema_gen.Grammar | None = None

    def satisfied_by(self, text: str) -> bool:
        try:
            if self.kind == "json":
                return schema_gen.validate_schema(json.loads(text), self.spec)
            if self.kind == "json_object":
                return isinstance(json.loads(text), dict)
        except ValueError:
            return False
        if self.kind == "regex":
            return re.fullmatch(self.spec, text) is not None
        if self.kind == "choice":
            return text in self.spec
        if self.kind == "grammar" and self.grammar is not None:
            return schema_gen.grammar_matches(self.grammar, text)
        return False

    def generate(self, rng: random.Random, fallback_text: str) -> str:
        if self.kind == "json":
            value = schema_gen.generate_from_schema(self.spec, rng)
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if self.kind == "json_object":
            return json.dumps(
                {"response": fallback_text}, ensure_ascii=False, separators=(",", ":")
            )
        if self.kind == "regex":
            return schema_gen.generate_from_regex(self.spec, rng)
        if self.kind == "choice":
            return str(self.spec[0])
        assert self.grammar is not None
        return schema_gen.generate_from_grammar(self.grammar, rng)


@dataclass
class _ToolCall:
    id: str
    name: str
    arguments: str  # JSON text


@dataclass
class _Decision:
    reasoning: str | None = None
    content: str | None = None
    tool_calls: list[_ToolCall] = field(default_factory=list)
    tool_mode: str | None = None  # named | required | auto


@dataclass
class _Step:
    kind: str  # content | reasoning | tool_name | tool_args
    text: str
    tool: _ToolCall | None = None


@dataclass
class _Output:
    steps: list[_Step]
    finish_reason: str
    stop_reason: str | int | None
    completion_tokens: int
    reasoning: str | None
    content: str | None
    tool_calls: list[_ToolCall]


_FILLER = (
    " It was a quiet morning in a small town by the sea, and the bakery on the corner had just"
    " opened its doors."
)
_COMPLETION_CONTINUATION = (
    " a small town in the mountains. The people there lived simple lives, and every morning"
    " the baker opened his shop before sunrise."
)


def _stable_seed(*parts: Any) -> int:
    return zlib.crc32(json.dumps(parts, sort_keys=True, default=str).encode())


def _hex_id(length: int) -> str:
    return secrets.token_hex((length + 1) // 2)[:length]


def _budget(
    reasoning: str | None,
    content: str,
    *,
    stops: list[str],
    include_stop: bool,
    max_tokens: int,
) -> _Output:
    """Turn planned text into emitted steps, honouring stop strings and max_tokens."""
    steps: list[_Step] = []
    r_tokens = Tokenizer.split(reasoning or "")
    if len(r_tokens) >= max_tokens and r_tokens:
        steps = [_Step("reasoning", t) for t in r_tokens[:max_tokens]]
        return _Output(steps, "length", None, max_tokens, "".join(r_tokens[:max_tokens]), None, [])
    steps = [_Step("reasoning", t) for t in r_tokens]
    remaining = max_tokens - len(r_tokens)
    tokens = Tokenizer.split(content)
    # Stop strings: earliest occurrence wins.
    best: tuple[int, str] | None = None
    for stop in stops:
        if not stop:
            continue
        idx = content.find(stop)
        if idx >= 0 and (best is None or idx < best[0]):
            best = (idx, stop)
    if best is not None:
        idx, stop = best
        end = idx + len(stop)
        consumed, needed = 0, 0
        for tok in tokens:
            needed += 1
            consumed += len(tok)
            if consumed >= end:
                break
        if needed <= remaining:
            visible = content[:end] if include_stop else content[:idx]
            vis_tokens = Tokenizer.split(visible)
            steps += [_Step("content", t) for t in vis_tokens] + [_Step("content", "")]
            return _Output(steps, "stop", stop, len(r_tokens) + needed, reasoning, visible, [])
    if len(tokens) + 1 <= remaining:
        steps += [_Step("content", t) for t in tokens] + [_Step("content", "")]
        return _Output(steps, "stop", None, len(r_tokens) + len(tokens) + 1, reasoning, content, [])
    kept = tokens[:remaining]
    steps += [_Step("content", t) for t in kept]
    return _Output(steps, "length", None, max_tokens, reasoning, "".join(kept), [])


def _split_fragments(text: str, pieces: int = 4) -> list[str]:
    tokens = Tokenizer.split(text)
    if not tokens:
        return [text]
    size = max(1, -(-len(tokens) // pieces))
    return ["".join(tokens[i : i + size]) for i in range(0, len(tokens), size)]


@dataclass
class _ChatContext:
    last_user_text: str
    tool_result: bool
    tool_result_text: str
    images: list[str]
    tools: dict[str, dict[str, Any]]
    tool_choice: Any
    constraint: _Constraint | None

"""Produce (and check) values that satisfy a JSON schema, a simple regex or a simple GBNF grammar.

This is the reference server's stand-in for guided decoding: whenever a request
carries a constraint the engine would honour, the server's output must satisfy
it. Everything here is deterministic given the ``random.Random`` passed in.

Supported subsets:

* JSON schema: ``type`` (incl. lists), ``properties``, ``required``,
  ``additionalProperties``, ``enum``, ``const``, ``items`` / ``prefixItems``,
  ``minItems`` / ``maxItems`` / ``uniqueItems``, nested objects, ``anyOf`` /
  ``oneOf`` / ``allOf``, ``$ref`` into ``$defs`` / ``definitions``, numeric
  ``minimum`` / ``maximum`` / ``exclusiveMinimum`` / ``exclusiveMaximum`` /
  ``multipleOf``, string ``pattern`` (simple regexes), ``minLength`` /
  ``maxLength`` and a few ``format`` values.
* Regex: literals, escapes (``\\d \\w \\s`` and their negations, ``\\n`` …),
  classes (``[A-Z0-9]``, negated classes), ``.``, quantifiers
  (``? * + {n} {n,} {n,m}``, lazy suffixes), groups (capturing, ``(?:…)``,
  named), alternation and anchors.
* GBNF: ``name ::= …`` rules with string literals, character classes, ``.``,
  rule references, sequences, alternation, parentheses and the quantifiers
  ``? * + {m} {m,} {m,n}``; ``#`` comments.
"""

from __future__ import annotations

import json
import math
import random
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Grammar",
    "SchemaError",
    "generate_from_grammar",
    "generate_from_regex",
    "generate_from_schema",
    "grammar_matches",
    "parse_gbnf",
    "schema_errors",
    "validate_schema",
]


class SchemaError(ValueError):
    """Raised when a constraint is unsupported or unsatisfiable."""


# --------------------------------------------------------------------------------------
# JSON schema
# --------------------------------------------------------------------------------------

_STRING_HINTS: tuple[tuple[str, str], ...] = (
    ("punchline", "Too many cheetahs!"),
    ("setup", "Why don't cats play poker in the jungle?"),
    ("customer_name", "Alice Example"),
    ("first_name", "Alice"),
    ("last_name", "Example"),
    ("name", "Alice"),
    ("email", "alice@example.com"),
    ("url", "https://example.com"),
    ("city", "Paris"),
    ("location", "San Francisco, CA"),
    ("country", "France"),
    ("address", "1 Example Street"),
    ("description", "A short description."),
    ("title", "An example title"),
    ("summary", "A short summary."),
    ("answer_style", "pirate"),
    ("answer", "42"),
    ("reason", "Because it is an example."),
    ("text", "Example text."),
    ("unit", "celsius"),
    ("date", "2026-01-01"),
)

_MAX_DEPTH = 12


def _canonical(value: Any) -> str:
    """JSON text used to compare values (so that ``True != 1``)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _resolve_ref(ref: str, root: Any) -> Any:
    if not ref.startswith("#"):
        raise SchemaError(f"unsupported $ref {ref!r} (only local references)")
    node = root
    for raw in ref[1:].split("/"):
        if not raw:
            continue
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise SchemaError(f"unresolvable $ref {ref!r}")
    return node


def _deref(schema: Any, root: Any) -> Any:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema:
        seen += 1
        if seen > 32:
            raise SchemaError("$ref cycle")
        target = _resolve_ref(schema["$ref"], root)
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **rest} if isinstance(target, dict) else target
    return schema


def _merge_all_of(schema: dict[str, Any], root: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for raw in schema.get("allOf", []):
        sub = _deref(raw, root)
        if not isinstance(sub, dict):
            continue
        if "allOf" in sub:
            sub = _merge_all_of(sub, root)
        for key, value in sub.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            else:
                merged.setdefault(key, value)
    return merged


def _string_hint(key: str | None) -> str:
    if key:
        low = key.lower()
        for needle, value in _STRING_HINTS:
            if needle in low:
                return value
        return f"example {key}"
    return "example"


def _infer_type(schema: dict[str, Any]) -> str:
    declared = schema.get("type")
    if isinstance(declared, list):
        non_null = [t for t in declared if t != "null"]
        return str(non_null[0]) if non_null else "null"
    if isinstance(declared, str):
        return declared
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema or "minItems" in schema:
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
        return "number"
    return "string"


def _bounds(schema: dict[str, Any], integer: bool) -> tuple[float | None, float | None]:
    lo: float | None = schema.get("minimum")
    hi: float | None = schema.get("maximum")
    ex_lo = schema.get("exclusiveMinimum")
    ex_hi = schema.get("exclusiveMaximum")
    step = 1 if integer else 0.01
    if ex_lo is True and lo is not None:  # draft 4
        lo = lo + step
    elif isinstance(ex_lo, (int, float)) and not isinstance(ex_lo, bool):
        lo = ex_lo + step if lo is None else max(lo, ex_lo + step)
    if ex_hi is True and hi is not None:
        hi = hi - step
    elif isinstance(ex_hi, (int, float)) and not isinstance(ex_hi, bool):
        hi = ex_hi - step if hi is None else min(hi, ex_hi - step)
    return lo, hi


def _gen_integer(schema: dict[str, Any], rng: random.Random) -> int:
    lo_f, hi_f = _bounds(schema, integer=True)
    lo = math.ceil(lo_f) if lo_f is not None else None
    hi = math.floor(hi_f) if hi_f is not None else None
    a = lo if lo is not None else (min(hi, 0) - 10 if hi is not None else 1)
    b = hi if hi is not None else a + 100
    if a > b:
        raise SchemaError(f"empty integer range [{a}, {b}]")
    start = max(a, 1) if max(a, 1) <= b else a
    end = min(b, start + 99)
    value = rng.randint(start, end)
    multiple = schema.get("multipleOf")
    if isinstance(multiple, int) and multiple > 0:
        value = math.ceil(value / multiple) * multiple
        if value > b:
            value = math.ceil(a / multiple) * multiple
        if value > b or value < a:
            raise SchemaError("no multiple of multipleOf in range")
    return value


def _gen_number(schema: dict[str, Any], rng: random.Random) -> float | int:
    multiple = schema.get("multipleOf")
    if isinstance(multiple, (int, float)) and multiple > 0 and float(multiple).is_integer():
        return _gen_integer(schema, rng)
    lo, hi = _bounds(schema, integer=False)
    a = float(lo) if lo is not None else (min(float(hi), 0.0) - 10.0 if hi is not None else 0.5)
    b = float(hi) if hi is not None else a + 100.0
    if a > b:
        raise SchemaError(f"empty number range [{a}, {b}]")
    value = round(rng.uniform(a, min(b, a + 100.0)), 2)
    value = min(max(value, a), b)
    if isinstance(multiple, (int, float)) and multiple > 0:
        value = round(math.ceil(a / multiple) * multiple, 10)
        if value > b:
            raise SchemaError("no multiple of multipleOf in range")
    return value


def _fit_length(text: str, schema: dict[str, Any]) -> str:
    min_len = int(schema.get("minLength", 0))
    max_len = schema.get("maxLength")
    filler = "abcdefghij"
    while len(text) < min_len:
        text += filler[len(text) % len(filler)]
    if max_len is not None and len(text) > int(max_len):
        text = text[: int(max_len)].rstrip() or text[: int(max_len)]
        if len(text) < min_len:  # pragma: no cover - only if maxLength < minLength
            raise SchemaError("minLength > maxLength")
    return text


_FORMAT_VALUES = {
    "date-time": "2026-01-01T12:00:00Z",
    "date": "2026-01-01",
    "time": "12:00:00",
    "email": "alice@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "hostname": "example.com",
}


def _gen_string(schema: dict[str, Any], rng: random.Random, key: str | None) -> str:
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        for attempt in range(20):
            candidate = generate_from_regex(pattern, random.Random(rng.random() + attempt))
            if len(candidate) >= int(schema.get("minLength", 0)) and (
                schema.get("maxLength") is None or len(candidate) <= int(schema["maxLength"])
            ):
                return candidate
        raise SchemaError(f"cannot satisfy pattern {pattern!r} with the length limits")
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMAT_VALUES:
        return _FORMAT_VALUES[fmt]
    return _fit_length(_string_hint(key), schema)


def _gen(schema: Any, root: Any, rng: random.Random, key: str | None, depth: int) -> Any:
    if depth > _MAX_DEPTH * 2:
        raise SchemaError("schema nesting too deep")
    if schema is True or schema is None or schema == {}:
        return _string_hint(key)
    if schema is False:
        raise SchemaError("false schema cannot be satisfied")
    if not isinstance(schema, dict):
        raise SchemaError(f"invalid schema {schema!r}")
    schema = _deref(schema, root)
    if not isinstance(schema, dict):
        return _gen(schema, root, rng, key, depth + 1)
    if "allOf" in schema:
        schema = _merge_all_of(schema, root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        options = list(schema["enum"])
        if not options:
            raise SchemaError("empty enum")
        return options[rng.randrange(len(options))]
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            branches = list(schema[combinator])
            base = {k: v for k, v in schema.items() if k != combinator}
            # Prefer non-null branches (pydantic's Optional[X] is anyOf [X, null]).
            branches.sort(key=lambda b: isinstance(b, dict) and b.get("type") == "null")
            for branch in branches:
                merged = {**base, **branch} if isinstance(branch, dict) else branch
                try:
                    value = _gen(merged, root, rng, key, depth + 1)
                except SchemaError:
                    continue
                if combinator == "anyOf" or _count_valid(value, schema[combinator], root) == 1:
                    return value
            raise SchemaError(f"no satisfiable {combinator} branch")
    kind = _infer_type(schema)
    if kind == "object":
        return _gen_object(schema, root, rng, depth)
    if kind == "array":
        return _gen_array(schema, root, rng, key, depth)
    if kind == "string":
        return _gen_string(schema, rng, key)
    if kind == "integer":
        return _gen_integer(schema, rng)
    if kind == "number":
        return _gen_number(schema, rng)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    raise SchemaError(f"unsupported type {kind!r}")


def _gen_object(schema: dict[str, Any], root: Any, rng: random.Random, depth: int) -> Any:
    props: dict[str, Any] = schema.get("properties") or {}
    required: list[str] = list(schema.get("required") or [])
    out: dict[str, Any] = {}
    deep = depth > _MAX_DEPTH
    for name, sub in props.items():
        if deep and name not in required:
            continue
        out[name] = _gen(sub, root, rng, name, depth + 1)
    extra = schema.get("additionalProperties", True)
    for name in required:
        if name not in out:
            sub = extra if isinstance(extra, dict) else {}
            out[name] = _gen(sub, root, rng, name, depth + 1)
    min_props = int(schema.get("minProperties", 0))
    index = 1
    while len(out) < min_props and extra is not False:
        sub = extra if isinstance(extra, dict) else {"type": "string"}
        out[f"key{index}"] = _gen(sub, root, rng, f"key{index}", depth + 1)
        index += 1
    return out


def _gen_array(
    schema: dict[str, Any], root: Any, rng: random.Random, key: str | None, depth: int
) -> list[Any]:
    prefix = schema.get("prefixItems")
    items = schema.get("items", {})
    if isinstance(items, list):  # draft 4 tuple form
        prefix, items = items, schema.get("additionalItems", {})
    prefix = list(prefix or [])
    min_items = int(schema.get("minItems", 0))
    max_items = schema.get("maxItems")
    count = max(min_items, len(prefix), 1 if depth <= _MAX_DEPTH else 0)
    count = max(count, min(2, max_items if max_items is not None else 2))
    if items is False:
        count = len(prefix)
    if max_items is not None:
        count = min(count, int(max_items))
    unique = bool(schema.get("uniqueItems"))
    out: list[Any] = []
    seen: set[str] = set()
    for index in range(count):
        sub = prefix[index] if index < len(prefix) else items
        for attempt in range(25):
            sub_rng = random.Random(rng.random() + attempt)
            value = _gen(sub, root, sub_rng, key, depth + 1)
            if not unique or _canonical(value) not in seen:
                break
        else:
            if index >= min_items:
                break
            raise SchemaError("cannot generate enough unique items")
        seen.add(_canonical(value))
        out.append(value)
    contains = schema.get("contains")
    if contains is not None and not any(not schema_errors(v, contains, root) for v in out):
        value = _gen(contains, root, rng, key, depth + 1)
        if out:
            out[0] = value
        else:
            out.append(value)
    return out


def generate_from_schema(
    schema: Any, rng: random.Random | None = None, *, key: str | None = None
) -> Any:
    """Generate a JSON value that satisfies ``schema``.

    Args:
        schema: A JSON schema (dict or boolean); ``$ref`` resolves against it.
        rng: Source of randomness (seeded for reproducibility).
        key: Property name used to pick a plausible string for the top level.

    Returns:
        A JSON-compatible Python value that validates against ``schema``.

    Raises:
        SchemaError: If the schema uses unsupported features or is unsatisfiable.
    """
    rng = rng or random.Random(0)
    for attempt in range(5):
        value = _gen(schema, schema, random.Random(rng.random() + attempt), key, 0)
        if not schema_errors(value, schema):
            return value
    errors = schema_errors(value, schema)
    raise SchemaError(f"generated value does not validate: {errors[:3]}")


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    return False


def _count_valid(value: Any, branches: Iterable[Any], root: Any) -> int:
    return sum(1 for branch in branches if not schema_errors(value, branch, root))


def schema_errors(value: Any, schema: Any, root: Any = None, path: str = "$") -> list[str]:
    """Validate ``value`` against ``schema`` (the subset this module generates).

    Args:
        value: A JSON-compatible value.
        schema: The JSON schema.
        root: Document that ``$ref`` pointers resolve against (defaults to ``schema``).
        path: JSON path of ``value`` used in messages.

    Returns:
        A list of human-readable problems; empty when the value is valid.
    """
    root = schema if root is None else root
    if schema is True or schema is None:
        return []
    if schema is False:
        return [f"{path}: false schema"]
    if not isinstance(schema, dict):
        return [f"{path}: invalid schema"]
    schema = _deref(schema, root)
    if not isinstance(schema, dict):
        return schema_errors(value, schema, root, path)
    errors: list[str] = []
    declared = schema.get("type")
    if declared is not None:
        kinds = declared if isinstance(declared, list) else [declared]
        if not any(_type_ok(value, str(k)) for k in kinds):
            return [f"{path}: expected type {declared}, got {type(value).__name__}"]
    if "const" in schema and _canonical(value) != _canonical(schema["const"]):
        errors.append(f"{path}: expected const {schema['const']!r}")
    if "enum" in schema and _canonical(value) not in {_canonical(v) for v in schema["enum"]}:
        errors.append(f"{path}: {value!r} not in enum")
    for sub in schema.get("allOf", []):
        errors.extend(schema_errors(value, sub, root, path))
    if "anyOf" in schema and _count_valid(value, schema["anyOf"], root) == 0:
        errors.append(f"{path}: matches no anyOf branch")
    if "oneOf" in schema and _count_valid(value, schema["oneOf"], root) != 1:
        errors.append(f"{path}: must match exactly one oneOf branch")
    if "not" in schema and not schema_errors(value, schema["not"], root):
        errors.append(f"{path}: matches 'not' schema")
    if isinstance(value, str):
        errors.extend(_string_errors(value, schema, path))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        errors.extend(_number_errors(value, schema, path))
    if isinstance(value, dict):
        errors.extend(_object_errors(value, schema, root, path))
    if isinstance(value, list):
        errors.extend(_array_errors(value, schema, root, path))
    return errors


def _string_errors(value: str, schema: dict[str, Any], path: str) -> list[str]:
    errors = []
    if "minLength" in schema and len(value) < int(schema["minLength"]):
        errors.append(f"{path}: shorter than minLength")
    if "maxLength" in schema and len(value) > int(schema["maxLength"]):
        errors.append(f"{path}: longer than maxLength")
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and re.search(pattern, value) is None:
        errors.append(f"{path}: does not match pattern {pattern!r}")
    return errors


def _number_errors(value: float, schema: dict[str, Any], path: str) -> list[str]:
    errors = []
    lo, hi = schema.get("minimum"), schema.get("maximum")
    ex_lo, ex_hi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if lo is not None and (value < lo or (ex_lo is True and value == lo)):
        errors.append(f"{path}: below minimum")
    if hi is not None and (value > hi or (ex_hi is True and value == hi)):
        errors.append(f"{path}: above maximum")
    if isinstance(ex_lo, (int, float)) and not isinstance(ex_lo, bool) and value <= ex_lo:
        errors.append(f"{path}: not above exclusiveMinimum")
    if isinstance(ex_hi, (int, float)) and not isinstance(ex_hi, bool) and value >= ex_hi:
        errors.append(f"{path}: not below exclusiveMaximum")
    multiple = schema.get("multipleOf")
    if isinstance(multiple, (int, float)) and multiple > 0:
        quotient = value / multiple
        if abs(quotient - round(quotient)) > 1e-9:
            errors.append(f"{path}: not a multiple of {multiple}")
    return errors


def _object_errors(
    value: dict[str, Any], schema: dict[str, Any], root: Any, path: str
) -> list[str]:
    errors = []
    props = schema.get("properties") or {}
    for name in schema.get("required") or []:
        if name not in value:
            errors.append(f"{path}: missing required property {name!r}")
    extra = schema.get("additionalProperties", True)
    pattern_props = schema.get("patternProperties") or {}
    for name, item in value.items():
        sub_path = f"{path}.{name}"
        if name in props:
            errors.extend(schema_errors(item, props[name], root, sub_path))
            continue
        matched = [s for p, s in pattern_props.items() if re.search(p, name)]
        for sub in matched:
            errors.extend(schema_errors(item, sub, root, sub_path))
        if matched:
            continue
        if extra is False:
            errors.append(f"{path}: unexpected property {name!r}")
        elif isinstance(extra, dict):
            errors.extend(schema_errors(item, extra, root, sub_path))
    if "minProperties" in schema and len(value) < int(schema["minProperties"]):
        errors.append(f"{path}: fewer than minProperties")
    if "maxProperties" in schema and len(value) > int(schema["maxProperties"]):
        errors.append(f"{path}: more than maxProperties")
    return errors


def _array_errors(value: list[Any], schema: dict[str, Any], root: Any, path: str) -> list[str]:
    errors = []
    prefix = schema.get("prefixItems")
    items = schema.get("items")
    if isinstance(items, list):
        prefix, items = items, schema.get("additionalItems")
    prefix = list(prefix or [])
    for index, item in enumerate(value):
        sub = prefix[index] if index < len(prefix) else items
        if sub is not None:
            errors.extend(schema_errors(item, sub, root, f"{path}[{index}]"))
    if "minItems" in schema and len(value) < int(schema["minItems"]):
        errors.append(f"{path}: fewer than minItems")
    if "maxItems" in schema and len(value) > int(schema["maxItems"]):
        errors.append(f"{path}: more than maxItems")
    if schema.get("uniqueItems") and len({_canonical(v) for v in value}) != len(value):
        errors.append(f"{path}: items are not unique")
    contains = schema.get("contains")
    if contains is not None and not any(not schema_errors(v, contains, root) for v in value):
        errors.append(f"{path}: no item matches 'contains'")
    return errors


def validate_schema(value: Any, schema: Any) -> bool:
    """Return whether ``value`` satisfies ``schema`` (see :func:`schema_errors`)."""
    try:
        return not schema_errors(value, schema)
    except (SchemaError, re.error):
        return False


# --------------------------------------------------------------------------------------
# Regex
# --------------------------------------------------------------------------------------

_PRINTABLE = [c for c in string.printable if c not in "\x0b\x0c\r"]
_DIGITS = list(string.digits)
_WORD = list(string.ascii_letters + string.digits + "_")
_SPACE = [" ", "\t", "\n"]
_NICE = list(string.ascii_letters + string.digits)


@dataclass
class _RNode:
    kind: str  # lit | set | seq | alt | rep | empty
    chars: list[str] = field(default_factory=list)
    children: list[_RNode] = field(default_factory=list)
    lo: int = 0
    hi: int | None = None


class _RegexParser:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0

    def parse(self) -> _RNode:
        node = self._alt()
        if self.i != len(self.p):
            raise SchemaError(f"unbalanced parenthesis in regex {self.p!r}")
        return node

    def _peek(self) -> str:
        return self.p[self.i] if self.i < len(self.p) else ""

    def _alt(self) -> _RNode:
        branches = [self._seq()]
        while self._peek() == "|":
            self.i += 1
            branches.append(self._seq())
        return branches[0] if len(branches) == 1 else _RNode("alt", children=branches)

    def _seq(self) -> _RNode:
        items: list[_RNode] = []
        while self._peek() and self._peek() not in "|)":
            items.append(self._quant(self._atom()))
        return _RNode("seq", children=items)

    def _atom(self) -> _RNode:
        c = self.p[self.i]
        self.i += 1
        if c == "(":
            lookaround = False
            if self.p.startswith("?:", self.i):
                self.i += 2
            elif self.p.startswith("?P<", self.i) or (
                self.p.startswith("?<", self.i) and self.p[self.i + 2 : self.i + 3] not in "=!"
            ):
                self.i = self.p.index(">", self.i) + 1
            elif self.p.startswith(("?=", "?!", "?<=", "?<!"), self.i):
                lookaround = True
                self.i = self.p.index("?", self.i) + (3 if self.p[self.i + 1] == "<" else 2)
            elif self._peek() == "?":
                raise SchemaError(f"unsupported group syntax in regex {self.p!r}")
            inner = self._alt()
            if self._peek() != ")":
                raise SchemaError(f"missing ')' in regex {self.p!r}")
            self.i += 1
            return _RNode("empty") if lookaround else inner
        if c == "[":
            return self._class()
        if c == ".":
            return _RNode("set", chars=[ch for ch in _PRINTABLE if ch != "\n"])
        if c in "^$":
            return _RNode("empty")
        if c == "\\":
            return self._escape(in_class=False)
        if c in "*+?":
            raise SchemaError(f"nothing to repeat in regex {self.p!r}")
        return _RNode("lit", chars=[c])

    def _escape(self, *, in_class: bool) -> _RNode:
        if self.i >= len(self.p):
            raise SchemaError("trailing backslash in regex")
        c = self.p[self.i]
        self.i += 1
        sets = {
            "d": _DIGITS,
            "w": _WORD,
            "s": _SPACE,
            "D": [ch for ch in _PRINTABLE if ch not in _DIGITS],
            "W": [ch for ch in _PRINTABLE if ch not in _WORD],
            "S": [ch for ch in _PRINTABLE if ch not in _SPACE],
        }
        if c in sets:
            return _RNode("set", chars=list(sets[c]))
        if c in "bBAZz" and not in_class:
            return _RNode("empty")
        simple = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "0": "\0"}
        if c in simple:
            return _RNode("lit", chars=[simple[c]])
        if c == "x":
            code = self.p[self.i : self.i + 2]
            self.i += 2
            return _RNode("lit", chars=[chr(int(code, 16))])
        if c == "u":
            code = self.p[self.i : self.i + 4]
            self.i += 4
            return _RNode("lit", chars=[chr(int(code, 16))])
        if c.isdigit():
            raise SchemaError("backreferences are not supported")
        return _RNode("lit", chars=[c])

    def _class(self) -> _RNode:
        negated = self._peek() == "^"
        if negated:
            self.i += 1
        chars: list[str] = []
        first = True
        while True:
            if self.i >= len(self.p):
                raise SchemaError(f"unterminated character class in regex {self.p!r}")
            c = self.p[self.i]
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            self.i += 1
            if c == "\\":
                node = self._escape(in_class=True)
                if node.kind == "set" or len(node.chars) != 1:
                    chars.extend(node.chars)
                    continue
                c = node.chars[0]
            if self._peek() == "-" and self.i + 1 < len(self.p) and self.p[self.i + 1] != "]":
                self.i += 1
                end = self.p[self.i]
                self.i += 1
                if end == "\\":
                    end_node = self._escape(in_class=True)
                    end = end_node.chars[0]
                chars.extend(chr(x) for x in range(ord(c), ord(end) + 1))
            else:
                chars.append(c)
        if negated:
            excluded = set(chars)
            chars = [ch for ch in _PRINTABLE if ch not in excluded]
        if not chars:
            raise SchemaError("empty character class")
        return _RNode("set", chars=list(dict.fromkeys(chars)))

    def _quant(self, atom: _RNode) -> _RNode:
        c = self._peek()
        lo: int
        hi: int | None
        if c == "*":
            lo, hi = 0, None
            self.i += 1
        elif c == "+":
            lo, hi = 1, None
            self.i += 1
        elif c == "?":
            lo, hi = 0, 1
            self.i += 1
        elif c == "{":
            m = re.match(r"\{(\d*)(,(\d*))?\}", self.p[self.i :])
            if m is None or (not m.group(1) and not m.group(2)):
                return atom
            lo = int(m.group(1) or 0)
            hi = lo if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
            self.i += m.end()
        else:
            return atom
        if self._peek() and self._peek() in "?+":  # lazy / possessive
            self.i += 1
        return self._quant(_RNode("rep", children=[atom], lo=lo, hi=hi))


def _regex_gen(node: _RNode, rng: random.Random, out: list[str]) -> None:
    if node.kind == "lit":
        out.append(node.chars[0])
    elif node.kind == "set":
        nice = [c for c in node.chars if c in _NICE]
        pool = nice if len(nice) >= 3 or (nice and len(node.chars) > 20) else node.chars
        if not nice and " " in node.chars:
            pool = [" "]  # `\s` reads best as a plain space
        out.append(pool[rng.randrange(len(pool))])
    elif node.kind == "seq":
        for child in node.children:
            _regex_gen(child, rng, out)
    elif node.kind == "alt":
        _regex_gen(node.children[rng.randrange(len(node.children))], rng, out)
    elif node.kind == "rep":
        top = node.hi if node.hi is not None else node.lo + 4
        count = rng.randint(node.lo, max(node.lo, min(top, node.lo + 4)))
        if node.lo == 0 and node.hi is None and count == 0:
            count = 1  # `x*` reads better with at least one item
        for _ in range(count):
            _regex_gen(node.children[0], rng, out)


def generate_from_regex(pattern: str, rng: random.Random | None = None) -> str:
    """Generate a string that fully matches ``pattern``.

    Args:
        pattern: A regular expression in the supported subset.
        rng: Source of randomness.

    Returns:
        A string ``s`` with ``re.fullmatch(pattern, s)``.

    Raises:
        SchemaError: If the pattern is unsupported or no match could be produced.
    """
    rng = rng or random.Random(0)
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise SchemaError(f"invalid regex {pattern!r}: {exc}") from exc
    tree = _RegexParser(pattern).parse()
    for _ in range(50):
        out: list[str] = []
        _regex_gen(tree, rng, out)
        candidate = "".join(out)
        if compiled.fullmatch(candidate):
            return candidate
    raise SchemaError(f"could not generate a match for regex {pattern!r}")


# --------------------------------------------------------------------------------------
# GBNF grammars
# --------------------------------------------------------------------------------------


@dataclass
class _GNode:
    kind: str  # lit | cls | any | ref | seq | alt | rep
    text: str = ""
    ranges: list[tuple[int, int]] = field(default_factory=list)
    negated: bool = False
    children: list[_GNode] = field(default_factory=list)
    lo: int = 0
    hi: int | None = None


@dataclass
class Grammar:
    """A parsed GBNF grammar.

    Attributes:
        rules: Rule name to expression tree.
        root: Name of the start rule (``root``).
    """

    rules: dict[str, _GNode]
    root: str = "root"
    _cost: dict[str, int] = field(default_factory=dict, repr=False)


_GBNF_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<assign>::=)
  | (?P<ident>[A-Za-z0-9_-]+)
  | (?P<string>"(?:\\.|[^"\\])*")
  | (?P<cls>\[(?:\\.|[^\]\\])*\])
  | (?P<quant>\{\s*\d*\s*(?:,\s*\d*\s*)?\})
  | (?P<op>[()|*+?.])
    """,
    re.VERBOSE,
)


def _gbnf_unescape(body: str) -> list[int]:
    out: list[int] = []
    i = 0
    simple = {"n": 10, "t": 9, "r": 13, "\\": 92, '"': 34, "[": 91, "]": 93, "-": 45, "^": 94}
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            e = body[i + 1]
            if e in simple:
                out.append(simple[e])
                i += 2
            elif e == "x":
                out.append(int(body[i + 2 : i + 4], 16))
                i += 4
            elif e == "u":
                out.append(int(body[i + 2 : i + 6], 16))
                i += 6
            elif e == "U":
                out.append(int(body[i + 2 : i + 10], 16))
                i += 10
            else:
                out.append(ord(e))
                i += 2
        else:
            out.append(ord(c))
            i += 1
    return out


def _gbnf_class(token: str) -> _GNode:
    body = token[1:-1]
    negated = body.startswith("^")
    if negated:
        body = body[1:]
    # Unescape while keeping track of which '-' were literal.
    items: list[tuple[int, bool]] = []  # (codepoint, is_range_dash)
    i = 0
    while i < len(body):
        if body[i] == "\\":
            j = i + 2
            if body[i + 1] == "x":
                j = i + 4
            elif body[i + 1] == "u":
                j = i + 6
            elif body[i + 1] == "U":
                j = i + 10
            items.append((_gbnf_unescape(body[i:j])[0], False))
            i = j
        else:
            items.append((ord(body[i]), body[i] == "-"))
            i += 1
    ranges: list[tuple[int, int]] = []
    k = 0
    while k < len(items):
        code, _ = items[k]
        if k + 2 < len(items) and items[k + 1][1]:
            ranges.append((code, items[k + 2][0]))
            k += 3
        else:
            ranges.append((code, code))
            k += 1
    return _GNode("cls", ranges=ranges, negated=negated)


class _GbnfParser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            m = _GBNF_TOKEN.match(text, pos)
            if m is None:
                raise SchemaError(f"invalid grammar near {text[pos : pos + 20]!r}")
            pos = m.end()
            kind = m.lastgroup or ""
            if kind != "ws":
                self.tokens.append((kind, m.group()))
        self.i = 0

    def _peek(self, offset: int = 0) -> tuple[str, str]:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else ("eof", "")

    def _at_rule_start(self) -> bool:
        return self._peek()[0] == "ident" and self._peek(1)[0] == "assign"

    def parse(self) -> Grammar:
        rules: dict[str, _GNode] = {}
        while self._peek()[0] != "eof":
            if not self._at_rule_start():
                raise SchemaError(f"expected 'name ::=' in grammar, got {self._peek()[1]!r}")
            name = self._peek()[1]
            self.i += 2
            rules[name] = self._alt()
        if "root" not in rules:
            raise SchemaError("grammar has no 'root' rule")
        for node in rules.values():
            self._check_refs(node, rules)
        return Grammar(rules=rules)

    def _check_refs(self, node: _GNode, rules: dict[str, _GNode]) -> None:
        if node.kind == "ref" and node.text not in rules:
            raise SchemaError(f"undefined grammar rule {node.text!r}")
        for child in node.children:
            self._check_refs(child, rules)

    def _alt(self) -> _GNode:
        branches = [self._seq()]
        while self._peek() == ("op", "|"):
            self.i += 1
            branches.append(self._seq())
        return branches[0] if len(branches) == 1 else _GNode("alt", children=branches)

    def _seq(self) -> _GNode:
        items: list[_GNode] = []
        while True:
            kind, value = self._peek()
            if kind == "eof" or (kind == "op" and value in "|)") or self._at_rule_start():
                break
            items.append(self._quant(self._atom()))
        return _GNode("seq", children=items)

    def _atom(self) -> _GNode:
        kind, value = self._peek()
        self.i += 1
        if kind == "string":
            return _GNode("lit", text="".join(chr(c) for c in _gbnf_unescape(value[1:-1])))
        if kind == "cls":
            return _gbnf_class(value)
        if kind == "ident":
            return _GNode("ref", text=value)
        if (kind, value) == ("op", "."):
            return _GNode("any")
        if (kind, value) == ("op", "("):
            inner = self._alt()
            if self._peek() != ("op", ")"):
                raise SchemaError("missing ')' in grammar")
            self.i += 1
            return inner
        raise SchemaError(f"unexpected token {value!r} in grammar")

    def _quant(self, atom: _GNode) -> _GNode:
        kind, value = self._peek()
        lo: int
        hi: int | None
        if (kind, value) == ("op", "*"):
            lo, hi = 0, None
        elif (kind, value) == ("op", "+"):
            lo, hi = 1, None
        elif (kind, value) == ("op", "?"):
            lo, hi = 0, 1
        elif kind == "quant":
            inner = value[1:-1].replace(" ", "")
            if "," in inner:
                a, b = inner.split(",", 1)
                lo, hi = int(a or 0), (int(b) if b else None)
            else:
                lo = hi = int(inner)
        else:
            return atom
        self.i += 1
        return self._quant(_GNode("rep", children=[atom], lo=lo, hi=hi))


def parse_gbnf(text: str) -> Grammar:
    """Parse a GBNF grammar (llama.cpp / xgrammar syntax subset).

    Args:
        text: The grammar source; must define ``root``.

    Returns:
        The parsed grammar.

    Raises:
        SchemaError: On syntax errors or undefined rules.
    """
    grammar = _GbnfParser(text).parse()
    grammar._cost = _grammar_costs(grammar)
    return grammar


_INF = 10**9


def _node_cost(node: _GNode, costs: dict[str, int]) -> int:
    if node.kind == "lit":
        return len(node.text)
    if node.kind in ("cls", "any"):
        return 1
    if node.kind == "ref":
        return costs.get(node.text, _INF)
    if node.kind == "seq":
        return min(_INF, sum(_node_cost(c, costs) for c in node.children))
    if node.kind == "alt":
        return min(_node_cost(c, costs) for c in node.children)
    if node.kind == "rep":
        return min(_INF, node.lo * _node_cost(node.children[0], costs)) if node.lo else 0
    return 0


def _grammar_costs(grammar: Grammar) -> dict[str, int]:
    costs = dict.fromkeys(grammar.rules, _INF)
    changed = True
    while changed:
        changed = False
        for name, node in grammar.rules.items():
            cost = _node_cost(node, costs)
            if cost < costs[name]:
                costs[name] = cost
                changed = True
    return costs


def _class_pick(node: _GNode, rng: random.Random) -> str:
    def inside(code: int) -> bool:
        return any(lo <= code <= hi for lo, hi in node.ranges)

    if node.negated:
        pool = [c for c in [*_NICE, " "] if not inside(ord(c))]
        if not pool:
            pool = [c for c in _PRINTABLE if not inside(ord(c))]
        if not pool:
            raise SchemaError("negated character class excludes everything")
        return pool[rng.randrange(len(pool))]
    nice = [c for c in _NICE if inside(ord(c))]
    if nice:
        return nice[rng.randrange(len(nice))]
    lo, hi = node.ranges[rng.randrange(len(node.ranges))]
    return chr(rng.randint(lo, min(hi, lo + 50)))


def _gbnf_gen(
    node: _GNode, grammar: Grammar, rng: random.Random, depth: int, out: list[str]
) -> None:
    if depth > 200:
        raise SchemaError("grammar expansion too deep")
    kind = node.kind
    if kind == "lit":
        out.append(node.text)
    elif kind == "cls":
        out.append(_class_pick(node, rng))
    elif kind == "any":
        out.append(_NICE[rng.randrange(len(_NICE))])
    elif kind == "ref":
        _gbnf_gen(grammar.rules[node.text], grammar, rng, depth + 1, out)
    elif kind == "seq":
        for child in node.children:
            _gbnf_gen(child, grammar, rng, depth + 1, out)
    elif kind == "alt":
        options = [c for c in node.children if _node_cost(c, grammar._cost) < _INF]
        if not options:
            raise SchemaError("grammar has no finite expansion")
        if depth > 12:
            choice = min(options, key=lambda c: _node_cost(c, grammar._cost))
        else:
            choice = options[rng.randrange(len(options))]
        _gbnf_gen(choice, grammar, rng, depth + 1, out)
    elif kind == "rep":
        if depth > 12:
            count = node.lo
        else:
            top = node.hi if node.hi is not None else node.lo + 3
            count = rng.randint(node.lo, max(node.lo, min(top, node.lo + 3)))
        for _ in range(count):
            _gbnf_gen(node.children[0], grammar, rng, depth + 1, out)


def generate_from_grammar(grammar: Grammar | str, rng: random.Random | None = None) -> str:
    """Generate a string in the language of a GBNF grammar.

    Args:
        grammar: A parsed grammar or its source text.
        rng: Source of randomness.

    Returns:
        A string accepted by the grammar's ``root`` rule.

    Raises:
        SchemaError: If the grammar is unsupported or has no finite expansion.
    """
    if isinstance(grammar, str):
        grammar = parse_gbnf(grammar)
    rng = rng or random.Random(0)
    for _ in range(20):
        out: list[str] = []
        _gbnf_gen(grammar.rules[grammar.root], grammar, rng, 0, out)
        text = "".join(out)
        if grammar_matches(grammar, text):
            return text
    raise SchemaError("could not generate a string for the grammar")


def grammar_matches(grammar: Grammar | str, text: str) -> bool:
    """Return whether ``text`` is in the language of the grammar.

    Args:
        grammar: A parsed grammar or its source text.
        text: Candidate string.

    Returns:
        True if the whole string is accepted by the ``root`` rule.
    """
    if isinstance(grammar, str):
        grammar = parse_gbnf(grammar)
    memo: dict[tuple[str, int], frozenset[int]] = {}
    active: set[tuple[str, int]] = set()
    rules = grammar.rules

    def ends(node: _GNode, pos: int) -> frozenset[int]:
        kind = node.kind
        if kind == "lit":
            return frozenset([pos + len(node.text)]) if text.startswith(node.text, pos) else _EMPTY
        if kind in ("cls", "any"):
            if pos >= len(text):
                return _EMPTY
            if kind == "any":
                return frozenset([pos + 1])
            code = ord(text[pos])
            inside = any(lo <= code <= hi for lo, hi in node.ranges)
            return frozenset([pos + 1]) if inside != node.negated else _EMPTY
        if kind == "ref":
            key = (node.text, pos)
            if key in memo:
                return memo[key]
            if key in active:  # left recursion: give up on this path
                return _EMPTY
            active.add(key)
            found = ends(rules[node.text], pos)
            active.discard(key)
            memo[key] = found
            return found
        if kind == "seq":
            current = {pos}
            for child in node.children:
                current = {e for p in current for e in ends(child, p)}
                if not current:
                    break
            return frozenset(current)
        if kind == "alt":
            return frozenset(e for child in node.children for e in ends(child, pos))
        if kind == "rep":
            result: set[int] = {pos} if node.lo == 0 else set()
            current = {pos}
            visited = {pos}
            count = 0
            while current and (node.hi is None or count < node.hi):
                count += 1
                nxt = {e for p in current for e in ends(node.children[0], p)}
                if count >= node.lo:
                    result |= nxt
                    nxt -= visited
                    visited |= nxt
                current = nxt
            return frozenset(result)
        return _EMPTY

    return len(text) in ends(rules[grammar.root], 0)


_EMPTY: frozenset[int] = frozenset()

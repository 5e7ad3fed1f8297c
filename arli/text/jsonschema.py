"""A small JSON Schema validator for checking guided-decoding answers on our side.

It covers what structured-output schemas use (pydantic's ``model_json_schema()`` and
hand-written ones): ``type`` (incl. lists and ``null``), ``properties``, ``required``,
``additionalProperties``, ``items``/``prefixItems``, ``minItems``/``maxItems``, ``enum``,
``const``, numeric bounds, string lengths and ``pattern``, ``anyOf``/``oneOf``/``allOf``,
and local ``$ref`` into ``$defs``/``definitions``. Unknown keywords are ignored (never a
false alarm). Not a dependency: the core stays httpx + pydantic only.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["validate"]

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _resolve(schema: Any, root: Any) -> Any:
    seen = 0
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < 32:
        ref = schema["$ref"]
        if not ref.startswith("#"):
            return {}
        node: Any = root
        for part in ref.lstrip("#").split("/"):
            if not part:
                continue
            key = part.replace("~1", "/").replace("~0", "~")
            node = node.get(key) if isinstance(node, dict) else None
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**node, **rest} if isinstance(node, dict) else rest
        seen += 1
    return schema


def validate(value: Any, schema: Any, *, root: Any = None, path: str = "$") -> list[str]:
    """Return the problems of ``value`` against ``schema`` (an empty list when it conforms)."""
    root = schema if root is None else root
    schema = _resolve(schema, root)
    if schema is False:
        return [f"{path}: no value is allowed here"]
    if not isinstance(schema, dict):
        return []
    errors: list[str] = []
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}, got {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']!r}")
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        if not any(_TYPES.get(t, lambda _v: True)(value) for t in names):
            errors.append(f"{path}: expected {' or '.join(names)}, got {type(value).__name__}")
            return errors
    for key in ("allOf",):
        for sub in schema.get(key, []):
            errors += validate(value, sub, root=root, path=path)
    if "anyOf" in schema and not any(
        not validate(value, sub, root=root, path=path) for sub in schema["anyOf"]
    ):
        errors.append(f"{path}: matches none of anyOf")
    if "oneOf" in schema:
        hits = sum(not validate(value, sub, root=root, path=path) for sub in schema["oneOf"])
        if hits != 1:
            errors.append(f"{path}: matches {hits} of oneOf (exactly 1 required)")
    if isinstance(value, dict):
        errors += _object(value, schema, root, path)
    elif isinstance(value, list):
        errors += _array(value, schema, root, path)
    elif isinstance(value, str):
        errors += _string(value, schema, path)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        errors += _number(value, schema, path)
    return errors


def _object(value: dict[str, Any], schema: dict[str, Any], root: Any, path: str) -> list[str]:
    errors: list[str] = []
    props = schema.get("properties") or {}
    for name in schema.get("required") or []:
        if name not in value:
            errors.append(f"{path}: missing required property {name!r}")
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        sub_path = f"{path}.{name}"
        if name in props:
            errors += validate(item, props[name], root=root, path=sub_path)
        elif extra is False:
            errors.append(f"{path}: unexpected property {name!r}")
        elif isinstance(extra, dict):
            errors += validate(item, extra, root=root, path=sub_path)
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        errors.append(f"{path}: fewer than {schema['minProperties']} properties")
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        errors.append(f"{path}: more than {schema['maxProperties']} properties")
    return errors


def _array(value: list[Any], schema: dict[str, Any], root: Any, path: str) -> list[str]:
    errors: list[str] = []
    prefix = schema.get("prefixItems") or []
    for i, item in enumerate(value):
        sub = prefix[i] if i < len(prefix) else schema.get("items")
        if sub is not None:
            errors += validate(item, sub, root=root, path=f"{path}[{i}]")
    if "minItems" in schema and len(value) < schema["minItems"]:
        errors.append(f"{path}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(f"{path}: more than {schema['maxItems']} items")
    if schema.get("uniqueItems") and len({repr(v) for v in value}) != len(value):
        errors.append(f"{path}: items are not unique")
    return errors


def _string(value: str, schema: dict[str, Any], path: str) -> list[str]:
    errors: list[str] = []
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append(f"{path}: shorter than {schema['minLength']} characters")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{path}: longer than {schema['maxLength']} characters")
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            if re.search(pattern, value) is None:
                errors.append(f"{path}: {value!r} does not match pattern {pattern!r}")
        except re.error:
            pass  # a pattern Python cannot read is not checked
    return errors


def _number(value: float, schema: dict[str, Any], path: str) -> list[str]:
    errors: list[str] = []
    for key, op in (
        ("minimum", ">="),
        ("maximum", "<="),
        ("exclusiveMinimum", ">"),
        ("exclusiveMaximum", "<"),
    ):
        bound = schema.get(key)
        if not isinstance(bound, (int, float)) or isinstance(bound, bool):
            continue
        ok = {
            ">=": value >= bound,
            "<=": value <= bound,
            ">": value > bound,
            "<": value < bound,
        }[op]
        if not ok:
            errors.append(f"{path}: {value} is not {op} {bound}")
    return errors

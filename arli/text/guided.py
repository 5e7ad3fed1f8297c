"""Guided decoding across server versions, and the check of answers on our side.

The servers behind Arli read constraints under different names:

* vLLM <= 0.11 and Aphrodite <= 0.10 read ``guided_json`` / ``guided_regex`` /
  ``guided_choice`` / ``guided_grammar``;
* vLLM >= 0.12 and Aphrodite main **silently ignore** those (HTTP 200, unconstrained
  output) and read ``structured_outputs: {"json"|"regex"|"choice"|"grammar": ...}``;
* all of them read ``response_format: {"type": "json_schema", ...}`` for JSON schemas.

:data:`GuidedStyle` picks what is sent: ``"both"`` (default) sends the ``guided_*`` key and
the matching ``structured_outputs`` (each server ignores the one it does not know);
``"guided"``, ``"structured_outputs"`` and ``"response_format"`` send one form.

Whatever was sent, :func:`check_answer` verifies the answer (JSON against the schema,
regex full match, choice membership). An answer that does not conform raises
:class:`~arli.ConstraintViolationError` explaining that the server probably ignored the
constraint, instead of handing the caller unconstrained text as if it were valid.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from arli._errors import ArliValidationError, ConstraintViolationError
from arli.text import jsonschema

__all__ = [
    "GUIDED_KEYS",
    "GUIDED_STYLES",
    "GuidedConstraint",
    "GuidedStyle",
    "apply_constraint",
    "check_answer",
    "constraint_from_params",
    "constraint_from_response_format",
    "json_object_of",
    "json_schema_format",
    "schema_of",
]

GuidedStyle = Literal["both", "guided", "structured_outputs", "response_format"]
GUIDED_STYLES: tuple[str, ...] = ("both", "guided", "structured_outputs", "response_format")
GuidedKind = Literal["json", "regex", "choice", "grammar", "json_object"]

#: Request fields that carry guided decoding in the legacy form.
GUIDED_KEYS = (
    "guided_json",
    "guided_regex",
    "guided_choice",
    "guided_grammar",
    "guided_decoding_backend",
    "guided_whitespace_pattern",
)
_KIND_OF: dict[str, GuidedKind] = {
    "guided_json": "json",
    "guided_regex": "regex",
    "guided_choice": "choice",
    "guided_grammar": "grammar",
}


@dataclass(frozen=True)
class GuidedConstraint:
    """One guided-decoding constraint, independent of how it goes on the wire.

    Attributes:
        kind: what constrains the answer.
        value: the JSON schema (dict), regex, list of choices or grammar.
        backend: ``guided_decoding_backend`` (legacy form only).
        whitespace_pattern: whitespace allowed between JSON tokens.
        name: the schema name used by ``response_format`` (required by vLLM).
        strict: ``response_format.json_schema.strict``.
    """

    kind: GuidedKind
    value: Any = None
    backend: str | None = None
    whitespace_pattern: str | None = None
    name: str = "response"
    strict: bool | None = None

    @property
    def label(self) -> str:
        """The name users know the constraint by (``guided_json``, ``json_mode``...)."""
        return "json_mode" if self.kind == "json_object" else f"guided_{self.kind}"


def schema_of(value: Any) -> dict[str, Any]:
    """A JSON schema from a dict, JSON text or pydantic model class.

    Raises:
        ArliValidationError: when it is none of those.
    """
    if isinstance(value, type) and issubclass(value, BaseModel):
        return value.model_json_schema()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            msg = "guided_json text is not valid JSON; pass a JSON schema (dict or JSON text)"
            raise ArliValidationError(msg, field="guided_json", allowed="a JSON schema") from None
    if isinstance(value, dict):
        return value
    msg = f"guided_json must be a JSON schema (dict or JSON text) or a pydantic model, not {type(value).__name__}"
    raise ArliValidationError(msg, field="guided_json", allowed="a JSON schema")


def constraint_from_params(params: dict[str, Any]) -> GuidedConstraint | None:
    """Remove the ``guided_*`` fields from ``params`` and return their constraint (if any)."""
    backend = params.pop("guided_decoding_backend", None)
    whitespace = params.pop("guided_whitespace_pattern", None)
    found: GuidedConstraint | None = None
    for key, kind in _KIND_OF.items():
        value = params.pop(key, None)
        if value is None:
            continue
        if found is not None:
            msg = f"only one guided decoding constraint at a time: {found.label} and {key}"
            raise ArliValidationError(msg, field=key, allowed="one guided_* constraint")
        name = "response"
        if kind == "json":
            name = value.__name__ if isinstance(value, type) else name
            value = schema_of(value)
        found = GuidedConstraint(kind, value, backend, whitespace, name=name)
    return found


def constraint_from_response_format(response_format: Any) -> GuidedConstraint | None:
    """The constraint a ``response_format`` imposes (``json_schema`` or ``json_object``)."""
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return GuidedConstraint("json_object")
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema")
        if isinstance(schema, dict):
            return GuidedConstraint(
                "json", schema, name=spec.get("name") or "response", strict=spec.get("strict")
            )
    return None


def apply_constraint(body: dict[str, Any], constraint: GuidedConstraint, style: str) -> None:
    """Put ``constraint`` into the request ``body`` in the form(s) ``style`` asks for.

    Raises:
        ArliValidationError: for an unknown style, or a non-JSON constraint with
            ``style="response_format"`` (which carries only JSON schemas).
    """
    if style not in GUIDED_STYLES:
        msg = f"guided_decoding_style={style!r} is not one of {', '.join(GUIDED_STYLES)}"
        raise ArliValidationError(
            msg, field="guided_decoding_style", allowed=", ".join(GUIDED_STYLES)
        )
    c = constraint
    if c.kind == "json_object":
        body["response_format"] = {"type": "json_object"}
        return
    if style == "response_format":
        if c.kind != "json":
            msg = (
                f"guided_decoding_style='response_format' can only carry JSON schemas, not "
                f"{c.label}; use 'structured_outputs' (vLLM >= 0.12) or 'guided' (older servers)"
            )
            raise ArliValidationError(
                msg, field="guided_decoding_style", allowed="structured_outputs, guided, both"
            )
        spec: dict[str, Any] = {"name": _schema_name(c.name), "schema": c.value}
        if c.strict is not None:
            spec["strict"] = c.strict
        body["response_format"] = {"type": "json_schema", "json_schema": spec}
        return
    if style in ("both", "guided"):
        body[f"guided_{c.kind}"] = c.value
        if c.backend is not None:
            body["guided_decoding_backend"] = c.backend
        if c.whitespace_pattern is not None:
            body["guided_whitespace_pattern"] = c.whitespace_pattern
    if style in ("both", "structured_outputs"):
        so: dict[str, Any] = {c.kind: c.value}
        if c.whitespace_pattern is not None:
            so["whitespace_pattern"] = c.whitespace_pattern
        body["structured_outputs"] = so


def _schema_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64]
    return cleaned or "response"


_FENCE_RE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n?(.*?)\n?```\s*$", re.S)


def _load_json(text: str) -> Any:
    try:
        try:
            return json.loads(text, strict=False)  # tolerate raw control chars (an xgrammar bug)
        except ValueError:
            m = _FENCE_RE.match(text)
            if m:
                return json.loads(m.group(1), strict=False)
            raise
    except RecursionError:
        msg = "the JSON is nested too deeply"
        raise ValueError(msg) from None


def json_object_of(text: str) -> dict[str, Any] | None:
    """The JSON object in an answer, read leniently as :func:`check_answer` reads it.

    Fenced JSON (```json ... ```) and raw control characters in strings (an xgrammar bug)
    are accepted; ``None`` when the text holds no JSON object.
    """
    try:
        value = _load_json(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def json_schema_format(
    schema: dict[str, Any], name: str, *, strict: bool | None = None
) -> dict[str, Any]:
    """``response_format`` asking for JSON that matches ``schema`` (OpenAI ``json_schema``).

    Args:
        schema: the JSON schema.
        name: the schema's name, sent as ``json_schema.name``.
        strict: ``json_schema.strict``; not sent when ``None``.
    """
    spec: dict[str, Any] = {"name": name, "schema": schema}
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


def check_answer(
    constraint: GuidedConstraint,
    text: str | None,
    *,
    finish_reason: str | None = None,
    style: str = "both",
) -> Any:
    """Verify an answer against its constraint; return the parsed value.

    Returns the parsed JSON for JSON constraints, else the text. Grammars are not checked
    (their dialect is the server backend's), and the text is returned as is.

    Raises:
        ConstraintViolationError: when the answer breaks the constraint, saying whether
            it was cut off by ``max_tokens`` or the server probably ignored the constraint.
    """
    answer = text or ""
    problems: list[str] = []
    value: Any = answer
    if constraint.kind in ("json", "json_object"):
        try:
            value = _load_json(answer)
        except ValueError as exc:
            problems.append(
                f"not valid JSON ({exc.msg} at position {exc.pos})"
                if isinstance(exc, json.JSONDecodeError)
                else "not valid JSON"
            )
        else:
            if constraint.kind == "json_object":
                if not isinstance(value, dict):
                    problems.append(f"a JSON {type(value).__name__}, not an object")
            else:
                problems = jsonschema.validate(value, constraint.value)
    elif constraint.kind == "regex":
        if re.fullmatch(constraint.value, answer) is None:
            problems.append(f"{_clip(answer)!r} is not a full match of {constraint.value!r}")
    elif constraint.kind == "choice":
        if answer.strip() not in constraint.value:
            problems.append(f"{_clip(answer)!r} is not one of {constraint.value!r}")
        else:
            value = answer.strip()
    if problems:
        raise ConstraintViolationError(
            _explain(constraint, problems, finish_reason, style, answer),
            kind=constraint.kind,
            answer=answer,
            problems=problems,
            finish_reason=finish_reason,
        )
    return value


def _clip(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def _started_constrained(c: GuidedConstraint, answer: str) -> bool:
    """Whether a cut-off answer began the way a constrained one would (so only max_tokens hit)."""
    text = answer.lstrip()
    if c.kind in ("json", "json_object"):
        return text[:1] in ("{", "[")
    if c.kind == "choice":
        return any(str(choice).startswith(text) for choice in c.value)
    return True


def _explain(
    c: GuidedConstraint, problems: list[str], finish: str | None, style: str, answer: str
) -> str:
    detail = "; ".join(problems[:3]) + (
        f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
    )
    head = f"the answer does not satisfy the {c.label} constraint: {detail}. "
    if finish == "length" and _started_constrained(c, answer):
        return head + "It was cut off at max_tokens (finish_reason='length'): raise max_tokens."
    if c.kind == "json_object":
        return head + "The server may not support JSON mode for this model."
    advice = {
        "both": "the server probably ignored it. Set guided_decoding_style='response_format' (JSON schemas) or check that the model supports guided decoding",
        "guided": "the server probably ignored it: vLLM >= 0.12 silently ignores the legacy guided_* fields. Set guided_decoding_style='structured_outputs' (or 'both')",
        "structured_outputs": "the server probably ignored it: vLLM <= 0.10 and Aphrodite <= 0.9 do not read structured_outputs. Set guided_decoding_style='guided' (or 'both')",
        "response_format": "the server probably ignored response_format for this model. Try guided_decoding_style='both'",
    }
    return head + advice.get(style, advice["both"]) + "."

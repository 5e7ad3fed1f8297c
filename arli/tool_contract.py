"""The agent tool contract, once for every skin: argument checks, the path sandbox, error texts.

A tool an agent calls is described here, framework-free, by a :class:`ToolContract`: its
function name, its argument model (a pydantic model whose field descriptions the agent
sees), its description and what it needs from its backend. ``langchain_arli`` builds a
``BaseTool`` from it (``args_schema``) and ``llama_index_arli`` a ``FunctionTool``
(``fn_schema``); both validate the agent's arguments with :func:`check_arguments` and
turn the failure into the same text (:func:`validation_text`), so an agent gets the same
answer to the same bad arguments whichever framework runs it.

Every argument model derives from :class:`ToolArguments`, which refuses an argument the
tool does not take (naming the ones it does) without changing the JSON schema the agent
sees. Ranges are not restated: :func:`limits` reads them from the core request models
(:mod:`arli.images.models`, :mod:`arli.images.aiart`), and :func:`argument` puts them in a
tool argument. :func:`resolve_agent_path` is the one sandbox for the file paths and URLs an
agent passes (images and OCR documents).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arli._errors import ArliError, ArliValidationError
from arli.media import is_http_url

__all__ = [
    "NoArgs",
    "ToolArguments",
    "ToolContract",
    "argument",
    "check_arguments",
    "invalid_argument_text",
    "limits",
    "resolve_agent_path",
    "validation_text",
    "with_message",
]

_BOUNDS = ("ge", "gt", "le", "lt", "min_length", "max_length")
_B64_LIKE = re.compile(r"^[A-Za-z0-9+/=_\-\s]{64,}$")
_FIX = ". Fix this argument and call the tool again."


def _keep_schema(schema: dict[str, Any]) -> None:
    # ``extra="forbid"`` would add ``additionalProperties: false``: the schema an agent is
    # sent (and the recorded requests that carry it) stays as it was.
    schema.pop("additionalProperties", None)


class ToolArguments(BaseModel):
    """Base of the tools' argument models: an argument the tool does not take is refused.

    An agent that passes ``colour="red"`` to a tool with no ``colour`` is told so, with the
    arguments the tool takes (:func:`check_arguments`, :func:`validation_text`), instead of
    the argument being dropped without a word. The JSON schema is unchanged.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=_keep_schema)


class NoArgs(BaseModel):
    """No arguments (the image listings).

    Anything passed is ignored, in both skins alike: LangChain does not validate the input
    of a tool whose schema has no fields, and a listing has no option to get wrong.
    """


@dataclass(frozen=True)
class ToolContract:
    """One agent tool as both skins offer it.

    Attributes:
        function: the function name (LlamaIndex); LangChain's tool name is
            ``"arli_" + function``.
        schema: the argument model (``None``: the tool takes no arguments).
        description: what the agent is told; ``{prefix}`` is replaced by the skin's tool
            name prefix (``"arli_"`` or ``""``) so that tools name each other correctly.
        capability: what the tool needs from its backend (``"generate"``, ``"upscale"``...).
        operation: the argument narrowing that applies per backend (``"generate"``,
            ``"edit"`` or ``""``).
        aiart_description: the description with the AiArt backend (``""``: the same).
        prefixed_name: the tool name with a prefix, when it is not prefix + ``function``
            (the OCR tool is ``read_document`` in LlamaIndex, ``arli_ocr`` in LangChain).
    """

    function: str
    schema: type[BaseModel] | None
    description: str
    capability: str
    operation: str = ""
    aiart_description: str = ""
    prefixed_name: str = ""

    def name(self, prefix: str) -> str:
        """The tool name with the skin's ``prefix``."""
        if prefix and self.prefixed_name:
            return self.prefixed_name
        return prefix + self.function

    def describe(self, prefix: str, *, aiart: bool = False) -> str:
        """The description for a skin (``prefix``) and backend."""
        text = self.aiart_description if aiart and self.aiart_description else self.description
        return text.format(prefix=prefix)

    @property
    def arguments(self) -> type[BaseModel]:
        """The argument model (:class:`NoArgs` for a tool without arguments)."""
        return self.schema or NoArgs


def limits(model: type[BaseModel], name: str) -> dict[str, Any]:
    """The bounds (``ge``, ``le``, ``max_length``...) of field ``name`` of ``model``."""
    found: dict[str, Any] = {}
    for meta in model.model_fields[name].metadata:
        for key in _BOUNDS:
            value = getattr(meta, key, None)
            if value is not None:
                found[key] = value
    return found


def _num(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def argument(
    model: type[BaseModel],
    name: str,
    description: str,
    *,
    default: Any = None,
    **overrides: Any,
) -> Any:
    """A tool argument with the bounds of ``model.name``; ``{lo}``/``{hi}`` in the text are filled.

    Args:
        model: the core request model that holds the range.
        name: its field.
        description: what the agent sees; ``{lo}`` and ``{hi}`` become the bounds.
        default: the argument's default.
        **overrides: bounds the tool states differently (e.g. a seed's ``ge=-1``, where
            ``-1`` is mapped before the request is built).
    """
    bounds = {**limits(model, name), **overrides}
    lo = bounds.get("ge", bounds.get("gt"))
    hi = bounds.get("le", bounds.get("lt"))
    text = description.format(lo=_num(lo), hi=_num(hi))
    return Field(default=default, description=text, **bounds)


def invalid_argument_text(exc: ArliValidationError) -> str:
    """What an agent is told about an argument it must change."""
    text = f"Invalid argument: {exc}"
    if exc.allowed and exc.allowed not in str(exc):
        text += f" (allowed: {exc.allowed})"
    return text + _FIX


def _shown_arguments(schema: type[BaseModel]) -> list[str]:
    """The arguments the agent is shown (hidden ones are accepted but not offered)."""
    return list(schema.model_json_schema().get("properties", {}))


def _describe(exc: ValidationError, schema: type[BaseModel]) -> ArliValidationError:
    """The first problem of ``exc``: an argument the tool does not take, else the field's."""
    unknown = [str(err["loc"][0]) for err in exc.errors() if err["type"] == "extra_forbidden"]
    if unknown:
        shown = _shown_arguments(schema)
        allowed = ", ".join(shown) if shown else "no arguments"
        names = ", ".join(unknown)
        noun = "is not an argument" if len(unknown) == 1 else "are not arguments"
        msg = f"{names} {noun} of this tool: it takes {allowed}"
        return ArliValidationError(msg, field=unknown[0], allowed=allowed)
    from arli.images.models import describe_validation_error  # noqa: PLC0415 - no cycle

    return describe_validation_error(exc, schema)


def validation_text(exc: ValidationError | Any, schema: type[BaseModel] | None = None) -> str:
    """What an agent is told when its arguments fail ``schema`` (names the field and range)."""
    if isinstance(exc, ValidationError) and schema is not None:
        return invalid_argument_text(_describe(exc, schema))
    return f"Invalid arguments: {exc}. Fix them and call the tool again."


def with_message(exc: ArliError, text: str) -> ArliError:
    """A copy of ``exc`` (same class and attributes) whose message is ``text``."""
    clone = exc.__class__.__new__(exc.__class__)
    clone.__dict__.update(exc.__dict__)
    clone.args = (text,)
    return clone


def check_arguments(schema: type[BaseModel], args: Mapping[str, Any]) -> dict[str, Any]:
    """The agent's ``args`` validated by ``schema`` (coerced), as keyword arguments.

    Raises:
        ArliValidationError: the first bad argument (or one the tool does not take), with
            :func:`validation_text` as its message (the text the agent gets), naming the
            field and what is allowed.
    """
    try:
        model = schema.model_validate(dict(args))
    except ValidationError as exc:
        error = _describe(exc, schema)
        raise with_message(error, invalid_argument_text(error)) from None
    return {name: getattr(model, name) for name in schema.model_fields}


def resolve_agent_path(
    ref: str,
    *,
    field: str,
    roots: Sequence[Path],
    allow_urls: bool,
    refuse_base64: bool = True,
    what: str = "file",
) -> str | Path:
    """Check a file reference from an agent: a file under ``roots``, or an http(s) URL.

    Relative paths are looked up in the working directory and in each root; the file
    found must lie under a root after resolving symlinks.

    Args:
        ref: what the agent passed.
        field: the argument's name (named in errors).
        roots: the directories the agent may read.
        allow_urls: accept http(s) URLs.
        refuse_base64: refuse base64 text and ``data:`` URIs as image data (models cannot
            emit them reliably, and data should not travel through the model's context);
            without it a ``data:`` URI is refused as an unsupported scheme.
        what: the kind of file named when none is found (``"image file"``...).

    Raises:
        ArliValidationError: naming ``field`` and what is allowed.
    """
    allowed = "a file path" + (" or an http(s) URL" if allow_urls else "")
    text = (ref or "").strip()
    if not text:
        msg = f"{field} is empty: pass {allowed}"
        raise ArliValidationError(msg, field=field, allowed=allowed)
    if refuse_base64 and (
        text.startswith("data:")
        or (_B64_LIKE.match(text) and "/" not in text[:64] and "." not in text[-8:])
    ):
        msg = f"{field} looks like image data: pass {allowed}, not base64"
        raise ArliValidationError(msg, field=field, allowed=allowed)
    if is_http_url(text):
        if not allow_urls:
            msg = f"{field}: URLs are not allowed here; pass a file path"
            raise ArliValidationError(msg, field=field, allowed="a file path")
        return text
    if text.lower().startswith("file://"):
        text = text[7:]
    elif "://" in text[:16] or text.startswith("data:"):
        msg = f"{field}={text[:80]!r}: only file paths and http(s) URLs are supported"
        raise ArliValidationError(msg, field=field, allowed=allowed)
    resolved_roots = [d.resolve() for d in roots]
    path = Path(text).expanduser()
    candidates = (
        [path] if path.is_absolute() else [Path.cwd() / path, *(r / path for r in resolved_roots)]
    )
    for candidate in candidates:
        resolved = candidate.resolve()
        if resolved.is_file() and any(resolved.is_relative_to(r) for r in resolved_roots):
            return resolved
    if any(c.resolve().is_file() for c in candidates):
        where = ", ".join(str(r) for r in resolved_roots)
        msg = f"{field}={text[:200]!r} is outside the directories this tool may read ({where})"
        raise ArliValidationError(msg, field=field, allowed=f"files under {where}")
    msg = f"{field}: no {what} at {text[:200]!r}"
    raise ArliValidationError(msg, field=field, allowed=allowed)

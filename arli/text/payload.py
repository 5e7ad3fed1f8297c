"""Request bodies for chat and completions: parameters, guided decoding, tools, images.

Both framework skins hand this module OpenAI-format messages and their parameters; it
returns the exact JSON body that goes on the wire, and the guided-decoding constraint
(if any) so the answer can be checked. Precedence, lowest first: instance parameters,
per-call parameters, the instance ``extra_body``, the per-call ``extra_body`` (the two
``extra_body`` dicts are deep-merged, never one replacing the other).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from arli._errors import ArliValidationError
from arli._kwargs import unknown_argument
from arli.media import aload_image, load_image
from arli.text.guided import (
    GuidedConstraint,
    apply_constraint,
    check_answer,
    constraint_from_params,
    constraint_from_response_format,
)
from arli.text.params import (
    ALIASES,
    CONSTRAINT_FIELDS,
    CROSS_CHECKED_FIELDS,
    SAMPLER_NAMES,
    Range,
    validate_params,
)

__all__ = [
    "PASSTHROUGH_FIELDS",
    "RequestPlan",
    "ainline_images",
    "build_chat_body",
    "build_completion_body",
    "check_allowed",
    "deep_merge",
    "inline_images",
    "instance_params",
    "normalize_tool_choice",
    "plan_chat",
    "plan_completion",
    "split_call_kwargs",
    "stream_fields",
    "verify_choices",
]

#: Engine request fields accepted per call besides the typed parameters; they pass through.
PASSTHROUGH_FIELDS = frozenset(
    {
        "user",
        "reasoning_effort",
        "include_reasoning",
        "chat_template",
        "chat_template_kwargs",
        "add_generation_prompt",
        "continue_final_message",
        "add_special_tokens",
        "echo",
        "suffix",
        "best_of",
        "use_beam_search",
        "bad_words",
        "allowed_token_ids",
        "structured_outputs",
        "priority",
        "request_id",
        "documents",
        "mm_processor_kwargs",
        "return_tokens_as_token_ids",
        "temperature_last",
        "custom_token_bans",
        "banned_strings",
        "dry_penalty_last_n",
        "stream_options",
    }
)
#: Per-call keys that the builders take as arguments rather than parameters.
_STRUCTURAL = frozenset(
    {"tools", "tool_choice", "parallel_tool_calls", "response_format", "extra_body", "model"}
)


@dataclass
class RequestPlan:
    """What a call sends: the body, and the constraint to check the answer against."""

    body: dict[str, Any]
    constraint: GuidedConstraint | None
    style: str


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``; nested dicts merge, other values replace."""
    out = dict(base)
    for key, value in override.items():
        current = out.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            out[key] = deep_merge(current, value)
        else:
            out[key] = value
    return out


def split_call_kwargs(kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split per-call keyword arguments into ``(parameters, structural)``.

    Parameters are validated with the field rules; structural keys (``tools``,
    ``tool_choice``, ``response_format``, ``extra_body``, ``model``...) are returned apart.

    Raises:
        ArliValidationError: for a value out of range, or an unknown name (with the
            closest known name, and the hint to use ``extra_body`` for other fields).
    """
    params: dict[str, Any] = {}
    structural: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in _STRUCTURAL:
            structural[key] = value
        elif key in SAMPLER_NAMES or key in ALIASES or key in PASSTHROUGH_FIELDS:
            params[key] = value
        else:
            raise _unknown(key)
    return validate_params(params), structural


def _unknown(key: str) -> ArliValidationError:
    """The error for a parameter name we do not take (a refused one says why)."""
    known = SAMPLER_NAMES | set(ALIASES) | PASSTHROUGH_FIELDS
    return unknown_argument("", key, known, extras="extra_body")


def normalize_tool_choice(
    tool_choice: Any, tools: Sequence[Mapping[str, Any]] | None
) -> str | dict[str, Any] | None:
    """Map ``tool_choice`` to the OpenAI wire form, checking it against ``tools``.

    ``"any"`` and ``True`` mean ``"required"``; a tool's name means that tool. Without
    tools, ``"auto"``/``"none"`` are dropped and anything else is an error (vLLM rejects a
    ``tool_choice`` without ``tools``).

    Raises:
        ArliValidationError: for a named tool that is not offered, or a choice without tools.
    """
    if tool_choice is None or tool_choice is False:
        return None
    names = [
        str((t.get("function") or {}).get("name")) for t in tools or () if isinstance(t, Mapping)
    ]
    if not tools:
        if tool_choice in ("auto", "none"):
            return None
        msg = f"tool_choice={tool_choice!r} needs tools; bind tools first (bind_tools / tools=...)"
        raise ArliValidationError(msg, field="tool_choice", allowed="a choice together with tools")
    if tool_choice is True or tool_choice == "any":
        return "required"
    if tool_choice in ("auto", "none", "required"):
        return str(tool_choice)
    name: Any = None
    if isinstance(tool_choice, str):
        name = tool_choice
    elif isinstance(tool_choice, Mapping):
        fn = tool_choice.get("function") or {}
        name = fn.get("name") if isinstance(fn, Mapping) else None
        if tool_choice.get("type") not in (None, "function") or not isinstance(name, str):
            msg = f"tool_choice={dict(tool_choice)!r} is not a valid tool choice"
            raise ArliValidationError(
                msg, field="tool_choice", allowed="auto, none, required, any, a tool name"
            )
    else:
        msg = f"tool_choice={tool_choice!r} is not a valid tool choice"
        raise ArliValidationError(
            msg, field="tool_choice", allowed="auto, none, required, any, a tool name"
        )
    if name not in names:
        msg = f"tool_choice names {name!r}, which is not among the tools: {', '.join(names)}"
        raise ArliValidationError(msg, field="tool_choice", allowed=", ".join(names))
    return {"type": "function", "function": {"name": name}}


def stream_fields(body: dict[str, Any], include_usage: bool) -> dict[str, Any]:
    """Make ``body`` a stream request (in place): the one place stream options are decided.

    ``stream: true`` is set; ``stream_options: {"include_usage": true}`` is added when
    ``include_usage`` and the caller gave no ``stream_options`` of its own (theirs win).
    """
    body["stream"] = True
    if include_usage and "stream_options" not in body:
        body["stream_options"] = {"include_usage": True}
    return body


def _plan(
    body: dict[str, Any],
    params: Mapping[str, Any],
    response_format: Any,
    style: str,
    extra_body: Mapping[str, Any] | None,
    stream: bool,
    include_usage: bool,
) -> RequestPlan:
    values = dict(params)
    constraint = constraint_from_params(values)
    body.update(values)
    if constraint is not None:
        apply_constraint(body, constraint, style)
    if response_format is not None:  # an explicit response_format is sent as given
        body["response_format"] = response_format
        constraint = constraint or constraint_from_response_format(response_format)
    if stream:
        stream_fields(body, include_usage)
    if extra_body:
        body = deep_merge(body, extra_body)
    return RequestPlan(body, constraint, style)


def build_chat_body(
    *,
    model: str,
    messages: list[dict[str, Any]],
    params: Mapping[str, Any],
    tools: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: Any = None,
    parallel_tool_calls: bool | None = None,
    response_format: Any = None,
    style: str = "both",
    extra_body: Mapping[str, Any] | None = None,
    stream: bool = False,
    include_usage: bool = True,
) -> RequestPlan:
    """The ``/v1/chat/completions`` body.

    Args:
        model: the model id.
        messages: OpenAI-format messages (images already inlined if needed).
        params: validated parameters (instance merged with per-call); ``None`` = unset.
        tools: OpenAI-format tool definitions.
        tool_choice: see :func:`normalize_tool_choice`.
        parallel_tool_calls: sent when not ``None`` (and tools are given).
        response_format: an explicit OpenAI ``response_format``.
        style: the guided decoding style (see :mod:`arli.text.guided`).
        extra_body: fields merged into the body last.
        stream: ask for a stream.
        include_usage: with ``stream``, ask for the usage chunk.
    """
    values = {k: v for k, v in params.items() if v is not None}
    logprobs = values.get("logprobs")
    if isinstance(logprobs, int) and not isinstance(logprobs, bool):
        values["logprobs"] = True  # chat takes a bool; an int means "this many alternatives"
        values.setdefault("top_logprobs", logprobs)
    body: dict[str, Any] = {"model": model, "messages": messages}
    if tools:
        body["tools"] = list(tools)
        choice = normalize_tool_choice(tool_choice, tools)
        if choice is not None:
            body["tool_choice"] = choice
        if parallel_tool_calls is not None:
            body["parallel_tool_calls"] = parallel_tool_calls
    else:
        normalize_tool_choice(tool_choice, None)  # raises for a choice without tools
    return _plan(body, values, response_format, style, extra_body, stream, include_usage)


def build_completion_body(
    *,
    model: str,
    prompt: str | list[str] | list[int],
    params: Mapping[str, Any],
    response_format: Any = None,
    style: str = "both",
    extra_body: Mapping[str, Any] | None = None,
    stream: bool = False,
    include_usage: bool = True,
) -> RequestPlan:
    """The ``/v1/completions`` body (``logprobs`` is an int here: top-N per token)."""
    values = {k: v for k, v in params.items() if v is not None}
    if values.get("logprobs") is True:
        values["logprobs"] = values.pop("top_logprobs", None) or 1
    elif values.get("logprobs") is False:
        values.pop("logprobs")
    values.pop("top_logprobs", None)
    body: dict[str, Any] = {"model": model, "prompt": prompt}
    return _plan(body, values, response_format, style, extra_body, stream, include_usage)


# -- images in messages ----------------------------------------------------------------------


def _check_data_uri(url: str) -> None:
    """A ``data:`` URI in an ``image_url`` part must hold an image (``data:image/...``).

    Only the declared type is checked (the bytes are the server's to decode); anything
    else — ``data:text/html,...``, an untyped ``data:,...`` — is refused before sending.
    """
    mime = url[5:].split(",", 1)[0].split(";", 1)[0].strip().lower()
    if not mime.startswith("image/"):
        msg = (
            f"an image_url data: URI must hold an image (data:image/png;base64,...), "
            f"not {mime or 'untyped data'}"
        )
        raise ArliValidationError(msg, field="image_url", allowed="data:image/* URIs")


def _image_parts(messages: list[dict[str, Any]], inline_urls: bool) -> list[dict[str, Any]]:
    """The ``image_url`` objects (dicts holding ``url``) to inline.

    That is those not ``data:`` URIs yet: local paths, and http(s) URLs with
    ``inline_urls``. Every ``data:`` URI is checked before anything is read.

    Raises:
        ArliValidationError: a ``data:`` URI that does not hold an image.
    """
    found = []
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            if isinstance(part, dict) and part.get("type") == "image_url":
                image_url = part.get("image_url")
                if isinstance(image_url, str):
                    part["image_url"] = image_url = {"url": image_url}
                if isinstance(image_url, dict):
                    url = image_url.get("url")
                    if isinstance(url, str) and url[:5].lower() == "data:":
                        _check_data_uri(url)
                    elif isinstance(url, str) and _check_url(url, inline_urls):
                        found.append(image_url)
    return found


def _load_options(max_bytes: int | None, timeout: float | None) -> dict[str, Any]:
    """The :func:`~arli.media.load_image` options set (unset ones keep its defaults)."""
    options: dict[str, Any] = {}
    if max_bytes is not None:
        options["max_bytes"] = max_bytes
    if timeout is not None:
        options["timeout"] = timeout
    return options


def _check_url(url: str, inline_urls: bool) -> bool:
    """Whether this non-data URL must be fetched (True) or may be left as is (False)."""
    if url.lower().startswith(("http://", "https://")):
        return inline_urls
    return True  # a local path: always read and inline


def inline_images(
    messages: list[dict[str, Any]],
    *,
    inline_urls: bool = True,
    max_bytes: int | None = None,
    timeout: float | None = None,
    http_client: httpx.Client | None = None,
) -> list[dict[str, Any]]:
    """Replace image URLs and file paths in OpenAI-format messages by ``data:`` URIs.

    Arli's vision models take base64 only. http(s) URLs are downloaded (size cap,
    timeout, redirects only to http(s), never with the API key) unless ``inline_urls`` is
    False; local paths are always read. Messages are modified in place and returned.

    Raises:
        ArliValidationError: an image that cannot be read, fetched or recognized.
    """
    options = _load_options(max_bytes, timeout)
    for image_url in _image_parts(messages, inline_urls):
        image = load_image(image_url["url"], http_client=http_client, **options)
        image_url["url"] = image.data_uri()
    return messages


async def ainline_images(
    messages: list[dict[str, Any]],
    *,
    inline_urls: bool = True,
    max_bytes: int | None = None,
    timeout: float | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> list[dict[str, Any]]:
    """Async :func:`inline_images` (downloads do not block the event loop)."""
    options = _load_options(max_bytes, timeout)
    for image_url in _image_parts(messages, inline_urls):
        image = await aload_image(image_url["url"], http_client=http_client, **options)
        image_url["url"] = image.data_uri()
    return messages


# -- one call, start to end ------------------------------------------------------------------


def instance_params(obj: object) -> dict[str, Any]:
    """The parameters set on a model object (any class with :class:`SamplingParams` fields)."""
    values: dict[str, Any] = {}
    for name in SAMPLER_NAMES:
        value = getattr(obj, name, None)
        if value is not None:
            values[name] = value
    return values


def plan_chat(
    *,
    model: str,
    messages: list[dict[str, Any]],
    instance: Mapping[str, Any],
    call_kwargs: Mapping[str, Any],
    instance_extra_body: Mapping[str, Any] | None = None,
    style: str = "both",
    stream: bool = False,
    include_usage: bool = True,
    allowed: frozenset[str] | None = None,
    provider_label: str = "this provider",
) -> RequestPlan:
    """Merge instance and per-call settings and build the chat body (see the module doc).

    ``call_kwargs`` may hold parameters, ``model``, ``tools``, ``tool_choice``,
    ``parallel_tool_calls``, ``response_format``, ``extra_body`` and
    ``guided_decoding_style``. With ``allowed``, any other parameter is rejected (a
    provider that documents fewer parameters than Arli).
    """
    structural, common = _merged_call(
        model, instance, call_kwargs, instance_extra_body, style, allowed, provider_label
    )
    return build_chat_body(
        messages=messages,
        tools=structural.get("tools"),
        tool_choice=structural.get("tool_choice"),
        parallel_tool_calls=structural.get("parallel_tool_calls"),
        stream=stream,
        include_usage=include_usage,
        **common,
    )


def plan_completion(
    *,
    model: str,
    prompt: str | list[str] | list[int],
    instance: Mapping[str, Any],
    call_kwargs: Mapping[str, Any],
    instance_extra_body: Mapping[str, Any] | None = None,
    style: str = "both",
    stream: bool = False,
    include_usage: bool = True,
    allowed: frozenset[str] | None = None,
    provider_label: str = "this provider",
) -> RequestPlan:
    """Like :func:`plan_chat`, for ``/v1/completions``."""
    structural, common = _merged_call(
        model, instance, call_kwargs, instance_extra_body, style, allowed, provider_label
    )
    for key in ("tools", "tool_choice", "parallel_tool_calls"):
        if structural.get(key) is not None:
            msg = f"{key} is not supported by /v1/completions; use the chat model for tools"
            raise ArliValidationError(msg, field=key)
    return build_completion_body(
        prompt=prompt, stream=stream, include_usage=include_usage, **common
    )


def _merged_call(
    model: str,
    instance: Mapping[str, Any],
    call_kwargs: Mapping[str, Any],
    instance_extra_body: Mapping[str, Any] | None,
    style: str,
    allowed: frozenset[str] | None,
    provider_label: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A call's structural kwargs, and the body arguments chat and completions share.

    The per-call settings are merged over the instance's (parameters, ``model``,
    ``extra_body``, ``guided_decoding_style``) and checked against what the provider
    accepts.
    """
    kwargs = dict(call_kwargs)
    style = kwargs.pop("guided_decoding_style", None) or style
    params, structural = split_call_kwargs(kwargs)
    merged = _merge_params(instance, params)
    check_allowed(merged, allowed, provider_label)
    return structural, {
        "model": structural.get("model") or model,
        "params": merged,
        "response_format": structural.get("response_format"),
        "style": style,
        "extra_body": _merged_extra(instance_extra_body, structural.get("extra_body")),
    }


def _merge_params(instance: Mapping[str, Any], call: Mapping[str, Any]) -> Mapping[str, Any]:
    """Per-call values win; a per-call constraint replaces the instance's constraint."""
    if not call:
        return instance
    merged = dict(instance)
    if any(call.get(k) is not None for k in CONSTRAINT_FIELDS):
        for key in CONSTRAINT_FIELDS:
            merged.pop(key, None)
    merged.update(call)
    validate_params({k: merged[k] for k in CROSS_CHECKED_FIELDS if k in merged})
    return merged


def check_allowed(
    params: Mapping[str, Any], allowed: frozenset[str] | None, provider_label: str
) -> None:
    """Reject parameters a provider does not document (``allowed=None`` accepts all).

    When ``allowed`` carries ranges (:class:`arli._providers.ProviderParams`), values
    outside the provider's documented range are rejected too.

    Raises:
        ArliValidationError: naming the parameter and the accepted ones.
    """
    if allowed is None:
        return
    extra = sorted(k for k, v in params.items() if v is not None and k not in allowed)
    if extra:
        accepted = ", ".join(sorted(allowed))
        msg = (
            f"{provider_label} does not document {', '.join(map(repr, extra))}; it accepts "
            f"{accepted} (send undocumented fields with extra_body at your own risk)"
        )
        raise ArliValidationError(msg, field=extra[0], allowed=accepted)
    for name, (lo, hi, lo_open) in getattr(allowed, "ranges", {}).items():
        value = params.get(name)
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        spec = Range(lo, hi, lo_open=lo_open)
        if not spec.contains(value):
            allowed_text = f"{spec.describe()} on {provider_label}"
            msg = f"{name}={value!r} is out of range: allowed {allowed_text}"
            raise ArliValidationError(msg, field=name, allowed=allowed_text)


def _merged_extra(
    instance: Mapping[str, Any] | None, call: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    if instance and call:
        return deep_merge(instance, call)
    return call or instance or None


def verify_choices(
    plan: RequestPlan, answers: Sequence[tuple[str | None, str | None]]
) -> list[Any]:
    """Check each ``(text, finish_reason)`` against the plan's constraint.

    Returns the parsed values (JSON for JSON constraints, else the text); with no
    constraint, the texts unchanged.

    Raises:
        ConstraintViolationError: for the first answer that breaks the constraint.
    """
    if plan.constraint is None:
        return [text for text, _ in answers]
    return [
        check_answer(plan.constraint, text, finish_reason=finish, style=plan.style)
        for text, finish in answers
    ]

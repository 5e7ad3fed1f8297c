"""Every text-generation parameter Arli takes, defined once: name, type, range, doc, alias.

:class:`SamplingParams` is a pydantic model whose fields are the request knobs of Arli's
text API — the OpenAI ones and the vLLM/Aphrodite extras. ``ChatArli``, ``ArliLLM`` and the
LlamaIndex ``Arli`` inherit these fields (both frameworks' classes are pydantic models), so a
sampler added here is one line and appears, typed and validated, everywhere. Per-call
overrides go through :func:`validate_params`, which applies the same rules and raises
:class:`~arli.ArliValidationError` naming the field and the allowed range.

Unset fields (``None``) are never sent: the server's defaults and Arli's per-key parameter
overrides apply. Ranges follow the engines' own validation (vLLM / Aphrodite
``SamplingParams._verify_args``) and Arli's documentation; where the engines differ, the
wider range is accepted and the field's description says which engine is stricter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from arli._errors import ArliValidationError

__all__ = [
    "ALIASES",
    "REFUSED_PARAMS",
    "SAMPLER_NAMES",
    "SAMPLER_PRIORITY_NAMES",
    "Range",
    "SamplingParams",
    "describe_range",
    "validate_params",
]


@dataclass(frozen=True)
class Range:
    """Allowed values of a numeric field: bounds (open or closed) or a set of choices."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[float, ...] | None = None

    def describe(self) -> str:
        """E.g. ``(0, 1]``, ``>= -1``, ``one of 0, 2``."""
        if self.choices is not None:
            return "one of " + ", ".join(_num(c) for c in self.choices)
        if self.lo is not None and self.hi is not None:
            left = "(" if self.lo_open else "["
            right = ")" if self.hi_open else "]"
            return f"{left}{_num(self.lo)}, {_num(self.hi)}{right}"
        if self.lo is not None:
            return f"{'>' if self.lo_open else '>='} {_num(self.lo)}"
        if self.hi is not None:
            return f"{'<' if self.hi_open else '<='} {_num(self.hi)}"
        return "any number"

    def contains(self, value: float) -> bool:
        """Whether ``value`` is allowed."""
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.choices is not None:
            return value in self.choices
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return not (self.hi is not None and (value >= self.hi if self.hi_open else value > self.hi))


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def R(  # noqa: N802 - reads like a type annotation
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    choices: Iterable[float] | None = None,
) -> Range:
    """Shorthand for a :class:`Range` in field annotations."""
    return Range(lo, hi, lo_open, hi_open, tuple(choices) if choices is not None else None)


INT64 = R(-(2**63), 2**63 - 1)
UNIT = R(0, 1)
NONNEG = R(0)

#: Aphrodite's 14 samplers, by id; ``sampler_priority`` must list every one of them.
SAMPLER_PRIORITY_NAMES = (
    "TOP_P_TOP_K",
    "TOP_A",
    "MIN_P",
    "TFS",
    "TYPICAL_P",
    "TEMPERATURE",
    "PENALTIES",
    "DRY",
    "NO_REPEAT_NGRAM",
    "TOP_NSIGMA",
    "ETA_CUTOFF",
    "EPSILON_CUTOFF",
    "QUADRATIC",
    "XTC",
)

F = float | None
I = int | None  # noqa: E741


class SamplingParams(BaseModel):
    """The text-generation knobs of the Arli API (OpenAI fields plus vLLM/Aphrodite extras).

    Every field defaults to ``None`` = not sent. ``[a, b]`` ranges include their ends,
    ``(a, b]`` excludes ``a``. "Aphrodite" fields are applied only by Aphrodite-served models
    (vLLM-served models accept and ignore them).
    """

    # hide_input_in_errors: a model-level error would otherwise print the whole input of a
    # subclass (ChatArli, Arli...), api_key included, in the ValidationError's text.
    model_config = ConfigDict(populate_by_name=True, hide_input_in_errors=True)

    # -- OpenAI fields -----------------------------------------------------------------------
    temperature: Annotated[F, NONNEG] = Field(
        None, description="Sampling temperature; 0 = greedy. >= 0."
    )
    max_tokens: Annotated[I, R(1)] = Field(None, description="Most tokens to generate. >= 1.")
    top_p: Annotated[F, R(0, 1, lo_open=True)] = Field(
        None, description="Nucleus sampling mass. (0, 1]."
    )
    top_k: Annotated[I, R(-1)] = Field(
        None, description="Keep the top-k tokens; -1 or 0 = all. >= -1."
    )
    stop: list[str] | str | None = Field(
        None, description="Stop strings (not included in the output)."
    )
    seed: Annotated[I, INT64] = Field(None, description="Random seed for reproducible sampling.")
    n: Annotated[I, R(1)] = Field(None, description="Number of choices to generate. >= 1.")
    presence_penalty: Annotated[F, R(-2, 2)] = Field(
        None, description="Penalty for tokens already present. [-2, 2]."
    )
    frequency_penalty: Annotated[F, R(-2, 2)] = Field(
        None, description="Penalty by token frequency. [-2, 2]."
    )
    logit_bias: dict[str, float] | None = Field(
        None, description="Token id -> bias in [-100, 100]."
    )
    logprobs: bool | int | None = Field(
        None,
        description="Chat: return logprobs (bool). Completions: top-N logprobs per token (int >= 0).",
    )
    top_logprobs: Annotated[I, R(0, 20)] = Field(
        None, description="Chat: alternatives per token with logprobs. [0, 20]; needs logprobs."
    )
    # -- vLLM / Aphrodite sampling extras ---------------------------------------------------------
    min_p: Annotated[F, UNIT] = Field(
        None, description="Min-p cutoff (min_p * max_prob); 0 = off. [0, 1]."
    )
    top_a: Annotated[F, NONNEG] = Field(
        None, description="Top-A cutoff (top_a * max_prob**2); 0 = off. >= 0. Aphrodite."
    )
    tfs: Annotated[F, R(0, 1, lo_open=True)] = Field(
        None, description="Tail-free sampling; 1 = off. (0, 1]. Aphrodite."
    )
    typical_p: Annotated[F, R(0, 1, lo_open=True)] = Field(
        None, description="Locally typical sampling; 1 = off. (0, 1]. Aphrodite."
    )
    eta_cutoff: Annotated[F, NONNEG] = Field(
        None, description="Eta sampling threshold in units of 1e-4; 0 = off. >= 0. Aphrodite."
    )
    epsilon_cutoff: Annotated[F, R(0, 1000)] = Field(
        None,
        description="Epsilon sampling threshold in units of 1e-4; 0 = off. [0, 1000]. Aphrodite.",
    )
    repetition_penalty: Annotated[F, R(1)] = Field(
        None,
        description="Multiplicative repetition penalty; 1 = off. [1, inf) (Arli's text API reference).",
    )
    no_repeat_ngram_size: Annotated[I, NONNEG] = Field(
        None, description="Forbid repeating n-grams of this size; 0 = off. >= 0. Aphrodite."
    )
    dry_multiplier: Annotated[F, NONNEG] = Field(
        None, description="DRY repetition penalty strength; 0 = off. >= 0. Aphrodite."
    )
    dry_base: Annotated[F, R(1, lo_open=True)] = Field(
        None, description="DRY penalty growth base. > 1. Aphrodite."
    )
    dry_allowed_length: Annotated[I, R(1)] = Field(
        None,
        description="Longest repetition DRY lets pass (server default 2). >= 1. Aphrodite.",
    )
    dry_sequence_breakers: list[str] | None = Field(
        None, description="Strings that break DRY sequence matching. Aphrodite."
    )
    dry_sequence_breaker_ids: list[int] | None = Field(
        None, description="Token ids that break DRY sequence matching (Arli's name). Aphrodite."
    )
    dry_range: Annotated[I, NONNEG] = Field(
        None, description="Tokens (prompt + output) DRY looks back over; 0 = all. >= 0. Aphrodite."
    )
    mirostat_mode: Annotated[I, R(choices=(0, 2))] = Field(
        None,
        validation_alias=AliasChoices("mirostat_mode", "mirostat"),
        description="Mirostat mode (alias `mirostat`); 0 = off, 2 = Mirostat 2.0. One of 0, 2. Aphrodite.",
    )
    mirostat_tau: Annotated[F, NONNEG] = Field(
        None, description="Mirostat target surprise. >= 0. Aphrodite."
    )
    mirostat_eta: Annotated[F, NONNEG] = Field(
        None, description="Mirostat learning rate. >= 0. Aphrodite."
    )
    dynatemp_min: Annotated[F, NONNEG] = Field(
        None, description="Dynamic temperature lower bound. >= 0. Aphrodite."
    )
    dynatemp_max: Annotated[F, NONNEG] = Field(
        None,
        description="Dynamic temperature upper bound (active when > dynatemp_min). >= 0. Aphrodite.",
    )
    dynatemp_exponent: Annotated[F, NONNEG] = Field(
        None, description="Dynamic temperature exponent. >= 0. Aphrodite."
    )
    smoothing_factor: Annotated[F, NONNEG] = Field(
        None, description="Quadratic sampling smoothing factor; 0 = off. >= 0. Aphrodite."
    )
    smoothing_curve: Annotated[F, NONNEG] = Field(
        None, description="Cubic sampling curve; 1 = quadratic only. >= 0. Aphrodite."
    )
    xtc_threshold: Annotated[F, UNIT] = Field(
        None,
        description="XTC: probability above which top tokens may be excluded. [0, 1]. Aphrodite.",
    )
    xtc_probability: Annotated[F, UNIT] = Field(
        None, description="XTC: chance the exclusion happens; 0 = off. [0, 1]. Aphrodite."
    )
    nsigma: Annotated[F, NONNEG] = Field(
        None, description="Top-n-sigma cutoff in standard deviations; 0 = off. >= 0. Aphrodite."
    )
    skew: Annotated[F, NONNEG] = Field(
        None, description="Skew token selection; 0 = off. >= 0. Aphrodite."
    )
    sampler_priority: list[int] | list[str] | None = Field(
        None,
        description="Order of Aphrodite's samplers: all 14 ids (0-13) or names (e.g. 'MIN_P'). Aphrodite <= 0.10.",
    )
    min_tokens: Annotated[I, NONNEG] = Field(
        None,
        description="Tokens to generate before EOS/stop may end the answer. >= 0 and <= max_tokens.",
    )
    ignore_eos: bool | None = Field(None, description="Keep generating after the EOS token.")
    stop_token_ids: list[int] | None = Field(None, description="Token ids that stop generation.")
    include_stop_str_in_output: bool | None = Field(
        None, description="Keep the matched stop string in the output."
    )
    skip_special_tokens: bool | None = Field(
        None, description="Drop special tokens from the output text."
    )
    spaces_between_special_tokens: bool | None = Field(
        None, description="Put spaces between special tokens in the output text."
    )
    truncate_prompt_tokens: Annotated[I, R(-1)] = Field(
        None, description="Keep only the last k prompt tokens; -1 = the model's maximum. >= -1."
    )
    length_penalty: F = Field(None, description="Length penalty (beam search).")
    early_stopping: bool | None = Field(
        None, description="Beam search: stop as soon as enough candidates are done. Aphrodite."
    )
    prompt_logprobs: Annotated[I, R(-1)] = Field(
        None,
        description="Logprobs per prompt token (-1 = all the server allows). >= -1; not with streaming.",
    )
    detokenize: bool | None = Field(
        None, description="Detokenize the output (server default true; false returns no text)."
    )
    multi_models: list[str] | None = Field(
        None, description="Arli: models to pick one from at random for this request."
    )
    multiplier: Annotated[F, R(0, lo_open=True)] = Field(
        None, description="Arli: LoRA alpha multiplier of a finetune (0.5, 2 and 4 supported). > 0."
    )
    # -- guided decoding (see arli.text.guided for how they reach the wire) ---------------------------
    guided_json: dict[str, Any] | str | type[BaseModel] | None = Field(
        None,
        description="Constrain the answer to this JSON schema (dict, JSON text or pydantic model class).",
    )
    guided_regex: str | None = Field(
        None, description="Constrain the answer to a full match of this regular expression."
    )
    guided_choice: list[str] | None = Field(
        None, description="Constrain the answer to exactly one of these strings."
    )
    guided_grammar: str | None = Field(
        None,
        description="Constrain the answer to this grammar (GBNF/EBNF, as the server's backend reads it).",
    )
    guided_decoding_backend: str | None = Field(
        None, description="Guided decoding backend for this request (old servers only)."
    )
    guided_whitespace_pattern: str | None = Field(
        None, description="Whitespace allowed between JSON tokens under guided_json."
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_bools(cls, value: Any, info: Any) -> Any:
        # pydantic reads True as 1 for a number: temperature=True would be sent as 1.0
        if isinstance(value, bool) and info.field_name in _RANGES:
            allowed = _RANGES[info.field_name].describe()
            msg = f"{info.field_name}={value!r} is not a number: allowed {allowed}"
            raise ArliValidationError(msg, field=info.field_name, allowed=allowed)
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _check(cls, value: Any, info: Any) -> Any:
        if value is None:
            return value
        check_value(info.field_name, value)
        return value

    @model_validator(mode="after")
    def _check_together(self) -> Self:
        _cross_checks({name: getattr(self, name) for name in _TOGETHER})
        return self


_RANGES: dict[str, Range] = {}
for _name, _info in SamplingParams.model_fields.items():
    for _meta in _info.metadata:
        if isinstance(_meta, Range):
            _RANGES[_name] = _meta

#: The names of every parameter (field names, which are also the wire names).
SAMPLER_NAMES: frozenset[str] = frozenset(SamplingParams.model_fields)
#: Accepted spellings that map to a field name.
ALIASES: dict[str, str] = {"mirostat": "mirostat_mode"}
#: Documented request fields this client refuses, with the reason (name -> reason). Arli's
#: text API reference lists them, but no value of them can work through a JSON request.
REFUSED_PARAMS: dict[str, str] = {
    "logits_processors": (
        "it is a list of Python functions run inside the engine, which cannot be sent as "
        "JSON; use logit_bias, guided_* or the sampler fields instead"
    ),
}


def describe_range(name: str) -> str | None:
    """The allowed range of a numeric parameter, e.g. ``(0, 1]``; ``None`` if unbounded."""
    spec = _RANGES.get(name)
    return spec.describe() if spec else None


def _fail(name: str, value: Any, allowed: str) -> ArliValidationError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ArliValidationError(
        f"{name}={shown} is out of range: allowed {allowed}", field=name, allowed=allowed
    )


def check_value(name: str, value: Any) -> None:
    """Check one already-typed value against its rules.

    Raises:
        ArliValidationError: naming the field and what is allowed.
    """
    spec = _RANGES.get(name)
    if spec is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not spec.contains(value):
            raise _fail(name, value, spec.describe())
    elif name == "logit_bias":
        for token, bias in value.items():
            if not -100 <= bias <= 100:
                raise _fail(f"logit_bias[{token!r}]", bias, "[-100, 100]")
    elif name == "logprobs" and not isinstance(value, bool) and value < 0:
        raise _fail(name, value, "a bool (chat) or an int >= 0 (completions)")
    elif name == "stop" and (value == "" or (isinstance(value, list) and "" in value)):
        raise _fail(name, value, "non-empty strings")
    elif name == "sampler_priority" and value:
        _check_sampler_priority(value)
    elif name in ("guided_choice", "multi_models") and not value:
        raise _fail(name, value, "a non-empty list")
    elif name == "guided_regex":
        try:
            re.compile(value)
        except re.error as exc:
            msg = f"guided_regex={value!r} is not a valid regular expression: {exc}"
            raise ArliValidationError(msg, field=name, allowed="a regular expression") from None


def _check_sampler_priority(value: list[int] | list[str]) -> None:
    total = len(SAMPLER_PRIORITY_NAMES)
    if all(isinstance(v, int) for v in value):
        ids = set(value)
    else:
        names = [str(v).upper() for v in value]
        unknown = [n for n in names if n not in SAMPLER_PRIORITY_NAMES]
        if unknown:
            raise _fail(
                "sampler_priority", value, "names from " + ", ".join(SAMPLER_PRIORITY_NAMES)
            )
        ids = {SAMPLER_PRIORITY_NAMES.index(n) for n in names}
    # Aphrodite's _verify_args: every sampler must be listed ("Missing required samplers"),
    # none twice; a partial ordering is a 400, so it is refused here, naming what is missing.
    missing = [SAMPLER_PRIORITY_NAMES[i] for i in range(total) if i not in ids]
    allowed = f"all {total} sampler ids 0-{total - 1} (or names) exactly once"
    if missing or ids - set(range(total)):
        if missing:
            allowed += "; missing " + ", ".join(missing)
        raise _fail("sampler_priority", value, allowed)
    if len(value) != total:
        raise _fail("sampler_priority", value, allowed + "; some are listed twice")


#: The guided-decoding constraints (at most one per request).
CONSTRAINT_FIELDS = ("guided_json", "guided_regex", "guided_choice", "guided_grammar")
#: Fields whose valid values depend on each other (min <= max, top_logprobs needs logprobs).
CROSS_CHECKED_FIELDS = (
    "min_tokens",
    "max_tokens",
    "top_logprobs",
    "logprobs",
    "dynatemp_min",
    "dynatemp_max",
)
_TOGETHER = CONSTRAINT_FIELDS + CROSS_CHECKED_FIELDS


def _cross_checks(params: Mapping[str, Any]) -> None:
    guided = [k for k in CONSTRAINT_FIELDS if params.get(k) is not None]
    if len(guided) > 1:
        msg = f"only one guided decoding constraint can be used at a time, got {', '.join(guided)}"
        raise ArliValidationError(
            msg, field=guided[1], allowed="one of guided_json/regex/choice/grammar"
        )
    min_tokens, max_tokens = params.get("min_tokens"), params.get("max_tokens")
    if min_tokens is not None and max_tokens is not None and min_tokens > max_tokens:
        raise _fail("min_tokens", min_tokens, f"<= max_tokens ({max_tokens})")
    if params.get("top_logprobs") and not params.get("logprobs"):
        raise _fail(
            "top_logprobs", params["top_logprobs"], "a value only together with logprobs=True"
        )
    lo, hi = params.get("dynatemp_min"), params.get("dynatemp_max")
    if lo is not None and hi is not None and lo > hi:
        raise _fail("dynatemp_min", lo, f"<= dynatemp_max ({hi})")


def validate_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and type-coerce parameters (per-call overrides, or a merged set).

    Known names (and aliases such as ``mirostat``) are checked with the field rules;
    ``None`` values are dropped; unknown names are returned unchanged (they pass through to
    the server like ``extra_body``).

    Raises:
        ArliValidationError: naming the field and the allowed values.
    """
    known: dict[str, Any] = {}
    other: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        name = ALIASES.get(key, key)
        if name in SAMPLER_NAMES:
            known[name] = value
        else:
            other[key] = value
    if known:
        try:
            model = SamplingParams.model_validate(known)
        except ValidationError as exc:
            raise _from_pydantic(exc) from None
        known = {name: getattr(model, name) for name in known}
    _cross_checks(known)
    return known | other


def _from_pydantic(exc: ValidationError) -> ArliValidationError:
    err = exc.errors()[0]
    loc = err.get("loc") or ()
    name = str(loc[0]) if loc else "value"
    ctx_error = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_error, ArliValidationError):
        return ctx_error
    field = SamplingParams.model_fields.get(name)
    expected = str(field.annotation) if field else "a valid value"
    expected = expected.replace("typing.", "").replace("<class '", "").replace("'>", "")
    msg = f"{name}={err.get('input')!r} is invalid: {err.get('msg')} (expected {expected})"
    return ArliValidationError(msg, field=name, allowed=expected)

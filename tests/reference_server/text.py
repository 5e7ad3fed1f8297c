"""The text API: vLLM / Aphrodite-engine OpenAI-compatible routes.

Wire formats follow ``tests/fixtures/wire/WIRE_REFERENCE.md`` §1-2 for three
flavors (see :data:`FLAVOR_SPECS`). Generation is simulated: a deterministic
tokenizer, scripted replies (``script.py``) and constraint-satisfying output
(``schema_gen.py``).

Choices made where the engines leave room:

* ``stop_reason`` is ``null`` when generation ends at EOS (vLLM reports ``null``
  for EOS; an int only for ``stop_token_ids``), the matched string for stop strings.
* The EOS token counts as a completion token (as in vLLM), so a natural end of
  ``k`` visible tokens reports ``completion_tokens = k + 1``.
* ``/detokenize`` decodes ids this tokenizer has produced; unknown ids in the
  vocabulary range decode to ``""``; ids outside it are a 400.
* Aphrodite 0.6 ignores ``structured_outputs`` (it predates the field) but
  honours ``guided_*`` and ``response_format``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import random
import re
import secrets
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from tests.reference_server import schema_gen
from tests.reference_server.script import DEFAULT_SCRIPT, ScriptEntry, ScriptMatch, find_matches
from tests.reference_server.wire import (
    Request,
    Response,
    Settings,
    coerce_value,
    json_bytes,
    json_response,
    pydantic_error,
    sse_event,
)

__all__ = ["FLAVOR_SPECS", "FlavorSpec", "TextAPI", "Tokenizer", "error_body"]


# --------------------------------------------------------------------------------------
# Flavors
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlavorSpec:
    """Differences between the imitated engine versions.

    Attributes:
        name: Flavor id.
        engine: ``"vllm"`` or ``"aphrodite"``.
        version: Reported by ``/version``.
        nested_errors: ``{"error": {...}}`` (else flat ``{"object": "error", ...}``).
        honours_guided: Legacy ``guided_*`` fields constrain the output.
        honours_structured_outputs: ``structured_outputs`` constrains the output.
        reasoning_key: Message/delta key for reasoning text.
        empty_tool_calls: Non-stream messages carry ``tool_calls: []`` when none.
        include_usage_default: ``stream_options.include_usage`` default.
        chat_id_prefix: Prefix of chat completion ids.
        id_hex_len: Length of the random hex id suffix.
        owned_by: ``owned_by`` in ``/v1/models``.
        model_required: ``model`` must be sent.
        newer_keys: Extra null keys of recent vLLM (``routed_experts``, ``metrics`` …).
        aphrodite_samplers: Validate Aphrodite's extra sampler fields.
        system_fingerprint: Value of ``system_fingerprint``.
    """

    name: str
    engine: str
    version: str
    nested_errors: bool
    honours_guided: bool
    honours_structured_outputs: bool
    reasoning_key: str
    empty_tool_calls: bool
    include_usage_default: bool
    chat_id_prefix: str
    id_hex_len: int
    owned_by: str
    model_required: bool
    newer_keys: bool
    aphrodite_samplers: bool
    system_fingerprint: str | None


FLAVOR_SPECS: dict[str, FlavorSpec] = {
    "vllm-0.11": FlavorSpec(
        name="vllm-0.11",
        engine="vllm",
        version="0.11.0",
        nested_errors=True,
        honours_guided=True,
        honours_structured_outputs=True,
        reasoning_key="reasoning_content",
        empty_tool_calls=True,
        include_usage_default=True,
        chat_id_prefix="chatcmpl-",
        id_hex_len=32,
        owned_by="vllm",
        model_required=False,
        newer_keys=False,
        aphrodite_samplers=False,
        system_fingerprint=None,
    ),
    "vllm-0.33": FlavorSpec(
        name="vllm-0.33",
        engine="vllm",
        version="0.33.0",
        nested_errors=True,
        honours_guided=False,
        honours_structured_outputs=True,
        reasoning_key="reasoning",
        empty_tool_calls=False,
        include_usage_default=False,
        chat_id_prefix="chatcmpl-",
        id_hex_len=16,
        owned_by="vllm",
        model_required=False,
        newer_keys=True,
        aphrodite_samplers=False,
        system_fingerprint="vllm-0.33.0-7c3b4ce7",
    ),
    "aphrodite-0.6": FlavorSpec(
        name="aphrodite-0.6",
        engine="aphrodite",
        version="0.6.7",
        nested_errors=False,
        honours_guided=True,
        honours_structured_outputs=False,
        reasoning_key="reasoning_content",
        empty_tool_calls=True,
        include_usage_default=True,
        chat_id_prefix="chat-",
        id_hex_len=32,
        owned_by="pygmalionai",
        model_required=True,
        newer_keys=False,
        aphrodite_samplers=True,
        system_fingerprint=None,
    ),
}

_ERROR_TYPES = {
    400: "BadRequestError",
    401: "UnauthorizedError",
    403: "ForbiddenError",
    404: "NotFoundError",
    408: "RequestTimeoutError",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
    500: "InternalServerError",
    501: "NotImplementedError",
    502: "BadGatewayError",
    503: "ServiceUnavailableError",
    504: "GatewayTimeoutError",
}


def error_body(
    flavor: str, status: int, message: str, err_type: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """Build the engine's error envelope.

    Args:
        flavor: Flavor id (nested vs flat envelope).
        status: HTTP status (also the ``code`` field).
        message: Error message.
        err_type: ``type`` field; defaults to the usual name for ``status``.
        param: ``param`` field.

    Returns:
        The JSON-compatible body.
    """
    err_type = err_type or _ERROR_TYPES.get(status, "Error")
    if FLAVOR_SPECS[flavor].nested_errors:
        return {"error": {"message": message, "type": err_type, "param": param, "code": status}}
    return {"object": "error", "message": message, "type": err_type, "param": param, "code": status}


class _HTTPError(Exception):
    """Raised inside handlers to return an error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


# --------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"<\|[a-z_]+\|>|</?s>| ?[^\W\d_]+| ?\d| ?_+| ?[^\s\w]|\s+(?!\S)|\s+", re.UNICODE
)
_SPECIAL_TOKENS = {
    "<unk>": 0,
    "<s>": 1,
    "</s>": 2,
    "<|im_start|>": 3,
    "<|im_end|>": 4,
    "<|image|>": 5,
}
_VOCAB_BASE = 1000
_VOCAB_SIZE = 131072


class Tokenizer:
    """A deterministic toy tokenizer used consistently for every token count.

    Text splits into words with their leading space, single digits,
    punctuation characters and whitespace runs (GPT-2 style); ids are stable
    CRC32-based integers. ``"".join(split(text)) == text`` always holds.
    """

    _vocab: dict[int, str] = {v: k for k, v in _SPECIAL_TOKENS.items()}

    @staticmethod
    def split(text: str) -> list[str]:
        """Split text into token strings."""
        return _TOKEN_RE.findall(text)

    @classmethod
    def token_id(cls, token: str) -> int:
        """Return the id of a token string (and remember it for decoding)."""
        special = _SPECIAL_TOKENS.get(token)
        if special is not None:
            return special
        tid = _VOCAB_BASE + zlib.crc32(token.encode()) % (_VOCAB_SIZE - _VOCAB_BASE)
        cls._vocab.setdefault(tid, token)
        return tid

    @classmethod
    def encode(cls, text: str, *, add_bos: bool = False) -> list[int]:
        """Encode text to ids, optionally prefixed by the BOS id (1)."""
        ids = [cls.token_id(tok) for tok in cls.split(text)]
        return [1, *ids] if add_bos else ids

    @classmethod
    def decode(cls, ids: list[int]) -> str:
        """Decode ids produced by :meth:`encode`.

        Raises:
            ValueError: For ids outside the vocabulary range.
        """
        out = []
        for tid in ids:
            if not 0 <= tid < _VOCAB_SIZE:
                raise ValueError(f"Token id {tid} is out of vocabulary")
            out.append(cls._vocab.get(tid, ""))
        return "".join(out)

    @classmethod
    def count(cls, text: str) -> int:
        """Number of tokens in ``text``."""
        return len(cls.split(text))


def _logprob(token: str, position: int) -> float:
    h = zlib.crc32(f"{position}:{token}".encode())
    return -round((h % 4000) / 1000 + 0.001, 6)


_ALTERNATIVES = [" the", ",", ".", " and", " a", " of", " to", "!", " I", " is", " it", " you"]


def _top_alternatives(token: str, position: int, count: int) -> list[tuple[str, float]]:
    chosen = _logprob(token, position)
    out = [(token, chosen)]
    h = zlib.crc32(f"alt:{position}:{token}".encode())
    k = 0
    while len(out) < count + 1 and k < len(_ALTERNATIVES) * 2:
        alt = _ALTERNATIVES[(h + k) % len(_ALTERNATIVES)]
        k += 1
        if alt == token or any(alt == t for t, _ in out):
            continue
        out.append((alt, round(chosen - 0.75 * len(out) - (h % 97) / 1000, 6)))
    return out


# --------------------------------------------------------------------------------------
# Request field validation (a small imitation of pydantic's lax mode)
# --------------------------------------------------------------------------------------

_COMMON_FIELDS: dict[str, str] = {
    "model": "str",
    "frequency_penalty": "float",
    "presence_penalty": "float",
    "temperature": "float",
    "top_p": "float",
    "top_k": "int",
    "min_p": "float",
    "repetition_penalty": "float",
    "length_penalty": "float",
    "n": "int",
    "max_tokens": "int",
    "min_tokens": "int",
    "seed": "int",
    "stream": "bool",
    "stream_options": "dict",
    "stop": "stop",
    "stop_token_ids": "intlist",
    "include_stop_str_in_output": "bool",
    "ignore_eos": "bool",
    "skip_special_tokens": "bool",
    "spaces_between_special_tokens": "bool",
    "use_beam_search": "bool",
    "prompt_logprobs": "int",
    "truncate_prompt_tokens": "int",
    "response_format": "dict",
    "structured_outputs": "dict",
    "guided_regex": "str",
    "guided_grammar": "str",
    "guided_choice": "strlist",
    "guided_decoding_backend": "str",
    "logit_bias": "dict",
    "user": "str",
    "priority": "int",
    "request_id": "str",
}
_CHAT_FIELDS: dict[str, str] = {
    **_COMMON_FIELDS,
    "messages": "list",
    "max_completion_tokens": "int",
    "logprobs": "bool",
    "top_logprobs": "int",
    "tools": "list",
    "parallel_tool_calls": "bool",
    "echo": "bool",
    "add_generation_prompt": "bool",
    "continue_final_message": "bool",
    "add_special_tokens": "bool",
    "include_reasoning": "bool",
    "chat_template_kwargs": "dict",
}
_COMPLETION_FIELDS: dict[str, str] = {
    **_COMMON_FIELDS,
    "prompt": "prompt",
    "logprobs": "int",
    "echo": "bool",
    "suffix": "str",
    "add_special_tokens": "bool",
}
_APHRODITE_FIELDS: dict[str, str] = {
    "top_a": "float",
    "tfs": "float",
    "eta_cutoff": "float",
    "epsilon_cutoff": "float",
    "typical_p": "float",
    "smoothing_factor": "float",
    "smoothing_curve": "float",
    "temperature_last": "bool",
    "dynatemp_min": "float",
    "dynatemp_max": "float",
    "dynatemp_exponent": "float",
    "xtc_threshold": "float",
    "xtc_probability": "float",
    "dry_multiplier": "float",
    "dry_base": "float",
    "dry_allowed_length": "int",
    "dry_range": "int",
    "nsigma": "float",
    "skew": "float",
    "no_repeat_ngram_size": "int",
    "mirostat_mode": "int",
    "mirostat_tau": "float",
    "mirostat_eta": "float",
}


# --------------------------------------------------------------------------------------
# Generation plan
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# The API
# --------------------------------------------------------------------------------------


@dataclass
class _ChatContext:
    last_user_text: str
    tool_result: bool
    tool_result_text: str
    images: list[str]
    tools: dict[str, dict[str, Any]]
    tool_choice: Any
    constraint: _Constraint | None


class TextAPI:
    """Handlers for the text routes.

    Args:
        settings: Shared server settings (read on every request).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._created = int(time.time())

    # ---- helpers --------------------------------------------------------------------

    @property
    def flavor(self) -> FlavorSpec:
        """The active flavor."""
        return FLAVOR_SPECS[self.settings.flavor]

    def tokenize_paths(self) -> tuple[str, ...]:
        """Paths at which ``/tokenize`` and ``/detokenize`` are served."""
        v1 = self.settings.tokenize_v1
        if v1 is None:
            v1 = self.flavor.engine == "aphrodite"
        paths: tuple[str, ...] = ()
        if self.flavor.engine == "vllm":
            paths += ("/tokenize", "/detokenize")
        if v1:
            paths += ("/v1/tokenize", "/v1/detokenize")
        return paths

    def routes(self) -> dict[str, tuple[str, ...]]:
        """Path to allowed methods for every text route."""
        routes: dict[str, tuple[str, ...]] = {
            "/v1/chat/completions": ("POST",),
            "/v1/completions": ("POST",),
            "/v1/models": ("GET",),
            "/health": ("GET",),
            "/version": ("GET",),
        }
        for path in self.tokenize_paths():
            routes[path] = ("POST",)
        return routes

    def error(
        self, status: int, message: str, err_type: str | None = None, param: str | None = None
    ) -> Response:
        """Build an error response in the flavor's envelope."""
        return json_response(
            status, error_body(self.settings.flavor, status, message, err_type, param)
        )

    def _validation_error(self, errors: list[dict[str, Any]]) -> Response:
        flavor = self.flavor
        if flavor.name == "vllm-0.33":
            lines = []
            for err in errors:
                item = dict(err)
                item["loc"] = ".".join(str(p) for p in err["loc"])
                value = err["input"]
                if isinstance(value, dict):
                    item["input"] = f"<dict of {len(value)} items>"
                elif isinstance(value, list):
                    item["input"] = f"<list of {len(value)} items>"
                lines.append(repr(item))
            n = len(errors)
            message = f"{n} validation error{'s' if n != 1 else ''}:\n  " + "\n  ".join(lines)
            param = ".".join(str(p) for p in errors[0]["loc"]) if errors else None
            return self.error(400, message, "Bad Request", param)
        err_type = "Bad Request" if flavor.engine == "vllm" else "BadRequestError"
        return self.error(400, repr(errors), err_type)

    def _value_error(self, body: Any, message: str) -> Response:
        return self._validation_error(
            [
                {
                    "type": "value_error",
                    "loc": ("body",),
                    "msg": f"Value error, {message}",
                    "input": body,
                    "ctx": {"error": ValueError(message)},
                }
            ]
        )

    def _json_body(self, req: Request) -> dict[str, Any]:
        if req.content_type != "application/json":
            raise _HTTPError(
                self._validation_error_raw(
                    ["Unsupported Media Type: Only 'application/json' is allowed"]
                )
            )
        if req.json_error is not None or not req.body:
            raise _HTTPError(
                self._validation_error(
                    [
                        {
                            "type": "json_invalid",
                            "loc": ("body", 0),
                            "msg": "JSON decode error",
                            "input": {},
                            "ctx": {"error": req.json_error or "Expecting value"},
                        }
                    ]
                )
            )
        if not isinstance(req.json, dict):
            raise _HTTPError(
                self._validation_error(
                    [
                        {
                            "type": "model_attributes_type",
                            "loc": ("body",),
                            "msg": (
                                "Input should be a valid dictionary or object to extract "
                                "fields from"
                            ),
                            "input": req.json,
                        }
                    ]
                )
            )
        return req.json

    def _validation_error_raw(self, errors: list[str]) -> Response:
        if self.flavor.name == "vllm-0.33":
            return self.error(400, f"1 validation error:\n  {errors[0]}", "Bad Request")
        err_type = "Bad Request" if self.flavor.engine == "vllm" else "BadRequestError"
        return self.error(400, repr(errors), err_type)

    def _coerce_fields(
        self, body: dict[str, Any], fields: dict[str, str], required: tuple[str, ...]
    ) -> dict[str, Any]:
        if self.flavor.aphrodite_samplers:
            fields = {**fields, **_APHRODITE_FIELDS}
        errors: list[dict[str, Any]] = []
        values: dict[str, Any] = {}
        for name in required:
            if name not in body:
                errors.append(pydantic_error("missing", (name,), "Field required", body))
        for name, kind in fields.items():
            if name in body:
                value, errs = coerce_value(name, kind, body[name])
                errors.extend(errs)
                values[name] = value
        if errors:
            raise _HTTPError(self._validation_error(errors))
        return values

    def _resolve_model(self, name: str | None) -> str:
        models = self.settings.models
        if name is None or name == "":
            return models[0]
        if name in models:
            return name
        if self.flavor.name == "vllm-0.33":
            raise _HTTPError(
                self.error(
                    404,
                    f"The model `{name}` does not exist. Valid aliases: {', '.join(models)}.",
                    "NotFoundError",
                    "model",
                )
            )
        raise _HTTPError(self.error(404, f"The model `{name}` does not exist.", "NotFoundError"))

    def _check_sampling(self, v: dict[str, Any]) -> None:
        def bad(message: str) -> None:
            raise _HTTPError(self.error(400, message, "BadRequestError"))

        n = v.get("n")
        if n is not None and n < 1:
            bad(f"n must be at least 1, got {n}.")
        for name in ("presence_penalty", "frequency_penalty"):
            value = v.get(name)
            if value is not None and not -2.0 <= value <= 2.0:
                bad(f"{name} must be in [-2, 2], got {value}.")
        rep = v.get("repetition_penalty")
        if rep is not None:
            if self.flavor.aphrodite_samplers and rep < 1.0:
                bad(f"repetition_penalty must be in [1, inf), got {rep}.")
            if rep <= 0.0:
                bad(f"repetition_penalty must be greater than zero, got {rep}.")
        temp = v.get("temperature")
        if temp is not None and temp < 0.0:
            bad(f"temperature must be non-negative, got {temp}.")
        top_p = v.get("top_p")
        if top_p is not None and not 0.0 < top_p <= 1.0:
            bad(f"top_p must be in (0, 1], got {top_p}.")
        top_k = v.get("top_k")
        if top_k is not None:
            if self.flavor.aphrodite_samplers and (top_k == 0 or top_k < -1):
                bad(f"top_k must be -1 (disable), or at least 1, got {top_k}.")
            if top_k < -1:
                bad(f"top_k must be 0 (disable), or at least 1, got {top_k}.")
        min_p = v.get("min_p")
        if min_p is not None and not 0.0 <= min_p <= 1.0:
            bad(f"min_p must be in [0, 1], got {min_p}.")
        max_tokens = v.get("max_completion_tokens") or v.get("max_tokens")
        if max_tokens is not None and max_tokens < 1:
            bad(f"max_tokens must be at least 1, got {max_tokens}.")
        min_tokens = v.get("min_tokens")
        if min_tokens is not None:
            if min_tokens < 0:
                bad(f"min_tokens must be greater than or equal to 0, got {min_tokens}.")
            if max_tokens is not None and min_tokens > max_tokens:
                bad(
                    "min_tokens must be less than or equal to "
                    f"max_tokens={max_tokens}, got {min_tokens}."
                )
        stop = v.get("stop")
        if stop and "" in stop:
            bad("stop cannot contain an empty string.")
        if self.flavor.aphrodite_samplers:
            self._check_aphrodite(v, bad)

    @staticmethod
    def _check_aphrodite(v: dict[str, Any], bad: Any) -> None:
        checks: list[tuple[str, Any, str]] = [
            ("top_a", lambda x: x >= 0, "top_a must be non-negative, got {}."),
            ("tfs", lambda x: 0 < x <= 1, "tfs must be in (0, 1], got {}."),
            ("typical_p", lambda x: 0 <= x <= 1, "typical_p must be in [0, 1], got {}."),
            ("eta_cutoff", lambda x: x >= 0, "eta_cutoff must be non-negative, got {}."),
            (
                "epsilon_cutoff",
                lambda x: 0 <= x <= 1000,
                "epsilon_cutoff must be in [0, 1000], got {}.",
            ),
            ("xtc_threshold", lambda x: x >= 0, "xtc_threshold must be non-negative, got {}."),
            (
                "xtc_probability",
                lambda x: 0 <= x <= 1,
                "xtc_probability must be in [0, 1], got {}.",
            ),
            ("dry_multiplier", lambda x: x >= 0, "dry_multiplier must be non-negative, got {}."),
            ("dry_base", lambda x: x > 1, "dry_base must be greater than 1, got {}."),
            (
                "dry_allowed_length",
                lambda x: x >= 0,
                "dry_allowed_length must be non-negative, got {}.",
            ),
            ("dry_range", lambda x: x >= 0, "dry_range must be non-negative, got {}."),
            ("nsigma", lambda x: x >= 0, "nsigma must be non-negative, got {}."),
            (
                "no_repeat_ngram_size",
                lambda x: x >= 0,
                "no_repeat_ngram_size must be non-negative, got {}.",
            ),
            (
                "mirostat_mode",
                lambda x: x in (0, 2),
                "Only Mirostat v2 (2) and disabled (0) supported, got {}",
            ),
            ("mirostat_tau", lambda x: x >= 0, "mirostat_tau must be non-negative, got {}."),
            ("mirostat_eta", lambda x: x >= 0, "mirostat_eta must be non-negative, got {}."),
        ]
        for name, ok, message in checks:
            value = v.get(name)
            if value is not None and not ok(value):
                bad(message.format(value))

    def _check_context(self, prompt_tokens: int, max_tokens: int | None, *, chat: bool) -> int:
        limit = self.settings.max_model_len
        suffix = " None" if chat and self.flavor.name == "vllm-0.11" else ""
        if prompt_tokens >= limit:
            raise _HTTPError(
                self.error(
                    400,
                    f"This model's maximum context length is {limit} tokens. However, your request "
                    f"has {prompt_tokens} input tokens. Please reduce the length of the input "
                    f"messages.{suffix}",
                    "BadRequestError",
                )
            )
        if max_tokens is None:
            return limit - prompt_tokens
        if self.flavor.name == "vllm-0.33" and max_tokens > limit:
            raise _HTTPError(
                self.error(
                    400,
                    f"max_tokens={max_tokens} cannot be greater than max_model_len={limit}. Please "
                    f"request fewer output tokens. (parameter=max_tokens, value={max_tokens})",
                    "BadRequestError",
                    "max_tokens",
                )
            )
        if prompt_tokens + max_tokens > limit:
            if self.flavor.engine == "aphrodite":
                message = (
                    f"This model's maximum context length is {limit} tokens. However, you "
                    f"requested {prompt_tokens + max_tokens} tokens ({prompt_tokens} in the "
                    f"messages, {max_tokens} in the completion). Please reduce the length of the "
                    "messages or completion."
                )
                raise _HTTPError(self.error(400, message, "BadRequestError"))
            message = (
                f"'max_tokens' or 'max_completion_tokens' is too large: {max_tokens}. This model's "
                f"maximum context length is {limit} tokens and your request has {prompt_tokens} "
                f"input tokens ({max_tokens} > {limit} - {prompt_tokens})."
            )
            if self.flavor.name == "vllm-0.33":
                message += f" (parameter=max_tokens, value={max_tokens})"
                raise _HTTPError(self.error(400, message, "BadRequestError", "max_tokens"))
            raise _HTTPError(self.error(400, message + suffix, "BadRequestError"))
        return max_tokens

    def _request_id(self, req: Request, body: dict[str, Any]) -> str:
        if self.flavor.engine == "vllm":
            header = req.headers.get("x-request-id")
            if header:
                return header
            if isinstance(body.get("request_id"), str) and body["request_id"]:
                return str(body["request_id"])
        return _hex_id(self.flavor.id_hex_len)

    def _matches(
        self, text: str, *, tool_result: bool, has_image: bool, images: tuple[str, ...] = ()
    ) -> list[ScriptMatch]:
        user_entries: list[ScriptEntry] = list(self.settings.script)
        return find_matches(
            [*user_entries, *DEFAULT_SCRIPT],
            text,
            tool_result=tool_result,
            has_image=has_image,
            images=images,
        )

    # ---- constraints ----------------------------------------------------------------

    def _constraint(self, body: dict[str, Any]) -> _Constraint | None:
        response_format = body.get("response_format")
        if isinstance(response_format, dict):
            kind = response_format.get("type")
            if kind == "json_schema":
                spec = response_format.get("json_schema")
                if not isinstance(spec, dict) or "name" not in spec:
                    raise _HTTPError(
                        self._validation_error(
                            [
                                pydantic_error(
                                    "missing",
                                    ("response_format", "json_schema", "name"),
                                    "Field required",
                                    spec if spec is not None else response_format,
                                )
                            ]
                        )
                    )
                schema = spec.get("schema")
                if schema is None:
                    return _Constraint("json_object")
                return self._json_constraint(schema)
            if kind == "json_object":
                return _Constraint("json_object")
            if kind not in ("text", "structural_tag"):
                raise _HTTPError(
                    self._validation_error(
                        [
                            pydantic_error(
                                "literal_error",
                                ("response_format", "type"),
                                "Input should be 'text', 'json_object', 'json_schema' or "
                                "'structural_tag'",
                                kind,
                            )
                        ]
                    )
                )
        structured = body.get("structured_outputs")
        if self.flavor.honours_structured_outputs and isinstance(structured, dict):
            kinds = {
                k: structured[k]
                for k in ("json", "regex", "choice", "grammar", "json_object")
                if structured.get(k) not in (None, False)
            }
            if len(kinds) > 1:
                raise _HTTPError(
                    self.error(
                        400,
                        "You can only use one kind of constraint for structured outputs but "
                        f"multiple are specified: {structured}",
                        "BadRequestError",
                    )
                )
            if kinds:
                return self._make_constraint(*next(iter(kinds.items())))
            if self.flavor.name == "vllm-0.11":
                return None
        if self.flavor.honours_guided:
            legacy = {
                "json": body.get("guided_json"),
                "regex": body.get("guided_regex"),
                "choice": body.get("guided_choice"),
                "grammar": body.get("guided_grammar"),
            }
            present = {k: v for k, v in legacy.items() if v is not None}
            if len(present) > 1:
                raise _HTTPError(
                    self._value_error(
                        body,
                        "You can only use one kind of guided decoding ('guided_json', "
                        "'guided_regex' or 'guided_choice').",
                    )
                )
            if present:
                return self._make_constraint(*next(iter(present.items())))
        return None

    def _json_constraint(self, schema: Any) -> _Constraint:
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except ValueError as exc:
                raise _HTTPError(
                    self.error(400, f"Invalid JSON schema: {exc}", "BadRequestError")
                ) from exc
        if not isinstance(schema, (dict, bool)):
            raise _HTTPError(self.error(400, "Invalid JSON schema", "BadRequestError"))
        return _Constraint("json", schema)

    def _make_constraint(self, kind: str, spec: Any) -> _Constraint:
        if kind == "json":
            return self._json_constraint(spec)
        if kind == "json_object":
            return _Constraint("json_object")
        if kind == "regex":
            if not isinstance(spec, str):
                raise _HTTPError(self.error(400, "regex must be a string", "BadRequestError"))
            try:
                re.compile(spec)
            except re.error as exc:
                raise _HTTPError(
                    self.error(400, f"Invalid regex {spec!r}: {exc}", "BadRequestError")
                ) from exc
            return _Constraint("regex", spec)
        if kind == "choice":
            if not isinstance(spec, list) or not spec:
                raise _HTTPError(
                    self.error(400, "choice must be a non-empty list of strings", "BadRequestError")
                )
            return _Constraint("choice", [str(c) for c in spec])
        if not isinstance(spec, str):
            raise _HTTPError(self.error(400, "grammar must be a string", "BadRequestError"))
        try:
            grammar = schema_gen.parse_gbnf(spec)
        except schema_gen.SchemaError as exc:
            raise _HTTPError(self.error(400, f"Invalid grammar: {exc}", "BadRequestError")) from exc
        return _Constraint("grammar", spec, grammar)

    def _constrained_text(
        self, constraint: _Constraint, candidates: list[str], rng: random.Random, fallback: str
    ) -> str:
        for text in candidates:
            if constraint.satisfied_by(text):
                return text
        try:
            return constraint.generate(rng, fallback)
        except schema_gen.SchemaError as exc:
            raise _HTTPError(
                self.error(
                    400, f"Unsupported structured output constraint: {exc}", "BadRequestError"
                )
            ) from exc

    # ---- messages -------------------------------------------------------------------

    def _image_size(self, url: Any) -> str:
        if not isinstance(url, str):
            raise _HTTPError(self.error(400, "image_url.url must be a string", "BadRequestError"))
        if not url.startswith("data:"):
            if self.settings.allow_image_urls:
                return f"an image at {url}"
            raise _HTTPError(
                self.error(
                    400,
                    "Image URLs are not supported; send images as base64 data URIs "
                    "(data:image/png;base64,...).",
                    "BadRequestError",
                )
            )
        header, _, payload = url.partition(",")
        if ";base64" not in header:
            raise _HTTPError(
                self.error(400, "Only base64 data URIs are supported.", "BadRequestError")
            )
        try:
            raw = base64.b64decode(payload, validate=True)
            from PIL import Image

            with Image.open(io.BytesIO(raw)) as img:
                img.load()
                width, height = img.size
        except (binascii.Error, ValueError, OSError) as exc:
            raise _HTTPError(
                self.error(400, f"Failed to load image: {exc}", "BadRequestError")
            ) from exc
        return f"{width}x{height}"

    def _content_text(
        self, content: Any, images: list[str] | None, index: int
    ) -> tuple[str, list[str]]:
        """Return (rendered text, image sizes) for a message's content."""
        if content is None:
            return "", []
        if isinstance(content, str):
            return content, []
        if not isinstance(content, list):
            raise _HTTPError(
                self._validation_error(
                    [
                        pydantic_error(
                            "string_type",
                            ("messages", index, "content"),
                            "Input should be a valid string",
                            content,
                        )
                    ]
                )
            )
        texts: list[str] = []
        sizes: list[str] = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
                continue
            if not isinstance(part, dict):
                continue
            ptype = part.get("type")
            if ptype in ("text", "input_text") or (ptype is None and "text" in part):
                texts.append(str(part.get("text", "")))
            elif ptype in ("image_url", "input_image"):
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else image
                sizes.append(self._image_size(url))
                texts.append("<|image|>")
        if images is not None:
            images.extend(sizes)
        return "".join(texts), sizes

    def _render_chat(
        self, messages: list[Any], tools: list[Any] | None, add_generation_prompt: bool
    ) -> tuple[str, list[dict[str, Any]]]:
        """Render messages with a ChatML-like template; returns (prompt, parsed messages)."""
        parts = ["<s>"]
        if tools:
            parts.append(
                "<|im_start|>system\n# Tools\n\nYou may call one or more functions:\n"
                + "\n".join(json.dumps(t, ensure_ascii=False) for t in tools)
                + "<|im_end|>\n"
            )
        parsed = []
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise _HTTPError(
                    self._validation_error(
                        [
                            pydantic_error(
                                "missing",
                                ("messages", index, "role"),
                                "Field required",
                                message,
                            )
                        ]
                    )
                )
            images: list[str] = []
            text, _ = self._content_text(message.get("content"), images, index)
            calls = message.get("tool_calls") or []
            if isinstance(calls, list):
                for call in calls:
                    fn = call.get("function", {}) if isinstance(call, dict) else {}
                    text += (
                        "<tool_call>"
                        + json.dumps(
                            {"name": fn.get("name"), "arguments": fn.get("arguments")},
                            ensure_ascii=False,
                        )
                        + "</tool_call>"
                    )
            parts.append(f"<|im_start|>{message['role']}\n{text}<|im_end|>\n")
            parsed.append({"role": message["role"], "text": text, "images": images})
        if add_generation_prompt:
            parts.append("<|im_start|>assistant\n")
        return "".join(parts), parsed

    # ---- decisions ------------------------------------------------------------------

    def _tool_args(
        self,
        name: str,
        schema: Any,
        matches: list[ScriptMatch],
        rng: random.Random,
        *,
        enforce: bool,
    ) -> dict[str, Any]:
        for m in matches:
            if m.tool_name == name:
                args = m.tool_args
                if not enforce or schema is None or schema_gen.validate_schema(args, schema):
                    return args
                return self._repair_args(args, schema, rng)
        if schema is not None:
            for m in matches:
                reply = m.reply
                if reply is None:
                    continue
                try:
                    value = json.loads(reply)
                except ValueError:
                    continue
                if isinstance(value, dict) and schema_gen.validate_schema(value, schema):
                    return value
        if schema is None:
            return {}
        try:
            value = schema_gen.generate_from_schema(schema, rng)
        except schema_gen.SchemaError as exc:
            raise _HTTPError(
                self.error(400, f"Unsupported tool parameters schema: {exc}", "BadRequestError")
            ) from exc
        return value if isinstance(value, dict) else {}

    @staticmethod
    def _repair_args(args: dict[str, Any], schema: Any, rng: random.Random) -> dict[str, Any]:
        try:
            generated = schema_gen.generate_from_schema(schema, rng)
        except schema_gen.SchemaError:
            return args
        if not isinstance(generated, dict):
            return args
        props = schema.get("properties", {}) if isinstance(schema, dict) else {}
        merged = dict(generated)
        for key, value in args.items():
            if key in props and schema_gen.validate_schema(value, props[key]):
                merged[key] = value
        return merged if schema_gen.validate_schema(merged, schema) else generated

    def _tool_call(self, name: str, args: dict[str, Any]) -> _ToolCall:
        return _ToolCall(
            id=f"chatcmpl-tool-{_hex_id(self.flavor.id_hex_len)}",
            name=name,
            arguments=json.dumps(args, ensure_ascii=False),
        )

    def _decide_chat(self, ctx: _ChatContext, rng: random.Random) -> _Decision:
        has_image = bool(ctx.images)
        matches = self._matches(
            ctx.last_user_text,
            tool_result=ctx.tool_result,
            has_image=has_image,
            images=tuple(ctx.images),
        )
        user_ids = {id(e) for e in self.settings.script}
        tools = ctx.tools
        choice = ctx.tool_choice
        reasoning = next((m.reasoning for m in matches if m.reasoning), None)

        if tools and isinstance(choice, dict):
            name = str(choice.get("function", {}).get("name"))
            schema = tools[name].get("parameters")
            args = self._tool_args(name, schema, matches, rng, enforce=True)
            return _Decision(reasoning, "", [self._tool_call(name, args)], "named")
        if tools and choice == "required":
            for m in matches:
                if m.tool_name in tools:
                    schema = tools[m.tool_name].get("parameters")
                    args = self._tool_args(m.tool_name, schema, [m], rng, enforce=True)
                    return _Decision(
                        m.reasoning, "", [self._tool_call(m.tool_name, args)], "required"
                    )
            name = next(iter(tools))
            args = self._tool_args(name, tools[name].get("parameters"), matches, rng, enforce=True)
            return _Decision(reasoning, "", [self._tool_call(name, args)], "required")
        if tools and choice == "auto":
            for m in matches:
                if m.tool_name in tools:
                    call = self._tool_call(m.tool_name, m.tool_args)
                    return _Decision(m.reasoning, None, [call], "auto")

        # Plain text.
        candidates: list[ScriptMatch] = [m for m in matches if m.reply is not None]
        if has_image:
            candidates = [
                m for m in candidates if m.entry.has_image is True or id(m.entry) in user_ids
            ]
        if ctx.tool_result:
            fallback = f"The result is {ctx.tool_result_text.strip()}."
        elif has_image:
            described = [
                f"an image of {d} pixels" if re.fullmatch(r"\d+x\d+", d) else d for d in ctx.images
            ]
            fallback = "; ".join(described) + "."
            fallback = fallback[0].upper() + fallback[1:]
        else:
            said = ctx.last_user_text.strip().replace("\n", " ")
            fallback = f"You said: {said[:80]}" if said else "Hello! How can I help you today?"
        if ctx.constraint is not None:
            text = self._constrained_text(
                ctx.constraint, [str(m.reply) for m in candidates], rng, fallback
            )
            chosen = next((m for m in candidates if m.reply == text), None)
            return _Decision(chosen.reasoning if chosen else reasoning, text)
        if candidates:
            return _Decision(candidates[0].reasoning, str(candidates[0].reply))
        return _Decision(reasoning, fallback)

    # ---- formatting -----------------------------------------------------------------

    def _usage(self, prompt: int, completion: int, *, final_stream: bool = False) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "total_tokens": prompt + completion,
            "completion_tokens": completion,
        }
        if final_stream:
            return usage
        if self.flavor.engine == "aphrodite":
            return usage
        usage["prompt_tokens_details"] = None
        if self.flavor.newer_keys:
            usage["completion_tokens_details"] = None
        return usage

    def _chunk_usage(self, prompt: int, completion: int) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "total_tokens": prompt + completion,
            "completion_tokens": completion,
        }
        if self.flavor.newer_keys:
            usage["completion_tokens_details"] = None
        return usage

    @staticmethod
    def _chat_logprobs(tokens: list[str], start: int, top: int) -> dict[str, Any]:
        content = []
        for offset, token in enumerate(tokens):
            alts = _top_alternatives(token, start + offset, max(top - 1, 0))
            content.append(
                {
                    "token": token,
                    "logprob": alts[0][1],
                    "bytes": list(token.encode()),
                    "top_logprobs": [
                        {"token": t, "logprob": lp, "bytes": list(t.encode())}
                        for t, lp in alts[:top]
                    ],
                }
            )
        return {"content": content}

    @staticmethod
    def _completion_logprobs(
        tokens: list[str], start: int, top: int, text_offset: int
    ) -> dict[str, Any]:
        offsets, lps, tops = [], [], []
        pos = text_offset
        for offset, token in enumerate(tokens):
            alts = _top_alternatives(token, start + offset, top)
            offsets.append(pos)
            pos += len(token)
            lps.append(alts[0][1])
            tops.append(dict(alts))
        return {
            "text_offset": offsets,
            "token_logprobs": lps,
            "tokens": tokens,
            "top_logprobs": tops,
        }

    def _chat_message(self, out: _Output, mode: str | None) -> dict[str, Any]:
        flavor = self.flavor
        reasoning = out.reasoning or None
        if out.tool_calls:
            content: Any = None if mode == "auto" else ""
        else:
            content = out.content
        tool_calls = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in out.tool_calls
        ]
        if flavor.engine == "aphrodite":
            message: dict[str, Any] = {
                "role": "assistant",
                "content": content,
                "tool_calls": tool_calls,
            }
            if reasoning is not None:
                message["reasoning_content"] = reasoning
            return message
        message = {
            "role": "assistant",
            "content": content,
            "refusal": None,
            "annotations": None,
            "audio": None,
            "function_call": None,
        }
        if tool_calls or flavor.empty_tool_calls:
            message["tool_calls"] = tool_calls
        message[flavor.reasoning_key] = reasoning
        return message

    # ---- routes ---------------------------------------------------------------------

    async def handle(self, req: Request) -> Response | None:
        """Dispatch a text route.

        Args:
            req: The request.

        Returns:
            The response, or ``None`` when the path is not a text route.
        """
        routes = self.routes()
        if req.path not in routes:
            return None
        if req.method not in routes[req.path]:
            return json_response(405, {"detail": "Method Not Allowed"})
        try:
            if req.path == "/v1/chat/completions":
                return await self.chat(req)
            if req.path == "/v1/completions":
                return await self.completions(req)
            if req.path == "/v1/models":
                return self.models(req)
            if req.path == "/health":
                return Response(status=200, headers=[], body=b"")
            if req.path == "/version":
                return json_response(200, {"version": self.flavor.version})
            if req.path.endswith("/tokenize"):
                return self.tokenize(req)
            if req.path.endswith("/detokenize"):
                return self.detokenize(req)
        except _HTTPError as exc:
            return exc.response
        return None  # pragma: no cover

    def models(self, req: Request | None = None) -> Response:
        """``GET /v1/models`` (Featherless: ``?available_on_current_plan=1`` filters)."""
        data = []
        models = self.settings.models
        featherless = self.settings.provider == "featherless"
        if featherless and req is not None and req.query.get("available_on_current_plan") == "1":
            models = models[:1]
        for model in models:
            data.append(
                {
                    "id": model,
                    "object": "model",
                    "created": self._created,
                    "owned_by": "featherless" if featherless else self.flavor.owned_by,
                    "root": f"/models/{model}",
                    "parent": None,
                    "max_model_len": self.settings.max_model_len,
                    "permission": [
                        {
                            "id": f"modelperm-{_hex_id(self.flavor.id_hex_len)}",
                            "object": "model_permission",
                            "created": self._created,
                            "allow_create_engine": False,
                            "allow_sampling": True,
                            "allow_logprobs": True,
                            "allow_search_indices": False,
                            "allow_view": True,
                            "allow_fine_tuning": False,
                            "organization": "*",
                            "group": None,
                            "is_blocking": False,
                        }
                    ],
                }
            )
        return json_response(200, {"object": "list", "data": data})

    def tokenize(self, req: Request) -> Response:
        """``POST /tokenize`` (and ``/v1/tokenize``)."""
        body = self._json_body(req)
        fields = {
            "model": "str",
            "prompt": "str",
            "messages": "list",
            "add_special_tokens": "bool",
            "add_generation_prompt": "bool",
            "return_token_strs": "bool",
            "tools": "list",
        }
        values = self._coerce_fields(body, fields, ())
        if self.flavor.model_required and "model" not in body:
            raise _HTTPError(
                self._validation_error(
                    [pydantic_error("missing", ("model",), "Field required", body)]
                )
            )
        self._resolve_model(values.get("model"))
        if values.get("prompt") is not None:
            add_special = values.get("add_special_tokens")
            text = values["prompt"]
            tokens_str = Tokenizer.split(text)
            if add_special is None or add_special:
                tokens_str = ["<s>", *tokens_str]
        elif values.get("messages") is not None:
            add_gen = values.get("add_generation_prompt")
            text, _ = self._render_chat(
                values["messages"], values.get("tools"), add_gen is None or bool(add_gen)
            )
            tokens_str = Tokenizer.split(text)
        else:
            raise _HTTPError(
                self._validation_error(
                    [pydantic_error("missing", ("prompt",), "Field required", body)]
                )
            )
        ids = [Tokenizer.token_id(t) for t in tokens_str]
        strs = tokens_str if values.get("return_token_strs") else None
        if self.flavor.engine == "aphrodite":
            return json_response(
                200,
                {"tokens": ids, "count": len(ids), "max_model_len": self.settings.max_model_len},
            )
        return json_response(
            200,
            {
                "count": len(ids),
                "max_model_len": self.settings.max_model_len,
                "tokens": ids,
                "token_strs": strs,
            },
        )

    def detokenize(self, req: Request) -> Response:
        """``POST /detokenize``."""
        body = self._json_body(req)
        values = self._coerce_fields(body, {"model": "str", "tokens": "intlist"}, ("tokens",))
        self._resolve_model(values.get("model"))
        try:
            text = Tokenizer.decode(list(values["tokens"]))
        except ValueError as exc:
            raise _HTTPError(self.error(400, str(exc), "BadRequestError")) from exc
        return json_response(200, {"prompt": text})

    # ---- chat -----------------------------------------------------------------------

    def _chat_validators(self, body: dict[str, Any]) -> None:
        """Imitate vLLM's ``model_validator(mode="before")`` checks."""
        if body.get("stream_options") and not body.get("stream"):
            raise _HTTPError(
                self._value_error(body, "Stream options can only be defined when `stream=True`.")
            )
        if body.get("prompt_logprobs") is not None and body.get("stream"):
            raise _HTTPError(
                self._value_error(body, "`prompt_logprobs` are not available when `stream=True`.")
            )
        top = body.get("top_logprobs")
        if isinstance(top, int) and not isinstance(top, bool):
            if top < 0 and top != -1:
                raise _HTTPError(
                    self._value_error(body, "`top_logprobs` must be a positive value or -1.")
                )
            if (top == -1 or top > 0) and not body.get("logprobs"):
                raise _HTTPError(
                    self._value_error(
                        body, "when using `top_logprobs`, `logprobs` must be set to true."
                    )
                )
        self._tool_validators(body)

    def _tool_validators(self, body: dict[str, Any]) -> None:
        if "tool_choice" not in body and body.get("tools"):
            body["tool_choice"] = "auto"
        choice = body.get("tool_choice")
        if choice is None or choice == "none":
            return
        if body.get("tools") is None:
            raise _HTTPError(
                self._value_error(body, "When using `tool_choice`, `tools` must be set.")
            )
        if choice not in ("auto", "required") and not isinstance(choice, dict):
            raise _HTTPError(
                self._value_error(
                    body,
                    f'Invalid value for `tool_choice`: {choice}! Only named tools, "none", '
                    '"auto" or "required" are supported.',
                )
            )
        if choice == "required" and isinstance(body["tools"], list) and not body["tools"]:
            body["tool_choice"] = "none"
            del body["tools"]
            return
        usage = 'Correct usage: `{"type": "function", "function": {"name": "my_function"}}`'
        if isinstance(choice, dict):
            function = choice.get("function")
            if not isinstance(function, dict):
                raise _HTTPError(
                    self._value_error(
                        body,
                        f"Invalid value for `function`: `{function}` in `tool_choice`! {usage}",
                    )
                )
            if "name" not in function:
                raise _HTTPError(
                    self._value_error(
                        body, f"Expected field `name` in `function` in `tool_choice`! {usage}"
                    )
                )
            name = function["name"]
            if not isinstance(name, str) or not name:
                raise _HTTPError(
                    self._value_error(
                        body, f"Invalid `name` in `function`: `{name}` in `tool_choice`! {usage}"
                    )
                )
            names = [
                t.get("function", {}).get("name")
                for t in body["tools"]
                if isinstance(t, dict) and isinstance(t.get("function"), dict)
            ]
            if name not in names:
                raise _HTTPError(
                    self._value_error(
                        body,
                        "The tool specified in `tool_choice` does not match any of the specified "
                        "`tools`",
                    )
                )

    async def chat(self, req: Request) -> Response:
        """``POST /v1/chat/completions``."""
        body = self._json_body(req)
        self._chat_validators(body)
        required = ("messages", "model") if self.flavor.model_required else ("messages",)
        v = self._coerce_fields(body, _CHAT_FIELDS, required)
        model = self._resolve_model(v.get("model"))
        self._check_sampling(v)
        top = v.get("top_logprobs") or 0
        if top > 20:
            raise _HTTPError(
                self.error(
                    400,
                    f"Requested sample logprobs of {top}, which is greater than max allowed: 20",
                    "BadRequestError",
                )
            )
        messages: list[Any] = v["messages"]
        if not messages:
            raise _HTTPError(self.error(400, "messages must not be empty", "BadRequestError"))
        tools_raw = v.get("tools") or []
        tools: dict[str, dict[str, Any]] = {}
        for tool in tools_raw:
            fn = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise _HTTPError(
                    self._validation_error(
                        [
                            pydantic_error(
                                "missing", ("tools", 0, "function"), "Field required", tool
                            )
                        ]
                    )
                )
            tools[fn["name"]] = fn
        tool_choice = body.get("tool_choice", "none") if tools else "none"
        constraint = self._constraint(body)
        add_gen = v.get("add_generation_prompt")
        prompt, parsed = self._render_chat(messages, tools_raw or None, add_gen is None or add_gen)
        prompt_tokens = Tokenizer.count(prompt)
        requested = v.get("max_completion_tokens") or v.get("max_tokens")
        max_tokens = self._check_context(prompt_tokens, requested, chat=True)

        last = parsed[-1]
        tool_result = last["role"] in ("tool", "function")
        last_user = next((m for m in reversed(parsed) if m["role"] == "user"), None)
        ctx = _ChatContext(
            last_user_text=(last_user["text"].replace("<|image|>", "") if last_user else ""),
            tool_result=tool_result,
            tool_result_text=(
                last["text"].replace("<|image|>", " ").strip() or "an image" if tool_result else ""
            ),
            images=(last_user["images"] if last_user and not tool_result else []),
            tools=tools,
            tool_choice=tool_choice,
            constraint=constraint,
        )
        n = v.get("n") or 1
        seed = v.get("seed")
        outputs: list[_Output] = []
        modes: list[str | None] = []
        for index in range(n):
            rng = random.Random(
                _stable_seed("seed", seed, index)
                if seed is not None
                else _stable_seed(prompt, index)
            )
            decision = self._decide_chat(ctx, rng)
            modes.append(decision.tool_mode)
            outputs.append(self._plan(decision, v, max_tokens))
        if self.settings.text_latency:
            await asyncio.sleep(self.settings.text_latency)
        chat_id = f"{self.flavor.chat_id_prefix}{self._request_id(req, body)}"
        created = int(time.time())
        logprobs = bool(v.get("logprobs"))
        if v.get("stream"):
            stream_options = v.get("stream_options") or {}
            include_usage = stream_options.get("include_usage", self.flavor.include_usage_default)
            continuous = bool(
                stream_options.get("continuous_usage_stats", self.flavor.engine == "aphrodite")
            )
            if "stream_options" not in body or body.get("stream_options") is None:
                include_usage = continuous = False
            return Response(
                status=200,
                headers=[("content-type", "text/event-stream; charset=utf-8")],
                stream=self._chat_stream(
                    chat_id,
                    created,
                    model,
                    outputs,
                    prompt_tokens,
                    include_usage=bool(include_usage),
                    continuous=bool(include_usage) and continuous,
                    logprobs=top if logprobs else None,
                ),
            )
        return json_response(
            200,
            self._chat_body(
                chat_id, created, model, outputs, modes, prompt_tokens, top if logprobs else None
            ),
        )

    def _plan(self, decision: _Decision, v: dict[str, Any], max_tokens: int) -> _Output:
        if decision.tool_calls:
            r_tokens = Tokenizer.split(decision.reasoning or "")
            steps = [_Step("reasoning", t) for t in r_tokens]
            rendered = ""
            for call in decision.tool_calls:
                steps.append(_Step("tool_name", call.name, call))
                steps += [
                    _Step("tool_args", frag, call) for frag in _split_fragments(call.arguments)
                ]
                rendered += (
                    '<tool_call>{"name": "'
                    + call.name
                    + '", "arguments": '
                    + call.arguments
                    + "}</tool_call>"
                )
            steps.append(_Step("content", ""))
            finish = "stop" if decision.tool_mode == "named" else "tool_calls"
            tokens = len(r_tokens) + Tokenizer.count(rendered) + 1
            return _Output(
                steps, finish, None, tokens, decision.reasoning, None, list(decision.tool_calls)
            )
        content = decision.content or ""
        min_tokens = v.get("min_tokens") or 0
        if v.get("ignore_eos"):
            min_tokens = max(min_tokens, min(max_tokens, 4096))
        while min_tokens and Tokenizer.count(content) + 1 < min_tokens:
            content += _FILLER
        return _budget(
            decision.reasoning,
            content,
            stops=list(v.get("stop") or []),
            include_stop=bool(v.get("include_stop_str_in_output")),
            max_tokens=max_tokens,
        )

    def _chat_body(
        self,
        chat_id: str,
        created: int,
        model: str,
        outputs: list[_Output],
        modes: list[str | None],
        prompt_tokens: int,
        top_logprobs: int | None,
    ) -> dict[str, Any]:
        flavor = self.flavor
        choices = []
        for index, (out, mode) in enumerate(zip(outputs, modes, strict=True)):
            lp = None
            if top_logprobs is not None and not out.tool_calls:
                tokens = [s.text for s in out.steps if s.kind == "content" and s.text]
                lp = self._chat_logprobs(tokens, 0, top_logprobs)
            choice: dict[str, Any] = {
                "index": index,
                "message": self._chat_message(out, mode),
                "logprobs": lp,
                "finish_reason": out.finish_reason,
                "stop_reason": out.stop_reason,
            }
            if flavor.engine == "vllm":
                choice["token_ids"] = None
            if flavor.newer_keys:
                choice["routed_experts"] = None
            choices.append(choice)
        completion = sum(o.completion_tokens for o in outputs)
        body: dict[str, Any] = {
            "id": chat_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": choices,
        }
        if flavor.engine == "aphrodite":
            body["usage"] = self._usage(prompt_tokens, completion)
            body["prompt_logprobs"] = None
            return body
        body["service_tier"] = None
        body["system_fingerprint"] = flavor.system_fingerprint
        body["usage"] = self._usage(prompt_tokens, completion)
        body["prompt_logprobs"] = None
        body["prompt_token_ids"] = None
        if flavor.newer_keys:
            body["prompt_text"] = None
        body["kv_transfer_params"] = None
        if flavor.newer_keys:
            body["ec_transfer_params"] = None
            body["metrics"] = None
        return body

    def _delta(self, step: _Step, *, final: bool) -> dict[str, Any]:
        flavor = self.flavor
        if step.kind == "reasoning":
            return {flavor.reasoning_key: step.text}
        if step.kind == "tool_name":
            assert step.tool is not None
            call = {
                "id": step.tool.id,
                "type": "function",
                "index": 0,
                "function": {"name": step.tool.name},
            }
            return (
                {"content": None, "tool_calls": [call]}
                if flavor.newer_keys
                else {"tool_calls": [call]}
            )
        if step.kind == "tool_args":
            call = {"index": 0, "function": {"arguments": step.text}}
            return (
                {"content": None, "tool_calls": [call]}
                if flavor.newer_keys
                else {"tool_calls": [call]}
            )
        if final and not step.text and flavor.newer_keys:
            return {}
        return {"content": step.text}

    async def _chat_stream(
        self,
        chat_id: str,
        created: int,
        model: str,
        outputs: list[_Output],
        prompt_tokens: int,
        *,
        include_usage: bool,
        continuous: bool,
        logprobs: int | None,
    ) -> AsyncIterator[bytes]:
        flavor = self.flavor
        aphrodite = flavor.engine == "aphrodite"
        head = {
            "id": chat_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }

        def chunk(choice: dict[str, Any], usage: dict[str, Any] | None, role: bool) -> bytes:
            obj: dict[str, Any] = {**head, "choices": [choice]}
            if continuous:
                obj["usage"] = usage
            elif aphrodite and include_usage:
                obj["usage"] = None
            if role and not aphrodite:
                obj["prompt_token_ids"] = None
                if flavor.newer_keys:
                    obj["prompt_text"] = None
            return sse_event(json_bytes(obj).decode())

        for index in range(len(outputs)):
            role_choice = {
                "index": index,
                "delta": {"role": "assistant", "content": ""},
                "logprobs": None,
                "finish_reason": None,
            }
            yield chunk(role_choice, self._chunk_usage(prompt_tokens, 0), role=True)
        produced = [0] * len(outputs)
        positions = [0] * len(outputs)
        longest = max(len(o.steps) for o in outputs)
        first = True
        for step_index in range(longest):
            for index, out in enumerate(outputs):
                if step_index >= len(out.steps):
                    continue
                if self.settings.token_latency and not first:
                    await asyncio.sleep(self.settings.token_latency)
                first = False
                step = out.steps[step_index]
                final = step_index == len(out.steps) - 1
                lp = None
                if logprobs is not None and step.kind == "content" and step.text:
                    lp = self._chat_logprobs([step.text], positions[index], logprobs)
                    positions[index] += 1
                choice: dict[str, Any] = {
                    "index": index,
                    "delta": self._delta(step, final=final),
                    "logprobs": lp,
                    "finish_reason": out.finish_reason if final else None,
                }
                if final:
                    choice["stop_reason"] = out.stop_reason
                if not aphrodite:
                    choice["token_ids"] = None
                if final:
                    produced[index] = out.completion_tokens
                else:
                    produced[index] += 1
                if aphrodite:
                    usage = self._chunk_usage(prompt_tokens, 1)
                else:
                    usage = self._chunk_usage(prompt_tokens, produced[index])
                yield chunk(choice, usage, role=False)
        if include_usage:
            total = sum(o.completion_tokens for o in outputs)
            obj: dict[str, Any] = {
                **head,
                "choices": [],
                "usage": self._usage(prompt_tokens, total, final_stream=True),
            }
            if flavor.newer_keys:
                obj["system_fingerprint"] = flavor.system_fingerprint
            yield sse_event(json_bytes(obj).decode())
        yield sse_event("[DONE]")

    # ---- completions ----------------------------------------------------------------

    async def completions(self, req: Request) -> Response:
        """``POST /v1/completions``."""
        body = self._json_body(req)
        if body.get("stream_options") and not body.get("stream"):
            raise _HTTPError(
                self._value_error(body, "Stream options can only be defined when `stream=True`.")
            )
        required = ("prompt", "model") if self.flavor.model_required else ("prompt",)
        v = self._coerce_fields(body, _COMPLETION_FIELDS, required)
        model = self._resolve_model(v.get("model"))
        self._check_sampling(v)
        if v.get("suffix") is not None:
            raise _HTTPError(
                self.error(400, "suffix is not currently supported", "BadRequestError")
            )
        top = v.get("logprobs")
        if top is not None and top < 0:
            raise _HTTPError(
                self.error(400, f"logprobs must be non-negative, got {top}.", "BadRequestError")
            )
        if top is not None and top > 20:
            raise _HTTPError(
                self.error(
                    400,
                    f"Requested sample logprobs of {top}, which is greater than max allowed: 20",
                    "BadRequestError",
                )
            )
        prompts = self._prompts(v["prompt"])
        add_special = v.get("add_special_tokens")
        add_bos = add_special is None or bool(add_special)
        constraint = self._constraint(body)
        requested = v.get("max_tokens")
        if requested is None:
            requested = 16
        n = v.get("n") or 1
        seed = v.get("seed")
        per_prompt: list[tuple[str, list[str], int]] = []
        for text in prompts:
            tokens = (["<s>"] if add_bos else []) + Tokenizer.split(text)
            max_tokens = self._check_context(len(tokens), requested, chat=False)
            per_prompt.append((text, tokens, max_tokens))
        outputs: list[tuple[int, str, _Output]] = []
        for p_index, (text, _tokens, max_tokens) in enumerate(per_prompt):
            matches = self._matches(text, tool_result=False, has_image=False)
            candidates = [str(m.reply) for m in matches if m.reply is not None]
            for index in range(n):
                rng = random.Random(
                    _stable_seed("seed", seed, p_index, index)
                    if seed is not None
                    else _stable_seed(text, index)
                )
                if constraint is not None:
                    continuation = self._constrained_text(
                        constraint, candidates, rng, _COMPLETION_CONTINUATION.strip()
                    )
                else:
                    continuation = candidates[0] if candidates else _COMPLETION_CONTINUATION
                out = self._plan(_Decision(content=continuation), v, max_tokens)
                outputs.append((p_index, text, out))
        if self.settings.text_latency:
            await asyncio.sleep(self.settings.text_latency)
        cmpl_id = f"cmpl-{self._request_id(req, body)}"
        created = int(time.time())
        prompt_tokens = sum(len(t) for _, t, _ in per_prompt)
        echo = bool(v.get("echo"))
        if v.get("stream"):
            stream_options = v.get("stream_options") or {}
            include_usage = stream_options.get("include_usage", self.flavor.include_usage_default)
            continuous = bool(
                stream_options.get("continuous_usage_stats", self.flavor.engine == "aphrodite")
            )
            if body.get("stream_options") is None:
                include_usage = continuous = False
            return Response(
                status=200,
                headers=[("content-type", "text/event-stream; charset=utf-8")],
                stream=self._completion_stream(
                    cmpl_id,
                    created,
                    model,
                    outputs,
                    per_prompt,
                    include_usage=bool(include_usage),
                    continuous=bool(include_usage) and continuous,
                    logprobs=top,
                    echo=echo,
                ),
            )
        choices = []
        for index, (p_index, text, out) in enumerate(outputs):
            tokens = [s.text for s in out.steps if s.text]
            generated = "".join(tokens)
            full = (text + generated) if echo else generated
            lp = None
            if top is not None:
                lp = self._completion_logprobs(tokens, 0, top, len(text) if echo else 0)
                if echo:
                    prompt_toks = Tokenizer.split(text)
                    echo_lp = self._completion_logprobs(prompt_toks, 10_000, top, 0)
                    echo_lp["token_logprobs"][0:1] = [None]
                    echo_lp["top_logprobs"][0:1] = [None]
                    lp = {k: echo_lp[k] + lp[k] for k in lp}
            choice: dict[str, Any] = {
                "index": index,
                "text": full,
                "logprobs": lp,
                "finish_reason": out.finish_reason,
                "stop_reason": out.stop_reason,
            }
            if self.flavor.engine == "vllm":
                choice["token_ids"] = None
                choice["prompt_logprobs"] = None
                choice["prompt_token_ids"] = None
                if self.flavor.newer_keys:
                    choice["routed_experts"] = None
            else:
                choice["prompt_logprobs"] = None
            del p_index
            choices.append(choice)
        completion = sum(o.completion_tokens for _, _, o in outputs)
        result: dict[str, Any] = {
            "id": cmpl_id,
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": choices,
        }
        if self.flavor.engine == "vllm":
            result["service_tier"] = None
            result["system_fingerprint"] = self.flavor.system_fingerprint
        result["usage"] = self._usage(prompt_tokens, completion)
        if self.flavor.engine == "vllm":
            result["kv_transfer_params"] = None
            if self.flavor.newer_keys:
                result["ec_transfer_params"] = None
                result["metrics"] = None
        return json_response(200, result)

    def _prompts(self, prompt: Any) -> list[str]:
        if isinstance(prompt, str):
            return [prompt]
        if prompt and all(isinstance(x, str) for x in prompt):
            return list(prompt)
        if prompt and all(isinstance(x, int) for x in prompt):
            return [Tokenizer.decode(list(prompt))]
        if prompt and all(isinstance(x, list) for x in prompt):
            return [Tokenizer.decode(list(x)) for x in prompt]
        raise _HTTPError(self.error(400, "Prompt cannot be empty", "BadRequestError"))

    async def _completion_stream(
        self,
        cmpl_id: str,
        created: int,
        model: str,
        outputs: list[tuple[int, str, _Output]],
        per_prompt: list[tuple[str, list[str], int]],
        *,
        include_usage: bool,
        continuous: bool,
        logprobs: int | None,
        echo: bool,
    ) -> AsyncIterator[bytes]:
        flavor = self.flavor
        aphrodite = flavor.engine == "aphrodite"
        head = {"id": cmpl_id, "object": "text_completion", "created": created, "model": model}
        produced = [0] * len(outputs)
        offsets = [0] * len(outputs)
        positions = [0] * len(outputs)
        longest = max(len(o.steps) for _, _, o in outputs)
        first = True
        for step_index in range(longest):
            for index, (p_index, text, out) in enumerate(outputs):
                if step_index >= len(out.steps):
                    continue
                if self.settings.token_latency and not first:
                    await asyncio.sleep(self.settings.token_latency)
                first = False
                step = out.steps[step_index]
                final = step_index == len(out.steps) - 1
                chunk_text = step.text
                if echo and step_index == 0:
                    chunk_text = text + chunk_text
                lp = None
                if logprobs is not None and step.text:
                    lp = self._completion_logprobs(
                        [step.text],
                        positions[index],
                        logprobs,
                        offsets[index] + (len(text) if echo else 0),
                    )
                    positions[index] += 1
                offsets[index] += len(step.text)
                choice: dict[str, Any] = {
                    "index": index,
                    "text": chunk_text,
                    "logprobs": lp,
                    "finish_reason": out.finish_reason if final else None,
                    "stop_reason": out.stop_reason if final else None,
                }
                if not aphrodite:
                    prompt_ids = None
                    if flavor.name == "vllm-0.11" and step_index == 0:
                        prompt_ids = [Tokenizer.token_id(t) for t in per_prompt[p_index][1]]
                    choice["prompt_token_ids"] = prompt_ids
                    choice["token_ids"] = None
                produced[index] = out.completion_tokens if final else produced[index] + 1
                obj: dict[str, Any] = {**head, "choices": [choice]}
                prompt_tokens = len(per_prompt[p_index][1])
                if continuous:
                    count = 1 if aphrodite else produced[index]
                    obj["usage"] = self._chunk_usage(prompt_tokens, count)
                elif not flavor.newer_keys:
                    obj["usage"] = None
                yield sse_event(json_bytes(obj).decode())
        if include_usage:
            prompt_tokens = sum(len(t) for _, t, _ in per_prompt)
            total = sum(o.completion_tokens for _, _, o in outputs)
            final_obj: dict[str, Any] = {
                **head,
                "choices": [],
                "usage": self._usage(prompt_tokens, total, final_stream=True),
            }
            if flavor.newer_keys:
                final_obj["system_fingerprint"] = flavor.system_fingerprint
            yield sse_event(json_bytes(final_obj).decode())
        yield sse_event("[DONE]")

"""Request validation: pydantic-lax field coercion, sampler ranges, context limits,
vLLM's before-validators and the structured-output constraint fields.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.reference_server import schema_gen
from tests.reference_server.text.flavors import _HTTPError, _TextBase
from tests.reference_server.text.plan import _Constraint
from tests.reference_server.wire import (
    Request,
    Response,
    coerce_value,
    pydantic_error,
)

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


class _Validation(_TextBase):
    """Checks a request the way the engine's pydantic models and validators do."""

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

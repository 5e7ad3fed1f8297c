"""Request bodies: parameters, precedence, guided styles, tools (no I/O)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arli import ArliValidationError
from arli.text.params import _RANGES, SAMPLER_NAMES, Range, SamplingParams
from arli.text.payload import (
    build_completion_body,
    deep_merge,
    instance_params,
    normalize_tool_choice,
    plan_chat,
    plan_completion,
)

MSGS = [{"role": "user", "content": "hi"}]
SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "integer"}},
    "required": ["a"],
}
TOOLS = [
    {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "g", "parameters": {"type": "object"}}},
]


def chat(instance: dict[str, Any] | None = None, **call: Any) -> dict[str, Any]:
    style = call.pop("_style", "both")
    extra = call.pop("_extra", None)
    stream = call.pop("_stream", False)
    return plan_chat(
        model="m",
        messages=MSGS,
        instance=instance or {},
        call_kwargs=call,
        instance_extra_body=extra,
        style=style,
        stream=stream,
    ).body


def test_unset_parameters_are_never_sent() -> None:
    params = SamplingParams(min_p=0.1)
    assert instance_params(params) == {"min_p": 0.1}
    assert chat(instance_params(params)) == {"model": "m", "messages": MSGS, "min_p": 0.1}


def test_per_call_overrides_win_and_alias_maps_to_wire_name() -> None:
    body = chat({"min_p": 0.1, "top_k": 5}, min_p=0.2, mirostat=2, temperature=0)
    assert body["min_p"] == 0.2
    assert body["top_k"] == 5
    assert body["mirostat_mode"] == 2
    assert "mirostat" not in body
    assert body["temperature"] == 0


def test_extra_body_instance_and_call_are_deep_merged() -> None:
    body = chat(
        {"top_k": 5},
        _extra={"chat_template_kwargs": {"enable_thinking": False}, "x": 1},
        extra_body={"chat_template_kwargs": {"other": 1}, "y": 2},
    )
    assert body["chat_template_kwargs"] == {"enable_thinking": False, "other": 1}
    assert (body["x"], body["y"], body["top_k"]) == (1, 2, 5)
    assert deep_merge({"a": {"b": 1}}, {"a": {"c": 2}, "d": 3}) == {"a": {"b": 1, "c": 2}, "d": 3}


def test_unknown_per_call_parameter_is_rejected_with_a_suggestion() -> None:
    with pytest.raises(ArliValidationError, match="Did you mean 'min_p'") as info:
        chat(min_P=0.1)
    assert "extra_body" in str(info.value)
    assert chat(chat_template_kwargs={"a": 1})["chat_template_kwargs"] == {"a": 1}  # known field


def test_stream_asks_for_usage() -> None:
    body = chat(_stream=True)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    no_usage = plan_chat(
        model="m", messages=MSGS, instance={}, call_kwargs={}, stream=True, include_usage=False
    ).body
    assert "stream_options" not in no_usage


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("both", {"guided_json": SCHEMA, "structured_outputs": {"json": SCHEMA}}),
        ("guided", {"guided_json": SCHEMA}),
        ("structured_outputs", {"structured_outputs": {"json": SCHEMA}}),
        (
            "response_format",
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "response", "schema": SCHEMA},
                }
            },
        ),
    ],
)
def test_guided_json_styles(style: str, expected: dict[str, Any]) -> None:
    body = chat(guided_json=SCHEMA, _style=style)
    wire = {k: v for k, v in body.items() if k not in ("model", "messages")}
    assert wire == expected


@pytest.mark.parametrize(
    ("key", "value", "so_key"),
    [
        ("guided_regex", "[A-Z]{3}", "regex"),
        ("guided_choice", ["yes", "no"], "choice"),
        ("guided_grammar", 'root ::= "a"', "grammar"),
    ],
)
def test_other_constraints_both_forms(key: str, value: Any, so_key: str) -> None:
    body = chat(**{key: value})
    assert body[key] == value
    assert body["structured_outputs"] == {so_key: value}
    with pytest.raises(ArliValidationError, match="can only carry JSON schemas"):
        chat(**{key: value}, _style="response_format")


def test_backend_and_whitespace_go_with_the_legacy_form() -> None:
    body = chat(
        guided_json=SCHEMA, guided_decoding_backend="outlines", guided_whitespace_pattern=" ?"
    )
    assert body["guided_decoding_backend"] == "outlines"
    assert body["guided_whitespace_pattern"] == " ?"
    assert body["structured_outputs"] == {"json": SCHEMA, "whitespace_pattern": " ?"}
    so_only = chat(guided_json=SCHEMA, guided_decoding_backend="x", _style="structured_outputs")
    assert "guided_decoding_backend" not in so_only


def test_per_call_style_and_constraint_replace_the_instance_ones() -> None:
    body = chat({"guided_json": SCHEMA}, guided_regex="a+", guided_decoding_style="guided")
    assert body == {"model": "m", "messages": MSGS, "guided_regex": "a+"}


def test_two_constraints_at_once_are_rejected() -> None:
    with pytest.raises(ArliValidationError, match="one guided"):
        chat(guided_json=SCHEMA, guided_regex="a")


def test_pydantic_and_json_text_schemas() -> None:
    from pydantic import BaseModel

    class Person(BaseModel):
        name: str

    body = chat(guided_json=Person, _style="response_format")
    assert body["response_format"]["json_schema"]["name"] == "Person"
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["name"]
    assert chat(guided_json='{"type": "object"}')["guided_json"] == {"type": "object"}
    with pytest.raises(ArliValidationError, match="not valid JSON"):
        chat(guided_json="{nope")


def test_tool_choice_forms() -> None:
    assert normalize_tool_choice("any", TOOLS) == "required"
    assert normalize_tool_choice(True, TOOLS) == "required"
    assert normalize_tool_choice("auto", TOOLS) == "auto"
    assert normalize_tool_choice("g", TOOLS) == {"type": "function", "function": {"name": "g"}}
    named = {"type": "function", "function": {"name": "f"}}
    assert normalize_tool_choice(named, TOOLS) == named
    with pytest.raises(ArliValidationError, match="not among the tools: f, g"):
        normalize_tool_choice("h", TOOLS)
    with pytest.raises(ArliValidationError, match="needs tools"):
        normalize_tool_choice("required", None)
    assert normalize_tool_choice("auto", None) is None  # never tool_choice without tools


def test_tools_body() -> None:
    body = chat(tools=TOOLS, tool_choice="any", parallel_tool_calls=False)
    assert body["tools"] == TOOLS
    assert body["tool_choice"] == "required"
    assert body["parallel_tool_calls"] is False
    assert "tool_choice" not in chat(tool_choice="auto")


def test_chat_logprobs_int_means_alternatives() -> None:
    body = chat(logprobs=3)
    assert (body["logprobs"], body["top_logprobs"]) == (True, 3)


def test_completion_body_logprobs_echo_prompt_list() -> None:
    plan = plan_completion(
        model="m",
        prompt=["a", "b"],
        instance={"logprobs": True, "top_logprobs": 4},
        call_kwargs={"echo": True, "guided_regex": "x"},
    )
    assert plan.body["prompt"] == ["a", "b"]
    assert plan.body["logprobs"] == 4
    assert "top_logprobs" not in plan.body
    assert plan.body["echo"] is True
    assert plan.constraint is not None
    with pytest.raises(ArliValidationError, match="not supported by /v1/completions"):
        plan_completion(model="m", prompt="a", instance={}, call_kwargs={"tools": TOOLS})
    assert build_completion_body(model="m", prompt="p", params={"logprobs": False}).body == {
        "model": "m",
        "prompt": "p",
    }


# -- every documented range, property-based ---------------------------------------------------


def _inside(spec: Range, is_int: bool) -> st.SearchStrategy[float]:
    if spec.choices is not None:
        return st.sampled_from([int(c) for c in spec.choices])
    lo = spec.lo if spec.lo is not None else -1e6
    hi = spec.hi if spec.hi is not None else 1e6
    if is_int:
        lo_i = math.floor(lo) + 1 if spec.lo_open else math.ceil(lo)
        hi_i = math.ceil(hi) - 1 if spec.hi_open else math.floor(hi)
        return st.integers(min_value=int(max(lo_i, -(10**9))), max_value=int(min(hi_i, 10**9)))
    return st.floats(
        min_value=lo,
        max_value=hi,
        exclude_min=spec.lo_open,
        exclude_max=spec.hi_open,
        allow_nan=False,
        allow_infinity=False,
    )


def _outside(spec: Range, is_int: bool) -> list[float]:
    if spec.choices is not None:
        return [c + 1 for c in spec.choices if c + 1 not in spec.choices][:2]
    out: list[float] = []
    step = 1 if is_int else 0.5
    if spec.lo is not None:
        out.append(spec.lo if spec.lo_open else spec.lo - step)
    if spec.hi is not None:
        out.append(spec.hi if spec.hi_open else spec.hi + step)
    return out


RANGED = sorted(_RANGES)


def _is_int(name: str) -> bool:
    return "int" in str(SamplingParams.model_fields[name].annotation)


@pytest.mark.parametrize("name", RANGED)
def test_every_range_in_range_values_reach_the_wire_unchanged(name: str) -> None:
    spec, is_int = _RANGES[name], _is_int(name)

    @settings(max_examples=25, deadline=None)
    @given(_inside(spec, is_int))
    def check(value: float) -> None:
        call: dict[str, Any] = {name: value}
        if name == "top_logprobs":
            call["logprobs"] = True
        body = chat(**call)
        assert body[name] == value
        assert type(body[name]) is type(value)
        assert SamplingParams(**call).model_dump()[name] == value

    check()


@pytest.mark.parametrize("name", RANGED)
def test_every_range_out_of_range_fails_naming_field_and_range(name: str) -> None:
    spec, is_int = _RANGES[name], _is_int(name)
    bad_values = _outside(spec, is_int)
    assert bad_values, name
    for value in bad_values:
        with pytest.raises(ArliValidationError) as info:
            chat(**{name: value})
        assert info.value.field == name
        assert info.value.allowed == spec.describe()
        assert name in str(info.value)
        assert spec.describe() in str(info.value)
        with pytest.raises(ValueError, match=name):
            SamplingParams(**{name: value})


def test_every_parameter_has_a_description() -> None:
    for name in SAMPLER_NAMES:
        assert SamplingParams.model_fields[name].description, name


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"sampler_priority": [0, 1, 2]}, "all 14 sampler ids"),
        ({"sampler_priority": ["MIN_P", "NOPE"]}, "names from"),
        ({"logit_bias": {"42": 101}}, r"logit_bias\['42'\]"),
        ({"stop": ["", "x"]}, "non-empty strings"),
        ({"guided_choice": []}, "non-empty list"),
        ({"guided_regex": "(unclosed"}, "not a valid regular expression"),
        ({"min_tokens": 9, "max_tokens": 3}, r"<= max_tokens \(3\)"),
        ({"dynatemp_min": 2.0, "dynatemp_max": 1.0}, "dynatemp_max"),
        ({"top_k": "many"}, "top_k='many' is invalid"),
        ({"temperature": math.nan}, "temperature=nan is out of range"),
        ({"top_logprobs": 3}, "only together with logprobs=True"),
    ],
)
def test_other_rules(call: dict[str, Any], message: str) -> None:
    with pytest.raises(ArliValidationError, match=message):
        chat(**call)


def test_sampler_priority_accepts_every_id_or_name_once() -> None:
    from arli.text.params import SAMPLER_PRIORITY_NAMES

    ids = list(reversed(range(14)))
    assert chat(sampler_priority=ids)["sampler_priority"] == ids
    names = [n.lower() for n in SAMPLER_PRIORITY_NAMES]
    assert chat(sampler_priority=names)["sampler_priority"] == names

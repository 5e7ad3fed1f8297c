"""Checking guided-decoding answers on our side, and the small JSON Schema validator."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from arli import ConstraintViolationError
from arli.text import jsonschema
from arli.text.guided import GuidedConstraint, check_answer, constraint_from_response_format

JOKE = {
    "type": "object",
    "properties": {"setup": {"type": "string"}, "punchline": {"type": "string"}},
    "required": ["setup", "punchline"],
}


def test_json_answer_is_parsed() -> None:
    c = GuidedConstraint("json", JOKE)
    assert check_answer(c, '{"setup": "a", "punchline": "b"}') == {"setup": "a", "punchline": "b"}


def test_raw_control_characters_are_tolerated() -> None:
    # xgrammar's maxLength bug lets a raw control character into a constrained string
    c = GuidedConstraint("json", JOKE)
    assert check_answer(c, '{"setup": "a\x10b", "punchline": "c"}')["setup"] == "a\x10b"


def test_code_fenced_json_is_accepted() -> None:
    c = GuidedConstraint("json", JOKE)
    text = '```json\n{"setup": "a", "punchline": "b"}\n```'
    assert check_answer(c, text)["punchline"] == "b"


@pytest.mark.parametrize(
    ("style", "advice"),
    [
        ("guided", "guided_decoding_style='structured_outputs'"),
        ("structured_outputs", "guided_decoding_style='guided'"),
        ("both", "probably ignored"),
        ("response_format", "probably ignored response_format"),
    ],
)
def test_unconstrained_answer_says_the_server_ignored_it(style: str, advice: str) -> None:
    c = GuidedConstraint("json", JOKE)
    with pytest.raises(ConstraintViolationError) as info:
        check_answer(c, "Sure! Here is a joke: why...", style=style)
    err = info.value
    assert "not valid JSON" in str(err)
    assert advice in str(err)
    assert err.kind == "json"
    assert err.answer.startswith("Sure!")


def test_schema_violation_lists_problems() -> None:
    c = GuidedConstraint("json", JOKE)
    with pytest.raises(ConstraintViolationError, match="missing required property 'punchline'"):
        check_answer(c, '{"setup": "a"}')


def test_cut_off_answer_blames_max_tokens() -> None:
    c = GuidedConstraint("json", JOKE)
    with pytest.raises(ConstraintViolationError, match="cut off at max_tokens") as info:
        check_answer(c, '{"setup": "a", "punch', finish_reason="length")
    assert info.value.finish_reason == "length"


def test_cut_off_free_text_is_still_blamed_on_the_ignored_constraint() -> None:
    c = GuidedConstraint("json", JOKE)
    with pytest.raises(ConstraintViolationError, match="probably ignored"):
        check_answer(c, "once upon a time there", finish_reason="length", style="guided")


def test_regex_is_a_full_match() -> None:
    c = GuidedConstraint("regex", "[A-Z]{3}-[0-9]{4}")
    assert check_answer(c, "ABC-1234") == "ABC-1234"
    with pytest.raises(ConstraintViolationError, match="not a full match"):
        check_answer(c, "ABC-1234 and more")


def test_choice() -> None:
    c = GuidedConstraint("choice", ["yes", "no"])
    assert check_answer(c, "no") == "no"
    assert check_answer(c, " yes\n") == "yes"
    with pytest.raises(ConstraintViolationError, match="not one of"):
        check_answer(c, "maybe")


def test_json_object_mode() -> None:
    c = GuidedConstraint("json_object")
    assert check_answer(c, '{"a": 1}') == {"a": 1}
    with pytest.raises(ConstraintViolationError, match="not an object"):
        check_answer(c, "[1, 2]")


def test_grammar_is_not_checked() -> None:
    assert check_answer(GuidedConstraint("grammar", 'root ::= "x"'), "anything") == "anything"


def test_constraint_from_response_format() -> None:
    rf = {"type": "json_schema", "json_schema": {"name": "Joke", "schema": JOKE}}
    c = constraint_from_response_format(rf)
    assert c is not None
    assert (c.kind, c.value, c.name) == ("json", JOKE, "Joke")
    json_object = constraint_from_response_format({"type": "json_object"})
    assert json_object is not None
    assert json_object.kind == "json_object"
    assert constraint_from_response_format({"type": "text"}) is None


# -- the validator ----------------------------------------------------------------------------


class Address(BaseModel):
    city: str
    zip: str | None = None


class Person(BaseModel):
    name: str
    age: int
    tags: list[str] = []
    address: Address


PERSON = Person.model_json_schema()


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ({"name": "a", "age": 3, "address": {"city": "x"}}, True),
        ({"name": "a", "age": 3, "address": {"city": "x", "zip": None}}, True),
        ({"name": "a", "age": 3.5, "address": {"city": "x"}}, False),
        ({"name": "a", "age": 3, "address": {"zip": "1"}}, False),
        ({"name": "a", "age": 3, "tags": [1], "address": {"city": "x"}}, False),
        ({"name": "a", "age": True, "address": {"city": "x"}}, False),
    ],
)
def test_pydantic_schemas_with_refs_and_optionals(value: dict, ok: bool) -> None:
    assert (jsonschema.validate(value, PERSON) == []) is ok
    if ok:
        Person.model_validate(value)  # our verdict agrees with pydantic


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
    [
        ({"enum": ["a", "b"]}, "a", "c"),
        ({"const": 3}, 3, 4),
        ({"type": "integer", "minimum": 1, "exclusiveMaximum": 5}, 4, 5),
        ({"type": "number", "exclusiveMinimum": 0, "maximum": 1}, 1, 0),
        ({"type": "string", "minLength": 2, "maxLength": 3}, "ab", "abcd"),
        ({"type": "string", "pattern": "^[a-z]+$"}, "abc", "ab1"),
        ({"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2}, [1], []),
        ({"type": "array", "prefixItems": [{"type": "string"}]}, ["a", 1], [1]),
        (
            {"type": "object", "additionalProperties": False, "properties": {"a": {}}},
            {"a": 1},
            {"b": 1},
        ),
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, None, 1),
        ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, 1.5, 1),
        ({"allOf": [{"minimum": 0}, {"maximum": 2}]}, 1, 3),
        ({"type": ["string", "null"]}, None, 0),
    ],
)
def test_keywords(schema: dict, good: object, bad: object) -> None:
    assert jsonschema.validate(good, schema) == []
    assert jsonschema.validate(bad, schema) != []


def test_unknown_keywords_and_remote_refs_never_fail() -> None:
    schema = {"type": "object", "x-whatever": 1, "properties": {"a": {"$ref": "http://x/y"}}}
    assert jsonschema.validate(json.loads('{"a": 1}'), schema) == []


def test_json_object_of_reads_answers_as_the_check_does() -> None:
    from arli.text.guided import json_object_of

    assert json_object_of('```json\n{"a": "x\x01"}\n```') == {"a": "x\x01"}
    assert json_object_of('{"a": 1}') == {"a": 1}
    assert json_object_of("[1, 2]") is None  # JSON, but not an object
    assert json_object_of("no") is None
    assert json_object_of("[" * 100_000) is None  # too deep: not a crash


def test_json_schema_format_sends_strict_only_when_given() -> None:
    from arli.text.guided import json_schema_format

    schema = {"type": "object"}
    assert json_schema_format(schema, "Pet") == {
        "type": "json_schema",
        "json_schema": {"name": "Pet", "schema": schema},
    }
    assert json_schema_format(schema, "Pet", strict=True)["json_schema"]["strict"] is True

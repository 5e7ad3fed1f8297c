"""``except arli.ArliError`` catches every construction error of every public class.

A missing key, a bad URL, an out-of-range value or a value of the wrong type: whichever
class it is given to (core, LangChain or LlamaIndex), the error is an
:class:`arli.ArliError` (pydantic's ``ValidationError`` never reaches the user), in the
shape ``Class: field=value is invalid: ...`` or the arli error a validator raised. The
catalogue of public classes is the one the unknown-argument test keeps complete.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from arli import ArliError, ArliValidationError
from arli._kwargs import _DECLARED, _signature_names, argument_names
from tests.unit_tests.test_unknown_arguments import CASES, PUBLIC

OURS = ("arli", "langchain_arli", "llama_index_arli")

#: Values each of these arguments refuses, wherever it is taken.
BAD: dict[str, list[Any]] = {
    "api_key": [None, "sk-inner\nnewline"],  # no key in a cleared environment; no header
    "base_url": ["ftp://nowhere", "not a url"],
    "max_retries": [-1],
    "timeout": [-1.0],
    "model": [""],
    "temperature": [-5, True, "hot"],
}


class Weird:
    """A value of no type any field takes."""


def _framework_fields(cls: type[BaseModel]) -> set[str]:
    """Fields a framework base class declares (LangChain's ``args_schema``...), not ours."""
    fields: set[str] = set()
    for base in cls.__mro__[1:]:
        if (
            isinstance(base, type)
            and issubclass(base, BaseModel)
            and base.__module__.split(".")[0] not in OURS
        ):
            fields |= set(base.model_fields)
    return fields


def _arguments(cls: type) -> list[str]:
    if issubclass(cls, BaseModel):
        return sorted(set(cls.model_fields) - _framework_fields(cls))
    return sorted(argument_names(cls))


def _own_arguments(cls: type) -> set[str]:
    """The keywords of a plain class's own ``__init__`` (not those it passes on)."""
    declared = _DECLARED.get(cls)
    return _signature_names(declared[0]) if declared else set()


def _attempts() -> list[tuple[str, str, Any]]:
    attempts: list[tuple[str, str, Any]] = []
    for name in sorted(CASES):
        cls = PUBLIC[name]
        own = _own_arguments(cls)
        declared = _DECLARED.get(cls)
        if declared and CASES[name].args:  # given positionally by the case: not again
            names = [p for p in inspect.signature(declared[0]).parameters if p != "self"]
            own -= set(names[: len(CASES[name].args)])
        for argument in _arguments(cls):
            values = list(BAD.get(argument, []))
            # typed fields and annotated arguments: a wrong type is refused too
            if issubclass(cls, BaseModel) or argument in own:
                values.append(Weird())
            attempts.extend((name, argument, value) for value in values)
    return attempts


ATTEMPTS = _attempts()


@pytest.fixture
def no_keys_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in list(os.environ):
        if any(part in variable for part in ("KEY", "ARLI", "FEATHERLESS")):
            monkeypatch.delenv(variable)


def test_the_attempts_cover_each_kind_of_error_for_the_text_models() -> None:
    seen = {(n, a) for n, a, _ in ATTEMPTS}
    for cls in ("langchain_arli.chat_models.ChatArli", "llama_index_arli.llms.Arli"):
        for argument in ("api_key", "base_url", "max_retries", "timeout", "temperature"):
            assert (cls, argument) in seen
    wrong_types = {(n, a) for n, a, v in ATTEMPTS if isinstance(v, Weird)}
    for plain in ("arli.images.client.ImageClient", "arli.ocr.engine.OCREngine"):
        assert (plain, "base_url") in wrong_types  # plain classes get wrong types too


def test_a_wrong_type_for_a_plain_class_names_the_argument() -> None:
    from arli import ImageClient, OCREngine, TextClient

    with pytest.raises(ArliValidationError) as info:
        ImageClient(api_key="k", base_url=1)  # type: ignore[arg-type]
    assert str(info.value) == ("ImageClient: base_url=1 is invalid: Input should be a valid string")
    assert info.value.field == "base_url"
    with pytest.raises(ArliValidationError, match=r"^OCREngine: dpi='high' is invalid"):
        OCREngine(api_key="k", dpi="high")  # type: ignore[arg-type]
    with pytest.raises(ArliValidationError, match=r"^ArliSettings: env='x' is invalid"):
        TextClient(api_key="k", env="x")  # type: ignore[arg-type]
    assert OCREngine(api_key="k", dpi=200).render_options.dpi == 200  # an int fits a float


@pytest.mark.parametrize(
    ("name", "argument", "value"),
    ATTEMPTS,
    ids=[f"{n.rsplit('.', 1)[-1]}-{a}-{type(v).__name__}" for n, a, v in ATTEMPTS],
)
def test_every_construction_error_is_an_arli_error(
    name: str, argument: str, value: Any, tmp_path: Path, no_keys_in_env: None
) -> None:
    cls, case = PUBLIC[name], CASES[name]
    kwargs = {**case.kwargs(tmp_path), argument: value}
    try:
        cls(*case.args, **kwargs)
    except ArliError as exc:
        message = str(exc)
        assert message.strip()
        assert "pydantic.dev" not in message  # not pydantic's text with its links
        assert "sk-inner" not in message
    # (an argument typed Any may take the value: then nothing is raised at all)


def test_the_message_names_the_class_field_and_rule() -> None:
    from langchain_arli import ChatArli
    from llama_index_arli import Arli

    for cls in (ChatArli, Arli):
        with pytest.raises(ArliValidationError) as info:
            cls(model="m", api_key="k", max_retries=-1)
        assert str(info.value) == (
            f"{cls.__name__}: max_retries=-1 is out of range: allowed a whole number from 0 to 20"
        )
        assert info.value.field == "max_retries"
        with pytest.raises(ArliValidationError, match=r"temperature=-5\.0 is out of range"):
            cls(model="m", api_key="k", temperature=-5)


def test_a_secret_value_is_never_quoted() -> None:
    from langchain_arli import ChatArli

    with pytest.raises(ArliValidationError) as info:
        ChatArli(model="m", api_key="k", default_headers={"X-Token": Weird()})
    assert "Weird" not in str(info.value)
    assert str(info.value).startswith("ChatArli: default_headers.X-Token is invalid")

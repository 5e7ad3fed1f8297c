"""``arli``'s public names: the errors, one lazy table by module, the same names in ``__all__``."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import arli
from arli._lazy import exported_names


def test_all_names_the_errors_and_the_lazy_table_and_each_resolves_to_its_module() -> None:
    where = exported_names(arli._EXPORTS)
    errors = {n for n in arli.__all__ if isinstance(getattr(arli, n), type)}
    errors = {n for n in errors if issubclass(getattr(arli, n), arli.ArliError)}
    assert set(arli.__all__) - {"__version__"} == set(where) | errors
    assert errors == {n for n in arli._errors.__all__ if n[0].isupper()}
    for name, origin in where.items():
        assert getattr(arli, name) is getattr(importlib.import_module(origin), name), name
        assert name in dir(arli)


def test_an_unknown_name_is_an_attribute_error_naming_the_package() -> None:
    with pytest.raises(AttributeError, match="module 'arli' has no attribute 'Nope'"):
        _ = arli.Nope


def test_importing_arli_imports_no_client_until_a_name_is_used() -> None:
    code = (
        "import sys, arli; before = 'arli.text.client' in sys.modules; arli.TextClient; "
        "print(before, 'arli.text.client' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "True"]

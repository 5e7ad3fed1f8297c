"""Import boundaries: the core never pulls in a framework; skins load optional parts lazily."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import arli
from arli._lazy import exported_names


def _modules_after(import_line: str) -> set[str]:
    code = f"import sys; {import_line}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    ).stdout
    return {line.split(".")[0] for line in out.split()}


def test_core_imports_no_framework() -> None:
    mods = _modules_after("import arli, arli.text")
    for forbidden in ("langchain_core", "langchain", "llama_index", "PIL", "pypdfium2", "openai"):
        assert forbidden not in mods, forbidden


@pytest.mark.parametrize(
    ("line", "forbidden"),
    [
        ("import langchain_arli", ("llama_index", "PIL", "pypdfium2", "openai")),
        ("import llama_index_arli", ("langchain_core", "PIL", "pypdfium2", "openai")),
    ],
)
def test_skins_do_not_import_the_other_framework_or_optional_parts(line, forbidden) -> None:
    mods = _modules_after(line)
    for name in forbidden:
        assert name not in mods, name


def test_public_api() -> None:
    for name in arli.__all__:
        assert hasattr(arli, name), name
    assert arli.__version__


@pytest.mark.parametrize("package", ["langchain_arli", "llama_index_arli"])
def test_skin_exports_are_one_list(package: str) -> None:
    """``__all__`` names exactly the lazily exported classes; each resolves to its module's."""
    module = importlib.import_module(package)
    where = exported_names(module._EXPORTS)
    assert set(module.__all__) - {"__version__"} == set(where)
    for name, origin in where.items():
        assert getattr(module, name) is getattr(importlib.import_module(origin), name)
        assert name in dir(module)
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'Nope'"):
        _ = module.Nope

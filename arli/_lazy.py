"""Lazy package exports, written once for the skins' ``__init__`` modules.

A package lists its public names by module in one table; :func:`lazy_exports` gives it the
module-level ``__getattr__`` (import on first use, then cache in the package) and
``__dir__``. The package's ``__all__`` stays a literal list for linters and type checkers
(``tests/unit_tests/test_imports.py`` checks that it names exactly the table's names).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["exported_names", "lazy_exports"]


def exported_names(table: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """``{name: module}`` for a table of ``{module: names}``."""
    return {name: module for module, names in table.items() for name in names}


def lazy_exports(
    namespace: dict[str, Any], table: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of the package whose ``globals()`` is ``namespace``.

    Args:
        namespace: the package's ``globals()`` (an imported name is cached there).
        table: the package's public names by the module that defines them.
    """
    where = exported_names(table)
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's name
        module = where.get(name)
        if module is None:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:  # noqa: N807 - the module hook's name
        return sorted([*namespace, *where])

    return __getattr__, __dir__

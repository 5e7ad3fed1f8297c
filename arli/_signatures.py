"""Signatures written once: a wrapper or skin shows the keyword arguments it passes on.

A skin's ``__init__(self, ..., **options)`` that hands ``options`` to a core class keeps
the options in one place (the core's signature) and still shows them to ``help()``, IDEs
and the unknown-argument check (:func:`arli._kwargs.argument_names` reads signatures).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["takes_options_of"]

_F = TypeVar("_F", bound=Callable[..., Any])


def takes_options_of(target: Callable[..., Any]) -> Callable[[_F], _F]:
    """Decorate ``__init__(self, ..., **options)``: show ``target``'s keywords as its own.

    The signature becomes the function's own parameters, then ``target``'s (keyword-only,
    those the function names itself left out), then the ``**`` parameter of ``target``
    (else the function's own). Nothing else changes: the options still arrive in
    ``**options``.
    """
    try:  # real types, not strings: the argument check evaluates them in another module
        target_params = inspect.signature(target, eval_str=True).parameters
    except (NameError, TypeError, SyntaxError):
        target_params = inspect.signature(target).parameters
    shared = [
        p.replace(kind=p.KEYWORD_ONLY)
        for p in target_params.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    shared_rest = [p for p in target_params.values() if p.kind is p.VAR_KEYWORD]

    def decorate(function: _F) -> _F:
        params = list(inspect.signature(function).parameters.values())
        own = [p for p in params if p.kind is not p.VAR_KEYWORD]
        rest = shared_rest or [p for p in params if p.kind is p.VAR_KEYWORD]
        names = {p.name for p in own}
        shown = own + [p for p in shared if p.name not in names and p.name != "self"] + rest
        function.__signature__ = inspect.Signature(shown)  # type: ignore[attr-defined]
        return function

    return decorate

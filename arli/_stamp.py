"""Stamp: copies of one validated pydantic model with a few fields replaced, unvalidated.

A stream yields one framework object per token (LangChain ``AIMessageChunk`` and
``ChatGenerationChunk``, LlamaIndex ``ChatResponse`` and ``ChatMessage``);
validating each one costs more than everything else we do with the token. The fields that
vary (a text, an id, the raw chunk) are already checked by the core's stream fast path
(exact ``str`` and ``dict`` types), so a skin builds those objects from a template that
pydantic validated once, the way ``BaseModel.model_construct`` does but without its
per-field loop. The saving is in bench/results.md, 'stamped stream objects'.

A stamp is only used when it gives what the framework's own constructor gives: when it is
made (at import) it builds a probe both ways and compares type, fields,
``model_fields_set``, extras and private state; if anything differs (a future release
computes a field from the varied ones, or adds private state), :attr:`Stamp.make` is the
constructor (:meth:`Stamp.construct`: the template's arguments with the call's values).
Every list or dict of the template is a fresh empty one in each copy, so no
two objects share a mutable field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

__all__ = ["Stamp"]

M = TypeVar("M", bound=BaseModel)


def _same(a: BaseModel, b: BaseModel) -> bool:
    return (
        type(a) is type(b)
        and a.__dict__ == b.__dict__
        and a.__pydantic_fields_set__ == b.__pydantic_fields_set__
        and a.__pydantic_extra__ == b.__pydantic_extra__
        and a.__pydantic_private__ == b.__pydantic_private__
        and a == b
    )


class Stamp(Generic[M]):
    """Builds what ``build(**values)`` builds without validation, from a checked template.

    Args:
        build: the validating constructor (a model class, or a function that calls one).
            It makes the template and the probe, and every object when the check fails.
        template: the constructor's arguments for the template object.
        probe: the same argument names as ``template`` with other values; the probe
            stamped must equal the probe constructed, or :attr:`make` is :meth:`construct`.

    ``stamp.make(values)`` names some of those arguments (the others keep the template's
    values; the probe must vary every one a call names), with values of the types the
    constructor keeps as they are (the caller has checked them: exact ``str``, a fresh
    ``dict`` or ``list``).

    Attributes:
        make: ``values -> model``, stamped when the check passed.
        stamps: whether it passed (``make`` stamps) or not (``make`` constructs).
    """

    __slots__ = ("_build", "_template", "make", "stamps")

    def __init__(
        self, build: Callable[..., M], template: Mapping[str, Any], probe: Mapping[str, Any]
    ) -> None:
        if set(template) != set(probe):
            msg = f"a stamp's template and probe name other fields: {set(template) ^ set(probe)}"
            raise ValueError(msg)
        self._build = build
        self._template = dict(template)
        model = build(**template)
        stamped = _stamper(model, set(probe))
        self.stamps = stamped is not None and _same(stamped(dict(probe)), build(**probe))
        self.make: Callable[[dict[str, Any]], M] = (
            stamped if stamped is not None and self.stamps else self.construct
        )

    def construct(self, values: dict[str, Any]) -> M:
        """What :attr:`make` gives, validated: ``build`` of the template with ``values`` set."""
        return self._build(**{**self._template, **values})


def _stamper(model: M, varied: set[str]) -> Callable[[dict[str, Any]], M] | None:
    """The function that copies ``model`` with ``values`` set (``None``: it can't be copied).

    Each copy gets its own empty list or dict where the template has one; a model with
    private state, extras, or any other mutable value no call replaces (a non-empty list,
    a set, a nested model) would share or lose it in a shallow copy, so it is not stamped.
    """
    base = dict(model.__dict__)
    kept = {k: v for k, v in base.items() if k not in varied}
    lists = tuple(k for k, v in kept.items() if type(v) is list and not v)
    dicts = tuple(k for k, v in kept.items() if type(v) is dict and not v)
    shared = [
        k
        for k, v in kept.items()
        if isinstance(v, (list, dict, set, BaseModel)) and k not in lists + dicts
    ]
    if model.__pydantic_private__ is not None or model.__pydantic_extra__ or shared:
        return None
    cls = type(model)
    fields = set(model.__pydantic_fields_set__)
    extra = model.__pydantic_extra__ is not None
    new = object.__new__
    put = object.__setattr__

    def make(values: dict[str, Any]) -> M:
        state = base.copy()
        for key in lists:
            state[key] = []
        for key in dicts:
            state[key] = {}
        state.update(values)
        copy: M = new(cls)
        put(copy, "__dict__", state)
        put(copy, "__pydantic_fields_set__", fields.copy())
        put(copy, "__pydantic_extra__", {} if extra else None)
        put(copy, "__pydantic_private__", None)
        return copy

    return make

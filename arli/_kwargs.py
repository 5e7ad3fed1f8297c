"""Refuse constructor arguments we do not know, naming the closest known one.

A misspelled argument (``ChatArli(min_P=0.05)``) would otherwise be dropped silently by a
pydantic model (or fail with a bare ``TypeError`` in a plain class) and the request would
go out without it. Every public class checks the names it is given against the names it
takes, before anything is built or sent, and raises :class:`~arli.ArliValidationError`
in the shape per-call parameters use (:func:`arli.text.payload.split_call_kwargs`)::

    ChatArli: unknown parameter 'min_P'. Did you mean 'min_p'? Other server fields can be
    sent with extra_body={'min_P': ...}

- pydantic classes (the LangChain and LlamaIndex skins) call :func:`check_model_arguments`
  at the top of their ``__init__``: a validator would see the error wrapped into a
  ``pydantic.ValidationError``. Field names and their aliases are accepted alike.
- what the validators of those classes raise (an unknown name inside ``client_options``,
  ``engine_options`` or ``additional_kwargs``, a value out of range) comes out of
  :func:`raise_arli_errors` as the arli error itself, not wrapped by pydantic.
- plain classes (and dataclasses) are decorated with :func:`checks_arguments`, which keeps
  their signature (for type checkers and ``inspect``) and checks names before ``__init__``
  runs; a class whose ``**kwargs`` go on to another class or function names it in
  ``passes_to``, so a typo is caught where the user wrote it. The values given are then
  checked against the annotations of ``__init__`` (:func:`check_argument_types`), so a
  wrong type is the same :class:`~arli.ArliValidationError` a pydantic class raises, not
  a bare ``TypeError``/``AttributeError`` from inside.
- a keyword of ``passes_to`` that the class sets itself (``ImageClient`` passes its
  ``api_key`` on as ``image_api_key``) is named in ``sets``, with what to pass instead: it
  is refused with that advice (:func:`set_by_class`), not with Python's ``got multiple
  values for keyword argument``; classes that pass their ``**kwargs`` on to such a class
  refuse it the same way.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import inspect
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from arli._errors import ArliError, ArliValidationError

if TYPE_CHECKING:
    from pydantic import AliasChoices, AliasPath, BaseModel

__all__ = [
    "argument_names",
    "arli_error_from_validation",
    "check_argument_types",
    "check_arguments",
    "check_model_arguments",
    "checks_arguments",
    "model_argument_names",
    "raise_arli_errors",
    "forwarded",
    "set_by_class",
    "unknown_argument",
]

_C = TypeVar("_C", bound=type)

#: Classes decorated with :func:`checks_arguments`: their own ``__init__`` and ``passes_to``.
_DECLARED: dict[type, tuple[Callable[..., Any], tuple[Any, ...]]] = {}
#: Per decorated class, the keywords of ``passes_to`` it sets itself, and what to pass instead.
_SETS: dict[type, Mapping[str, str]] = {}


def _closest(name: str, known: Collection[str]) -> str | None:
    folded = {k.casefold(): k for k in sorted(known)}
    if name.casefold() in folded:  # min_P -> min_p, API_KEY -> api_key
        return folded[name.casefold()]
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return close[0] if close else None


def _extras_example(extras: str, name: str) -> str:
    """``extra_body={'x': ...}``; a dotted path nests: ``a.b`` → ``a={'b': {'x': ...}}``."""
    first, *inner = extras.split(".")
    value = f"{{{name!r}: ...}}"
    for key in reversed(inner):
        value = f"{{{key!r}: {value}}}"
    return f"{first}={value}"


def unknown_argument(
    label: str, name: str, known: Collection[str], *, extras: str | None = None
) -> ArliValidationError:
    """The error for an argument ``label`` does not take.

    Args:
        label: the class (or function) name shown first in the message (``""``: none).
        name: the unknown argument, as the user wrote it.
        known: every name ``label`` takes (the suggestion is picked among them).
        extras: the argument that carries other server fields (``"extra_body"``; a dotted
            path such as ``"engine_options.extra_body"`` for a nested one), or ``None``
            when there is none. Where it is ``extra_body`` (text requests), a name in
            :data:`arli.text.params.REFUSED_PARAMS` gets its reason instead.

    Returns:
        An :class:`~arli.ArliValidationError` whose ``field`` is ``name`` and whose
        ``allowed`` is the suggested name (``None`` without a suggestion).
    """
    prefix = f"{label}: " if label else ""
    if extras is not None and extras.rsplit(".", 1)[-1] == "extra_body":
        # A text request builder: a documented field we refuse says why, and is not
        # pointed at extra_body (no value of it can travel as JSON).
        from arli.text.params import REFUSED_PARAMS  # noqa: PLC0415 - text only, and cycle-free

        reason = REFUSED_PARAMS.get(name)
        if reason is not None:
            return ArliValidationError(
                f"{prefix}parameter {name!r} is refused: {reason}", field=name
            )
    close = _closest(name, known)
    hint = f" Did you mean {close!r}?" if close else ""
    msg = f"{prefix}unknown parameter {name!r}.{hint}"
    if extras:
        msg += f" Other server fields can be sent with {_extras_example(extras, name)}"
    return ArliValidationError(msg, field=name, allowed=close)


def check_arguments(
    label: str, given: Iterable[str], known: Collection[str], *, extras: str | None = None
) -> None:
    """Raise for the first name in ``given`` that is not in ``known``.

    Raises:
        ArliValidationError: see :func:`unknown_argument`.
    """
    for name in given:
        if name not in known:
            raise unknown_argument(label, name, known, extras=extras)


def _alias_names(alias: str | AliasPath | AliasChoices | None) -> list[str]:
    from pydantic import AliasPath  # noqa: PLC0415 - plain classes need no pydantic

    if alias is None:
        return []
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasPath):
        first = alias.path[0] if alias.path else None
        return [first] if isinstance(first, str) else []
    return [n for choice in alias.choices for n in _alias_names(choice)]


@functools.cache
def model_argument_names(model: type[BaseModel]) -> frozenset[str]:
    """Every keyword a pydantic model takes: its field names and their aliases."""
    names: set[str] = set()
    for field_name, info in model.model_fields.items():
        names.add(field_name)
        names.update(_alias_names(info.alias))
        names.update(_alias_names(info.validation_alias))
    return frozenset(names)


def check_model_arguments(
    model: type[BaseModel],
    data: Mapping[str, Any],
    *,
    extras: str | None = None,
    label: str | None = None,
) -> None:
    """Refuse keys of ``data`` that are neither a field of ``model`` nor an alias of one.

    Call it at the top of a pydantic class's ``__init__``, before ``super().__init__``.

    Raises:
        ArliValidationError: see :func:`unknown_argument`.
    """
    if data:
        known = model_argument_names(model)
        if not known.issuperset(data):
            check_arguments(label or model.__name__, data, known, extras=extras)


#: Parts of a field name whose value is never quoted in an error message.
_SECRET_PARTS = ("key", "secret", "password", "token", "header", "auth")


def _shown(field: str, value: Any) -> str:
    if any(part in field.lower() for part in _SECRET_PARTS):
        return ""
    shown = repr(value)
    return "=" + (shown if len(shown) <= 60 else shown[:57] + "...")


def arli_error_from_validation(exc: Any, label: str = "") -> ArliError:
    """The arli error for a ``pydantic.ValidationError`` (ours if a validator raised it).

    One error a validator of ours raised is returned as it is. Anything else becomes one
    :class:`~arli.ArliValidationError` in the shape of ours (``label: field=value is
    invalid: what pydantic said``); values of fields that may hold secrets are not quoted.
    """
    errors = exc.errors()
    causes = [(e.get("ctx") or {}).get("error") for e in errors]
    if len(errors) == 1 and isinstance(causes[0], ArliError):
        return causes[0]
    parts: list[str] = []
    fields: set[str] = set()
    for error, cause in zip(errors, causes, strict=True):
        path = [str(p) for p in error.get("loc") or ()]
        if path and path[0] in fields:
            continue  # one message per field (a union reports each of its members)
        fields.add(path[0] if path else "")
        loc = ".".join(p for p in path if "[" not in p) or "value"
        if isinstance(cause, ArliError):
            parts.append(str(cause))
        elif error.get("type") == "missing":
            parts.append(f"{loc} is required")
        else:
            value = _shown(loc, error.get("input"))
            parts.append(f"{loc}{value} is invalid: {error.get('msg')}")
    prefix = f"{label}: " if label else ""
    first = str((errors[0].get("loc") or ("",))[0]) if errors else None
    return ArliValidationError(prefix + "; ".join(parts), field=first or None)


@contextlib.contextmanager
def raise_arli_errors(label: str = "") -> Iterator[None]:
    """Raise an arli error instead of a ``pydantic.ValidationError``.

    See :func:`arli_error_from_validation`: ``except arli.ArliError`` catches every error
    of a constructor or an assignment.

    Args:
        label: the class name the message starts with (for errors pydantic wrote).

    Example:
        .. code-block:: python

            def __init__(self, **data: Any) -> None:
                check_model_arguments(type(self), data, extras="extra_body")
                with raise_arli_errors(type(self).__name__):
                    super().__init__(**data)
    """
    from pydantic import ValidationError  # noqa: PLC0415 - plain classes need no pydantic

    try:
        yield
    except ValidationError as exc:
        raise arli_error_from_validation(exc, label) from None


def _signature_names(target: Any) -> set[str]:
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # builtins without a signature take nothing we know
        return set()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in signature.parameters.values() if p.kind in kinds} - {"self"}


@functools.cache
def argument_names(target: Any) -> frozenset[str]:
    """Every keyword ``target`` (a class or a function) takes.

    For a class decorated with :func:`checks_arguments`, its ``__init__`` parameters and
    the names of what its ``**kwargs`` are passed to; for a pydantic model, its fields and
    aliases; otherwise the parameters of its signature.
    """
    declared = _DECLARED.get(target) if isinstance(target, type) else None
    if declared is not None:
        init, passes_to = declared
        names = _signature_names(init)
        for downstream in passes_to:
            names |= argument_names(downstream)
        return frozenset(names - set(set_names(target)))
    if isinstance(target, type) and hasattr(target, "__pydantic_fields__"):
        return model_argument_names(target)
    return frozenset(_signature_names(target))


@functools.cache
def set_names(target: Any) -> Mapping[str, str]:
    """The keywords ``target`` refuses because it sets them itself, with what to pass instead.

    Those a decorated class declares in ``sets``, and those of the classes its ``**kwargs``
    go on to (but for the names it takes itself).
    """
    declared = _DECLARED.get(target) if isinstance(target, type) else None
    if declared is None:
        return {}
    init, passes_to = declared
    own = _signature_names(init)
    found: dict[str, str] = {}
    for downstream in passes_to:
        found.update({k: v for k, v in set_names(downstream).items() if k not in own})
    found.update(_SETS.get(target, {}))
    return found


def set_by_class(label: str, name: str, instead: str) -> ArliValidationError:
    """The error for a keyword the class sets itself (``ImageClient(image_api_key=...)``).

    Args:
        label: the class name.
        name: the keyword, as the user wrote it.
        instead: what to pass instead (or why it cannot be chosen).
    """
    msg = f"{label}: {name!r} cannot be given: {label} sets it itself; {instead}"
    return ArliValidationError(msg, field=name, allowed=instead)


def forwarded(
    label: str, field: str, options: Mapping[str, Any], explicit: Mapping[str, Any]
) -> dict[str, Any]:
    """``explicit`` and ``options`` as the keywords of one call, refusing a name in both.

    A class with an options dict (``client_options``, ``engine_options``) passes some of
    its own fields on by name; the same name inside the dict would be Python's ``got
    multiple values for keyword argument``.

    Args:
        label: the class name.
        field: the options dict's field name.
        options: the dict.
        explicit: what the class passes on by name, from its own fields.

    Raises:
        ArliValidationError: naming ``field[name]`` and the field to set instead.
    """
    for name in options:
        if name in explicit:
            instead = f"set {label}({name}=...) instead"
            msg = f"{label}: {field}[{name!r}] cannot be given: {name} is a field of its own; "
            raise ArliValidationError(msg + instead, field=f"{field}.{name}", allowed=instead)
    return {**explicit, **options}


def checks_arguments(
    *,
    passes_to: tuple[Any, ...] = (),
    extras: str | None = None,
    sets: Mapping[str, str] | None = None,
) -> Callable[[_C], _C]:
    """Class decorator: refuse unknown keyword arguments before ``__init__`` runs.

    Apply it above ``@dataclass`` for a dataclass. The signature stays what it is (type
    checkers still see it); subclasses that do not override ``__init__`` are checked too
    (the message names the subclass).

    Args:
        passes_to: classes or functions the ``**kwargs`` of ``__init__`` go on to; their
            keywords are accepted too.
        extras: the argument that carries other server fields, named in the message.
        sets: keywords of ``passes_to`` the class sets itself (from its own arguments),
            each with what to pass instead (``{"image_api_key": "pass api_key=..."}``).
    """

    def decorate(cls: _C) -> _C:
        init: Callable[..., None] = cls.__init__  # type: ignore[misc]
        _DECLARED[cls] = (init, passes_to)
        if sets:
            _SETS[cls] = dict(sets)

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
            if kwargs:
                known = argument_names(cls)
                if not known.issuperset(kwargs):
                    label = type(self).__name__
                    taken = set_names(cls)
                    for name in kwargs:
                        if name in taken:
                            raise set_by_class(label, name, taken[name])
                    check_arguments(label, kwargs, known, extras=extras)
                check_argument_types(init, kwargs, type(self).__name__)
            init(self, *args, **kwargs)

        setattr(cls, "__init__", __init__)  # noqa: B010 - mypy refuses assigning a method
        return cls

    return decorate


# -- the types of a plain class's arguments ---------------------------------------------------


@functools.cache
def _arguments_model(init: Callable[..., Any]) -> type[BaseModel] | None:
    """A pydantic model of the annotated keywords of ``init`` (those pydantic can check)."""
    from pydantic import ConfigDict, Field, TypeAdapter, create_model  # noqa: PLC0415

    config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())
    try:
        parameters = inspect.signature(init).parameters.values()
    except (TypeError, ValueError):
        return None
    namespace = getattr(init, "__globals__", {})
    fields: dict[str, Any] = {}
    for parameter in parameters:
        if parameter.name == "self" or parameter.annotation is inspect.Parameter.empty:
            continue
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            continue
        hint = parameter.annotation
        try:
            if isinstance(hint, str):
                hint = eval(hint, namespace)  # noqa: S307 - our own annotations
            TypeAdapter(hint, config=config)
        except Exception:  # noqa: BLE001, S112 - a type pydantic cannot check: not checked here
            continue
        fields[f"arg_{parameter.name}"] = (hint, Field(None, alias=parameter.name))
    if not fields:
        return None
    try:
        return create_model(f"{init.__qualname__}Arguments", __config__=config, **fields)
    except Exception:  # noqa: BLE001 - never refuse a construction because of our check
        return None


def check_argument_types(init: Callable[..., Any], kwargs: Mapping[str, Any], label: str) -> None:
    """Refuse a keyword whose value does not fit the annotation of ``init`` (before it runs).

    A plain class would otherwise fail inside with a bare ``TypeError``/``AttributeError``
    (``ImageClient(base_url=1)``: ``'int' object has no attribute 'strip'``). Values are only
    checked (pydantic's lax mode: ``1`` fits a ``float``), never converted.

    Raises:
        ArliValidationError: ``label: name=value is invalid: what was expected`` (values of
            secret-holding arguments are not quoted).
    """
    from pydantic import ValidationError  # noqa: PLC0415

    model = _arguments_model(init)
    if model is None:
        return
    try:
        model.model_validate(kwargs)
    except ValidationError as exc:
        raise arli_error_from_validation(exc, label) from None

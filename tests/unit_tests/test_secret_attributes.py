"""No public object keeps a key in the clear in its attributes, nor after a pickle round trip.

Error trackers capture local variables and object attributes, ``SimpleDirectoryReader
(num_workers=...)`` pickles readers to its workers, and ``vars()`` is one call away: a key
given as a plain ``str`` must be held as ``SecretStr`` wherever it is kept. Every public
class that takes an ``api_key`` is built with a recognizable raw key, then its object graph
(our own objects, containers, pydantic fields and private attributes) and its pickle are
searched for it. The catalogue of public classes and their minimal arguments is the one the
unknown-argument test keeps complete (a new public class cannot skip it).
"""

from __future__ import annotations

import inspect
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from arli._transport import Transport
from tests.unit_tests.test_unknown_arguments import CASES, PUBLIC

RAW = "sk-raw-attribute-audit-7f3c9e1d"
OURS = ("arli", "langchain_arli", "llama_index_arli")


def _takes_api_key(cls: type) -> bool:
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        fields = cls.model_fields
        return "api_key" in fields or any(f.alias == "api_key" for f in fields.values())
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False
    return "api_key" in params


KEYED = sorted(
    name
    for name, case in CASES.items()
    if name in PUBLIC
    and _takes_api_key(PUBLIC[name])
    and "backend" not in case.kwargs(Path("/nonexistent"))
)


def _children(obj: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield f"[{key!r}]", value
    elif isinstance(obj, list | tuple | set | frozenset):
        for i, value in enumerate(obj):
            yield f"[{i}]", value
    elif isinstance(obj, Transport):
        # It must hold the header it sends on every request (prepared once, on the hot
        # path); it is audited on its own below: repr and pickle.
        return
    elif type(obj).__module__.split(".")[0] in OURS:
        if isinstance(obj, BaseModel):
            yield from ((f".{k}", v) for k, v in obj.__dict__.items())
            yield from ((f".{k}", v) for k, v in (obj.__pydantic_private__ or {}).items())
        elif hasattr(obj, "__dict__"):
            yield from ((f".{k}", v) for k, v in vars(obj).items())
        for slot in getattr(type(obj), "__slots__", ()):
            if hasattr(obj, slot):
                yield f".{slot}", getattr(obj, slot)


def clear_keys(root: Any) -> list[str]:
    """Paths in ``root``'s object graph where the raw key sits in a plain string."""
    found: list[str] = []
    seen: set[int] = set()
    todo: list[tuple[str, Any]] = [("obj", root)]
    while todo:
        path, obj = todo.pop()
        if id(obj) in seen or isinstance(obj, SecretStr):
            continue
        seen.add(id(obj))
        if isinstance(obj, str | bytes):
            if (RAW if isinstance(obj, str) else RAW.encode()) in obj:
                found.append(path)
            continue
        todo.extend((path + step, child) for step, child in _children(obj))
    return found


def test_the_walk_finds_a_key_held_in_the_clear() -> None:
    class Holder:  # a stand-in for the mistake the test is here to catch
        pass

    Holder.__module__ = "arli.fake"
    holder = Holder()
    holder.options = {"api_key": RAW}  # type: ignore[attr-defined]
    assert clear_keys(holder) == ["obj.options['api_key']"]
    assert clear_keys({"k": SecretStr(RAW)}) == []


def test_every_keyed_class_is_audited() -> None:
    # the readers, loaders, tools and clients that take a key are all here
    assert {
        "llama_index_arli.readers.ocr.ArliOCRReader",
        "langchain_arli.chat_models.ChatArli",
    } <= set(KEYED)


@pytest.mark.parametrize("name", KEYED)
def test_no_raw_key_in_attributes_or_pickle(name: str, tmp_path: Path) -> None:
    cls, case = PUBLIC[name], CASES[name]
    kwargs = {**case.kwargs(tmp_path), "api_key": RAW}
    obj = cls(*case.args, **kwargs)
    assert clear_keys(obj) == []
    try:
        state = pickle.dumps(obj)
    except (TypeError, AttributeError, pickle.PicklingError):
        return  # not picklable: nothing leaves the process that way
    # A pickle must carry the key (SimpleDirectoryReader workers need it to work), but
    # what it rebuilds holds it as SecretStr again.
    assert clear_keys(pickle.loads(state)) == []


def test_the_transport_holds_its_header_but_never_shows_or_ships_it() -> None:
    from arli._settings import ArliSettings
    from arli._transport import get_transport

    transport = get_transport(ArliSettings.resolve(api_key=RAW, base_url="http://t"), "text")
    assert RAW not in repr(transport)
    with pytest.raises((TypeError, AttributeError, pickle.PicklingError)):
        pickle.dumps(transport)

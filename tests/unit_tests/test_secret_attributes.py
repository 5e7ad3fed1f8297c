"""No public object keeps a key in the clear in its attributes, errors, or after a pickle.

Error trackers capture local variables and object attributes, ``SimpleDirectoryReader
(num_workers=...)`` pickles readers to its workers, and ``vars()`` is one call away: a key
given as a plain ``str`` must be held as ``SecretStr`` wherever it is kept. Every public
class that takes an ``api_key`` is built with a recognizable raw key, then its object graph
(our own objects, containers, pydantic fields and private attributes) and its pickle are
searched for it. Keys are given as they come from secrets files (surrounding spaces, a
trailing newline), as arguments and through the environment; the errors a constructor or a
failed call raises are walked too (``str``/``repr``/arguments/attributes of every link of
``__cause__``/``__context__``). The catalogue of public classes and their minimal arguments
is the one the unknown-argument test keeps complete (a new public class cannot skip it).
"""

from __future__ import annotations

import inspect
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from arli import ArliError
from arli._kwargs import argument_names
from arli._transport import Transport
from tests.reference_server import ReferenceServer
from tests.unit_tests.test_secrets_audit import SECRET, check_exception, failing_calls
from tests.unit_tests.test_unknown_arguments import CASES, PUBLIC

RAW = "sk-raw-attribute-audit-7f3c9e1d"
#: The key as secrets files and copy-paste deliver it; only ``RAW`` itself may be sent.
KEY_FORMS = {"plain": RAW, "spaces-newline": f"  {RAW}\n", "tab-crlf": f"\t{RAW}\r\n"}
ENV_KEYS = ("ARLI_TEXT_KEY", "ARLI_IMAGE_KEY", "ARLIAI_API_KEY", "FEATHERLESS_API_KEY")
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
    elif isinstance(obj, BaseException):  # an error chain: whatever its module
        yield ".args", obj.args
        yield ".__cause__", obj.__cause__
        yield ".__context__", obj.__context__
        yield from ((f".{k}", v) for k, v in vars(obj).items())
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


def clear_keys(root: Any, secret: str = RAW) -> list[str]:
    """Paths in ``root``'s object graph (error chains included) where ``secret`` sits in clear."""
    found: list[str] = []
    seen: set[int] = set()
    todo: list[tuple[str, Any]] = [("obj", root)]
    while todo:
        path, obj = todo.pop()
        if id(obj) in seen or isinstance(obj, SecretStr):
            continue
        seen.add(id(obj))
        if isinstance(obj, str | bytes):
            if (secret if isinstance(obj, str) else secret.encode()) in obj:
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


def test_the_walk_follows_error_chains() -> None:
    try:
        try:
            raise KeyError(f"Bearer {RAW}")
        except KeyError as inner:
            raise ValueError("outer") from inner
    except ValueError as exc:
        (path,) = clear_keys(exc)  # the cause is the context too: reached once
        assert path in ("obj.__cause__.args[0]", "obj.__context__.args[0]")


@pytest.mark.parametrize("form", sorted(KEY_FORMS))
@pytest.mark.parametrize("name", KEYED)
def test_no_raw_key_in_attributes_or_pickle(name: str, form: str, tmp_path: Path) -> None:
    cls, case = PUBLIC[name], CASES[name]
    kwargs = {**case.kwargs(tmp_path), "api_key": KEY_FORMS[form]}
    obj = cls(*case.args, **kwargs)
    assert clear_keys(obj) == []
    assert RAW not in repr(obj)
    assert RAW not in str(obj)
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


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_public_object_holds_an_env_key_in_the_clear(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every public class, built from the environment's keys (read as a secrets file has them)."""
    for variable in ENV_KEYS:
        monkeypatch.setenv(variable, f"{RAW}\n")
    cls, case = PUBLIC[name], CASES[name]
    kwargs = case.kwargs(tmp_path)
    kwargs.pop("api_key", None)
    obj = cls(*case.args, **kwargs)
    assert clear_keys(obj) == []
    assert RAW not in repr(obj)


def _refused_arguments(cls: type) -> list[tuple[str, Any]]:
    """Arguments ``cls`` refuses, each alone: an unknown name, out-of-range settings."""
    names = argument_names(cls)
    bad: list[tuple[str, Any]] = [("max_retries", -1), ("base_url", "ftp://x")]
    return [(n, v) for n, v in bad if n in names]


@pytest.mark.parametrize("form", ["spaces-newline", "tab-crlf"])
@pytest.mark.parametrize("name", KEYED)
def test_construction_errors_never_carry_the_key(name: str, form: str, tmp_path: Path) -> None:
    cls, case = PUBLIC[name], CASES[name]
    attempts = [(case.typo, 1), *_refused_arguments(cls)]
    for argument, value in attempts:
        kwargs = {**case.kwargs(tmp_path), "api_key": KEY_FORMS[form], argument: value}
        with pytest.raises(ArliError) as info:
            cls(*case.args, **kwargs)
        assert clear_keys(info.value) == [], (argument, value)
        assert RAW not in repr(info.value)


@pytest.fixture(scope="module")
def rejecting_server() -> Iterator[ReferenceServer]:
    """Answers every request with 401 (it expects another key)."""
    with ReferenceServer(api_key="sk-some-other-key-0000") as srv:
        yield srv


@pytest.mark.parametrize("form", ["spaces-newline", "tab-crlf"])
def test_failed_calls_with_a_whitespace_key_never_carry_it(
    form: str, rejecting_server: ReferenceServer, tmp_path: Path
) -> None:
    from tests.unit_tests.test_secrets_audit import PAGE

    (tmp_path / "page.png").write_bytes(PAGE)
    given = KEY_FORMS[form].replace(RAW, SECRET)
    failures = 0
    for where, call in failing_calls(rejecting_server.url, tmp_path, secret=given).items():
        try:
            result = call()
        except Exception as exc:  # every kind is walked
            check_exception(exc, f"{where} ({form})")
            assert clear_keys(exc, SECRET) == [], where
            failures += 1
        else:  # a tool may hand the error to the agent as text
            assert SECRET not in repr(result) + str(result), where
    assert failures >= 10

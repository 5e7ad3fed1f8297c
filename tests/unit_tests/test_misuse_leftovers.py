"""Issue 14 leftovers: constructor misuse answered with an arli error, never a raw one.

* a keyword a class passes on itself (``ImageClient`` passes its ``api_key`` as
  ``image_api_key``) given again is refused with an :class:`~arli.ArliValidationError`
  naming it and what to pass instead, not Python's ``got multiple values for keyword
  argument``; the walk below tries every keyword every public plain class forwards;
* durations and counts (timeouts, stall limits, retries, concurrency) follow one core rule
  (:func:`arli._settings.check_seconds` / :func:`~arli._settings.check_count`) in every
  class that takes them: -1, 0, NaN, infinity, bools and strings are refused at
  construction, naming the field and the range allowed;
* ``Transport(authorization=...)`` takes a ``str`` as well as a ``SecretStr``.
"""

from __future__ import annotations

import math
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from arli import (
    AiArtClient,
    ArliConfigError,
    ArliError,
    ArliValidationError,
    ImageClient,
    OCREngine,
    TextClient,
)
from arli._kwargs import _DECLARED, _signature_names, argument_names, set_names
from arli._transport import RetryPolicy, Transport
from tests.unit_tests.test_unknown_arguments import CASES, PUBLIC

LOOPBACK = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def _no_keys_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in list(os.environ):
        if any(part in variable for part in ("KEY", "ARLI", "FEATHERLESS", "AIART")):
            monkeypatch.delenv(variable)


# -- 1. keywords a class forwards itself ------------------------------------------------------


def _forwarded() -> list[tuple[str, str]]:
    """Every ``(public class, keyword)`` where the keyword goes on to another class/function.

    The keywords a plain public class takes through its ``**kwargs`` (those of what it
    passes them to), and those it refuses because it sets them itself.
    """
    found: list[tuple[str, str]] = []
    for name in sorted(CASES):
        cls = PUBLIC[name]
        declared = _DECLARED.get(cls)
        if declared is None or not declared[1]:
            continue
        own = _signature_names(declared[0])
        names = (set(argument_names(cls)) | set(set_names(cls))) - own
        found.extend((name, keyword) for keyword in sorted(names))
    return found


FORWARDED = _forwarded()


def test_the_walk_covers_the_classes_that_forward_keywords() -> None:
    classes = {name.rsplit(".", 1)[-1] for name, _ in FORWARDED}
    assert {"ImageClient", "AiArtClient", "TextClient", "OCREngine"} <= classes
    assert {"ArliOCRLoader", "ArliOCRReader"} <= classes
    pairs = {(n.rsplit(".", 1)[-1], k) for n, k in FORWARDED}
    assert ("ImageClient", "image_api_key") in pairs
    assert ("OCREngine", "text_base_url") in pairs
    assert ("AiArtClient", "provider") in pairs


@pytest.mark.parametrize(
    ("name", "keyword"), FORWARDED, ids=[f"{n.rsplit('.', 1)[-1]}-{k}" for n, k in FORWARDED]
)
def test_a_forwarded_keyword_never_raises_a_raw_type_error(
    name: str, keyword: str, tmp_path: Path
) -> None:
    # None is the value least likely to be refused for its type, and Python's "multiple
    # values" TypeError comes whatever the value is.
    cls, case = PUBLIC[name], CASES[name]
    kwargs = {**case.kwargs(tmp_path), keyword: None}
    try:
        cls(*case.args, **kwargs)
    except ArliError as exc:
        assert keyword in str(exc)


#: (constructor, the keyword it sets itself, what the message must point to instead)
SETS_ITSELF: dict[str, tuple[Callable[..., Any], str, str]] = {
    "ImageClient-image_api_key": (
        lambda **kw: ImageClient(api_key="k", **kw),
        "image_api_key",
        "api_key=",
    ),
    "ImageClient-image_base_url": (
        lambda **kw: ImageClient(api_key="k", **kw),
        "image_base_url",
        "base_url=",
    ),
    "AiArtClient-provider": (AiArtClient, "provider", "ImageClient"),
    "OCREngine-text_base_url": (
        lambda **kw: OCREngine(api_key="k", **kw),
        "text_base_url",
        "base_url=",
    ),
    "TextClient-text_base_url": (
        lambda **kw: TextClient(api_key="k", **kw),
        "text_base_url",
        "base_url=",
    ),
}


@pytest.mark.parametrize("case", SETS_ITSELF)
def test_a_keyword_set_by_the_class_names_it_and_what_to_pass(case: str) -> None:
    build, keyword, instead = SETS_ITSELF[case]
    value = "arli" if keyword == "provider" else LOOPBACK if "url" in keyword else "sk-x"
    with pytest.raises(ArliValidationError) as info:
        build(**{keyword: value})
    message = str(info.value)
    assert info.value.field == keyword
    assert f"{keyword!r} cannot be given" in message
    assert instead in message
    assert "sk-x" not in message


def test_the_skins_passing_an_engine_on_refuse_what_it_sets_itself(tmp_path: Path) -> None:
    from langchain_arli import ArliOCRLoader
    from llama_index_arli import ArliOCRReader

    for build in (
        lambda: ArliOCRLoader(tmp_path / "a.png", api_key="k", text_base_url=LOOPBACK),
        lambda: ArliOCRReader(api_key="k", text_base_url=LOOPBACK),
    ):
        with pytest.raises(ArliValidationError, match="'text_base_url' cannot be given"):
            build()


def test_an_options_dict_may_not_repeat_a_field_of_its_own(tmp_path: Path) -> None:
    from langchain_arli.tools.images import ArliImageGenerationTool
    from langchain_arli.tools.ocr import ArliOCRTool

    with pytest.raises(ArliValidationError) as info:
        ArliImageGenerationTool(
            api_key="k", output_dir=tmp_path, client_options={"api_key": "sk-secret"}
        )
    assert "client_options['api_key'] cannot be given" in str(info.value)
    assert "ArliImageGenerationTool(api_key=...)" in str(info.value)
    assert "sk-secret" not in str(info.value)
    with pytest.raises(ArliValidationError, match=r"engine_options\['model'\] cannot be given"):
        ArliOCRTool(api_key="k", engine_options={"model": "m"})
    # what is not a field of its own still goes through
    tool = ArliOCRTool(api_key="k", engine_options={"dpi": 200})
    assert tool.toolbox.engine.render_options.dpi == 200


def test_both_names_of_the_text_parallel_limit_are_refused_together() -> None:
    with pytest.raises(ArliValidationError, match="not both"):
        TextClient(api_key="k", max_concurrent_requests=2, text_max_concurrency=3)
    assert TextClient(api_key="k", text_max_concurrency=3).settings.text_max_concurrency == 3


# -- 2. one rule for durations and counts -----------------------------------------------------

BAD_SECONDS: list[Any] = [-1, 0, math.nan, math.inf, True, "3"]


def _ocr_loader(**kw: Any) -> Any:
    from langchain_arli import ArliOCRLoader

    return ArliOCRLoader("scan.png", api_key="k", **kw)


def _ocr_reader(**kw: Any) -> Any:
    from llama_index_arli import ArliOCRReader

    return ArliOCRReader(api_key="k", **kw)


def _chat(**kw: Any) -> Any:
    from langchain_arli import ChatArli

    return ChatArli(model="m", api_key="k", **kw)


def _llm(**kw: Any) -> Any:
    from langchain_arli import ArliLLM

    return ArliLLM(model="m", api_key="k", **kw)


def _llama(**kw: Any) -> Any:
    from llama_index_arli import Arli

    return Arli(model="m", api_key="k", **kw)


#: (constructor, duration fields it takes, the field 0 is allowed for)
TAKES: dict[str, tuple[Callable[..., Any], list[str], set[str]]] = {
    "ImageClient": (
        lambda **kw: ImageClient(api_key="k", **kw),
        ["image_timeout", "connect_timeout", "listing_timeout", "listing_cache_ttl"],
        {"listing_cache_ttl"},
    ),
    "AiArtClient": (AiArtClient, ["image_timeout", "download_timeout"], set()),
    "TextClient": (lambda **kw: TextClient(api_key="k", **kw), ["text_timeout"], set()),
    "OCREngine": (
        lambda **kw: OCREngine(api_key="k", **kw),
        ["timeout", "download_timeout", "text_timeout"],
        set(),
    ),
    "ArliOCRLoader": (_ocr_loader, ["timeout"], set()),
    "ArliOCRReader": (_ocr_reader, ["timeout"], set()),
    "Transport": (
        lambda **kw: Transport(base_url=LOOPBACK, **kw),
        ["connect_timeout", "stream_stall_timeout"],
        {"stream_stall_timeout"},
    ),
    "ChatArli": (_chat, ["timeout", "stall_timeout"], {"stall_timeout"}),
    "ArliLLM": (_llm, ["timeout", "stall_timeout"], {"stall_timeout"}),
    "Arli": (_llama, ["timeout", "stall_timeout"], {"stall_timeout"}),
}

SECONDS_CASES = [
    (name, field, value)
    for name, (_, fields, zero_ok) in TAKES.items()
    for field in fields
    for value in BAD_SECONDS
    if not (value == 0 and not isinstance(value, bool) and field in zero_ok)
]


@pytest.mark.parametrize(
    ("name", "field", "value"),
    SECONDS_CASES,
    ids=[f"{n}-{f}-{v!r}" for n, f, v in SECONDS_CASES],
)
def test_a_bad_duration_is_refused_at_construction(name: str, field: str, value: Any) -> None:
    build = TAKES[name][0]
    with pytest.raises(ArliError) as info:
        build(**{field: value})
    assert isinstance(info.value, (ArliValidationError, ArliConfigError))
    message = str(info.value)
    assert f"{field}={value!r}" in message
    assert "a finite number of seconds" in message  # the range allowed


@pytest.mark.parametrize("name", TAKES)
def test_good_durations_are_kept(name: str) -> None:
    build, fields, zero_ok = TAKES[name]
    for field in fields:
        build(**{field: 2.5})
        build(**{field: 7})  # an int is a number of seconds
    for field in zero_ok:
        build(**{field: 0})  # 0: no limit


def test_the_skins_send_their_timeout_and_keep_their_stall_limit() -> None:
    for build in (_chat, _llm, _llama):
        model = build(timeout=7, stall_timeout=0.5)
        assert model.client.settings.text_timeout == 7.0
        assert model._options().stall_timeout == 0.5


BAD_COUNTS: list[Any] = [-1, True, "2", 1.5]

COUNTS: dict[str, tuple[Callable[..., Any], str]] = {
    "OCREngine-max_retries": (lambda **kw: OCREngine(api_key="k", **kw), "max_retries"),
    "OCREngine-max_concurrency": (lambda **kw: OCREngine(api_key="k", **kw), "max_concurrency"),
    "ArliOCRReader-max_retries": (_ocr_reader, "max_retries"),
    "ImageClient-max_retries": (lambda **kw: ImageClient(api_key="k", **kw), "max_retries"),
    "AiArtClient-image_max_concurrency": (
        AiArtClient,
        "image_max_concurrency",
    ),
    "ChatArli-max_retries": (_chat, "max_retries"),
    "Arli-max_retries": (_llama, "max_retries"),
    "RetryPolicy-max_retries": (RetryPolicy, "max_retries"),
}


@pytest.mark.parametrize("case", COUNTS)
@pytest.mark.parametrize("value", BAD_COUNTS, ids=repr)
def test_a_bad_count_is_refused_at_construction(case: str, value: Any) -> None:
    build, field = COUNTS[case]
    with pytest.raises(ArliError) as info:
        build(**{field: value})
    message = str(info.value)
    assert f"{field}={value!r}" in message
    assert any(rule in message for rule in ("whole number", "integer"))  # what is allowed


def test_a_zero_concurrency_is_refused() -> None:
    with pytest.raises(ArliValidationError, match=r"max_concurrency=0 is out of range"):
        OCREngine(api_key="k", max_concurrency=0)


def test_per_call_durations_follow_the_same_rule() -> None:
    from arli._steps import transport_options

    with pytest.raises(ArliValidationError, match=r"request_timeout=-1 is out of range"):
        transport_options("text", request_timeout=-1)
    with pytest.raises(ArliValidationError, match=r"request_timeout='3' is not a number"):
        transport_options("text", request_timeout="3")  # type: ignore[arg-type]
    assert transport_options("text", request_timeout=3)["timeout_seconds"] == 3.0


# -- 4. Transport(authorization=...) ---------------------------------------------------------


@pytest.mark.parametrize("given", ["Bearer sk-abc\n", SecretStr("Bearer sk-abc")])
def test_the_transport_takes_a_str_or_a_secret_authorization(given: Any) -> None:
    transport = Transport(base_url=LOOPBACK, authorization=given)
    assert transport._headers["Authorization"] == "Bearer sk-abc"  # stripped like a key
    assert isinstance(transport._authorization, SecretStr)
    assert "sk-abc" not in repr(transport)


def test_an_authorization_no_header_can_carry_is_refused_without_quoting_it() -> None:
    with pytest.raises(ArliConfigError) as info:
        Transport(base_url=LOOPBACK, authorization="Bearer sk-in\nner")
    assert "authorization" in str(info.value)
    assert "sk-in" not in str(info.value)


def test_a_transport_is_still_not_pickled() -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Transport(base_url=LOOPBACK, authorization="Bearer sk-abc"))


# -- 6. the command line, split by concern ------------------------------------------------------


def test_the_cli_modules_stay_under_the_size_limit() -> None:
    import arli._cli_commands
    import arli._ocr_cli
    import arli.cli

    for module in (arli.cli, arli._cli_commands, arli._ocr_cli):
        assert module.__file__ is not None
        lines = Path(module.__file__).read_text(encoding="utf-8").count("\n")
        assert lines <= 650, f"{module.__name__} has {lines} lines"


def test_the_cli_still_runs_every_command_it_lists() -> None:
    from arli.cli import _COMMANDS, _parser

    parser = _parser()
    assert set(parser.commands) == set(_COMMANDS)  # each listed command has its runner

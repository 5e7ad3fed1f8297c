"""The soak harness itself: a short soak in the suite, and the checks that make it fail.

``make soak`` runs the long form (``python -m tests.soak``); this runs two small rounds so a
change that breaks a skin under concurrent faults, or leaks a socket, fails the suite too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from arli import ArliTimeoutError, RateLimitError
from tests.soak.run import (
    SOAK_END,
    SOAK_START,
    Outcome,
    Report,
    build_parser,
    one_call,
    run,
    write_results,
)


def test_a_short_soak_holds() -> None:
    opts = build_parser().parse_args(
        ["--duration", "0", "--min-rounds", "2", "--concurrency", "20", "--fault-rate", "0.4"]
    )
    report = run(opts)
    assert report.violations == []
    assert report.ok
    assert report.rounds == 2
    assert report.calls == 2 * 2 * 20  # two rounds, two skins, 20 calls each
    assert report.server_faults > 0  # faults were injected ...
    assert sum(report.errors.values()) > 0 or sum(report.retries.values()) > 0  # ... and seen
    figures = report.figures
    assert figures["sockets_after"] <= figures["sockets_baseline"]
    assert figures["threads_after"] <= figures["threads_baseline"]


def _classify(call: object, expected: str = "hi", timeout: float = 5.0) -> Outcome:
    return asyncio.run(one_call("skin", "chat", call, expected, timeout))  # type: ignore[arg-type]


def test_a_valid_answer_and_a_typed_error_pass() -> None:
    async def good() -> tuple[str, str, int]:
        return "hi", "stop", 1

    async def typed() -> tuple[str, str, int]:
        error = RateLimitError("slow down", status_code=429)
        error.retries_taken = 2
        raise error

    async def arli_timeout() -> tuple[str, str, int]:  # a TimeoutError too, yet not a hang
        raise ArliTimeoutError("read timed out", phase="read")

    assert (_classify(good).status, _classify(good).retries) == ("ok", 1)
    outcome = _classify(typed)
    assert (outcome.status, outcome.detail, outcome.retries) == ("typed", "RateLimitError", 2)
    assert _classify(arli_timeout).status == "typed"


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (("hi", None), "invalid"),  # no finish reason: a cut-short answer
        (("h", "stop"), "invalid"),  # partial text
        (ValueError("boom"), "untyped"),
        ("sleep", "hung"),
    ],
)
def test_what_the_soak_counts_as_a_violation(answer: object, status: str) -> None:
    async def call() -> tuple[str, str | None, None]:
        if isinstance(answer, Exception):
            raise answer
        if answer == "sleep":
            await asyncio.sleep(10)
        text, finish = answer  # type: ignore[misc]
        return text, finish, None

    outcome = _classify(call, timeout=0.2)
    assert outcome.status == status
    report = Report(options={})
    report.add(outcome)
    assert not report.ok
    assert report.violations
    assert report.violations[0].startswith(f"skin chat: {status}")


def test_the_soak_section_is_appended_then_replaced(tmp_path: Path) -> None:
    results = tmp_path / "results.md"
    results.write_text("# Benchmark results\n\n## All figures\n\n| a | b |\n")
    write_results(results, [SOAK_START, "## Soak", "first", SOAK_END])
    write_results(results, [SOAK_START, "## Soak", "second", SOAK_END])
    text = results.read_text()
    assert text.startswith("# Benchmark results\n\n## All figures\n\n| a | b |\n\n")
    assert text.count("## Soak") == 1
    assert "second" in text
    assert "first" not in text

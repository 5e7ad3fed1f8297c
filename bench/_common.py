"""Shared pieces of the benchmarks: result records, timing and memory helpers."""

from __future__ import annotations

import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Result:
    """One measured figure, with its target when there is one."""

    group: str
    name: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_rounds(
    fns: dict[str, Callable[[], object]], *, rounds: int, warmup: int = 10, seed: int = 0
) -> dict[str, list[float]]:
    """Seconds of one call of each function, round by round, interleaved call by call.

    Each round calls every function once, in a random order drawn anew each round (from
    ``seed``, so a run is repeatable), so the drift of a shared machine (the server runs on
    the same cores) hits all of them alike; compare them with :func:`paired_ratio`, never
    across runs.

    The order is shuffled, not rotated: with a rotation every function has the same
    predecessor in nearly every round, and a call right after one that ran the same
    framework code finds it in the CPU caches, which favoured whichever client came right
    after another of its framework (the floors, listed after the skins) by a few percent.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    names = list(fns)
    order = random.Random(seed)
    series: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        order.shuffle(names)
        for name in names:
            fn = fns[name]
            start = time.perf_counter()
            fn()
            series[name].append(time.perf_counter() - start)
    return series


def paired_ratio(series: dict[str, list[float]], name: str, base: str) -> float:
    """Median over rounds of the per-round ratio ``series[name][i] / series[base][i]``."""
    return statistics.median(
        value / ref for value, ref in zip(series[name], series[base], strict=True)
    )


def import_time(statement: str, *, runs: int = 7) -> float:
    """Median wall time in seconds of ``python -c <statement>`` minus an empty interpreter."""

    def once(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})
        return time.perf_counter() - start

    base = statistics.median(once("pass") for _ in range(runs))
    return statistics.median(once(statement) for _ in range(runs)) - base


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

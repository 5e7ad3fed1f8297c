"""LlamaIndex: ``Arli`` vs its framework floor vs ``OpenAILike``, paired; and import times.

The call and stream figures come from the paired measurement in :mod:`bench._paired`
(shared with ``bench_text``: every client in one process, interleaved call by call, each
figure the median of the per-round ratios; the floor is a bare ``CustomLLM`` over raw
httpx, one response per SSE event). Targets: per call at or under the floor; per
streamed token <= 1.10x the floor.

Import time, in fresh interpreters: ``import llama_index_arli`` (it imports the model
class lazily) and ``from llama_index_arli import Arli`` (the class itself), vs
``import llama_index.core.llms, httpx``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import _paired
from bench._common import Result

GROUP = "llama-index"
ROOT = Path(__file__).resolve().parent.parent
IMPORT_RUNS = int(os.environ.get("BENCH_LI_IMPORT_RUNS", "11"))
TARGET_IMPORT = 1.1


def _import_times(*statements: str, runs: int = IMPORT_RUNS) -> list[float]:
    """Median seconds of each statement in fresh interpreters, minus an empty one.

    The statements take turns run after run, so that drift in machine load hits all alike.
    """
    samples: dict[str, list[float]] = {s: [] for s in ("pass", *statements)}
    for _ in range(runs):
        for statement, times in samples.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", statement], check=True, cwd=ROOT)
            times.append(time.perf_counter() - start)
    empty = statistics.median(samples["pass"])
    return [statistics.median(samples[s]) - empty for s in statements]


def run() -> list[Result]:
    results = _paired.paired_rows(GROUP, _paired.LI_ARLI, _paired.LI_FLOOR, _paired.OPENAI_LIKE)
    base, light, full = _import_times(
        "import llama_index.core.llms, httpx",
        "import llama_index_arli",
        "from llama_index_arli import Arli",
    )
    results.append(Result(GROUP, "import llama_index.core.llms, httpx", base * 1e3, "ms"))
    results.append(Result(GROUP, "import llama_index_arli", light * 1e3, "ms"))
    results.append(
        Result(
            GROUP,
            "import llama_index_arli / import llama_index.core.llms, httpx",
            light / base,
            "x",
            target=f"<= {TARGET_IMPORT}x",
            ok=light / base <= TARGET_IMPORT,
        )
    )
    results.append(Result(GROUP, "from llama_index_arli import Arli", full * 1e3, "ms"))
    results.append(
        Result(
            GROUP,
            "from llama_index_arli import Arli / import llama_index.core.llms, httpx",
            full / base,
            "x",
            target=f"<= {TARGET_IMPORT}x",
            ok=full / base <= TARGET_IMPORT,
            note="the class itself, which needs llama_index.core.llms",
        )
    )
    return results

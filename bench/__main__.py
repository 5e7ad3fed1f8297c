"""`make bench`: run every bench/bench_*.py module and write bench/results.md and .json.

Each module exposes ``run() -> list[Result]``. Run one module with
``python -m bench <name>`` (e.g. ``python -m bench images``).

The paired text table (:mod:`bench._paired`) sits at the top of ``results.md``, between
markers: any run that measured it (``make bench``, or ``make bench-text`` =
``python -m bench text llama_index``) rewrites that section; only a full run rewrites
the rest of the file and ``results.json``.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

from bench import _paired
from bench._common import Result

HERE = Path(__file__).parent


def _modules(selected: list[str]) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if selected:
        wanted = {f"bench_{s}" if not s.startswith("bench_") else s for s in selected}
        names = [n for n in names if n in wanted]
    return names


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


PAIRED_START = "<!-- paired table: written by `python -m bench`; do not edit by hand -->"
PAIRED_END = "<!-- end of paired table -->"
SOAK_START = "<!-- soak: written by `make soak`"  # tests/soak/run.py writes that section


def _cpus() -> str:
    """How many CPUs this process may run on (the bench machine may share them)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{count} CPU{'s' if count != 1 else ''}"


def _paired_section(machine: str, command: str) -> list[str]:
    paired = _paired.measure()
    return [
        PAIRED_START,
        "## Text: every client in one process, paired",
        "",
        f"Measured by `{command}` on {paired.when} ({machine}, {_cpus()}). Re-measure "
        "with `make bench-text` (this table only) or `make bench` (everything). On a "
        "shared machine absolute times move from run to run; the paired ratios are the "
        "figures to compare.",
        "",
        *_paired.table(paired),
        PAIRED_END,
    ]


def _replace_paired(text: str, section: list[str]) -> str:
    block = "\n".join(section)
    if PAIRED_START in text and PAIRED_END in text:
        head, rest = text.split(PAIRED_START, 1)
        return head + block + rest.split(PAIRED_END, 1)[1]
    title, _, rest = text.partition("\n\n")
    return f"{title}\n\n{block}\n\n{rest}"


def main(argv: list[str]) -> int:
    results: list[Result] = []
    started = time.time()
    for name in _modules(argv):
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"bench.{name}")
        for result in module.run():
            flag = {True: "ok", False: "MISSED", None: ""}[result.ok]
            print(f"   {result.name}: {_fmt(result.value)} {result.unit} {result.target} {flag}")
            results.append(result)
    machine = (
        f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    )
    paired_ran = _paired.measure.cache_info().currsize > 0
    command = "python -m bench" + "".join(f" {a}" for a in argv)
    section = _paired_section(machine, command) if paired_ran else []
    lines = [
        "# Benchmark results",
        "",
        *section,
        "",
        "## All figures",
        "",
        f"Written by `make bench` on {time.strftime('%Y-%m-%d %H:%M', time.localtime(started))} "
        f"({machine}); every figure was measured in that run.",
        "",
        "| group | measurement | value | target | met |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        met = {True: "yes", False: "**no**", None: ""}[r.ok]
        note = f" ({r.note})" if r.note else ""
        lines.append(
            f"| {r.group} | {r.name}{note} | {_fmt(r.value)} {r.unit} | {r.target} | {met} |"
        )
    out = HERE / "results.md"
    old = out.read_text() if out.exists() else ""
    if SOAK_START in old:  # the Soak section is written by `make soak`: keep it
        lines += ["", old[old.index(SOAK_START) :].rstrip("\n")]
    if not argv:  # partial runs do not overwrite the full table
        out.write_text("\n".join(lines) + "\n")
        (HERE / "results.json").write_text(json.dumps([r.as_dict() for r in results], indent=2))
        print(f"wrote {out}")
    elif section:
        out.write_text(_replace_paired(out.read_text() if out.exists() else "", section))
        print(f"wrote the paired table in {out}")
    if section:
        print("\n".join(section[1:-1]))
    return 1 if any(r.ok is False for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

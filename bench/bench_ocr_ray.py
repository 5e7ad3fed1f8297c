"""The bulk OCR job on Ray (issue 16): pages/s against the number of actors, and what bounds it.

A corpus of ``DOCS x PAGES_PER_DOC`` unique letter pages (the job bench's pages, 100 DPI)
runs through :func:`arli.ocr.job.ray_runner.run_job` on a local Ray (``num_cpus=2``, no
dashboard) with 1, 2 and 4 OCR actors, against the reference server (its own process)
answering each page 0.2 s after it arrived, first with a cap of 6 requests in flight, then
with the cap raised to 24. Every run uses a fresh page cache and output, so each page is
rendered and sent.

For each point two rates are given: ``wall`` (the whole ``run_job``, Ray Data's start of the
actor pool included) and ``steady`` (pages between the first and the last record, from the
driver's progress callback: the pool at work). Each point is compared with its bounds,
measured or derived in the same run:

- the cap: ``cap / latency`` pages/s (30 at cap 6, 120 at cap 24);
- rasterization: every page rendered and encoded in one process with nothing sent
  (measured here), times ``min(actors, 2)``: this machine has 2 cores, shared with the
  server, the driver and Ray's own processes;
- what is left between the lower of those and ``steady`` is Ray's (and the batch
  structure's) overhead; between ``steady`` and ``wall``, the pool's start.

Run it with ``python -m bench ocr_ray`` (or ``make bench``, which runs every bench). Needs
the ``ray`` extra; without it the bench reports that it was skipped.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench._common import Result
from bench._server import ROOT, reference_server
from bench.bench_ocr_job import DPI, KEY, LATENCY, MODEL, _corpus

DOCS, PAGES_PER_DOC = 6, 40
ACTORS = (1, 2, 4)
CAPS = (6, 24)
CORES = 2
#: The machine's CPU counts as the bound above this share busy during a point.
SATURATED = 0.95


def _rasterize(folder: Path) -> tuple[float, int]:
    from arli.ocr import render_pages
    from arli.ocr.render import RenderOptions

    start = time.perf_counter()
    count = 0
    for path in sorted(folder.glob("*.pdf")):
        count += sum(1 for _ in render_pages(path, options=RenderOptions(dpi=DPI)))
    return time.perf_counter() - start, count


def _cpu() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine so far (``/proc/stat``)."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _point(
    ray_runner: Any, corpus: Path, out: Path, url: str, cap: int, actors: int
) -> dict[str, Any]:
    from pydantic import SecretStr

    from arli.ocr.job.tasks import JobOptions

    times: list[float] = []
    options = JobOptions(
        model=MODEL, api_key=SecretStr(KEY), base_url=url, dpi=DPI, max_in_flight=cap
    )
    ropts = ray_runner.RayOptions(
        actors=actors,
        cpus_per_actor=0.25,
        cache=str(out / "cache"),
        slot_actor=f"bench-{uuid.uuid4().hex}",
    )
    cpu0 = _cpu()
    start = time.perf_counter()
    result = ray_runner.run_job(
        [corpus],
        out / "out",
        options,
        ray_options=ropts,
        show_progress=False,
        on_progress=lambda _info: times.append(time.perf_counter()),
    )
    wall = time.perf_counter() - start
    cpu1 = _cpu()
    busy = (cpu1[0] - cpu0[0]) / max(1, cpu1[1] - cpu0[1])
    pages = result.report["pages"]
    assert pages["ok"] == pages["total"], result.report["failures_by_cause"]
    steady = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return {
        "wall_s": wall,
        "wall": pages["total"] / wall,
        "steady": steady,
        "pages": pages["total"],
        "cpu_busy": busy,
        "batch": result.report["runner"]["pages_per_actor"],
    }


def run() -> list[Result]:
    try:
        import ray

        from arli.ocr.job import ray_runner
    except ImportError as exc:
        note = f'Ray is not installed ({exc}): pip install "arli-integrations[ray]"'
        return [Result("ocr ray", "scaling curve: skipped", 0, "", note=note)]
    results: list[Result] = []
    pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="arli-bench-ray-") as tmp_name:
        tmp = Path(tmp_name)
        corpus = _corpus(tmp / "corpus", DOCS, PAGES_PER_DOC)
        raster_s, total = _rasterize(corpus)
        raster = total / raster_s
        results.append(
            Result(
                "ocr ray",
                f"rasterization alone, one process ({total} pages)",
                raster,
                "pages/s",
                note=f"{raster_s:.1f} s",
            )
        )
        ray.init(
            num_cpus=CORES,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": {"PYTHONPATH": pythonpath}},
        )
        try:
            for cap in CAPS:
                server = ("--text-latency", str(LATENCY), "--text-parallel-limit", str(cap))
                with reference_server(*server) as url:
                    for actors in ACTORS:
                        out = tmp / f"cap{cap}-actors{actors}"
                        point = _point(ray_runner, corpus, out, url, cap, actors)
                        results.append(_result(cap, actors, point, raster))
        finally:
            ray.shutdown()
    return results


def _result(cap: int, actors: int, point: dict[str, Any], raster: float) -> Result:
    cap_rate = cap / LATENCY
    raster_rate = raster * min(actors, CORES)
    bound = min(cap_rate, raster_rate)
    name = "the cap" if cap_rate <= raster_rate else f"rasterization x {min(actors, CORES)}"
    steady, wall = point["steady"], point["wall"]
    if point["cpu_busy"] >= SATURATED:
        # the cores are full: rendering, the server, Ray's processes (and other work)
        verdict = "bound by the machine's CPU, not by the cap or rasterization alone"
    elif steady >= 0.9 * bound:
        verdict = f"bound by {name}"
    else:
        verdict = "CPU to spare, below the cap: Ray overhead (a batch ends with its slowest page)"
    return Result(
        "ocr ray",
        f"cap {cap}, {LATENCY} s/page, {actors} actor(s): steady pages/s",
        steady,
        "pages/s",
        note=f"{100 * steady / bound:.0f} % of the bound {bound:.0f} pages/s ({name}); "
        f"wall {wall:.1f} pages/s ({point['wall_s']:.1f} s for {point['pages']} pages, "
        f"the actor pool's start included); {point['batch']} pages per batch; machine CPU "
        f"{100 * point['cpu_busy']:.0f} % busy: {verdict}",
        extra={**point, "cap": cap, "actors": actors, "bound": bound, "bound_name": name},
    )


def markdown(results: list[Result]) -> str:
    """A results.md section for these figures."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "## Bulk OCR job on Ray: scaling curve (issue 16)",
        "",
        f"Measured by `python -m bench.bench_ocr_ray` on {when}, on a 2-core machine shared "
        "with other agents' work (noisy: treat differences under ~10 % as noise). See "
        "bench/bench_ocr_ray.py for the method.",
        "",
        "| measurement | value |",
        "|---|---|",
    ]
    for r in results:
        note = f" ({r.note})" if r.note else ""
        lines.append(f"| {r.name}{note} | {r.value:.3g} {r.unit} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(run()))

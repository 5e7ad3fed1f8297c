"""OCR benchmarks: pipelined wall time against the in-flight limit, and memory per page count.

Wall time: a 24-page scan-like PDF (A4 pages at 150 DPI, embedded JPEGs) read with 6 pages
in flight against the reference server answering each page after 0.2 s (its own process,
so it never shares our GIL). The best possible time is 4 rounds x 0.2 s plus the time to
rasterize and encode the pages (measured alone first, on the one renderer thread); the
target is at most 1.15 x that limit. The engine is warmed up first (connections opened),
and the figure is the median of 3 runs.

Memory: the peak RSS of fresh processes that read a 50-page and a 200-page PDF of the
same pages (``VmHWM`` from ``/proc/self/status``; ``ru_maxrss`` is recorded as a check),
three of each, alternating, and the growth of the peak during the run. Pages are rendered
lazily and at most ``max_concurrency + 2`` exist at once, so the peak must not grow with
the page count: the target is under 300 MB for 200 pages and a median less than 10 % (or
15 MB) above the 50-page one. (Single runs vary by about 20 MB: glibc's heap fragments
under the half-megabyte request bodies of each page; with ``MALLOC_MMAP_THRESHOLD_=131072``
the variation disappears. It is not a leak: six 200-page runs in one process keep the
same Python object count.)

Run it alone with ``python -m bench ocr``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import Result
from bench._server import ROOT, reference_server

KEY = "bench-key"
MODEL = "Mistral-Nemo-12B-Instruct-2407"
PAGES = 24
IN_FLIGHT = 6
LATENCY = 0.2
RUNS = 3
MEMORY_RUNS = 3


def _make_pdf(path: Path, pages: int) -> None:
    """A4 pages at 150 DPI with a few lines of text each, written by Pillow (JPEG inside)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=28)
    images = []
    for i in range(pages):
        image = Image.new("RGB", (1240, 1754), "white")
        draw = ImageDraw.Draw(image)
        for line in range(30):
            draw.text(
                (90, 90 + line * 52),
                f"Page {i + 1}, line {line + 1}: " + "lorem " * 8,
                fill="black",
                font=font,
            )
        images.append(image)
    images[0].save(path, format="PDF", save_all=True, append_images=images[1:], resolution=150.0)


def _rasterize(path: Path) -> float:
    """Seconds to render and encode every page once (default settings), best of 3."""
    from arli.ocr import render_pages

    times = []
    for _ in range(3):
        start = time.perf_counter()
        count = sum(1 for _ in render_pages(path))
        times.append(time.perf_counter() - start)
        assert count == PAGES
    return min(times)


def _wall_times(path: Path, url: str) -> list[float]:
    from arli.ocr import OCREngine

    engine = OCREngine(api_key=KEY, base_url=url, model=MODEL, max_concurrency=IN_FLIGHT)
    engine.ocr(path, pages=f"1-{IN_FLIGHT}")  # warm-up: the renderer thread and 6 connections
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        result = engine.ocr(path)
        times.append(time.perf_counter() - start)
        assert [p.page for p in result] == list(range(1, PAGES + 1))
        assert result.report.pages_ok == PAGES
    engine.close()
    return times


_MEMORY_CHILD = r"""
import json, resource, sys
from arli.ocr import OCREngine

path, url = sys.argv[1], sys.argv[2]

def status_kib(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(key)

engine = OCREngine(api_key="bench-key", base_url=url, model="Mistral-Nemo-12B-Instruct-2407",
                   max_concurrency=6)
engine.ocr(path, pages=[1])  # imports, renderer thread, connections
base = status_kib("VmRSS")
result = engine.ocr(path)
assert result.report.pages_ok == len(result.pages), result.report.summary()
print(json.dumps({
    "pages": len(result.pages),
    "peak_rss_kib": status_kib("VmHWM"),
    "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "baseline_rss_kib": base,
    "growth_kib": status_kib("VmHWM") - base,
}))
"""


def child_json(code: str, *args: str, timeout: float) -> dict[str, int]:
    """Run ``code`` in a fresh Python (its own peak RSS); the JSON of its last line."""
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout
    data: dict[str, int] = json.loads(out.strip().splitlines()[-1])
    return data


def _memory(path: Path, url: str) -> dict[str, int]:
    return child_json(_MEMORY_CHILD, str(path), url, timeout=600)


def run() -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="arli-bench-ocr-") as tmp:
        small = Path(tmp) / "24.pdf"
        _make_pdf(small, PAGES)
        raster = _rasterize(small)
        limit = PAGES / IN_FLIGHT * LATENCY + raster
        with reference_server("--text-latency", str(LATENCY)) as url:
            times = _wall_times(small, url)
        wall = statistics.median(times)
        runs = ", ".join(f"{t:.3f}" for t in times)
        results.append(
            Result(
                "ocr",
                f"{PAGES}-page PDF, {LATENCY} s/page, {IN_FLIGHT} in flight: wall time",
                wall,
                "s",
                f"<= {1.15 * limit:.3f} s (1.15 x ({PAGES // IN_FLIGHT} x {LATENCY} s + "
                f"{raster:.3f} s rasterization))",
                wall <= 1.15 * limit,
                note=f"median of {RUNS} runs ({runs} s); {wall / limit:.2f} x the limit",
                extra={"runs_s": times, "rasterization_s": raster, "limit_s": limit},
            )
        )
        results.append(
            Result(
                "ocr",
                f"rasterization of the {PAGES} pages alone (150 DPI, JPEG q90, one thread)",
                raster,
                "s",
                note=f"{raster / PAGES * 1000:.1f} ms per page",
            )
        )

        big = Path(tmp) / "200.pdf"
        _make_pdf(big, 200)
        mid = Path(tmp) / "50.pdf"
        _make_pdf(mid, 50)
        runs50: list[dict[str, int]] = []
        runs200: list[dict[str, int]] = []
        with reference_server("--text-latency", "0.02") as url:
            for _ in range(MEMORY_RUNS):  # alternate, each run in a fresh process
                runs50.append(_memory(mid, url))
                runs200.append(_memory(big, url))
        peaks50 = [r["peak_rss_kib"] / 1024 for r in runs50]
        peaks200 = [r["peak_rss_kib"] / 1024 for r in runs200]
        peak50 = statistics.median(peaks50)
        peak200 = statistics.median(peaks200)
        flat = peak200 <= max(peak50 * 1.10, peak50 + 15)
        growth50 = statistics.median(r["growth_kib"] for r in runs50) / 1024
        growth200 = statistics.median(r["growth_kib"] for r in runs200) / 1024
        results.append(
            Result(
                "ocr",
                "peak RSS, 50-page PDF (whole process)",
                peak50,
                "MB",
                note=f"median of {MEMORY_RUNS} fresh processes "
                f"({', '.join(f'{v:.0f}' for v in peaks50)} MB); "
                f"growth during the run {growth50:.0f} MB",
                extra={"runs": runs50},
            )
        )
        results.append(
            Result(
                "ocr",
                "peak RSS, 200-page PDF (whole process)",
                peak200,
                "MB",
                "< 300 MB, and <= the 50-page peak + 10 % (or + 15 MB)",
                max(peaks200) < 300 and flat,
                note=f"median of {MEMORY_RUNS} fresh processes "
                f"({', '.join(f'{v:.0f}' for v in peaks200)} MB); "
                f"growth during the run {growth200:.0f} MB",
                extra={"runs": runs200},
            )
        )
    return results

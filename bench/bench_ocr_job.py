"""The bulk OCR job (issue 16): throughput against its two limits, memory, text-layer saving.

Throughput: a 1000-page corpus (20 PDFs of 50 letter pages at 100 DPI, every page unique
so the page cache never answers) run by :func:`arli.ocr.job.runner.run_job` against the
reference server (its own process) answering each page after 0.2 s with a cap of 6 text
requests in flight (a seventh gets a 429). Two limits are measured in the same run: the
cap (6 / 0.2 s = 30 pages/s) and rasterization alone (every page of the corpus rendered
and encoded, as the job does, with nothing sent). The target is >= 95 % of the lower one,
with no 429 and never more than 6 in flight.

Memory: the peak RSS (``VmHWM``) of fresh processes running a job over 250 and 1000
pages (server latency 0, so rasterization is the bound): the job keeps a few pages in
memory at a time, so the peak must not grow with the corpus (<= the 250-page peak + 10 %,
or + 15 MB).

Text layers: a 200-page mixed corpus (100 born-digital pages with a good text layer, 100
scans without one) run with ``text_layer="never"`` and ``"auto"``: requests, tokens and
wall time saved.

Run it alone with ``python -m bench ocr_job``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench._common import Result
from bench._server import ROOT, reference_server
from bench.bench_ocr import child_json

KEY = "bench-key"
MODEL = "Mistral-Nemo-12B-Instruct-2407"
DOCS, PAGES_PER_DOC = 20, 50
CAP, LATENCY = 6, 0.2
DPI = 100
TEXT = "The quarterly report of the accounts department shows revenue up 12 percent."


def _page(doc: int, page: int, size: tuple[int, int] = (850, 1100)) -> Any:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=20)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.text((60, 50), f"Document {doc}, page {page}", fill="black", font=font)
    for line in range(20):
        draw.text(
            (60, 100 + line * 44), f"{line + 1}. " + "lorem ipsum " * 5, fill="black", font=font
        )
    return image


def _corpus(folder: Path, docs: int, pages: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for d in range(docs):
        images = [_page(d, p) for p in range(pages)]
        images[0].save(
            folder / f"doc{d:03}.pdf",
            format="PDF",
            save_all=True,
            append_images=images[1:],
            resolution=float(DPI),
        )
    return folder


def _mixed(folder: Path, pages: int) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.ocr_helpers import PdfPage, build_pdf

    folder.mkdir(parents=True, exist_ok=True)
    per_doc = 20
    for d in range(pages // per_doc):
        items = [
            PdfPage(
                _page(d, p, (612, 792)),
                text="\n".join(f"{TEXT} Document {d}, page {p}, line {n}." for n in range(4))
                if p % 2 == 0
                else None,
            )
            for p in range(per_doc)
        ]
        (folder / f"mixed{d:02}.pdf").write_bytes(build_pdf(items))
    return folder


def _rasterize(folder: Path) -> float:
    """Seconds to render and encode every page of ``folder`` (as the job does), sending nothing."""
    from arli.ocr import render_pages
    from arli.ocr.render import RenderOptions

    start = time.perf_counter()
    count = 0
    for path in sorted(folder.glob("*.pdf")):
        count += sum(1 for _ in render_pages(path, options=RenderOptions(dpi=DPI)))
    elapsed = time.perf_counter() - start
    assert count == DOCS * PAGES_PER_DOC
    return elapsed


def _requests_only(folder: Path, url: str, count: int) -> float:
    """Pages/s of the same requests (pre-rendered pages, bodies as the job sends them) at
    the cap with nothing else to do: what the server and loopback allow on this machine."""
    import asyncio
    import base64

    from arli.ocr import render_pages
    from arli.ocr.prompts import resolve_prompt
    from arli.ocr.render import RenderOptions

    first = sorted(folder.glob("*.pdf"))[0]
    bodies = []
    for page in render_pages(first, options=RenderOptions(dpi=DPI)):
        uri = f"data:{page.image.mime_type};base64,{base64.b64encode(page.image.data).decode()}"
        content = [
            {"type": "text", "text": resolve_prompt("markdown", None)},
            {"type": "image_url", "image_url": {"url": uri}},
        ]
        message = {"role": "user", "content": content}
        bodies.append({"model": MODEL, "messages": [message], "max_tokens": 4096})

    async def main() -> float:
        queue = list(range(count))
        headers = {"Authorization": f"Bearer {KEY}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:

            async def worker() -> None:
                while queue:
                    i = queue.pop()
                    body = json.dumps(bodies[i % len(bodies)])
                    raw = {"Content-Type": "application/json"}
                    answer = await client.post("/v1/chat/completions", content=body, headers=raw)
                    answer.raise_for_status()

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CAP)))
            return count / (time.perf_counter() - start)

    return asyncio.run(main())


def _options(url: str, **extra: Any) -> Any:
    from pydantic import SecretStr

    from arli.ocr.job.tasks import JobOptions

    return JobOptions(
        model=MODEL, api_key=SecretStr(KEY), base_url=url, dpi=DPI, max_in_flight=CAP, **extra
    )


def _job(folder: Path, out: Path, url: str, **extra: Any) -> tuple[float, dict[str, Any]]:
    from arli.ocr.job.runner import run_job

    start = time.perf_counter()
    result = run_job([folder], out, _options(url, **extra), show_progress=False)
    return time.perf_counter() - start, result.report


def _stats(url: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(url + "/_control/stats", timeout=5).json()
    return data


_MEMORY_CHILD = r"""
import json, sys
from pydantic import SecretStr
from arli.ocr.job.runner import run_job
from arli.ocr.job.tasks import JobOptions

folder, out, url = sys.argv[1:4]

def status_kib(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(key)

options = JobOptions(model="Mistral-Nemo-12B-Instruct-2407", api_key=SecretStr("bench-key"),
                     base_url=url, dpi=100, max_in_flight=6)
result = run_job([folder], out, options, show_progress=False)
assert result.report["pages"]["ok"] == result.report["pages"]["total"], result.report
print(json.dumps({"pages": result.report["pages"]["total"], "peak_rss_kib": status_kib("VmHWM")}))
"""


def _memory(folder: Path, out: Path, url: str) -> dict[str, int]:
    return child_json(_MEMORY_CHILD, str(folder), str(out), url, timeout=900)


def run() -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="arli-bench-job-") as tmp_name:
        tmp = Path(tmp_name)
        corpus = _corpus(tmp / "corpus", DOCS, PAGES_PER_DOC)
        total = DOCS * PAGES_PER_DOC
        raster = _rasterize(corpus)
        raster_rate = total / raster
        cap_rate = CAP / LATENCY
        limit = min(cap_rate, raster_rate)
        bound = "the cap" if cap_rate <= raster_rate else "rasterization"
        server = ("--text-latency", str(LATENCY), "--text-parallel-limit", str(CAP))
        with reference_server(*server) as url:
            wall, report = _job(corpus, tmp / "out", url)
            stats = _stats(url)
            bare = _requests_only(corpus, url, 300)
        rate = total / wall
        assert report["pages"]["ok"] == total, report["failures_by_cause"]
        results.append(
            Result(
                "ocr job",
                f"{total}-page corpus, cap {CAP}, {LATENCY} s/page: throughput",
                100 * rate / limit,
                "% of limit",
                f">= 95% of the lower limit ({limit:.1f} pages/s, {bound})",
                rate >= 0.95 * limit,
                note=f"{rate:.1f} pages/s, {wall:.1f} s wall; limits: cap {cap_rate:.0f} "
                f"pages/s, rasterization alone {raster_rate:.1f} pages/s ({raster:.1f} s); "
                f"max {stats['max_in_flight_text']} in flight, "
                f"{stats['rate_limited']} answers 429",
                extra={"wall_s": wall, "rasterization_s": raster, "stats": stats},
            )
        )
        results.append(
            Result(
                "ocr job",
                "the same requests alone at the cap (pre-rendered, raw httpx, 300 pages)",
                bare,
                "pages/s",
                note=f"the job ran at {100 * rate / bare:.0f} % of it",
            )
        )
        results.append(
            Result(
                "ocr job",
                "requests in flight at most / 429 answers",
                stats["max_in_flight_text"],
                "",
                f"<= {CAP} / 0",
                stats["max_in_flight_text"] <= CAP and stats["rate_limited"] == 0,
                note=f"{stats['rate_limited']} answers 429",
            )
        )

        small = _corpus(tmp / "small", DOCS // 4, PAGES_PER_DOC)
        with reference_server("--text-latency", "0") as url:
            m250 = _memory(small, tmp / "m250", url)
            m1000 = _memory(corpus, tmp / "m1000", url)
        p250, p1000 = m250["peak_rss_kib"] / 1024, m1000["peak_rss_kib"] / 1024
        results.append(
            Result(
                "ocr job",
                f"peak RSS, {m250['pages']}-page job (whole process)",
                p250,
                "MB",
            )
        )
        results.append(
            Result(
                "ocr job",
                f"peak RSS, {m1000['pages']}-page job (whole process)",
                p1000,
                "MB",
                f"<= the {m250['pages']}-page peak + 10 % (or + 15 MB)",
                p1000 <= max(p250 * 1.10, p250 + 15),
                note=f"{p1000 - p250:+.0f} MB for 4x the pages",
            )
        )

        mixed = _mixed(tmp / "mixed", 200)
        with reference_server(*server) as url:
            never_s, never = _job(mixed, tmp / "never", url)
            auto_s, auto = _job(mixed, tmp / "auto", url, text_layer="auto")
        saved = 1 - auto["tokens"]["requests"] / never["tokens"]["requests"]
        tokens = never["tokens"]["prompt"] + never["tokens"]["completion"]
        tokens_auto = auto["tokens"]["prompt"] + auto["tokens"]["completion"]
        results.append(
            Result(
                "ocr job",
                "text_layer='auto' on a 200-page mixed corpus (half born-digital): requests saved",
                100 * saved,
                "%",
                note=f"{never['tokens']['requests']} -> {auto['tokens']['requests']} requests, "
                f"{tokens} -> {tokens_auto} tokens, {never_s:.1f} -> {auto_s:.1f} s; "
                f"{auto['pages']['from_text_layer']} pages from text layers",
                extra={"never": never["tokens"], "auto": auto["tokens"]},
            )
        )
    return results


def markdown(results: list[Result]) -> str:
    """A results.md section for these figures."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "## Bulk OCR job (issue 16)",
        "",
        f"Measured by `python -m bench.bench_ocr_job` on {when} "
        "(2 cores shared with other work). See bench/bench_ocr_job.py for the method.",
        "",
        "| measurement | value | target | met |",
        "|---|---|---|---|",
    ]
    for r in results:
        met = {True: "yes", False: "**no**", None: ""}[r.ok]
        note = f" ({r.note})" if r.note else ""
        value = f"{r.value:.3g}" if abs(r.value) < 1000 else f"{r.value:,.0f}"
        lines.append(f"| {r.name}{note} | {value} {r.unit} | {r.target} | {met} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    measured = run()
    print(markdown(measured))

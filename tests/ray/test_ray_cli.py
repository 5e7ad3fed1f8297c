"""``arli ocr INPUT --out DIR --runner ray`` (issue 16): the job goes through Ray, writes
what the local runner writes, and the job flags reach the Ray runner and take effect.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from arli.cli import main
from arli.ocr.job import ray_runner
from tests.ocr_helpers import PdfPage, build_pdf, page_image
from tests.ray.test_ocr_ray import CHAT, KEY, MODEL, corpus, outputs
from tests.reference_server import ReferenceServer

BORN_DIGITAL = (
    "Quarterly report of the accounts department, third quarter of 2024.\n"
    "Revenue grew by 12 percent while costs stayed flat across all regions."
)
PRICE = 0.25


def job_corpus(root: Path) -> tuple[list[str], int]:
    """The Ray corpus (8 scanned pages) plus a PDF of 2 born-digital pages and a scan."""
    inputs, pages = corpus(root)
    pages_ = [
        PdfPage(page_image("digital 1", (500, 300)), text=BORN_DIGITAL + " (page 1)"),
        PdfPage(page_image("scan 2", (501, 300))),
        PdfPage(page_image("digital 3", (502, 300)), text=BORN_DIGITAL + " (page 3)"),
    ]
    (root / "mixed.pdf").write_bytes(build_pdf(pages_))
    return inputs, pages + 3


def arli_ocr(srv: ReferenceServer, *args: str, err: io.StringIO | None = None) -> tuple[int, str]:
    """Run ``arli ocr`` in this process (its Ray is the session's local cluster)."""
    err = err if err is not None else io.StringIO()
    saved, sys.stderr = sys.stderr, err
    try:
        code = main(
            ["ocr", *args, "--base-url", srv.url, "--model", MODEL, "--dpi", "72"],
            out=io.StringIO(),
        )
    finally:
        sys.stderr = saved
    return code, err.getvalue()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_runner_ray_writes_what_the_local_runner_writes_and_the_flags_take_effect(
    ray_cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARLI_TEXT_KEY", KEY)
    inputs, pages = job_corpus(tmp_path / "in")
    flags = ["--max-in-flight", "1", "--text-layer", "auto", "--price-per-request", str(PRICE)]
    with ReferenceServer(api_key=KEY, text_latency=0.1, text_parallel_limit=1) as srv:
        code, err = arli_ocr(srv, *inputs, "--out", str(tmp_path / "local"), *flags)
        assert code == 0, err
        local_requests = len(srv.requests_for(CHAT))
        srv.reset()
        # stderr is a terminal: without --no-progress a bar would be drawn there
        out, tty = str(tmp_path / "ray"), _Tty()
        code, err = arli_ocr(
            srv, *inputs, "--out", out, "--runner", "ray", *flags, "--no-progress", err=tty
        )
        assert code == 0, err
        stats = srv.stats
        sent = len(srv.requests_for(CHAT))
    report = json.loads((tmp_path / "ray" / "report.json").read_text())
    assert report["runner"]["name"] == "ray"
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "local")
    # --text-layer auto: the two born-digital pages come from their layer, unsent
    assert report["pages"] == {**report["pages"], "total": pages, "from_text_layer": 2}
    assert sent == local_requests == pages - 2
    # --max-in-flight 1: two actors with two pages each, one request at a time
    assert stats["max_in_flight_text"] == 1
    assert stats["rate_limited"] == 0
    assert report["this_run"]["max_in_flight"] == 1
    # --price-per-request: the cost of the requests this job sent
    assert report["cost"]["usd"] == pytest.approx(PRICE * sent)
    assert "cost: $" in err
    # --no-progress: no bar on the terminal
    assert "page/s" not in err
    assert "OCR:" not in err


class _FakeRay:
    """Records how the runner connects (a real second cluster costs seconds per test)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def is_initialized(self) -> bool:
        return False

    def init(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


def test_ray_address_else_a_local_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FakeRay()
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert ray_runner._connect(fake, None) is True
    # no address anywhere: a local cluster of its own, never one found on the machine
    assert fake.calls[-1]["address"] == "local"
    assert fake.calls[-1]["include_dashboard"] is False
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    ray_runner._connect(fake, None)
    assert fake.calls[-1]["address"] == "ray://head:10001"
    ray_runner._connect(fake, "10.0.0.5:6379")
    assert fake.calls[-1]["address"] == "10.0.0.5:6379"

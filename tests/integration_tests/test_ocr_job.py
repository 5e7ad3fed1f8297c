"""The bulk OCR job (issue 16) against the reference server: resume after SIGKILL and
SIGINT, one limit for every file, every input accounted for, checks before paying (#5,
#6), text layers and the per-document error rate.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pydantic import SecretStr

from arli import ArliValidationError
from arli.ocr.job.runner import run_job
from arli.ocr.job.tasks import JobOptions
from tests.ocr_helpers import page_image, pillow_pdf
from tests.reference_server import Fault, ReferenceServer

KEY = "test-key"
MODEL = "Mistral-Nemo-12B-Instruct-2407"
CHAT = "/v1/chat/completions"
ROOT = Path(__file__).resolve().parents[2]


def corpus(tmp_path: Path, docs: int = 3, pages: int = 6) -> Path:
    """``docs`` PDFs of ``pages`` pages; page sizes are unique across the corpus."""
    folder = tmp_path / "in"
    folder.mkdir()
    for d in range(docs):
        images = [page_image(f"{d}-{i}", (300 + d * 50 + i, 200)) for i in range(pages)]
        pillow_pdf(images, folder / f"doc{d}.pdf")
    return folder


def page_sizes(srv: ReferenceServer) -> list[tuple[int, int]]:
    """The pixel size of the page image in each chat request the server received."""
    out = []
    for req in srv.requests_for(CHAT):
        for part in req.json["messages"][-1]["content"]:
            if part.get("type") == "image_url":
                data = base64.b64decode(part["image_url"]["url"].split(",", 1)[1])
                out.append(Image.open(io.BytesIO(data)).size)
    return out


def options(srv: ReferenceServer, **extra: Any) -> JobOptions:
    engine = {"retry_initial_backoff": 0.01, "retry_max_backoff": 0.05}
    return JobOptions(
        model=MODEL,
        api_key=SecretStr(KEY),
        base_url=srv.url,
        dpi=72,
        engine_options=engine,
        **extra,
    )


def cli(srv: ReferenceServer, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "ARLI_TEXT_KEY": KEY, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "arli",
            "ocr",
            *args,
            "--base-url",
            srv.url,
            "--model",
            MODEL,
            "--dpi",
            "72",
            "--no-progress",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_records(path: Path, at_least: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= at_least:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    pytest.fail("the job wrote no records")


def outputs(out: Path) -> dict[str, str]:
    files = {
        p.relative_to(out).as_posix(): p.read_text() for p in (out / "documents").rglob("*.md")
    }
    files["pages.jsonl"] = (out / "pages.jsonl").read_text()
    return files


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_a_killed_job_resumes_without_sending_a_finished_page_again(tmp_path, sig) -> None:
    src = corpus(tmp_path)
    with ReferenceServer(api_key=KEY, text_latency=0.15) as srv:
        out = tmp_path / "out"
        proc = cli(srv, str(src), "--out", str(out), "--max-in-flight", "2", "--overwrite")
        wait_for_records(out / "pages.jsonl", 4, proc)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
        sent_first = page_sizes(srv)
        done_first = {
            json.loads(line)["page"] + 1000 * int(json.loads(line)["name"][-1])
            for line in (out / "pages.jsonl").read_text().splitlines()
            if line.endswith("}")
        }
        assert 4 <= len(done_first) < 18
        if sig != signal.SIGKILL:
            # Ctrl-C / kill PID: the pages in flight were finished and kept, none dropped
            assert proc.returncode == 130, err
            assert len(done_first) == len(sent_first), err
            report = json.loads((out / "report.json").read_text())
            assert report["state"] == "interrupted"
            assert f"{len(done_first)} of 18 pages are done and kept" in err
            # the exact command that resumes (without --overwrite, which would restart)
            command = err.strip().splitlines()[-1].strip()
            assert command.startswith("arli ocr ")
            assert "--overwrite" not in command
            assert shlex.split(command)[1:] == [w for w in proc.args[3:] if w != "--overwrite"]
        proc = cli(srv, str(src), "--out", str(out), "--max-in-flight", "2")
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        sent = page_sizes(srv)
        resent = Counter(sent)
        # no page was sent twice, except (SIGKILL only) those in flight at the kill
        assert sum(n - 1 for n in resent.values()) <= (2 if sig == signal.SIGKILL else 0)
        finished_sizes = {(300 + 50 * (k // 1000) + (k % 1000) - 1, 200) for k in done_first}
        assert not finished_sizes & set(sent[len(sent_first) :])
        assert len(resent) == 18
        # an uninterrupted run against the same server (same options) writes the same
        fresh = tmp_path / "fresh"
        proc = cli(srv, str(src), "--out", str(fresh))
        assert proc.wait(timeout=60) == 0
    a, b = outputs(fresh), outputs(out)
    assert a["pages.jsonl"].splitlines() == b["pages.jsonl"].splitlines()
    assert a == b
    assert len(a) == 4  # pages.jsonl and the three documents


def test_one_limit_for_the_whole_job_and_every_input_accounted_for(tmp_path) -> None:
    src = corpus(tmp_path, docs=4, pages=4)
    (src / "notes.txt").write_text("not a document")
    (src / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    with ReferenceServer(api_key=KEY, text_latency=0.05, text_parallel_limit=3) as srv:
        result = run_job(
            [str(src), str(tmp_path / "missing.pdf")],
            tmp_path / "out",
            options(srv, max_in_flight=3),
            show_progress=False,
        )
        assert srv.stats["rate_limited"] == 0
        assert srv.stats["max_in_flight_text"] == 3
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report == result.report
    assert report["pages"]["ok"] == 16
    causes = {Path(f["source"]).name: f["cause"] for f in report["file_failures"]}
    assert causes == {
        "notes.txt": "not_a_document",
        "broken.pdf": "unreadable",
        "missing.pdf": "missing",
    }
    written = {p.stem for p in (tmp_path / "out" / "documents").glob("*.md")}
    every = {p.stem for p in src.iterdir()} | {"missing"}
    assert written | {Path(f["source"]).stem for f in report["file_failures"]} == every


def test_a_bad_page_selection_is_refused_before_any_request(tmp_path) -> None:
    pillow_pdf([page_image(str(i), (300 + i, 200)) for i in range(8)], tmp_path / "big.pdf")
    pillow_pdf([page_image("s", (400, 200))] * 2, tmp_path / "small.pdf")
    with ReferenceServer(api_key=KEY) as srv:
        for args in (["--out", str(tmp_path / "out")], []):
            proc = cli(
                srv, str(tmp_path / "big.pdf"), str(tmp_path / "small.pdf"), "--pages", "1-5", *args
            )
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 2, err
            assert "small.pdf, which has 2 pages" in err
        assert srv.requests_for(CHAT) == []
        with pytest.raises(ArliValidationError, match=r"small\.pdf"):
            run_job([tmp_path], tmp_path / "out2", options(srv, pages="1-5"))
        assert srv.requests_for(CHAT) == []


def test_an_unusable_destination_is_refused_before_any_request(tmp_path) -> None:
    pillow_pdf([page_image("a", (300, 200))], tmp_path / "a.pdf")
    existing = tmp_path / "existing.md"
    existing.write_text("keep me")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x").write_text("x")
    with ReferenceServer(api_key=KEY) as srv:
        for args, needle in (
            (["-o", str(tmp_path)], "is a directory"),
            (["-o", str(existing)], "--overwrite"),
            (["--out", str(existing)], "is a file"),
            (["--out", str(tmp_path / "other")], "not an OCR job"),
        ):
            proc = cli(srv, str(tmp_path / "a.pdf"), *args)
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 2, err
            assert needle in err
            assert "Traceback" not in err
        assert srv.requests_for(CHAT) == []
    assert existing.read_text() == "keep me"


def test_a_document_past_the_error_rate_fails_as_a_whole(tmp_path) -> None:
    src = corpus(tmp_path, docs=1, pages=4)
    with ReferenceServer(api_key=KEY) as srv:
        srv.add_fault(Fault(path=CHAT, kind="status", status=400, times=2))
        result = run_job(
            [src], tmp_path / "out", options(srv, max_page_error_rate=0.25), show_progress=False
        )
    failure = result.report["document_failures"][0]
    assert failure["failed_pages"] == 2
    assert failure["pages"] == 4
    assert len(failure["errors"]) == 2
    assert not (tmp_path / "out" / "documents" / "doc0.md").exists()
    lines = (tmp_path / "out" / "pages.jsonl").read_text().splitlines()
    assert [json.loads(x)["status"] for x in lines].count("ok") == 2  # paid pages kept


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--text-layer", "auto"], "--text-layer only apply to a bulk job"),
        (["--max-in-flight", "2", "--price-per-request", "0.01"], "--max-in-flight, --price"),
        (["-o", "x.md", "--out", "dir"], "give one of them"),
    ],
)
def test_a_job_flag_is_never_silently_ignored(tmp_path, monkeypatch, capsys, args, needle) -> None:
    from arli.cli import main

    pillow_pdf([page_image("a", (300, 200))], tmp_path / "a.pdf")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARLI_TEXT_KEY", KEY)
    with ReferenceServer(api_key=KEY) as srv:
        status = main(["ocr", "a.pdf", *args, "--base-url", srv.url, "--model", MODEL])
        assert srv.requests_for(CHAT) == []
    assert status == 2
    assert needle in capsys.readouterr().err


@pytest.mark.parametrize(
    "prices",
    [
        {"price_per_mtok_in": 2.0, "price_per_mtok_out": 10.0},
        {"price_per_request": 0.001},
    ],
)
def test_the_report_and_the_cli_summary_price_the_job(tmp_path, prices) -> None:
    src = corpus(tmp_path, docs=1, pages=3)
    with ReferenceServer(api_key=KEY) as srv:
        result = run_job([src], tmp_path / "out", options(srv, **prices), show_progress=False)
    tokens, cost = result.report["tokens"], result.report["cost"]
    assert tokens["requests"] == 3
    if "price_per_request" in prices:
        expected = 3 * 0.001
    else:
        expected = (tokens["prompt"] * 2.0 + tokens["completion"] * 10.0) / 1e6
    assert tokens["prompt"] > 0
    assert cost["usd"] == pytest.approx(expected)
    assert cost["usd_per_1000_pages"] == pytest.approx(expected / 3 * 1000, rel=1e-3)
    from arli.ocr.job.report import summary

    assert f"${expected:.4f}" in summary(result.report)


def test_cancelling_the_job_keeps_every_page_already_sent(tmp_path) -> None:
    """Cancelling arun_job (what Ctrl-C does) drains: sent pages are finished and written."""
    import asyncio

    from arli.ocr.job.runner import arun_job

    src = corpus(tmp_path, docs=2, pages=4)
    out = tmp_path / "out"

    async def main(srv: ReferenceServer) -> None:
        job = asyncio.create_task(
            arun_job([src], out, options(srv, max_in_flight=2), show_progress=False)
        )
        deadline = time.monotonic() + 30
        while srv.stats["in_flight_text"] < 2:  # two requests on the wire
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job

    with ReferenceServer(api_key=KEY, text_latency=0.4) as srv:
        asyncio.run(main(srv))
        sent = page_sizes(srv)
    records = [json.loads(line) for line in (out / "pages.jsonl").read_text().splitlines()]
    assert len(sent) >= 2
    assert len(records) == len(sent)  # every request sent has its page kept
    assert all(r["status"] == "ok" for r in records)
    assert json.loads((out / "report.json").read_text())["state"] == "interrupted"

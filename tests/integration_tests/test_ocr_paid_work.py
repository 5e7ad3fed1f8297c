"""Issue 14 #5, #7, #13 (page base), #14 (0-page PDF, unopenable document) for OCR, against
the reference server: every check before the first request, and pages already paid for
are written when a later part fails or the run is interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arli import ArliValidationError, OCRSourceError
from arli.cli import main
from arli.ocr import OCREngine
from langchain_arli import ArliOCRLoader
from llama_index_arli import ArliOCRReader
from tests.ocr_helpers import page_image, pillow_pdf
from tests.reference_server import Fault, ReferenceServer

KEY = "test-key"
MODEL = "Mistral-Nemo-12B-Instruct-2407"
CHAT = "/v1/chat/completions"
ROOT = Path(__file__).resolve().parents[2]
EMPTY_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF"
)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    pillow_pdf([page_image(str(i), (300 + i, 200)) for i in range(8)], tmp_path / "big.pdf")
    pillow_pdf([page_image("s", (400, 200)), page_image("t", (401, 200))], tmp_path / "small.pdf")
    (tmp_path / "empty.pdf").write_bytes(EMPTY_PDF)
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    return tmp_path


def engine(srv: ReferenceServer, **extra: object) -> OCREngine:
    return OCREngine(api_key=KEY, base_url=srv.url, model=MODEL, dpi=72, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize("policy", ["raise", "skip", "placeholder"])
def test_the_library_refuses_a_page_selection_before_paying_for_any_page(docs, policy) -> None:
    with ReferenceServer(api_key=KEY) as srv, engine(srv, on_page_error=policy) as ocr:
        with pytest.raises(ArliValidationError, match=r"small\.pdf, which has 2 pages"):
            ocr.ocr([docs / "big.pdf", docs / "small.pdf"], pages="1-5")
        assert srv.requests_for(CHAT) == []


def test_a_pdf_without_pages_says_so(docs) -> None:
    with (
        ReferenceServer(api_key=KEY) as srv,
        engine(srv, on_page_error="raise") as ocr,
        pytest.raises(OCRSourceError, match=r"empty\.pdf has no pages"),
    ):
        ocr.ocr(docs / "empty.pdf")


def test_an_unopenable_document_is_a_document_level_record_under_placeholder(docs) -> None:
    with ReferenceServer(api_key=KEY) as srv, engine(srv, on_page_error="placeholder") as ocr:
        result = ocr.ocr([docs / "broken.pdf", docs / "small.pdf", docs / "empty.pdf"])
    first, *pages, last = result.pages
    assert (first.source, first.page, first.total_pages) == (str(docs / "broken.pdf"), 0, 0)
    assert first.error is not None
    assert "not a readable PDF" in first.error.error
    assert "has no pages" in last.error.error  # type: ignore[union-attr]
    assert [(p.page, p.ok) for p in pages] == [(1, True), (2, True)]
    assert result.report.pages_total == 2  # the placeholders stand for documents, not pages
    with ReferenceServer(api_key=KEY) as srv:
        loader = ArliOCRLoader(
            [str(docs / "broken.pdf")],
            api_key=KEY,
            base_url=srv.url,
            model=MODEL,
            on_page_error="placeholder",
        )
        (doc,) = loader.load()
    assert doc.metadata["page_number"] == 0
    assert "OCRSourceError" in doc.metadata["ocr_error"]


def test_page_numbers_mean_the_same_in_the_cli_jsonl_and_both_skins(docs, monkeypatch) -> None:
    monkeypatch.setenv("ARLI_TEXT_KEY", KEY)
    out = docs / "out.jsonl"
    with ReferenceServer(api_key=KEY) as srv:
        connection = {"api_key": KEY, "base_url": srv.url, "model": MODEL}
        status = main(
            [
                *("ocr", str(docs / "small.pdf"), "-o", str(out)),
                *("--base-url", srv.url, "--model", MODEL, "--no-progress"),
            ]
        )
        lc = ArliOCRLoader([str(docs / "small.pdf")], **connection).load()
        li = ArliOCRReader(**connection).load_data(docs / "small.pdf")
    assert status == 0
    cli = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["page"] for r in cli] == [1, 2]
    assert [r["page_number"] for r in cli] == [1, 2]
    assert [d.metadata["page_number"] for d in lc] == [1, 2]
    assert [d.metadata["page"] for d in lc] == [0, 1]  # LangChain's own 0-based index
    assert [d.metadata["page_number"] for d in li] == [1, 2]


def test_the_cli_writes_the_pages_it_paid_for_when_a_later_document_fails(docs, capsys) -> None:
    out = docs / "out.md"
    with ReferenceServer(api_key=KEY) as srv:
        os.environ["ARLI_TEXT_KEY"] = KEY
        try:
            status = main(
                [
                    *("ocr", str(docs / "small.pdf"), str(docs / "broken.pdf"), "-o", str(out)),
                    *("--on-error", "raise", "--base-url", srv.url, "--model", MODEL),
                    "--no-progress",
                ]
            )
        finally:
            del os.environ["ARLI_TEXT_KEY"]
        assert len(srv.requests_for(CHAT)) == 2
    assert status == 1
    assert "not a readable PDF" in capsys.readouterr().err
    text = out.read_text()
    assert text.count("An image of ") == 2  # both pages of small.pdf, paid and kept


def _ocr_process(docs: Path, out: Path, url: str, concurrency: int) -> subprocess.Popen[str]:
    env = {**os.environ, "ARLI_TEXT_KEY": KEY, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "arli", "ocr", str(docs / "big.pdf"), "-o", str(out)),
            *("--base-url", url, "--model", MODEL, "--dpi", "72"),
            *("--concurrency", str(concurrency), "--no-progress"),
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )


def _interrupt_after(proc: subprocess.Popen[str], srv: ReferenceServer, requests: int) -> str:
    deadline = time.monotonic() + 60
    while len(srv.requests_for(CHAT)) < requests and time.monotonic() < deadline:
        assert proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    return err


def test_ctrl_c_keeps_pages_answered_behind_a_slow_first_page(docs) -> None:
    """Pages 2 and 3 are answered while page 1 still waits: Ctrl-C writes them anyway.

    The run hands pages over in order, so neither has reached the command's list of pages
    when the signal lands; they are taken from the pages the engine reported finished.
    """
    out = docs / "out.jsonl"
    with ReferenceServer(api_key=KEY) as srv:
        srv.add_fault(Fault(path=CHAT, kind="delay", delay=8, times=1, image_size="300x200"))
        proc = _ocr_process(docs, out, srv.url, concurrency=4)
        # pages 1-4 are sent at once; pages 5 and 6 only after two of 2-4 were answered
        err = _interrupt_after(proc, srv, requests=6)
    assert proc.returncode == 130, err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    pages = [r["page"] for r in records]
    assert 1 not in pages
    assert len(pages) >= 2
    assert set(pages) <= set(range(2, 9))
    assert pages == sorted(pages)
    assert all(r["error"] is None for r in records)
    assert f"interrupted after {len(pages)} page(s), written" in err


def test_ctrl_c_writes_the_finished_pages_and_says_how_to_resume(docs) -> None:
    out = docs / "out.jsonl"
    with ReferenceServer(api_key=KEY, text_latency=0.3) as srv:
        proc = _ocr_process(docs, out, srv.url, concurrency=1)
        err = _interrupt_after(proc, srv, requests=3)
    assert proc.returncode == 130, err
    assert "--cache DIR" in err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    # two pages were answered before the signal (the third request waits for the second
    # answer; pages are encoded in parallel, so they need not be pages 1 and 2): both are
    # written, also one still between the engine and the loop that hands pages over in order
    pages = [r["page"] for r in records]
    assert len(pages) >= 2
    assert pages == sorted(set(pages))
    assert set(pages) <= set(range(1, 9))
    assert all(r["error"] is None for r in records)

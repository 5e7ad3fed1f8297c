"""Text layers in the bulk job (issue 16) against the reference server: ``auto`` takes a
good layer without a request, ``fallback`` takes it only when the model failed for good,
``never`` ignores it; every record says where its text came from; the anchoring hint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from arli.ocr.job.runner import run_job
from arli.ocr.job.tasks import JobOptions
from tests.ocr_helpers import PdfPage, build_pdf, page_image
from tests.reference_server import Fault, ReferenceServer

KEY = "test-key"
MODEL = "Mistral-Nemo-12B-Instruct-2407"
CHAT = "/v1/chat/completions"
BORN_DIGITAL = (
    "Quarterly report of the accounts department, third quarter of 2024.\n"
    "Revenue grew by 12 percent while costs stayed flat across all regions."
)


def mixed(tmp_path: Path) -> Path:
    """One PDF: two born-digital pages, one scan, one scan with a too-short OCR layer."""
    pages = [
        PdfPage(page_image("digital 1", (400, 300)), text=BORN_DIGITAL + " (page 1)"),
        PdfPage(page_image("scan 2", (401, 300))),
        PdfPage(page_image("digital 3", (402, 300)), text=BORN_DIGITAL + " (page 3)"),
        PdfPage(page_image("scan 4", (403, 300)), text="p. 4", invisible=True),
    ]
    path = tmp_path / "mixed.pdf"
    path.write_bytes(build_pdf(pages))
    return path


def run(srv: ReferenceServer, src: Path, out: Path, **extra: Any) -> list[dict[str, Any]]:
    options = JobOptions(
        model=MODEL,
        api_key=SecretStr(KEY),
        base_url=srv.url,
        dpi=72,
        engine_options={"retry_initial_backoff": 0.01, "retry_max_backoff": 0.02},
        **extra,
    )
    run_job([src], out, options, show_progress=False)
    return [json.loads(x) for x in (out / "pages.jsonl").read_text().splitlines()]


def prompts(srv: ReferenceServer) -> list[str]:
    out = []
    for req in srv.requests_for(CHAT):
        parts = req.json["messages"][-1]["content"]
        out.append(" ".join(p["text"] for p in parts if p.get("type") == "text"))
    return out


def test_auto_takes_good_layers_without_a_request(tmp_path: Path) -> None:
    src = mixed(tmp_path)
    with ReferenceServer(api_key=KEY) as srv:
        records = run(srv, src, tmp_path / "out", text_layer="auto")
        assert len(srv.requests_for(CHAT)) == 2  # the scans only
    assert [r["text_source"] for r in records] == ["text_layer", "model", "text_layer", "model"]
    assert records[0]["text"] == BORN_DIGITAL + " (page 1)"
    assert (records[0]["attempts"], records[0]["prompt_tokens"]) == (0, 0)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert (report["pages"]["from_text_layer"], report["pages"]["from_model"]) == (2, 2)
    assert report["tokens"]["requests"] == 2
    markdown = (tmp_path / "out" / "documents" / "mixed.md").read_text()
    assert "Revenue grew by 12 percent" in markdown


def test_never_sends_every_page(tmp_path: Path) -> None:
    src = mixed(tmp_path)
    with ReferenceServer(api_key=KEY) as srv:
        records = run(srv, src, tmp_path / "out")
        assert len(srv.requests_for(CHAT)) == 4
    assert {r["text_source"] for r in records} == {"model"}


def test_fallback_takes_the_layer_only_for_a_page_that_failed_for_good(tmp_path: Path) -> None:
    src = mixed(tmp_path)
    with ReferenceServer(api_key=KEY) as srv:
        srv.add_fault(Fault(path=CHAT, kind="status", status=400, times=-1))
        records = run(
            srv, src, tmp_path / "out", text_layer="fallback", on_page_error="placeholder"
        )
    by_page = {r["page"]: r for r in records}
    assert by_page[1]["text_source"] == "fallback"
    assert by_page[1]["status"] == "ok"
    assert by_page[1]["text"] == BORN_DIGITAL + " (page 1)"
    assert by_page[1]["error_type"] is not None  # why the model's text is not there
    assert (by_page[2]["status"], by_page[2]["text_source"]) == ("error", None)
    assert by_page[4]["text"] == "p. 4"  # a layer the rules refuse is still a fallback


def test_fallback_does_not_replace_a_page_the_model_read(tmp_path: Path) -> None:
    src = mixed(tmp_path)
    with ReferenceServer(api_key=KEY) as srv:
        records = run(srv, src, tmp_path / "out", text_layer="fallback")
        assert len(srv.requests_for(CHAT)) == 4
    assert {r["text_source"] for r in records} == {"model"}


@pytest.mark.parametrize("anchor", [True, False])
def test_the_anchoring_hint_sends_the_layer_with_the_image(tmp_path: Path, anchor: bool) -> None:
    src = mixed(tmp_path)
    with ReferenceServer(api_key=KEY) as srv:
        run(srv, src, tmp_path / "out", anchor_text_layer=anchor)
        sent = prompts(srv)
    assert len(sent) == 4
    hinted = [("<text_layer>" in p, "(page 1)" in p or "(page 3)" in p) for p in sent]
    if anchor:
        assert sorted(hinted) == [(False, False), (True, False), (True, True), (True, True)]
    else:
        assert hinted == [(False, False)] * 4

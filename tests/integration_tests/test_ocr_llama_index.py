"""ArliOCRReader and ArliOCRToolSpec against the reference server: PDFs, labels, failure
metadata, SimpleDirectoryReader with a PDF, fsspec, pickling, and the sync API in a loop."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path
from typing import Any

import fsspec
import pytest
from llama_index.core import SimpleDirectoryReader
from llama_index.core.schema import MetadataMode

from llama_index_arli import ArliOCRReader, ArliOCRToolSpec
from tests.ocr_helpers import PdfPage, build_pdf, encode, page_image
from tests.reference_server import Fault, ReferenceServer

CHAT = "/v1/chat/completions"
MODEL = "Mistral-Nemo-12B-Instruct-2407"


def answer(i: int) -> str:
    return f"An image of {300 + i}x200 pixels."


def options(srv: ReferenceServer, **more: Any) -> dict[str, Any]:
    return {
        "api_key": "test-key",
        "base_url": srv.url,
        "model": MODEL,
        "dpi": 72,
        "retry_initial_backoff": 0.0,
        "retry_max_backoff": 0.0,
        **more,
    }


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    (tmp_path / "report.pdf").write_bytes(
        build_pdf(
            [PdfPage(page_image(f"p{i}", (300 + i, 200))) for i in range(1, 4)],
            labels="0 << /S /A >>",
        )
    )
    (tmp_path / "scan.png").write_bytes(encode(page_image("scan", (310, 200)), "PNG"))
    (tmp_path / "notes.txt").write_text("plain text stays with the default reader")
    return tmp_path


def test_pdf_pages_labels_and_metadata(reference_server, docs_dir: Path) -> None:
    docs = ArliOCRReader(**options(reference_server)).load_data(docs_dir / "report.pdf")
    assert [d.text for d in docs] == [answer(i) for i in (1, 2, 3)]
    assert [(d.metadata["page_label"], d.metadata["page_number"]) for d in docs] == [
        ("A", 1),
        ("B", 2),
        ("C", 3),
    ]
    assert {d.metadata["file_name"] for d in docs} == {"report.pdf"}
    assert docs[0].metadata["dpi"] == 72.0
    assert "dpi" in docs[0].excluded_embed_metadata_keys


def test_failed_page_metadata_is_kept_out_of_the_llm_text(reference_server, docs_dir: Path) -> None:
    reference_server.add_fault(Fault(path=CHAT, kind="status", status=400))
    reader = ArliOCRReader(
        on_page_error="placeholder", max_concurrency=1, **options(reference_server)
    )
    docs = reader.load_data(docs_dir / "report.pdf")
    failed = docs[0]
    assert failed.text == ""
    assert failed.metadata["ocr_error"].startswith("BadRequestError")
    assert "BadRequestError" not in failed.get_content(metadata_mode=MetadataMode.LLM)
    assert reader.last_report is not None
    assert [f.page_label for f in reader.last_report.failures] == ["A"]


def test_simple_directory_reader_with_pdf_and_image(reference_server, docs_dir: Path) -> None:
    reader = ArliOCRReader(**options(reference_server))
    docs = SimpleDirectoryReader(
        input_dir=str(docs_dir), file_extractor=reader.file_extractor(), raise_on_error=True
    ).load_data()
    texts = {(d.metadata["file_name"], d.metadata.get("page_label")): d.text for d in docs}
    assert texts[("report.pdf", "A")] == answer(1)
    assert texts[("report.pdf", "C")] == answer(3)
    assert texts[("scan.png", "1")] == answer(10)
    assert texts[("notes.txt", None)] == "plain text stays with the default reader"


async def test_async_reader_and_sync_inside_a_running_loop(reference_server, docs_dir) -> None:
    asyncio.get_running_loop()
    reader = ArliOCRReader(**options(reference_server))
    sync = reader.load_data(docs_dir / "report.pdf")
    native = await reader.aload_data(docs_dir / "report.pdf")
    assert [d.text for d in sync] == [d.text for d in native] == [answer(i) for i in (1, 2, 3)]
    lazy = await reader.alazy_load_data(str(docs_dir / "scan.png"))
    assert [d.text for d in lazy] == [answer(10)]
    docs = await SimpleDirectoryReader(
        input_files=[str(docs_dir / "report.pdf")], file_extractor=reader.file_extractor()
    ).aload_data()
    assert len(docs) == 3


def test_fsspec_filesystems(reference_server, docs_dir: Path) -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/bucket/report.pdf", (docs_dir / "report.pdf").read_bytes())
    docs = ArliOCRReader(**options(reference_server)).load_data("/bucket/report.pdf", fs=fs)
    assert [d.text for d in docs] == [answer(i) for i in (1, 2, 3)]
    assert docs[0].metadata["file_path"] == "/bucket/report.pdf"


def test_reader_pickles_for_worker_processes(reference_server, docs_dir: Path) -> None:
    reader = ArliOCRReader(pages=[2], **options(reference_server))
    clone = pickle.loads(pickle.dumps(reader))
    assert [d.text for d in clone.load_data(docs_dir / "report.pdf")] == [answer(2)]
    with pytest.raises(TypeError, match="engine options"):
        pickle.dumps(ArliOCRReader(engine=reader.engine))
    shared = ArliOCRReader(engine=reader.engine, pages=[1])
    assert shared.engine is reader.engine
    assert [d.text for d in shared.load_data(docs_dir / "report.pdf")] == [answer(1)]
    with pytest.raises(ValueError, match="not both"):
        ArliOCRReader(engine=reader.engine, model="another-model")


def test_tool_spec_reads_pdfs_page_by_page(reference_server, docs_dir: Path) -> None:
    spec = ArliOCRToolSpec(input_dirs=[docs_dir], **options(reference_server))
    output = spec.to_tool_list()[0].call(source="report.pdf", pages="2-3")
    assert output.content == f"[page B]\n{answer(2)}\n\n[page C]\n{answer(3)}"
    assert [p.page for p in output.raw_output.result.pages] == [2, 3]

"""ArliOCRLoader / ArliOCRParser against the reference server: PDFs, the failure policies in
metadata, single mode, blank pages, and the sync API inside a running event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langchain_core.document_loaders import Blob

from arli import OCRPageError
from arli.ocr import OCREngine
from langchain_arli import ArliOCRLoader, ArliOCRParser
from tests.ocr_helpers import PdfPage, blank_image, build_pdf, page_image, pillow_pdf
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
def labelled_pdf(tmp_path: Path) -> Path:
    path = tmp_path / "report.pdf"
    path.write_bytes(
        build_pdf(
            [PdfPage(page_image(f"p{i}", (300 + i, 200))) for i in range(1, 5)],
            labels="0 << /S /r >> 2 << /S /D >>",
        )
    )
    return path


def test_pdf_pages_with_zero_based_page_and_labels(reference_server, labelled_pdf: Path) -> None:
    docs = ArliOCRLoader(str(labelled_pdf), **options(reference_server)).load()
    assert [d.page_content for d in docs] == [answer(i) for i in range(1, 5)]
    assert [(d.metadata["page"], d.metadata["page_label"]) for d in docs] == [
        (0, "i"),
        (1, "ii"),
        (2, "1"),
        (3, "2"),
    ]
    assert {d.metadata["total_pages"] for d in docs} == {4}
    assert {d.metadata["dpi"] for d in docs} == {72.0}
    assert {d.metadata["source"] for d in docs} == {str(labelled_pdf)}


def test_page_selection_keeps_original_numbers(reference_server, labelled_pdf: Path) -> None:
    docs = ArliOCRLoader(labelled_pdf, pages="2,4", **options(reference_server)).load()
    assert [(d.metadata["page"], d.metadata["page_label"], d.page_content) for d in docs] == [
        (1, "ii", answer(2)),
        (3, "2", answer(4)),
    ]


def _fail_page_two(srv: ReferenceServer) -> None:
    # page 2 is 302x200 (labelled_pdf); matched by size, so the order pages are sent in
    # (rendering runs ahead in threads) does not move the fault to another page
    srv.add_fault(Fault(path=CHAT, kind="status", status=503, times=3, image_size="302x200"))


@pytest.mark.parametrize("policy", ["placeholder", "skip", "raise"])
def test_failed_pages_in_metadata_never_in_content(
    reference_server, labelled_pdf: Path, policy: str
) -> None:
    _fail_page_two(reference_server)
    loader = ArliOCRLoader(
        labelled_pdf,
        on_page_error=policy,
        max_concurrency=1,
        max_retries=2,
        **options(reference_server),
    )
    if policy == "raise":
        with pytest.raises(OCRPageError, match=r"page 2 \(label 'ii'\)"):
            loader.load()
        assert loader.last_report is not None
        assert [f.page for f in loader.last_report.failures] == [2]
        return
    docs = loader.load()
    pages = [d.metadata["page"] for d in docs]
    assert pages == ([0, 1, 2, 3] if policy == "placeholder" else [0, 2, 3])
    for doc in docs:
        assert "Service Unavailable" not in doc.page_content
        assert "Error" not in doc.page_content
    if policy == "placeholder":
        failed = docs[1]
        assert failed.page_content == ""
        assert failed.metadata["ocr_error"].startswith("InternalServerError: ")
        assert failed.metadata["ocr_attempts"] == 3
        assert failed.metadata["page_label"] == "ii"
    assert "ocr_error" not in docs[0].metadata
    report = loader.last_report
    assert report is not None
    [failure] = report.failures
    assert (failure.page, failure.page_label, failure.attempts) == (2, "ii", 3)


def test_single_mode_names_failed_pages(reference_server, labelled_pdf: Path) -> None:
    _fail_page_two(reference_server)
    loader = ArliOCRLoader(
        labelled_pdf,
        mode="single",
        pages_delimiter="\n---\n",
        on_page_error="placeholder",
        max_concurrency=1,
        max_retries=2,
        **options(reference_server),
    )
    [doc] = loader.load()
    assert doc.page_content == "\n---\n".join([answer(1), "", answer(3), answer(4)])
    meta = doc.metadata
    assert meta["ocr_failed_pages"] == [1]
    assert meta["ocr_error"].startswith("page ii: InternalServerError")
    assert (meta["total_pages"], meta["pages_read"]) == (4, 3)


def test_blank_pages_and_skip_empty(reference_server, tmp_path: Path) -> None:
    path = tmp_path / "with-blank.pdf"
    pillow_pdf(
        [page_image("a", (301, 200)), blank_image((302, 200)), page_image("c", (303, 200))], path
    )
    docs = ArliOCRLoader(path, skip_blank_pages=True, **options(reference_server)).load()
    assert [(d.metadata["page"], d.metadata["blank"]) for d in docs] == [
        (0, False),
        (1, True),
        (2, False),
    ]
    kept = ArliOCRLoader(
        path, skip_blank_pages=True, skip_empty=True, **options(reference_server)
    ).load()
    assert [d.metadata["page"] for d in kept] == [0, 2]


async def test_sync_load_inside_a_running_loop_and_native_async(
    reference_server, labelled_pdf: Path
) -> None:
    asyncio.get_running_loop()
    loader = ArliOCRLoader(labelled_pdf, **options(reference_server))
    assert [d.page_content for d in loader.load()] == [answer(i) for i in range(1, 5)]
    assert [d.page_content for d in await loader.aload()] == [answer(i) for i in range(1, 5)]
    lazy = [d.metadata["page"] async for d in loader.alazy_load()]
    assert lazy == [0, 1, 2, 3]


def test_parser_pdf_blob_and_shared_engine(reference_server, labelled_pdf: Path) -> None:
    engine = OCREngine(**options(reference_server))
    parser = ArliOCRParser(engine=engine, pages="3-")
    docs = parser.parse(Blob.from_path(labelled_pdf))
    assert [(d.metadata["page"], d.page_content) for d in docs] == [(2, answer(3)), (3, answer(4))]
    single = ArliOCRParser(engine=engine, mode="single").parse(
        Blob.from_data(labelled_pdf.read_bytes(), path="in-memory.pdf")
    )
    assert single[0].metadata["source"] == "in-memory.pdf"
    assert single[0].page_content.split("\n\f") == [answer(i) for i in range(1, 5)]
    with pytest.raises(ValueError, match="not both"):
        ArliOCRParser(engine=engine, model="x")
    with pytest.raises(ValueError, match="mode"):
        ArliOCRLoader("x.pdf", mode="pages", engine=engine)  # type: ignore[arg-type]

"""ArliOCRLoader and ArliOCRParser replayed from cassettes (the OCR calls on the wire).

Recorded against tests/reference_server, which answers a page image it has no script for
with "An image of WxH pixels.": the three fixture pages are 300x200, 300x210 and 300x220
JPEGs (sent as they are, so the request bodies do not depend on the Pillow version).
Re-record with ``scripts/record.sh reference -k test_ocr_langchain_cassettes``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.document_loaders import Blob

from langchain_arli import ArliOCRLoader, ArliOCRParser
from tests.conftest import Target
from tests.helpers import FIXTURES

pytestmark = [pytest.mark.vcr, pytest.mark.recorded_against("reference")]

PAGES = [FIXTURES / "ocr" / f"page-{i}.jpg" for i in (1, 2, 3)]
ANSWERS = [f"An image of 300x{h} pixels." for h in (200, 210, 220)]
KEYS = {
    "source",
    "page",
    "page_number",
    "page_label",
    "total_pages",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "finish_reason",
    "image_width",
    "image_height",
    "truncated",
    "blank",
    "cached",
}


def connection(target: Target) -> dict[str, Any]:
    return {"api_key": target.api_key, "base_url": target.base_url, "model": target.model}


def test_loader_one_document_per_page(cassette_target: Target) -> None:
    loader = ArliOCRLoader([str(p) for p in PAGES], **connection(cassette_target))
    docs = loader.load()
    assert [d.page_content for d in docs] == ANSWERS
    for doc, path, height in zip(docs, PAGES, (200, 210, 220), strict=True):
        meta = doc.metadata
        assert set(meta) == KEYS
        assert meta["source"] == str(path)
        assert (meta["page"], meta["page_label"], meta["total_pages"]) == (0, "1", 1)
        assert (meta["image_width"], meta["image_height"]) == (300, height)
        assert meta["finish_reason"] == "stop"
        assert meta["prompt_tokens"] > 0
        assert meta["completion_tokens"] > 0
        assert meta["model"] == cassette_target.model
        assert (meta["truncated"], meta["blank"], meta["cached"]) == (False, False, False)
    report = loader.last_report
    assert report is not None
    assert (report.pages_ok, report.requests, report.failures) == (3, 3, [])


async def test_loader_single_mode_async(cassette_target: Target) -> None:
    loader = ArliOCRLoader(
        [str(p) for p in PAGES[:2]], mode="single", **connection(cassette_target)
    )
    docs = [doc async for doc in loader.alazy_load()]
    assert [d.page_content for d in docs] == ANSWERS[:2]
    assert [Path(d.metadata["source"]).name for d in docs] == ["page-1.jpg", "page-2.jpg"]
    assert docs[0].metadata["pages_read"] == 1
    assert "ocr_error" not in docs[0].metadata


def test_parser_with_path_and_data_blobs(cassette_target: Target) -> None:
    parser = ArliOCRParser(**connection(cassette_target))
    from_path = list(parser.lazy_parse(Blob.from_path(PAGES[1])))
    blob = Blob.from_data(PAGES[2].read_bytes(), path="scans/appendix.jpg", metadata={"tag": "x"})
    from_data = parser.parse(blob)
    assert [d.page_content for d in from_path + from_data] == ANSWERS[1:]
    assert from_path[0].metadata["source"] == str(PAGES[1])
    assert from_data[0].metadata["source"] == "scans/appendix.jpg"
    assert from_data[0].metadata["tag"] == "x"
    assert from_data[0].metadata["page"] == 0

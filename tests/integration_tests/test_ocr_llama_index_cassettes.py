"""ArliOCRReader replayed from cassettes, alone and as a SimpleDirectoryReader file_extractor.

Recorded against tests/reference_server (see test_ocr_langchain_cassettes for the fixture
pages). Re-record with ``scripts/record.sh reference -k test_ocr_llama_index_cassettes``.
"""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core import SimpleDirectoryReader
from llama_index.core.schema import MetadataMode

from llama_index_arli import ArliOCRReader
from tests.conftest import Target
from tests.helpers import FIXTURES

pytestmark = [pytest.mark.vcr, pytest.mark.recorded_against("reference")]

OCR_DIR = FIXTURES / "ocr"
PAGES = [OCR_DIR / f"page-{i}.jpg" for i in (1, 2, 3)]
ANSWERS = [f"An image of 300x{h} pixels." for h in (200, 210, 220)]


def reader(target: Target, **options: Any) -> ArliOCRReader:
    return ArliOCRReader(
        api_key=target.api_key, base_url=target.base_url, model=target.model, **options
    )


def test_load_data(cassette_target: Target) -> None:
    docs = reader(cassette_target).load_data(PAGES[0], extra_info={"collection": "invoices"})
    [doc] = docs
    assert doc.text == ANSWERS[0]
    meta = doc.metadata
    assert (meta["file_name"], meta["file_path"]) == ("page-1.jpg", str(PAGES[0]))
    assert (meta["page_label"], meta["page_number"], meta["total_pages"]) == ("1", 1, 1)
    assert meta["collection"] == "invoices"
    assert meta["prompt_tokens"] > 0
    assert meta["finish_reason"] == "stop"
    # bulky and technical keys stay out of what is embedded and shown to the LLM
    embedded = doc.get_content(metadata_mode=MetadataMode.EMBED)
    shown = doc.get_content(metadata_mode=MetadataMode.LLM)
    for text in (embedded, shown):
        assert "page_label: 1" in text
        assert "file_name: page-1.jpg" in text
        assert "collection: invoices" in text
        for key in ("prompt_tokens", "completion_tokens", "image_width", "model", "finish_reason"):
            assert key not in text


async def test_aload_data(cassette_target: Target) -> None:
    docs = await reader(cassette_target).aload_data([PAGES[1], PAGES[2]])
    assert [d.text for d in docs] == ANSWERS[1:]
    assert [d.metadata["file_name"] for d in docs] == ["page-2.jpg", "page-3.jpg"]


def test_simple_directory_reader_file_extractor(cassette_target: Target) -> None:
    ocr = reader(cassette_target)
    docs = SimpleDirectoryReader(
        input_dir=str(OCR_DIR), file_extractor=ocr.file_extractor(), raise_on_error=True
    ).load_data()
    by_name = {d.metadata["file_name"]: d for d in docs}
    assert sorted(by_name) == ["page-1.jpg", "page-2.jpg", "page-3.jpg"]
    assert [by_name[p.name].text for p in PAGES] == ANSWERS
    doc = by_name["page-2.jpg"]
    assert doc.metadata["file_type"] == "image/jpeg"  # SimpleDirectoryReader's own metadata
    assert doc.metadata["page_label"] == "1"
    assert "prompt_tokens" in doc.excluded_llm_metadata_keys

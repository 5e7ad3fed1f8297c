"""The OCR document core both skins build on: grouping, ``skip_empty``, merged metadata.

:class:`arli.ocr.documents.OCRDocumentReader` is fed page results by a stand-in engine
(the engine itself is tested elsewhere); what is checked is what the loaders and readers
turn into documents: one page each with ``skip_empty`` applied, or one group per source
(``skip_empty`` not applied: a whole document keeps its blank pages), a fresh report per
run, and the skins' constructors showing the shared options.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from arli.ocr.documents import OCRDocumentReader, source_metadata
from arli.ocr.engine import OCRReport, PageFailure, PageResult
from arli.text.parse import Usage


def _page(source_index: int, page: int, text: str, *, failed: bool = False) -> PageResult:
    error = (
        PageFailure(
            source=f"s{source_index}",
            page=page,
            page_label=str(page),
            error="boom",
            error_type="InternalServerError",
            attempts=3,
        )
        if failed
        else None
    )
    return PageResult(
        source=f"s{source_index}",
        source_index=source_index,
        page=page,
        page_label=str(page),
        total_pages=3,
        text=text,
        model="m",
        usage=Usage(prompt_tokens=10, completion_tokens=page),
        truncated=page == 2,
        error=error,
    )


PAGES = [_page(0, 1, "a"), _page(0, 2, "  "), _page(0, 3, "", failed=True), _page(1, 1, "b")]


class _Engine:
    model = "m"

    def __init__(self) -> None:
        self.reports: list[OCRReport | None] = []

    def iter_pages(self, sources: Any, **options: Any) -> Iterator[PageResult]:
        self.reports.append(options["report"])
        yield from PAGES

    async def aiter_pages(self, sources: Any, **options: Any) -> AsyncIterator[PageResult]:
        self.reports.append(options["report"])
        for page in PAGES:
            yield page


def _reader(**options: Any) -> tuple[OCRDocumentReader, _Engine]:
    engine = _Engine()
    return OCRDocumentReader(engine=engine, **options), engine  # type: ignore[arg-type]


def _labels(groups: list[list[PageResult]]) -> list[list[str]]:
    return [[f"{r.source_index}:{r.page}" for r in group] for group in groups]


@pytest.mark.parametrize("skip_empty", [False, True])
def test_pages_one_by_one_skip_empty_keeps_failed_pages(skip_empty: bool) -> None:
    reader, _ = _reader(skip_empty=skip_empty)
    groups = list(reader.read(["x"]))
    expected = [["0:1"], ["0:3"], ["1:1"]] if skip_empty else [["0:1"], ["0:2"], ["0:3"], ["1:1"]]
    assert _labels(groups) == expected
    assert _labels(asyncio.run(_collect(reader, by_source=False))) == expected


def test_by_source_groups_every_page_of_a_source() -> None:
    reader, engine = _reader(skip_empty=True)
    groups = list(reader.read(["x", "y"], by_source=True))
    assert _labels(groups) == [["0:1", "0:2", "0:3"], ["1:1"]]
    assert _labels(asyncio.run(_collect(reader, by_source=True))) == _labels(groups)
    # a fresh report per run, handed to the engine and kept as last_report
    assert len(engine.reports) == 2
    assert engine.reports[0] is not engine.reports[1]
    assert reader.last_report is engine.reports[1]


async def _collect(reader: OCRDocumentReader, *, by_source: bool) -> list[list[PageResult]]:
    return [group async for group in reader.aread(["x"], by_source=by_source)]


def test_source_metadata_sums_and_names_failed_pages() -> None:
    meta = source_metadata(PAGES[:3])
    assert meta == {
        "source": "s0",
        "total_pages": 3,
        "model": "m",
        "prompt_tokens": 30,
        "completion_tokens": 6,
        "pages_read": 2,
        "truncated": True,
        "ocr_failed_pages": [2],
        "ocr_error": "page 3: InternalServerError: boom",
    }
    assert "ocr_error" not in source_metadata(PAGES[:2])


def test_engine_and_options_together_are_refused() -> None:
    with pytest.raises(ValueError, match="either engine"):
        _reader(model="other")


def test_skins_show_the_shared_options_in_their_signatures() -> None:
    from langchain_arli import ArliOCRLoader, ArliOCRParser
    from llama_index_arli import ArliOCRReader

    shared = list(inspect.signature(OCRDocumentReader).parameters)
    for cls, own in (
        (ArliOCRLoader, ["file_path", "mode", "pages_delimiter"]),
        (ArliOCRParser, ["mode", "pages_delimiter"]),
        (ArliOCRReader, []),
    ):
        assert list(inspect.signature(cls).parameters) == own + shared, cls

"""The LangChain loader and the LlamaIndex reader over a bulk job's output (issue 16):
a RAG pipeline indexes the pages a job wrote, lazily, finished or running, sending nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from arli import ArliValidationError
from arli.ocr.job.runner import run_job
from arli.ocr.job.tasks import JobOptions
from langchain_arli import ArliOCRJobLoader
from llama_index_arli import ArliOCRJobReader
from tests.ocr_helpers import page_image, pillow_pdf
from tests.reference_server import Fault, ReferenceServer

KEY = "test-key"
MODEL = "Mistral-Nemo-12B-Instruct-2407"
CHAT = "/v1/chat/completions"


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished job: a.pdf (3 pages) and b.pdf (2 pages), one page failed."""
    tmp = tmp_path_factory.mktemp("job")
    src = tmp / "in"
    src.mkdir()
    pillow_pdf([page_image(f"a{i}", (300 + i, 200)) for i in range(3)], src / "a.pdf")
    pillow_pdf([page_image(f"b{i}", (400 + i, 200)) for i in range(2)], src / "b.pdf")
    options = JobOptions(
        model=MODEL, api_key=SecretStr(KEY), dpi=72, max_in_flight=1, on_page_error="skip"
    )
    with ReferenceServer(api_key=KEY) as srv:
        srv.add_fault(Fault(path=CHAT, kind="status", status=400, times=1))
        run_job([src], tmp / "out", JobOptions(**{**options.__dict__, "base_url": srv.url}))
    return tmp / "out"


def lines(job: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in (job / "pages.jsonl").read_text().splitlines()]


def test_the_langchain_loader_reads_every_page_the_job_wrote(job: Path) -> None:
    every = lines(job)
    records = [r for r in every if r["status"] != "error"]
    assert len(records) == 4
    docs = list(ArliOCRJobLoader(job).lazy_load())
    assert [d.page_content for d in docs] == [r["text"] for r in records]
    assert [(Path(d.metadata["source"]).name, d.metadata["page_number"]) for d in docs] == [
        (Path(str(r["source"])).name, r["page"]) for r in records
    ]
    assert [d.metadata["page"] for d in docs] == [int(r["page"]) - 1 for r in records]  # type: ignore[call-overload]
    assert {d.metadata["text_source"] for d in docs} == {"model"}
    assert all(v is not None for d in docs for v in d.metadata.values())
    loader = ArliOCRJobLoader(job, include_failed=True)
    failed = [d for d in loader.lazy_load() if d.metadata["status"] == "error"]
    (bad,) = [r for r in every if r["status"] == "error"]
    assert [(d.metadata["page_number"], d.page_content) for d in failed] == [(bad["page"], "")]
    assert "BadRequestError" in failed[0].metadata["ocr_error"]


def test_document_mode_is_each_complete_document_s_markdown(job: Path) -> None:
    docs = ArliOCRJobLoader(job, mode="document").load()
    assert [d.metadata["name"] for d in docs] == ["a", "b"]
    assert docs[1].page_content == (job / "documents" / "b.md").read_text()
    assert "<!-- page 2 -->" in docs[1].page_content or "<!-- page 2 -->" in docs[0].page_content
    nodes = ArliOCRJobReader(mode="document").load_data(job)
    assert [n.text for n in nodes] == [d.page_content for d in docs]


def test_the_llama_index_reader_reads_the_same_pages(job: Path) -> None:
    lc = ArliOCRJobLoader(job).load()
    li = ArliOCRJobReader().load_data(job)
    assert [n.text for n in li] == [d.page_content for d in lc]
    assert [n.metadata["page_number"] for n in li] == [d.metadata["page_number"] for d in lc]
    assert li[0].metadata["file_name"] == "a.pdf"
    assert "page_label" in li[0].get_content(metadata_mode="llm")  # type: ignore[arg-type]
    assert "prompt_tokens" not in li[0].get_content(metadata_mode="embed")  # type: ignore[arg-type]


def test_a_running_job_is_read_up_to_its_last_whole_line(job: Path, tmp_path: Path) -> None:
    running = tmp_path / "running"
    running.mkdir()
    (running / "job.json").write_text((job / "job.json").read_text())
    whole = (job / "pages.jsonl").read_text().splitlines(keepends=True)
    (running / "pages.jsonl").write_text("".join(whole[:2]) + whole[2][:40])
    docs = list(ArliOCRJobLoader(running, include_failed=True).lazy_load())
    assert len(docs) == 2
    assert list(ArliOCRJobLoader(running, mode="document").lazy_load()) == []


def test_a_directory_that_is_not_a_job_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArliValidationError, match="not a bulk OCR job"):
        ArliOCRJobLoader(tmp_path)
    with pytest.raises(ArliValidationError, match="not a bulk OCR job"):
        ArliOCRJobReader().load_data(tmp_path)
    with pytest.raises(
        ArliValidationError, match=r"mode='single' is invalid.*'page' or 'document'"
    ):
        ArliOCRJobLoader(tmp_path, mode="single")  # type: ignore[arg-type]


def test_the_job_readers_are_exported_from_the_package_roots() -> None:
    import langchain_arli
    import llama_index_arli
    from langchain_arli.document_loaders import ocr_job as lc_job
    from llama_index_arli.readers import ocr_job as li_job

    assert "ArliOCRJobLoader" in langchain_arli.__all__
    assert "ArliOCRJobReader" in llama_index_arli.__all__
    assert ArliOCRJobLoader is lc_job.ArliOCRJobLoader
    assert ArliOCRJobReader is li_job.ArliOCRJobReader
    assert "ArliOCRJobLoader" in dir(langchain_arli)
    assert "ArliOCRJobReader" in dir(llama_index_arli)

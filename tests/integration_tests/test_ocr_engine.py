"""The OCR engine against the reference server: page order, the fault matrix, the failure
policies, semantic retries, the cache, progress, bounded rendering and the sync API.

The reference server answers a page it has no script for with "An image of WxH pixels.",
so test pages get distinct sizes (page i of :func:`pdf` is ``300 + i`` points wide,
rendered at 72 dpi) and every answer says which page it belongs to.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arli import (
    AuthenticationError,
    InternalServerError,
    NotFoundError,
    OCRPageError,
    OCRSourceError,
)
from arli.ocr import OCREngine, OCRReport, PageResult, page_metadata
from arli.ocr import render as render_module
from tests.helpers import serve_http
from tests.ocr_helpers import PdfPage, blank_image, build_pdf, encode, page_image, pillow_pdf
from tests.reference_server import Fault, ReferenceServer, ScriptEntry

KEY = "test-key"
MODEL = "Mistral-Nemo-12B-Instruct-2407"
CHAT = "/v1/chat/completions"
FAST_RETRIES = {"retry_initial_backoff": 0.01, "retry_max_backoff": 0.05}


def pdf(n: int) -> bytes:
    return pillow_pdf([page_image(f"Page {i}", (300 + i, 200)) for i in range(1, n + 1)])


def answer(i: int) -> str:
    return f"An image of {300 + i}x200 pixels."


def make(srv: ReferenceServer, **options: Any) -> OCREngine:
    options.setdefault("model", MODEL)
    options.setdefault("dpi", 72)
    for key, value in FAST_RETRIES.items():
        options.setdefault(key, value)
    return OCREngine(api_key=KEY, base_url=srv.url, **options)


@pytest.fixture
def slow_server() -> Iterator[ReferenceServer]:
    with ReferenceServer(api_key=KEY, text_latency=0.05) as srv:
        yield srv


def consume(pages: Iterator[PageResult], seen: list[int]) -> None:
    for page in pages:
        seen.append(page.page)


def chat_requests(srv: ReferenceServer) -> list[dict[str, Any]]:
    return [r.json for r in srv.requests_for(CHAT)]


# -- order and concurrency -------------------------------------------------------------------


def test_pages_come_back_in_order_whatever_order_they_finish(slow_server) -> None:
    slow_server.add_fault(Fault(path=CHAT, kind="delay", delay=0.4, times=2))
    finished: list[int] = []
    engine = make(
        slow_server, max_concurrency=4, on_page_done=lambda r, done, total: finished.append(r.page)
    )
    result = engine.ocr(pdf(10))
    assert [p.page for p in result] == list(range(1, 11))
    assert [p.text for p in result] == [answer(i) for i in range(1, 11)]
    assert finished != sorted(finished)  # the delayed pages finished last...
    assert sorted(finished) == list(range(1, 11))  # ...and every page was reported once
    assert result.report.pages_ok == 10
    assert result.report.requests == 10


def test_at_most_max_concurrency_requests_are_in_flight() -> None:
    with ReferenceServer(api_key=KEY, text_latency=0.2) as srv:
        start = time.perf_counter()
        make(srv, max_concurrency=2).ocr(pdf(8))
        two = time.perf_counter() - start
        start = time.perf_counter()
        make(srv, max_concurrency=8).ocr(pdf(8))
        eight = time.perf_counter() - start
    assert two >= 4 * 0.2 * 0.95  # four rounds of two
    assert eight < 2 * 0.2 + 0.3  # one round


def test_rendering_stays_a_few_pages_ahead(slow_server, monkeypatch) -> None:
    counts = {"rendered": 0, "done": 0, "ahead": 0}
    original = render_module.PdfDocument.render

    def counting(self, page, options):
        counts["rendered"] += 1
        counts["ahead"] = max(counts["ahead"], counts["rendered"] - counts["done"])
        return original(self, page, options)

    monkeypatch.setattr(render_module.PdfDocument, "render", counting)

    def done(result: PageResult, n: int, total: int | None) -> None:
        counts["done"] = n

    result = make(slow_server, max_concurrency=2, on_page_done=done).ocr(pdf(24))
    assert len(result) == 24
    assert counts["ahead"] <= 2 + 2  # max_concurrency + the render-ahead of 2


def test_several_documents_in_one_run(reference_server) -> None:
    jpeg = encode(page_image("photo", (310, 200)), "JPEG")
    result = make(reference_server).ocr([pdf(2), jpeg, pdf(1)])
    assert [(p.source_index, p.page, p.text) for p in result] == [
        (0, 1, answer(1)),
        (0, 2, answer(2)),
        (1, 1, answer(10)),
        (2, 1, answer(1)),
    ]
    assert result.report.sources == ["bytes", "bytes", "bytes"]


# -- the fault matrix ------------------------------------------------------------------------


def test_transient_429_and_503_are_retried_and_every_page_arrives(reference_server) -> None:
    srv = reference_server
    srv.add_fault(Fault(path=CHAT, kind="status", status=429, headers={"Retry-After": "1"}))
    srv.add_fault(Fault(path=CHAT, kind="status", status=503, times=2))
    srv.add_fault(Fault(path=CHAT, kind="html_502"))
    start = time.perf_counter()
    result = make(srv, max_concurrency=3).ocr(pdf(6))
    elapsed = time.perf_counter() - start
    assert [p.text for p in result] == [answer(i) for i in range(1, 7)]
    assert sum(p.attempts for p in result) == 6 + 4
    assert result.report.requests == 10
    assert result.report.failures == []
    assert max(p.attempts for p in result) >= 2
    assert elapsed >= 1.0  # Retry-After: 1 was honoured


def test_timeouts_and_dropped_connections_are_retried(reference_server) -> None:
    srv = reference_server
    srv.add_fault(Fault(path=CHAT, kind="hang"))
    srv.add_fault(Fault(path=CHAT, kind="drop_before_response"))
    result = make(srv, max_concurrency=1, timeout=0.5).ocr(pdf(2))
    assert [p.text for p in result] == [answer(1), answer(2)]
    assert [p.attempts for p in result] == [3, 1]


def _fail_page_three(srv: ReferenceServer) -> None:
    """Every attempt of page 3 (303x200) gets a 500, whatever order the pages go in."""
    srv.add_fault(Fault(path=CHAT, kind="status", status=500, times=5, image_size="303x200"))


def test_a_page_that_keeps_failing_raises_naming_it(reference_server) -> None:
    _fail_page_three(reference_server)
    engine = make(reference_server, max_concurrency=1, max_retries=4)
    seen: list[int] = []
    report = OCRReport(model=MODEL)
    with pytest.raises(OCRPageError) as info:
        consume(engine.iter_pages(pdf(5), report=report), seen)
    error = info.value
    assert seen == [1, 2]  # the pages before it were delivered
    assert (error.page, error.page_label, error.attempts) == (3, "3", 5)
    assert "page 3" in str(error)
    assert "after 5 attempts" in str(error)
    assert "InternalServerError" in str(error)
    assert error.report is report
    assert [(f.page, f.attempts, f.status_code) for f in report.failures] == [(3, 5, 500)]
    assert len(reference_server.requests_for(CHAT)) <= 2 + 5 + 3  # nothing new after it


def test_skip_leaves_the_page_out_but_records_it(reference_server, caplog) -> None:
    _fail_page_three(reference_server)
    result = make(reference_server, max_concurrency=1, on_page_error="skip").ocr(pdf(5))
    assert [p.page for p in result] == [1, 2, 4, 5]
    assert [p.text for p in result] == [answer(i) for i in (1, 2, 4, 5)]
    report = result.report
    assert (report.pages_total, report.pages_ok, report.pages_failed) == (5, 4, 1)
    assert report.pages_skipped == 1
    [failure] = report.failures
    assert (failure.page, failure.page_label, failure.attempts) == (3, "3", 5)
    assert failure.error_type == "InternalServerError"
    assert "page 3" in report.summary()
    assert "OCR failed on page 3" in caplog.text
    assert all("Internal Server Error" not in p.text for p in result)


def test_placeholder_keeps_the_page_empty_with_its_error(reference_server) -> None:
    _fail_page_three(reference_server)
    result = make(reference_server, max_concurrency=1, on_page_error="placeholder").ocr(pdf(5))
    assert [p.page for p in result] == [1, 2, 3, 4, 5]
    failed = result[2]
    assert failed.text == ""
    assert failed.error is not None
    assert (failed.error.attempts, failed.error.status_code) == (5, 500)
    meta = page_metadata(failed)
    assert meta["ocr_error"].startswith("InternalServerError: ")
    assert meta["ocr_attempts"] == 5
    assert [p.text for p in result if p.page != 3] == [answer(i) for i in (1, 2, 4, 5)]
    assert result.report.failures[0].page == 3


def test_one_page_failing_under_concurrency(reference_server) -> None:
    reference_server.add_fault(Fault(path=CHAT, kind="delay", delay=0.0, times=3))
    reference_server.add_fault(Fault(path=CHAT, kind="status", status=422))
    result = make(reference_server, max_concurrency=4, on_page_error="placeholder").ocr(pdf(8))
    assert [p.page for p in result] == list(range(1, 9))
    failed = [p for p in result if p.error is not None]
    assert len(failed) == 1
    assert failed[0].error is not None
    assert failed[0].error.error_type == "UnprocessableEntityError"
    assert failed[0].attempts == 1  # 422 is never retried
    assert [f.page for f in result.report.failures] == [failed[0].page]
    ok = [p for p in result if p.error is None]
    assert all(p.text == answer(p.page) for p in ok)


# -- 50 pages under faults (issue 9) --------------------------------------------------------

#: 50 pages labelled i-iv, then 1-46 (page 20 is labelled "16"): page i is (300 + i) x 200.
LABELS_50 = "0 << /S /r >> 4 << /S /D >>"


def label_50(page: int) -> str:
    return ["i", "ii", "iii", "iv"][page - 1] if page <= 4 else str(page - 4)


@pytest.fixture(scope="module")
def pdf_50() -> bytes:
    return build_pdf(
        [PdfPage(page_image(str(i), (300 + i, 200))) for i in range(1, 51)], labels=LABELS_50
    )


def test_fifty_pages_with_ten_percent_transient_faults_all_arrive_in_order(
    reference_server, pdf_50: bytes, caplog
) -> None:
    """Every tenth request fails once (429 with Retry-After, 503, reset): 50/50 pages."""
    caplog.set_level("INFO", logger="arli")
    srv = reference_server
    transient = [
        Fault(path=CHAT, kind="status", status=429, headers={"Retry-After": "1"}),
        Fault(path=CHAT, kind="status", status=503),
        Fault(path=CHAT, kind="drop_before_response"),
        Fault(path=CHAT, kind="status", status=429, headers={"Retry-After": "1"}),
        Fault(path=CHAT, kind="status", status=503),
    ]
    for fault in transient:  # nine clean requests, then one fault: 10 % of the first 50
        srv.add_fault(Fault(path=CHAT, kind="delay", delay=0.0, times=9))
        srv.add_fault(fault)
    start = time.perf_counter()
    result = make(srv, max_concurrency=4, max_retries=3).ocr(pdf_50)
    elapsed = time.perf_counter() - start

    assert len(result) == 50
    assert [p.page for p in result] == list(range(1, 51))  # in order, nothing lost
    assert [p.page_label for p in result] == [label_50(i) for i in range(1, 51)]
    assert [p.text for p in result] == [answer(i) for i in range(1, 51)]
    report = result.report
    assert (report.pages_total, report.pages_ok, report.pages_failed) == (50, 50, 0)
    assert report.failures == []
    # Each fault cost exactly one more request; the report counts them.
    assert report.requests == sum(p.attempts for p in result) == 55
    assert len(srv.requests_for(CHAT)) == 55
    assert sum(p.attempts - 1 for p in result) == 5
    assert "55 requests" in report.summary()
    retries = [r for r in caplog.records if r.getMessage().startswith("Retrying POST")]
    assert len(retries) == 5
    assert sorted(float(r.getMessage().split(" in ")[1].split(" s ")[0]) for r in retries)[-2:] == [
        1.0,
        1.0,
    ]  # both 429s waited their Retry-After
    assert 1.0 <= elapsed < 20


def _fail_page_20(srv: ReferenceServer, attempts: int) -> None:
    """Every attempt of page 20 (320x200) gets a 500, whatever order the pages go in."""
    srv.add_fault(Fault(path=CHAT, kind="status", status=500, times=attempts, image_size="320x200"))


def _no_error_text(pages: list[PageResult]) -> None:
    for page in pages:
        for leak in ("Error", "HTTP 5", "Internal Server", "OCR failed", "attempt"):
            assert leak not in page.text, (page.page, page.text)


def test_fifty_pages_one_permanent_failure_raise_names_page_and_label(
    reference_server, pdf_50: bytes
) -> None:
    _fail_page_20(reference_server, attempts=3)
    engine = make(reference_server, max_concurrency=1, max_retries=2)
    seen: list[int] = []
    report = OCRReport(model=MODEL)
    with pytest.raises(OCRPageError) as info:
        consume(engine.iter_pages(pdf_50, report=report), seen)
    error = info.value
    assert seen == list(range(1, 20))
    assert (error.page, error.page_label, error.attempts) == (20, "16", 3)
    assert "page 20 (label '16')" in str(error)
    assert "InternalServerError" in str(error)
    assert isinstance(error.cause, InternalServerError)
    assert [(f.page, f.page_label, f.attempts) for f in report.failures] == [(20, "16", 3)]


@pytest.mark.parametrize("policy", ["skip", "placeholder"])
def test_fifty_pages_one_permanent_failure_is_recorded_never_in_text(
    reference_server, pdf_50: bytes, policy: str
) -> None:
    _fail_page_20(reference_server, attempts=3)
    result = make(reference_server, max_concurrency=1, max_retries=2, on_page_error=policy).ocr(
        pdf_50
    )
    expected_pages = [i for i in range(1, 51) if policy == "placeholder" or i != 20]
    assert [p.page for p in result] == expected_pages
    assert [p.text for p in result if p.page != 20] == [answer(i) for i in range(1, 51) if i != 20]
    _no_error_text(result.pages)
    report = result.report
    assert (report.pages_total, report.pages_ok, report.pages_failed) == (50, 49, 1)
    assert report.pages_skipped == (1 if policy == "skip" else 0)
    [failure] = report.failures
    assert (failure.page, failure.page_label, failure.attempts, failure.status_code) == (
        20,
        "16",
        3,
        500,
    )
    assert "page 16: InternalServerError" in report.summary()
    assert report.as_dict()["failures"][0]["page"] == 20
    if policy == "placeholder":
        failed = result[19]
        assert (failed.page, failed.text, failed.ok) == (20, "", False)
        meta = page_metadata(failed)
        assert meta["page_label"] == "16"
        assert meta["ocr_error"].startswith("InternalServerError: HTTP 500")
        assert meta["ocr_attempts"] == 3
        assert all("ocr_error" not in page_metadata(p) for p in result if p.page != 20)


def test_400_is_not_retried(reference_server) -> None:
    reference_server.add_fault(Fault(path=CHAT, kind="status", status=400))
    result = make(reference_server, on_page_error="placeholder").ocr(pdf(1))
    assert result[0].error is not None
    assert (result[0].error.error_type, result[0].attempts) == ("BadRequestError", 1)


def test_a_rejected_key_or_unknown_model_ends_the_run(reference_server) -> None:
    engine = OCREngine(api_key="wrong", base_url=reference_server.url, model=MODEL)
    with pytest.raises(AuthenticationError):
        engine.ocr(pdf(3))
    engine = make(reference_server, model="no-such-model", on_page_error="skip")
    with pytest.raises(NotFoundError):
        engine.ocr(pdf(3))


def test_documents_that_cannot_be_read(reference_server, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pdf"
    sources = [pdf(1), missing, encode(page_image("x", (310, 200)), "PNG")]
    result = make(reference_server, on_page_error="skip").ocr(sources)
    assert [(p.source_index, p.text) for p in result] == [(0, answer(1)), (2, answer(10))]
    [failure] = result.report.failures
    assert (failure.source, failure.page, failure.error_type) == (
        str(missing),
        None,
        "OCRSourceError",
    )
    seen: list[int] = []
    with pytest.raises(OCRSourceError, match="no such file"):
        consume(make(reference_server).iter_pages(sources), seen)
    assert seen == [1]


def test_bad_page_selection_is_reported_before_any_request(reference_server) -> None:
    from arli import ArliValidationError

    with pytest.raises(ArliValidationError, match="which has 3 pages"):
        make(reference_server).ocr(pdf(3), pages="2-4")
    assert reference_server.requests_for(CHAT) == []


# -- semantic retries ------------------------------------------------------------------------

WORDS = " ".join(["word"] * 30)


def test_a_cut_off_answer_is_asked_again_with_more_tokens() -> None:
    script = [ScriptEntry(match="Transcribe all the text", has_image=True, reply=WORDS)]
    with ReferenceServer(api_key=KEY, script=script) as srv:
        result = make(srv, max_tokens=20).ocr(pdf(1))
        bodies = chat_requests(srv)
    page = result[0]
    assert [b["max_tokens"] for b in bodies] == [20, 40]
    assert (page.text, page.finish_reason, page.truncated, page.attempts) == (
        WORDS,
        "stop",
        False,
        2,
    )
    assert page.usage.completion_tokens == 20 + 31  # both answers are paid for


def test_an_answer_still_cut_off_is_kept_and_marked_truncated() -> None:
    script = [ScriptEntry(match="", has_image=True, reply=" ".join(["word"] * 200))]
    with ReferenceServer(api_key=KEY, script=script) as srv:
        result = make(srv, max_tokens=20).ocr(pdf(1))
    page = result[0]
    assert (page.finish_reason, page.truncated, page.attempts) == ("length", True, 2)
    assert page.text.startswith("word word")
    assert page_metadata(page)["truncated"] is True
    assert result.report.pages_truncated == 1
    assert any("cut off" in w for w in page.warnings)


def test_a_retry_beyond_the_context_window_keeps_the_first_answer() -> None:
    text = " ".join(f"item{i}" for i in range(300))  # long, and not a loop
    script = [ScriptEntry(match="", has_image=True, reply=text)]
    with ReferenceServer(api_key=KEY, script=script, max_model_len=450) as srv:
        result = make(srv, max_tokens=200).ocr(pdf(1))
    page = result[0]
    assert page.error is None
    assert (page.finish_reason, page.truncated, page.attempts) == ("length", True, 2)
    assert any("max_tokens=400 failed" in w for w in page.warnings)


def test_a_repetition_loop_is_retried_at_higher_temperatures() -> None:
    loop = "Total " + "| 0 | 0 | 0 |\n" * 60
    script = [ScriptEntry(match="Transcribe all the text", has_image=True, reply=loop)]
    with ReferenceServer(api_key=KEY, script=script) as srv:
        result = make(srv).ocr(pdf(1))
        bodies = chat_requests(srv)
    assert [b["temperature"] for b in bodies] == [0.0, 0.3, 0.7]
    page = result[0]
    assert page.repetition is True
    assert page.attempts == 3
    assert page.text == loop.strip()
    assert any("repetition loop" in w for w in page.warnings)


# -- blank pages, page cap -------------------------------------------------------------------


def test_blank_pages_are_not_sent(reference_server) -> None:
    data = pillow_pdf(
        [page_image("One", (301, 200)), blank_image((302, 200)), page_image("Three", (303, 200))]
    )
    result = make(reference_server, skip_blank_pages=True).ocr(data)
    assert [(p.page, p.blank, p.text) for p in result] == [
        (1, False, answer(1)),
        (2, True, ""),
        (3, False, answer(3)),
    ]
    assert len(reference_server.requests_for(CHAT)) == 2
    assert result.report.pages_blank == 1
    assert page_metadata(result[1])["blank"] is True
    assert page_metadata(result[1])["finish_reason"] == ""


def test_max_pages_caps_each_document(reference_server) -> None:
    result = make(reference_server, max_pages=2).ocr(pdf(5), pages="2-")
    assert [p.page for p in result] == [2, 3]
    assert result.report.pages_left_out == 2
    assert "left out" in result.report.summary()


def test_pdf_labels_rotation_and_password_through_the_engine(reference_server) -> None:
    data = build_pdf(
        [
            PdfPage(page_image("i", (301, 200))),
            PdfPage(page_image("ii", (200, 302)), rotate=90),
            PdfPage(page_image("1", (303, 200))),
        ],
        labels="0 << /S /r >> 2 << /S /D >>",
        password="pw",
    )
    result = make(reference_server).ocr(data, password="pw")
    assert [(p.page, p.page_label, p.text) for p in result] == [
        (1, "i", answer(1)),
        (2, "ii", "An image of 302x200 pixels."),
        (3, "1", answer(3)),
    ]
    with pytest.raises(OCRSourceError, match="encrypted"):
        make(reference_server).ocr(data)


# -- cache -----------------------------------------------------------------------------------


def test_a_rerun_after_an_interruption_pays_only_for_missing_pages(
    reference_server, tmp_path: Path
) -> None:
    srv = reference_server
    cache = tmp_path / "ocr-cache"
    data = pdf(6)
    srv.add_fault(Fault(path=CHAT, kind="delay", delay=0.0, times=3))
    srv.add_fault(Fault(path=CHAT, kind="status", status=400))  # page 4 stops the first run
    with pytest.raises(OCRPageError):
        make(srv, cache=cache, max_concurrency=1).ocr(data)
    assert len(srv.requests_for(CHAT)) == 4
    srv.reset()

    second = make(srv, cache=cache, max_concurrency=1).ocr(data)
    assert [p.text for p in second] == [answer(i) for i in range(1, 7)]
    assert [p.cached for p in second] == [True, True, True, False, False, False]
    assert len(srv.requests_for(CHAT)) == 3  # pages 4-6 only
    assert second.report.pages_cached == 3
    assert second[0].usage.prompt_tokens > 0  # the page keeps what it cost when it was read
    srv.reset()

    third = make(srv, cache=cache).ocr(data)
    assert all(p.cached for p in third)
    assert srv.requests_for(CHAT) == []
    assert (third.report.prompt_tokens, third.report.requests) == (0, 0)

    make(srv, cache=cache, prompt="Another prompt.").ocr(data, pages=[1])
    assert len(srv.requests_for(CHAT)) == 1  # another prompt, another key


# -- progress --------------------------------------------------------------------------------


def test_progress_callback_and_bar(reference_server, capfd) -> None:
    calls: list[tuple[int, int, int | None]] = []
    engine = make(
        reference_server,
        show_progress=True,
        on_page_done=lambda r, done, total: calls.append((r.page, done, total)),
    )
    engine.ocr(pdf(4))
    assert [done for _, done, _ in calls] == [1, 2, 3, 4]
    assert sorted(page for page, _, _ in calls) == [1, 2, 3, 4]
    assert calls[-1][2] == 4
    assert "OCR" in capfd.readouterr().err


# -- sync inside a running loop, async, early exit ------------------------------------------


async def test_the_sync_api_works_inside_a_running_event_loop(reference_server) -> None:
    asyncio.get_running_loop()  # we are inside one
    engine = make(reference_server)
    result = engine.ocr(pdf(3))
    assert [p.text for p in result] == [answer(i) for i in (1, 2, 3)]
    assert [p.page for p in engine.iter_pages(pdf(2))] == [1, 2]
    both = await asyncio.gather(engine.aocr(pdf(2)), engine.aocr(pdf(1)))
    assert [[p.text for p in r] for r in both] == [[answer(1), answer(2)], [answer(1)]]
    await engine.aclose()


def test_leaving_early_stops_the_run(slow_server) -> None:
    engine = make(slow_server, max_concurrency=2)
    pages = engine.iter_pages(pdf(30))
    first = next(pages)
    pages.close()
    assert first.page == 1
    time.sleep(0.3)
    sent = len(slow_server.requests_for(CHAT))
    time.sleep(0.3)
    assert len(slow_server.requests_for(CHAT)) == sent  # nothing more is sent
    assert sent <= 1 + 2 + 2


# -- URL sources -----------------------------------------------------------------------------


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "doc.pdf").write_bytes(pdf(2))
    with serve_http(directory=tmp_path) as url:
        yield url


def test_documents_from_urls(reference_server, file_server: str) -> None:
    url = f"{file_server}/doc.pdf"
    result = make(reference_server).ocr(url)
    assert [(p.source, p.text) for p in result] == [(url, answer(1)), (url, answer(2))]
    with pytest.raises(OCRSourceError, match="404"):
        make(reference_server).ocr(f"{file_server}/missing.pdf")
    with pytest.raises(OCRSourceError, match="byte limit"):
        make(reference_server, max_download_bytes=100).ocr(url)

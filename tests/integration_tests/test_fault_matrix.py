"""The fault matrix: every client surface against every fault the reference server injects.

Each cell either **recovers** (the call succeeds; the server saw the expected number of
attempts; the retry delays logged by the ``arli`` logger — "Retrying ... in X s" — are
the ``Retry-After`` value or the exponential backoff) or **raises** our typed error
naming the cause (exact class and message checked) after the expected number of attempts,
and always within a time bound (``pytest.mark.timeout`` plus an elapsed-time assertion).

Surfaces (rows): the core ``TextClient`` (chat, stream_chat, complete, tokenize; async
chat and stream), ``ImageClient.txt2img`` (sync and async), ``OCREngine`` (one page), and
the framework skins ``ChatArli`` (invoke, stream) and LlamaIndex ``Arli`` (chat,
stream_chat), which must surface the core's errors unchanged (same class, no wrapping).

Faults (columns): 429 with ``Retry-After`` in seconds, as an HTTP-date, and beyond the
``max_retry_after`` cap; 503 that clears after two attempts; 503 forever; connection
refused; reset before the response; reset in the middle of the response (mid-stream for
streams, mid-body otherwise); a body cut short with a clean end (SSE without ``[DONE]``
for streams, half a JSON body otherwise); malformed JSON; an HTML 502 page (every
attempt); a read timeout (the server never answers); a body larger than the client's cap;
vLLM's error event inside a 200 stream (its 400 error body for non-stream requests).

:data:`TABLE` is the expectation table; :func:`expectation` applies the two per-surface
differences (streams; OCR and tokenize, which re-send timed-out requests; OCR reports a
failed page as :class:`~arli.OCRPageError` carrying the typed cause). Every cell applies to every
surface: for non-stream requests the reference server turns the stream faults into
their body equivalents (``tests/reference_server/faults.py``), so no cell is "not
applicable".

Single cells are also covered, in more depth, elsewhere: ``TextClient`` chat and streams
in ``test_transport.py`` (retry rules, Retry-After parsing, other statuses, limiter
release), images in ``test_images_client.py``, OCR in ``test_ocr_engine.py``. This module
is the systematic cross-product.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import logging
import math
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from arli import (
    ArliConnectionError,
    ArliError,
    ArliResponseError,
    ArliTimeoutError,
    BadRequestError,
    ImageClient,
    IncompleteResponseError,
    InternalServerError,
    OCRPageError,
    RateLimitError,
    TextClient,
)
from arli._transport import Transport
from arli.ocr import OCREngine
from tests.ocr_helpers import encode, page_image
from tests.reference_server import Fault, ReferenceServer

KEY = "test-key"
MODEL = "Mistral-Nemo-12B-Instruct-2407"
CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
TOKENIZE = "/v1/tokenize"
TXT2IMG = "/v1/txt2img"
MESSAGES = [{"role": "user", "content": "Hello"}]
CHAT_BODY = {"model": MODEL, "messages": MESSAGES, "max_tokens": 16}
COMPLETION_BODY = {"model": MODEL, "prompt": "Hello", "max_tokens": 16}
IMAGE_PARAMS = {"prompt": "a cat", "width": 64, "height": 64, "steps": 1}
PAGE = encode(page_image("Page 1", (301, 200)), "PNG")
MAX_RETRIES = 2
BACKOFF = 0.01
MAX_BACKOFF = 0.05
FAST = {
    "max_retries": MAX_RETRIES,
    "retry_initial_backoff": BACKOFF,
    "retry_max_backoff": MAX_BACKOFF,
}
READ_TIMEOUT = 0.3
BODY_CAP = 100_000
#: Every cell ends within this many seconds (plus the Retry-After it was told to wait).
BOUND = 4.0


# -- surfaces -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Knobs:
    """What a cell changes on the client: a short read timeout, a small response cap."""

    timeout: float | None = None
    max_bytes: int | None = None


@contextlib.contextmanager
def tuned(transport: Transport, knobs: Knobs, *, fast_retries: bool = False) -> Iterator[None]:
    """Lower the body cap (and, for the skins, the backoff) of a shared transport, then restore.

    The skins expose ``max_retries`` but not the backoff; their transport's policy is
    swapped for the same one with the matrix's short backoff.
    """
    cap, retry = transport.max_response_bytes, transport.retry
    if knobs.max_bytes is not None:
        transport.max_response_bytes = knobs.max_bytes
    if fast_retries:
        transport.retry = dataclasses.replace(
            retry, max_retries=MAX_RETRIES, initial_backoff=BACKOFF, max_backoff=MAX_BACKOFF
        )
    try:
        yield
    finally:
        transport.max_response_bytes, transport.retry = cap, retry


def _text_client(url: str, knobs: Knobs) -> TextClient:
    options: dict[str, Any] = dict(FAST)
    if knobs.timeout is not None:
        options.update(text_timeout=knobs.timeout, listing_timeout=knobs.timeout)
    return TextClient(api_key=KEY, base_url=url, **options)


def _image_client(url: str, knobs: Knobs) -> ImageClient:
    options: dict[str, Any] = dict(FAST)
    if knobs.timeout is not None:
        options["image_timeout"] = knobs.timeout
    return ImageClient(model="FLUX.2-klein-4B", api_key=KEY, base_url=url, **options)


def _chunks_text(chunks: Any) -> str:
    return "".join(c.choices[0].content or "" for c in chunks if c.choices)


def run_chat(url: str, knobs: Knobs) -> str:
    client = _text_client(url, knobs)
    with tuned(client.transport, knobs):
        return client.chat(CHAT_BODY).text


def run_stream_chat(url: str, knobs: Knobs) -> str:
    client = _text_client(url, knobs)
    with tuned(client.transport, knobs):
        return _chunks_text(list(client.stream_chat(CHAT_BODY)))


def run_complete(url: str, knobs: Knobs) -> str:
    client = _text_client(url, knobs)
    with tuned(client.transport, knobs):
        return client.complete(COMPLETION_BODY).text


def run_tokenize(url: str, knobs: Knobs) -> str:
    client = _text_client(url, knobs)
    with tuned(client.transport, knobs):
        return f"{client.tokenize(model=MODEL, prompt='Hello world').count} tokens"


def run_achat(url: str, knobs: Knobs) -> str:
    client = _text_client(url, knobs)

    async def go() -> str:
        try:
            return (await client.achat(CHAT_BODY)).text
        finally:
            await client.aclose()

    with tuned(client.transport, knobs):
        return asyncio.run(go())


def run_astream_chat(url: str, knobs: Knobs) -> str:
    client = _text_client(url, knobs)

    async def go() -> str:
        try:
            return _chunks_text([c async for c in client.astream_chat(CHAT_BODY)])
        finally:
            await client.aclose()

    with tuned(client.transport, knobs):
        return asyncio.run(go())


def run_images(url: str, knobs: Knobs) -> str:
    client = _image_client(url, knobs)
    with tuned(client.transport, knobs):
        return client.txt2img(**IMAGE_PARAMS).mime_type


def run_aimages(url: str, knobs: Knobs) -> str:
    client = _image_client(url, knobs)

    async def go() -> str:
        try:
            return (await client.atxt2img(**IMAGE_PARAMS)).mime_type
        finally:
            await client.aclose()

    with tuned(client.transport, knobs):
        return asyncio.run(go())


def run_ocr(url: str, knobs: Knobs) -> str:
    engine = OCREngine(
        api_key=KEY,
        base_url=url,
        model=MODEL,
        max_retries=MAX_RETRIES,
        timeout=knobs.timeout,
        retry_initial_backoff=BACKOFF,
        retry_max_backoff=MAX_BACKOFF,
    )
    try:
        with tuned(engine._transport, knobs):  # the engine's own (unshared) transport
            return engine.ocr(PAGE)[0].text
    finally:
        engine.close()


def _chat_arli(url: str, knobs: Knobs) -> Any:
    from langchain_arli import ChatArli

    return ChatArli(
        model=MODEL, api_key=KEY, base_url=url, max_retries=MAX_RETRIES, timeout=knobs.timeout
    )


def run_lc_invoke(url: str, knobs: Knobs) -> str:
    llm = _chat_arli(url, knobs)
    with tuned(llm.client.transport, knobs, fast_retries=True):
        return str(llm.invoke("Hello").content)


def run_lc_stream(url: str, knobs: Knobs) -> str:
    llm = _chat_arli(url, knobs)
    with tuned(llm.client.transport, knobs, fast_retries=True):
        return "".join(str(chunk.content) for chunk in llm.stream("Hello"))


def _li_arli(url: str, knobs: Knobs) -> Any:
    from llama_index_arli import Arli

    return Arli(
        model=MODEL,
        api_key=KEY,
        base_url=url,
        max_retries=MAX_RETRIES,
        timeout=knobs.timeout,
        discover_context_window=False,
    )


def _li_messages() -> list[Any]:
    from llama_index.core.llms import ChatMessage

    return [ChatMessage(role="user", content="Hello")]


def run_li_chat(url: str, knobs: Knobs) -> str:
    llm = _li_arli(url, knobs)
    with tuned(llm.client.transport, knobs, fast_retries=True):
        return str(llm.chat(_li_messages()).message.content)


def run_li_stream_chat(url: str, knobs: Knobs) -> str:
    llm = _li_arli(url, knobs)
    with tuned(llm.client.transport, knobs, fast_retries=True):
        return "".join(r.delta or "" for r in llm.stream_chat(_li_messages()))


@dataclass(frozen=True)
class Surface:
    """A way to call the API: its runner, the path the server counts, whether it streams."""

    run: Callable[[str, Knobs], str]
    path: str
    stream: bool = False
    ocr: bool = False
    resends_timeouts: bool = False


SURFACES: dict[str, Surface] = {
    "chat": Surface(run_chat, CHAT),
    "stream_chat": Surface(run_stream_chat, CHAT, stream=True),
    "complete": Surface(run_complete, COMPLETIONS),
    "tokenize": Surface(run_tokenize, TOKENIZE, resends_timeouts=True),
    "achat": Surface(run_achat, CHAT),
    "astream_chat": Surface(run_astream_chat, CHAT, stream=True),
    "txt2img": Surface(run_images, TXT2IMG),
    "atxt2img": Surface(run_aimages, TXT2IMG),
    "ocr": Surface(run_ocr, CHAT, ocr=True, resends_timeouts=True),
    "ChatArli.invoke": Surface(run_lc_invoke, CHAT),
    "ChatArli.stream": Surface(run_lc_stream, CHAT, stream=True),
    "Arli.chat": Surface(run_li_chat, CHAT),
    "Arli.stream_chat": Surface(run_li_stream_chat, CHAT, stream=True),
}


# -- faults and the expectation table ------------------------------------------------------


def _http_date_one_second_ahead() -> str:
    """The next whole second as an HTTP-date (a wait of at most one second)."""
    return email.utils.formatdate(math.floor(time.time()) + 1, usegmt=True)


FAULTS: dict[str, Callable[[str], list[Fault]]] = {
    "429 Retry-After: 1": lambda p: [Fault(p, "status", status=429, headers={"Retry-After": "1"})],
    "429 Retry-After: HTTP-date": lambda p: [
        Fault(p, "status", status=429, headers={"Retry-After": _http_date_one_second_ahead()})
    ],
    "429 Retry-After beyond the cap": lambda p: [
        Fault(p, "status", status=429, headers={"Retry-After": "3600"})
    ],
    "503 clears after 2": lambda p: [Fault(p, "status", status=503, times=2)],
    "503 forever": lambda p: [Fault(p, "status", status=503, times=-1)],
    "connection refused": lambda p: [],
    "reset before response": lambda p: [Fault(p, "drop_before_response")],
    "reset mid-response": lambda p: [Fault(p, "drop_mid_stream", after_events=2)],
    "truncated (no [DONE])": lambda p: [Fault(p, "truncate_sse", after_events=2)],
    "malformed JSON": lambda p: [Fault(p, "malformed_json")],
    "HTML 502 page": lambda p: [Fault(p, "html_502", times=-1)],
    "read timeout": lambda p: [Fault(p, "hang")],
    "body over the cap": lambda p: [Fault(p, "large_body", size=3 * BODY_CAP)],
    "error event in stream": lambda p: [Fault(p, "stream_error", after_events=2)],
}


@dataclass(frozen=True)
class Expect:
    """One cell: recovers or raises, after how many attempts, with which delays.

    Attributes:
        raises: the exact error class (``None``: the call succeeds).
        message: a regex the error message must match.
        attempts: requests the server must have seen (``None``: no server reached).
        retries: "Retrying ..." log records.
        delays: how the logged delays are checked: ``"retry-after"`` (exactly 1 s),
            ``"http-date"`` (at most 1 s, and the retry came after the date),
            ``"backoff"`` (exponential from ``BACKOFF`` with up to 25 % jitter) or ``""``.
        knobs: client settings the cell needs.
    """

    raises: type[ArliError] | None
    message: str = ""
    attempts: int | None = 1
    retries: int = 0
    delays: str = ""
    knobs: Knobs = Knobs()


def recovers(attempts: int, delays: str = "backoff", knobs: Knobs = Knobs()) -> Expect:
    return Expect(None, attempts=attempts, retries=attempts - 1, delays=delays, knobs=knobs)


#: fault -> (non-stream surfaces, stream surfaces)
TABLE: dict[str, tuple[Expect, Expect]] = {
    "429 Retry-After: 1": (recovers(2, "retry-after"),) * 2,
    "429 Retry-After: HTTP-date": (recovers(2, "http-date"),) * 2,
    "429 Retry-After beyond the cap": (Expect(RateLimitError, r"^HTTP 429 .*Too Many Requests"),)
    * 2,
    "503 clears after 2": (recovers(3),) * 2,
    "503 forever": (
        Expect(InternalServerError, r"^HTTP 503 .*Service Unavailable", attempts=3, retries=2),
    )
    * 2,
    "connection refused": (
        Expect(ArliConnectionError, r"could not connect to http://127\.0\.0\.1", None, 2),
    )
    * 2,
    "reset before response": (recovers(2),) * 2,
    "reset mid-response": (
        recovers(2),  # mid-body: nothing reached the caller yet, re-sent
        Expect(
            ArliConnectionError, r"(reset|closed).* \(after 2 events of the stream; not retried\)"
        ),
    ),
    "truncated (no [DONE])": (
        Expect(ArliResponseError, r"not valid JSON"),
        Expect(IncompleteResponseError, r"ended after 2 chunks without `data: \[DONE\]`"),
    ),
    "malformed JSON": (
        Expect(ArliResponseError, r"HTTP 200 .* not valid JSON"),
        Expect(ArliResponseError, r"asked for a stream but the server answered HTTP 200"),
    ),
    "HTML 502 page": (
        Expect(
            InternalServerError,
            r"^HTTP 502 .*: 502 Bad Gateway \(HTML error page\)",
            attempts=3,
            retries=2,
        ),
    )
    * 2,
    "read timeout": (
        Expect(
            ArliTimeoutError,
            rf"timed out after {READ_TIMEOUT:g} s while waiting for the response",
            knobs=Knobs(timeout=READ_TIMEOUT),
        ),
    )
    * 2,
    "body over the cap": (
        Expect(
            ArliResponseError,
            rf"exceeds the {BODY_CAP} byte limit \(2\d{{5}} bytes\)",
            knobs=Knobs(max_bytes=BODY_CAP),
        ),
    )
    * 2,
    "error event in stream": (
        Expect(BadRequestError, r"^HTTP 400 .*Simulated engine failure during generation"),
        Expect(BadRequestError, r"Simulated engine failure.*\(sent inside the event stream\)"),
    ),
}


def expectation(surface: Surface, fault: str) -> Expect:
    """The cell of :data:`TABLE` for ``surface``, with OCR's difference applied."""
    plain, streamed = TABLE[fault]
    expect = streamed if surface.stream else plain
    if surface.resends_timeouts and fault == "read timeout":
        # OCR and tokenize set retry_read_timeouts=True: re-reading a page or re-counting
        # tokens has no side effect.
        return recovers(2, knobs=expect.knobs)
    return expect


# -- running a cell -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(api_key=KEY, tokenize_v1=True) as srv:
        yield srv


@pytest.fixture
def srv(server: ReferenceServer) -> ReferenceServer:
    server.reset()
    return server


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


_RETRY_RE = re.compile(r"^Retrying \S+ \S+ in (\d+\.\d+) s \(retry (\d+) of (\d+)\)")


def retry_delays(caplog: pytest.LogCaptureFixture) -> list[float]:
    delays = []
    for record in caplog.records:
        m = _RETRY_RE.match(record.getMessage())
        if m and record.name == "arli":
            delays.append(float(m.group(1)))
    return delays


def check_delays(kind: str, delays: list[float], faults: list[Fault], ended: float) -> None:
    if kind == "retry-after":
        assert delays == [1.0]
    elif kind == "http-date":
        header = (faults[0].headers or {})["Retry-After"]
        when = email.utils.parsedate_to_datetime(header).timestamp()
        assert len(delays) == 1
        assert 0.0 <= delays[0] <= 1.0
        assert ended >= when - 0.01  # the retry waited for the date
    elif kind == "backoff":
        for i, delay in enumerate(delays):
            ceiling = min(MAX_BACKOFF, BACKOFF * 2**i)
            assert 0.75 * ceiling - 1e-9 <= delay <= ceiling + 1e-9, (i, delay)


CELLS = [(s, f) for s in SURFACES for f in FAULTS]


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("surface_name", "fault"), CELLS, ids=[f"{s}|{f}" for s, f in CELLS])
def test_cell(
    srv: ReferenceServer, caplog: pytest.LogCaptureFixture, surface_name: str, fault: str
) -> None:
    surface = SURFACES[surface_name]
    expect = expectation(surface, fault)
    faults = FAULTS[fault](surface.path)
    for f in faults:
        srv.add_fault(f)
    url = closed_port_url() if fault == "connection refused" else srv.url
    caplog.set_level(logging.INFO, logger="arli")

    start = time.monotonic()
    error: BaseException | None = None
    try:
        answer = surface.run(url, expect.knobs)
    except Exception as exc:  # checked below, whatever it is
        error = exc
    elapsed = time.monotonic() - start
    ended = time.time()

    if expect.raises is None:
        assert error is None, f"expected recovery, got {error!r}"
        assert answer
    else:
        assert error is not None, "expected an error, the call succeeded"
        cause = error
        if surface.ocr:
            assert type(error) is OCRPageError, repr(error)
            assert error.page == 1
            assert "page 1" in str(error)
            assert error.cause is not None
            cause = error.cause
            assert type(cause).__name__ in str(error)  # the page error names its cause
        assert type(cause) is expect.raises, repr(cause)  # unchanged through the skins
        assert re.search(expect.message, str(cause)), str(cause)
        if isinstance(cause, RateLimitError):
            assert cause.retry_after == 3600
    if expect.attempts is not None:
        assert len(srv.requests_for(surface.path)) == expect.attempts
    delays = retry_delays(caplog)
    assert len(delays) == expect.retries, delays
    check_delays(expect.delays, delays, faults, ended)
    waited = 1.0 if expect.delays in ("retry-after", "http-date") else 0.0
    if expect.delays == "retry-after":
        assert elapsed >= 1.0
    assert elapsed < BOUND + waited, elapsed


def test_the_table_covers_every_fault_kind_the_server_has() -> None:
    from tests.reference_server.faults import FAULT_KINDS

    used = {f.kind for make in FAULTS.values() for f in make(CHAT)}
    # "delay" is the read-timeout fault's slower twin (test_transport.py uses it);
    # "stall_mid_stream" needs a short stall limit per call (test_retries_pool.py has it).
    assert FAULT_KINDS - used == {"delay", "stall_mid_stream"}
    assert set(TABLE) == set(FAULTS)


def matrix_markdown() -> str:
    """The table as Markdown (``python -m tests.integration_tests.test_fault_matrix``)."""

    def cell(expect: Expect, surface: Surface) -> str:
        if expect.raises is None:
            return f"recovers ({expect.attempts} att.)"
        name = expect.raises.__name__
        if surface.ocr:
            name = f"OCRPageError({name})"
        att = f"{expect.attempts} att." if expect.attempts is not None else "no server"
        return f"{name} ({att})"

    head = "| surface | " + " | ".join(FAULTS) + " |"
    rule = "|---" * (len(FAULTS) + 1) + "|"
    rows = [
        f"| {name} | " + " | ".join(cell(expectation(s, f), s) for f in FAULTS) + " |"
        for name, s in SURFACES.items()
    ]
    return "\n".join([head, rule, *rows])


if __name__ == "__main__":  # pragma: no cover
    print(matrix_markdown())

"""Helpers shared by the tests: fixture paths, raw HTTP capture parsing, a local web server."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
WIRE = FIXTURES / "wire" / "examples"
CAPTURES = FIXTURES / "wire" / "captures-vllm-0.32"


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def dechunk(data: bytes) -> bytes:
    """Decode an HTTP/1.1 chunked body."""
    out = bytearray()
    rest = data
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2 :]
    return bytes(out)


def parse_raw_response(path: Path) -> RawResponse:
    """Parse a raw HTTP/1.1 response capture (status line, headers, body)."""
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return RawResponse(status, headers, body)


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    """Serves a directory without logging each request to stderr."""

    def log_message(self, *args: Any) -> None:
        pass


def send_body(
    handler: http.server.BaseHTTPRequestHandler, data: bytes, content_type: str = "image/png"
) -> None:
    """Answer a request 200 with ``data`` (a fake image host's reply)."""
    handler.send_response(200)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def vision_messages(url: str, text: str = "What is this?") -> list[dict[str, Any]]:
    """One OpenAI-style user message asking about the image at ``url``."""
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]


@contextmanager
def serve_http(
    handler: Callable[..., http.server.BaseHTTPRequestHandler] | None = None,
    *,
    directory: Path | None = None,
) -> Iterator[str]:
    """Run a threaded HTTP server on 127.0.0.1 and yield its base URL.

    Give a request ``handler`` class, or a ``directory`` to serve (quietly) as files.
    """
    if handler is None:
        assert directory is not None, "serve_http needs a handler or a directory"

        def handler(*args: Any, **kwargs: Any) -> QuietFiles:
            return QuietFiles(*args, directory=str(directory), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


SD_TXT2IMG = json.loads((WIRE / "sd_txt2img_response.json").read_text())
SD_EXTRA = json.loads((WIRE / "sd_extra_single_image_response.json").read_text())


class SDNextRecorder:
    """An httpx MockTransport handler that records request bodies and answers like SDNext."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith(("extra-single-image", "upscale-img")):
            return httpx.Response(200, json=SD_EXTRA)
        return httpx.Response(200, json=SD_TXT2IMG)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


_DOCS_IMAGE = "https://raw.githubusercontent.com/langchain-ai/docs/"
_DOCS_PDF = "https://www.w3.org/WAI/ER/tests/xhtml/testfiles/resources/pdf/dummy.pdf"
_LOCAL_IMAGE = FIXTURES / "images" / "agentic-rag-output.png"
_LOCAL_PDF = FIXTURES / "pdf" / "dummy.pdf"


def serve_standard_suite_files_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """langchain-tests' image and PDF tests download a PNG from GitHub and a PDF from w3.org
    with ``httpx.get``; answer those two URLs from local files (there is no internet here).

    The content does not matter to those tests (they check that an image or a PDF can be
    sent), and it still goes through the chat model's own handling (the PDF rasterized page
    by page, a tool-result image relayed to a user turn).
    """
    real_get = httpx.get

    def get(url: Any, *args: Any, **kwargs: Any) -> httpx.Response:
        if str(url).startswith(_DOCS_IMAGE):
            return httpx.Response(200, content=_LOCAL_IMAGE.read_bytes())
        if str(url) == _DOCS_PDF:
            return httpx.Response(200, content=_LOCAL_PDF.read_bytes())
        return real_get(url, *args, **kwargs)

    monkeypatch.setattr(httpx, "get", get)

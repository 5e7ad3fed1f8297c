"""Input safety: URL inlining, decompression bombs, and where the tools may read and write.

* Image URLs in chat messages are inlined only from http(s) (a real local HTTP server
  plays the image host): other schemes and non-image ``data:`` URIs are refused before any
  request; downloads have a size cap (with and without ``Content-Length``) and a timeout;
  redirects are followed only to http(s); the image host never sees the API key.
* Images are never fully decoded when their header claims too many pixels: vision inputs
  are not decoded at all (sent as they are), OCR inputs, inpainting masks and init images
  are refused, and image results refuse ``to_pil()``.
* The image and OCR tools read only under their input directories and write only under
  their output directory, whatever path, name or symlink the model's arguments point at.

Unit-level checks exist too: ``test_media.py`` (redirects and size cap with a mock
transport), ``test_images_parse.py`` (bomb in a result), ``test_ocr_render.py``
(``max_input_pixels``), ``test_images_save.py`` (file names and symlinks at ``save``).
"""

from __future__ import annotations

import base64
import http.server
import io
import os
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from arli import (
    AiArtClient,
    ArliConnectionError,
    ArliResponseError,
    ArliStatusError,
    ArliTimeoutError,
    ArliValidationError,
    ImageClient,
    InternalServerError,
    NotFoundError,
    OCRSourceError,
)
from arli.media import ImageSourcePolicy
from arli.ocr import OCREngine
from arli.text.payload import ainline_images, inline_images
from tests.helpers import FIXTURES, send_body, serve_http, vision_messages
from tests.reference_server import Fault, ReferenceServer

KEY = "sk-arli-SAFETY-0123456789abcdef"
#: Message content may name the local image host: it is allowlisted (loopback is refused
#: by default; see test_untrusted_content.py).
LOCAL = ImageSourcePolicy(allowed_image_hosts=("127.0.0.1",))
MODEL = "Mistral-Nemo-12B-Instruct-2407"
CHAT = "/v1/chat/completions"
INIT = FIXTURES / "image_api" / "init_96x64.png"
MASK = FIXTURES / "image_api" / "mask_96x64.png"


def png(size: tuple[int, int] = (8, 8)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "red").save(buf, "PNG")
    return buf.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels (the pixel data is missing)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    header = struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat = zlib.compress(b"\x00" * 64)
    idat_chunk = b"IDAT" + idat
    return (
        b"\x89PNG\r\n\x1a\n"
        + header
        + struct.pack(">I", len(idat))
        + idat_chunk
        + struct.pack(">I", zlib.crc32(idat_chunk))
    )


# -- a local image host ------------------------------------------------------------------------

IMAGE = png()
BIG = IMAGE + bytes(5000)  # a PNG signature, and more than the 1000-byte cap used below


class ImageHost(http.server.BaseHTTPRequestHandler):
    """Routes: /img, /big (with Content-Length), /big-stream (without), /slow, /to/<where>,
    /down (503); anything else is a 404."""

    seen: list[dict[str, str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        path = self.path
        if path == "/img":
            self._send(IMAGE)
        elif path == "/big":
            self._send(BIG)
        elif path == "/big-stream":  # HTTP/1.0 without Content-Length: read until closed
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(BIG)
        elif path == "/slow":
            time.sleep(1.5)
            self._send(IMAGE)
        elif path == "/down":
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path.startswith("/to/"):
            targets = {
                "file": "file:///etc/passwd",
                "ftp": "ftp://example.com/cat.png",
                "data": "data:image/png;base64," + base64.b64encode(IMAGE).decode(),
                "http": "/img",
                "loop": "/to/loop",
            }
            self.send_response(302)
            self.send_header("Location", targets[path[4:]])
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def _send(self, data: bytes) -> None:
        send_body(self, data)


@pytest.fixture(scope="module")
def host() -> Iterator[str]:
    with serve_http(ImageHost) as url:
        yield url


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture
def srv(server: ReferenceServer) -> ReferenceServer:
    server.reset()
    ImageHost.seen = []
    return server


vision = vision_messages


def chat_arli(srv: ReferenceServer, **options: Any) -> Any:
    """A ChatArli that may fetch from the local image host (127.0.0.1, allowlisted)."""
    from langchain_arli import ChatArli

    options.setdefault("allowed_image_hosts", ["127.0.0.1"])
    return ChatArli(model=MODEL, api_key=KEY, base_url=srv.url, max_retries=0, **options)


def lc_message(url: str) -> list[Any]:
    from langchain_core.messages import HumanMessage

    return [
        HumanMessage(content=[{"type": "text", "text": "What?"}, {"type": "image", "url": url}])
    ]


# -- URL inlining ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "must be http:// or https://, not file://"),
        ("FILE:///etc/hosts", "must be http:// or https://"),
        ("ftp://example.com/cat.png", "must be http:// or https://, not ftp://"),
        ("gopher://example.com/cat.png", "must be http:// or https://"),
        ("data:text/plain;base64,aGVsbG8=", "must hold an image.*not text/plain"),
        ("data:text/html,<script>alert(1)</script>", "must hold an image.*not text/html"),
        ("data:,hello", "must hold an image.*untyped data"),
        ("data:application/pdf;base64,JVBERi0=", "not application/pdf"),
    ],
)
def test_only_http_urls_and_image_data_are_inlined(
    srv: ReferenceServer, url: str, message: str
) -> None:
    with pytest.raises(ArliValidationError, match=message):
        inline_images(vision(url))
    with pytest.raises(ArliValidationError, match=message):
        chat_arli(srv).invoke(lc_message(url))
    from llama_index.core.base.llms.types import ImageBlock, TextBlock
    from llama_index.core.llms import ChatMessage

    from llama_index_arli import Arli

    llm = Arli(model=MODEL, api_key=KEY, base_url=srv.url, discover_context_window=False)
    blocks = [TextBlock(text="What?"), ImageBlock(url=url)]
    with pytest.raises(ArliValidationError, match=message):
        llm.chat([ChatMessage(role="user", blocks=blocks)])
    assert srv.requests_for(CHAT) == []  # refused before any request


def test_an_http_image_is_inlined_without_the_api_key(srv: ReferenceServer, host: str) -> None:
    answer = chat_arli(srv).invoke(lc_message(f"{host}/img"))
    assert answer.content
    (request,) = srv.requests_for(CHAT)
    part = request.json["messages"][0]["content"][1]
    assert part["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(IMAGE).decode()
    (fetch,) = ImageHost.seen
    assert "authorization" not in fetch
    assert KEY not in str(fetch)
    assert fetch["user-agent"].startswith("arli-integrations/")


@pytest.mark.parametrize("path", ["/big", "/big-stream"])
def test_downloads_have_a_size_cap(srv: ReferenceServer, host: str, path: str) -> None:
    with pytest.raises(ArliValidationError, match="more than the 1000 byte limit"):
        inline_images(vision(host + path), max_bytes=1000, policy=LOCAL)
    with pytest.raises(ArliValidationError, match="more than the 1000 byte limit"):
        chat_arli(srv, image_max_bytes=1000).invoke(lc_message(host + path))
    assert srv.requests_for(CHAT) == []


@pytest.mark.timeout(10)
def test_downloads_have_a_timeout(srv: ReferenceServer, host: str) -> None:
    start = time.monotonic()
    with pytest.raises(ArliTimeoutError, match=r"could not download .*/slow: ReadTimeout") as info:
        chat_arli(srv, image_fetch_timeout=0.3).invoke(lc_message(f"{host}/slow"))
    assert time.monotonic() - start < 1.2
    assert info.value.phase == "read"
    assert srv.requests_for(CHAT) == []


async def test_a_failed_download_is_a_status_or_connection_error(
    srv: ReferenceServer, host: str
) -> None:
    """The image host's failure is reported as what it is, never as a bad value of ours."""
    with pytest.raises(InternalServerError, match=r"HTTP 503 \(GET .*/down\)") as down:
        chat_arli(srv).invoke(lc_message(f"{host}/down"))
    assert down.value.status_code == 503
    assert not isinstance(down.value, ArliValidationError)
    with pytest.raises(NotFoundError, match=r"HTTP 404 \(GET .*/missing\)"):
        await chat_arli(srv).ainvoke(lc_message(f"{host}/missing"))
    with pytest.raises(NotFoundError, match="HTTP 404"):
        inline_images(vision(f"{host}/missing"), policy=LOCAL)
    # The init image of an img2img request: the same classes, nothing sent.
    client = ImageClient(model="FLUX.2-klein-4B", api_key=KEY, base_url=srv.url, max_retries=0)
    with pytest.raises(InternalServerError, match="HTTP 503"):
        client.img2img(init_images=[f"{host}/down"], prompt="p")
    with pytest.raises(InternalServerError, match="HTTP 503"):
        await client.aimg2img(init_images=[f"{host}/down"], prompt="p")
    closed = "http://127.0.0.1:9/none.png"  # the discard port: nothing listens
    with pytest.raises(
        ArliConnectionError, match=r"could not download http://127\.0\.0\.1:9/"
    ) as gone:
        client.img2img(init_images=[closed], prompt="p")
    assert not isinstance(gone.value, ArliValidationError)
    assert srv.requests_for(CHAT) == []
    assert [r for r in srv.requests if "img2img" in r.path] == []


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("file", r"redirected to a non-http\(s\) URL \(file:/+etc/passwd\); refusing to follow"),
        ("ftp", r"redirected to a non-http\(s\) URL \(ftp://"),
        # httpx refuses to build the redirect itself: still our typed error, nothing fetched.
        ("data", r"could not download .*/to/data: InvalidURL"),
        ("loop", "redirected more than 5 times"),
    ],
)
async def test_redirects_only_to_http(
    srv: ReferenceServer, host: str, where: str, message: str
) -> None:
    with pytest.raises(ArliValidationError, match=message):
        inline_images(vision(f"{host}/to/{where}"), policy=LOCAL)
    with pytest.raises(ArliValidationError, match=message):
        await ainline_images(vision(f"{host}/to/{where}"), policy=LOCAL)
    with pytest.raises(ArliValidationError, match=message):
        await chat_arli(srv).ainvoke(lc_message(f"{host}/to/{where}"))
    assert srv.requests_for(CHAT) == []
    inlined = inline_images(
        vision(f"{host}/to/http"), policy=LOCAL
    )  # an http(s) redirect is followed
    assert inlined[0]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


# -- decompression bombs -----------------------------------------------------------------------


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if Pillow is asked to decode anything."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an image was decoded")

    monkeypatch.setattr(Image, "open", refuse)


def test_a_bomb_in_a_vision_input_is_refused_from_its_header(
    srv: ReferenceServer, host: str, no_decoding: None
) -> None:
    """A vision input whose header claims too many pixels is refused before sending (so it
    is never uploaded, nor retried after the server's 500), and nothing is decoded here."""
    from llama_index.core.base.llms.types import ImageBlock
    from llama_index.core.llms import ChatMessage

    from langchain_arli._convert import to_openai_messages as lc_to_openai
    from llama_index_arli import Arli
    from llama_index_arli._convert import to_openai_messages

    bomb = png_bomb(40_000, 40_000)  # 1.6 gigapixels in a few hundred bytes
    uri = "data:image/png;base64," + base64.b64encode(bomb).decode()
    refused = (
        r"40000x40000 = 1600000000 pixels, more than the 67108864 pixel limit.*image_max_pixels"
    )
    with pytest.raises(ArliValidationError, match=refused):
        chat_arli(srv).invoke(lc_message(uri))
    li = to_openai_messages([ChatMessage(role="user", blocks=[ImageBlock(image=bomb)])])
    with pytest.raises(ArliValidationError, match=refused):
        inline_images(li)
    llm = Arli(model=MODEL, api_key=KEY, base_url=srv.url, discover_context_window=False)
    with pytest.raises(ArliValidationError, match=refused):
        llm.chat([ChatMessage(role="user", blocks=[ImageBlock(image=bomb)])])
    with pytest.raises(ArliValidationError, match="pixel limit"):  # and fetched ones too
        inline_images(vision(f"{host}/img"), max_pixels=10, policy=LOCAL)
    assert srv.requests_for(CHAT) == []
    # The limit is an option; under it, the image is sent as it is (never decoded here).
    small = png_bomb(300, 200)
    small_uri = "data:image/png;base64," + base64.b64encode(small).decode()
    lc = chat_arli(srv, image_max_pixels=60_000)
    sent = lc._calls.messages(lc._options(), lc_to_openai(lc_message(small_uri)))
    assert sent[0]["content"][1]["image_url"]["url"] == small_uri
    with pytest.raises(ArliValidationError, match="60000 pixels, more than the 59999"):
        chat_arli(srv, image_max_pixels=59_999).invoke(lc_message(small_uri))


@pytest.mark.parametrize(
    ("size", "match"),
    [
        ((9_000, 9_000), "max_input_pixels"),  # our cap (64 M pixels) ...
        ((100_000, 100_000), "could not be read as an image"),  # ... and Pillow's own guard
    ],
)
def test_a_bomb_given_to_ocr_is_refused_before_decoding(
    srv: ReferenceServer, size: tuple[int, int], match: str
) -> None:
    engine = OCREngine(api_key=KEY, base_url=srv.url, model=MODEL)
    start = time.monotonic()
    with pytest.raises(OCRSourceError, match=match):
        engine.ocr(png_bomb(*size))
    assert time.monotonic() - start < 1.0
    assert srv.requests_for(CHAT) == []


async def test_a_bomb_as_mask_or_init_image_is_refused_before_any_request(
    srv: ReferenceServer,
) -> None:
    client = ImageClient(model="FLUX.2-klein-4B", api_key=KEY, base_url=srv.url, max_retries=2)
    bomb = png_bomb(100_000, 100_000)
    with pytest.raises(ArliValidationError, match=r"mask is 100000x100000 .*bomb guard"):
        client.img2img(init_images=INIT, mask=bomb, prompt="p")
    # Every upload is checked from its header before it is sent - without a mask too, and
    # for upscaling: 1.6 gigapixels in a few hundred bytes would be uploaded, answered with
    # a 500 and uploaded again on each retry.
    giga = png_bomb(40_000, 40_000)
    refused = r"is 40000x40000 = 1600000000 pixels, more than the 67108864 pixel limit"
    with pytest.raises(ArliValidationError, match=rf"init_images\[1\] {refused}.*max_pixels"):
        client.img2img(init_images=[INIT, giga], prompt="p")
    with pytest.raises(ArliValidationError, match=rf"init_images\[0\] {refused}"):
        await client.aimg2img(init_images=giga, prompt="p")
    with pytest.raises(ArliValidationError, match=rf"image {refused}"):
        client.upscale(image=giga)
    with pytest.raises(ArliValidationError, match=rf"image {refused}"):
        await client.aupscale(image=giga)
    assert [r for r in srv.requests if "img" in r.path or "upscale" in r.path] == []
    # AiArt's uploads (image edits, image to video) are checked the same way.
    aiart = AiArtClient(base_url=srv.url, max_retries=2)
    with pytest.raises(ArliValidationError, match=rf"{refused}.*max_pixels"):
        aiart.img2img(giga, "p")
    with pytest.raises(ArliValidationError, match=refused):
        await aiart.astart_img2video(giga)
    assert [r for r in srv.requests if r.path.startswith("/api/")] == []
    # The mask is resized to the init image's size, read from its header: that is checked too.
    with pytest.raises(ArliValidationError, match=r"init_images\[0\] is 100000x100000.*bomb"):
        client.img2img(init_images=bomb, mask=MASK, prompt="p")
    small_cap = ImageClient(
        model="FLUX.2-klein-4B", api_key=KEY, base_url=srv.url, max_pixels=5_000
    )
    with pytest.raises(ArliValidationError, match=r"init_images\[0\] is 96x64 = 6144 pixels"):
        small_cap.img2img(init_images=INIT, mask=MASK, prompt="p")
    assert [r for r in srv.requests if "img2img" in r.path] == []


def test_an_upload_the_server_refuses_for_size_is_not_sent_again(srv: ReferenceServer) -> None:
    # Within our pixel cap the server may still refuse an upload as too large (413): that
    # answer is final, the same bytes are not uploaded again on each retry.
    client = ImageClient(model="FLUX.2-klein-4B", api_key=KEY, base_url=srv.url, max_retries=3)
    srv.add_fault(Fault(path="/v1/img2img", kind="status", status=413, times=-1))
    with pytest.raises(ArliStatusError) as info:
        client.img2img(init_images=INIT, prompt="p")
    assert info.value.status_code == 413
    assert len(srv.requests_for("/v1/img2img")) == 1


def test_a_bomb_in_a_result_is_refused_at_to_pil(srv: ReferenceServer) -> None:
    import httpx

    bomb = png_bomb(100_000, 100_000)

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"images": [base64.b64encode(bomb).decode()]})

    http = httpx.Client(transport=httpx.MockTransport(answer))
    result = ImageClient(
        model="FLUX.2-klein-4B", api_key=KEY, base_url="http://sd.test", http_client=http
    ).txt2img(prompt="p")
    assert (result.image.width, result.image.height) == (100_000, 100_000)  # from the header
    assert result.data == bomb  # kept as bytes, never decoded
    with pytest.raises(ArliResponseError, match="decompression-bomb guard"):
        result.to_pil()


# -- the tools read and write only where they may ------------------------------------------------


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


EVIL_PATHS = [
    "../../etc/passwd",
    "/etc/passwd",
    "file:///etc/passwd",
    "~/.ssh/id_rsa",
    "..\\..\\windows\\win.ini",
    "outside.png",  # exists, but outside the input directory
    "link.png",  # a symlink in the input directory pointing outside it
]


@pytest.fixture
def sandbox(tmp_path: Path) -> dict[str, Path]:
    inputs = tmp_path / "in"
    out = tmp_path / "out"
    inputs.mkdir()
    (tmp_path / "outside.png").write_bytes(INIT.read_bytes())
    (inputs / "ok.png").write_bytes(INIT.read_bytes())
    if hasattr(os, "symlink"):
        (inputs / "link.png").symlink_to(tmp_path / "outside.png")
    return {"root": tmp_path, "in": inputs, "out": out}


def test_image_tools_write_only_under_output_dir(
    srv: ReferenceServer, sandbox: dict[str, Path]
) -> None:
    from langchain_arli import ArliImageEditTool, ArliImageGenerationTool

    root, out = sandbox["root"], sandbox["out"]
    before = files_under(root)
    common: dict[str, Any] = {
        "api_key": KEY,
        "base_url": srv.url,
        "output_dir": out,
        "input_dirs": [sandbox["in"]],
    }
    generate = ArliImageGenerationTool(model="FLUX.2-klein-4B", **common, params={"steps": 1})
    edit = ArliImageEditTool(model="FLUX.2-klein-4B", **common)
    # Arguments a confused or hostile model may choose: none of them is a place to write.
    for args in (
        {"prompt": "../../../etc/cron.d/x", "negative_prompt": "/etc/passwd", "seed": 7},
        {"prompt": "x", "model": "../../../../tmp/evil", "seed": 8},
        {"prompt": "x", "width": 64, "height": 64, "seed": 2**31},
    ):
        generate.invoke(args)
    for ref in EVIL_PATHS:
        text = edit.invoke({"image": ref, "prompt": "p"})
        assert "is outside the directories" in text or "no image file at" in text, (ref, text)
    edit.invoke({"image": "ok.png", "prompt": "p", "mask": "../outside.png"})
    edit.invoke({"image": "ok.png", "prompt": "p"})
    new = files_under(root) - before
    assert new, "nothing was written: the test would be vacuous"
    assert all(p.parent == out.resolve() or p.parent == out for p in new), new
    assert (root / "outside.png").read_bytes() == INIT.read_bytes()


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_a_symlink_in_output_dir_is_never_written_through(
    srv: ReferenceServer, sandbox: dict[str, Path]
) -> None:
    from llama_index_arli import ArliImageToolSpec

    root, out = sandbox["root"], sandbox["out"]
    spec = ArliImageToolSpec(
        model="FLUX.2-klein-4B", api_key=KEY, base_url=srv.url, output_dir=out, max_retries=0
    )
    first = spec.generate_image(prompt="a fox", width=64, height=64, seed=11)
    (saved,) = first.paths
    precious = root / "precious.txt"
    precious.write_bytes(b"precious")
    saved.unlink()
    saved.symlink_to(precious)  # the next identical image would get this very name
    second = spec.generate_image(prompt="a fox", width=64, height=64, seed=11)
    (again,) = second.paths
    assert again != saved
    assert again.parent == saved.parent
    assert not again.is_symlink()
    assert precious.read_bytes() == b"precious"


def test_ocr_tool_reads_only_under_input_dirs(srv: ReferenceServer, sandbox: dict[str, Path]):
    from langchain_arli import ArliOCRTool

    tool = ArliOCRTool(
        api_key=KEY, base_url=srv.url, model=MODEL, input_dirs=[sandbox["in"]], allow_urls=False
    )
    for ref in EVIL_PATHS:
        text = tool.invoke({"source": ref})
        assert "is outside the directories" in text or "no file at" in text, (ref, text)
    assert srv.requests_for(CHAT) == []
    assert "An image of 96x64 pixels." in tool.invoke({"source": "ok.png"})

"""Image inputs of every kind, format sniffing, and safe URL downloads."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import httpx
import pytest
from PIL import Image

from arli import (
    ArliConnectionError,
    ArliStatusError,
    ArliTimeoutError,
    ArliValidationError,
    AuthenticationError,
    InternalServerError,
    NotFoundError,
)
from arli.media import (
    ImageData,
    afetch_url,
    aload_image,
    fetch_url,
    load_image,
    parse_data_uri,
    sniff_mime,
)


def png_bytes(size: tuple[int, int] = (4, 3), fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("PNG", "image/png"),
        ("JPEG", "image/jpeg"),
        ("GIF", "image/gif"),
        ("WEBP", "image/webp"),
        ("BMP", "image/bmp"),
        ("TIFF", "image/tiff"),
    ],
)
def test_sniff_every_supported_format(fmt: str, mime: str) -> None:
    data = png_bytes(fmt=fmt)
    assert sniff_mime(data) == mime
    loaded = load_image(data)
    assert loaded.mime_type == mime
    assert loaded.data_uri().startswith(f"data:{mime};base64,")
    assert base64.b64decode(loaded.b64()) == data


def test_sources_path_str_file_datauri_b64_pil(tmp_path: Path) -> None:
    data = png_bytes()
    path = tmp_path / "a picture.bin"  # the name says nothing: the bytes decide
    path.write_bytes(data)
    uri = "data:image/png;base64," + base64.b64encode(data).decode()
    long_b64 = base64.b64encode(png_bytes((64, 64))).decode()
    with path.open("rb") as fh:
        from_file = load_image(fh)
    sources = [data, path, str(path), uri, ImageData(data, "image/png")]
    for src in sources:
        img = load_image(src)
        assert img.data == data
        assert img.mime_type == "image/png"
    assert from_file.data == data
    assert "a picture.bin" in from_file.source
    assert load_image(long_b64).mime_type == "image/png"
    pil = load_image(Image.new("RGB", (5, 5)))
    assert pil.mime_type == "image/png"
    assert Image.open(io.BytesIO(pil.data)).size == (5, 5)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (b"", "empty"),
        (b"%PDF-1.7 ...", "a PDF"),
        (b"hello world, not an image", "not a recognized image"),
        ("/no/such/file.png", "no image file"),
        ("ftp://example.com/a.png", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("data:image/png,notbase64", "data:image/png;base64"),
        (12345, "cannot use int"),
    ],
)
def test_bad_sources_say_what_is_wrong(source: object, message: str) -> None:
    with pytest.raises(ArliValidationError, match=message):
        load_image(source)


def test_size_cap(tmp_path: Path) -> None:
    data = png_bytes((64, 64))
    with pytest.raises(ArliValidationError, match="byte limit"):
        load_image(data, max_bytes=10)
    path = tmp_path / "big.png"
    path.write_bytes(data)
    with pytest.raises(ArliValidationError, match="byte limit"):
        load_image(path, max_bytes=10)


def test_text_mode_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("abc")
    with path.open() as fh, pytest.raises(ArliValidationError, match="'rb'"):
        load_image(fh)


def test_parse_data_uri_rejects_non_images() -> None:
    uri = "data:image/png;base64," + base64.b64encode(b"plain text").decode()
    with pytest.raises(ArliValidationError, match="declared image/png"):
        parse_data_uri(uri)


# -- downloads (a mock transport stands in for the remote host) -------------------------------


def _remote(routes: dict[str, httpx.Response]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        assert "authorization" not in request.headers  # never our API key
        return routes.get(str(request.url), httpx.Response(404))

    return httpx.MockTransport(handler)


def test_url_download_follows_http_redirects_only() -> None:
    data = png_bytes()
    transport = _remote(
        {
            "https://img.example/a": httpx.Response(302, headers={"location": "/b"}),
            "https://img.example/b": httpx.Response(200, content=data),
            "https://img.example/evil": httpx.Response(
                301, headers={"location": "file:///etc/passwd"}
            ),
            "https://img.example/loop": httpx.Response(302, headers={"location": "/loop"}),
        }
    )
    with httpx.Client(transport=transport) as client:
        img = load_image("https://img.example/a", http_client=client)
        assert img.data == data
        assert "URL https://img.example/a" in img.source
        with pytest.raises(ArliValidationError, match="non-http"):
            load_image("https://img.example/evil", http_client=client)
        with pytest.raises(ArliValidationError, match="redirected more than"):
            load_image("https://img.example/loop", http_client=client)
        with pytest.raises(NotFoundError, match=r"HTTP 404 \(GET https://img.example/missing\)"):
            load_image("https://img.example/missing", http_client=client)
        with pytest.raises(ArliValidationError, match="not allowed"):
            load_image("https://img.example/a", allow_urls=False)


def test_url_download_size_cap_streams() -> None:
    big = png_bytes((256, 256))
    transport = _remote({"http://h/big": httpx.Response(200, content=big)})
    with httpx.Client(transport=transport) as client:
        with pytest.raises(ArliValidationError, match="byte limit"):
            fetch_url("http://h/big", max_bytes=100, http_client=client)
        assert fetch_url("http://h/big", http_client=client)[0] == big


def test_url_network_error_names_the_url() -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with (
        httpx.Client(transport=httpx.MockTransport(boom)) as client,
        pytest.raises(ArliConnectionError, match="could not download http://h/x") as info,
    ):
        fetch_url("http://h/x", http_client=client)
    assert not isinstance(info.value, (ArliValidationError, ArliTimeoutError))
    assert (info.value.method, info.value.url) == ("GET", "http://h/x")


@pytest.mark.parametrize(
    ("status", "cls"),
    [(500, InternalServerError), (503, InternalServerError), (404, NotFoundError)],
)
async def test_a_download_error_status_is_the_status_error(
    status: int, cls: type[ArliStatusError]
) -> None:
    def host() -> httpx.MockTransport:
        return _remote({"http://h/x": httpx.Response(status, headers={"x-request-id": "r1"})})

    with httpx.Client(transport=host()) as client, pytest.raises(cls) as info:
        fetch_url("http://h/x", http_client=client)
    assert (info.value.status_code, info.value.request_id) == (status, "r1")
    assert not isinstance(info.value, ArliValidationError)
    async with httpx.AsyncClient(transport=host()) as aclient:
        with pytest.raises(cls, match=rf"HTTP {status} \(GET http://h/x\): the download failed"):
            await afetch_url("http://h/x", http_client=aclient)


def test_a_401_from_an_image_host_gives_no_api_key_advice() -> None:
    # No key is ever sent to an image host: "check the API key" would mislead.
    transport = _remote({"http://h/x": httpx.Response(401)})
    with httpx.Client(transport=transport) as client, pytest.raises(ArliStatusError) as info:
        fetch_url("http://h/x", http_client=client)
    assert info.value.status_code == 401
    assert not isinstance(info.value, AuthenticationError)
    assert "API key" not in str(info.value)


@pytest.mark.parametrize(
    ("exc", "phase"),
    [(httpx.ReadTimeout, "read"), (httpx.ConnectTimeout, "connect"), (httpx.PoolTimeout, "pool")],
)
async def test_a_download_timeout_is_a_timeout_error(
    exc: type[httpx.TimeoutException], phase: str
) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise exc("timed out", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as client:
        with pytest.raises(ArliTimeoutError, match="could not download http://h/x") as info:
            await aload_image("http://h/x", http_client=client)
    assert info.value.phase == phase


async def test_async_download_and_load() -> None:
    data = png_bytes()
    transport = _remote(
        {
            "https://img.example/a": httpx.Response(
                307, headers={"location": "https://img.example/b"}
            ),
            "https://img.example/b": httpx.Response(200, content=data),
        }
    )
    async with httpx.AsyncClient(transport=transport) as client:
        img = await aload_image("https://img.example/a", http_client=client)
        assert img.data == data
        content, _ = await afetch_url("https://img.example/b", http_client=client)
        assert content == data
    assert (await aload_image(data)).mime_type == "image/png"

"""Message content is untrusted: what an image named in a chat message may make us fetch or read.

Arli's vision models take base64 only, so image URLs in messages are downloaded by our
process. By default only ``data:``/base64 and public http(s) URLs are accepted: loopback,
private, link-local and other non-public addresses (in every spelling, after the name is
resolved, and on every redirect) are refused, and local paths are read only with
``allow_local_files=True``; ``allowed_image_hosts`` names the hosts that may be fetched,
private ones included. A real image host on 127.0.0.1 shows that a refused URL was never
fetched; "public" names come from a replaced resolver and a mock transport (no network).
"""

from __future__ import annotations

import base64
import http.server
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from arli import ArliConnectionError, ArliValidationError, TextClient
from arli import _fetch as fetch
from arli.media import ImageSourcePolicy, load_image
from arli.text.calls import CallOptions, TextCalls
from arli.text.payload import ainline_images, inline_images
from tests.helpers import send_body, serve_http, vision_messages
from tests.reference_server import ReferenceServer

KEY = "sk-arli-UNTRUSTED-0123456789abcdef"
MODEL = "Mistral-Nemo-12B-Instruct-2407"
CHAT = "/v1/chat/completions"


def png(size: tuple[int, int] = (6, 4)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "blue").save(buf, "PNG")
    return buf.getvalue()


IMAGE = png()
IMAGE_URI = "data:image/png;base64," + base64.b64encode(IMAGE).decode()


class Host(http.server.BaseHTTPRequestHandler):
    """/img: an image; /to?<url>: a redirect there. Every request is recorded."""

    seen: list[str] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        if self.path.startswith("/to?"):
            self.send_response(302)
            self.send_header("Location", self.path[4:])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        send_body(self, IMAGE)


@pytest.fixture(scope="module")
def host_url() -> Iterator[str]:
    with serve_http(Host) as url:
        yield url


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture
def srv(server: ReferenceServer) -> ReferenceServer:
    server.reset()
    Host.seen = []
    return server


@pytest.fixture
def port(host_url: str) -> int:
    return int(host_url.rsplit(":", 1)[1])


vision = vision_messages


def chat_arli(srv: ReferenceServer, **options: Any) -> Any:
    from langchain_arli import ChatArli

    return ChatArli(model=MODEL, api_key=KEY, base_url=srv.url, max_retries=0, **options)


def li_arli(srv: ReferenceServer, **options: Any) -> Any:
    from llama_index_arli import Arli

    return Arli(
        model=MODEL, api_key=KEY, base_url=srv.url, discover_context_window=False, **options
    )


def lc_message(url: str) -> list[Any]:
    from langchain_core.messages import HumanMessage

    return [
        HumanMessage(content=[{"type": "text", "text": "What?"}, {"type": "image", "url": url}])
    ]


def li_message(**image: Any) -> list[Any]:
    from llama_index.core.base.llms.types import ImageBlock, TextBlock
    from llama_index.core.llms import ChatMessage

    return [ChatMessage(role="user", blocks=[TextBlock(text="What?"), ImageBlock(**image)])]


def sent_image(srv: ReferenceServer) -> str:
    (request,) = srv.requests_for(CHAT)
    return str(request.json["messages"][0]["content"][1]["image_url"]["url"])


# -- non-public addresses, in every spelling ---------------------------------------------------


NON_PUBLIC = [
    ("127.0.0.1:{port}", r"127\.0\.0\.1 is a loopback address"),
    ("localhost:{port}", r"localhost resolves to (127\.0\.0\.1|::1), a loopback address"),
    ("[::1]:{port}", "::1 is a loopback address"),
    ("[::ffff:127.0.0.1]:{port}", r" is an IPv6 form of 127\.0\.0\.1 \(a loopback address\)"),
    ("0x7f.1:{port}", r"0x7f\.1 is 127\.0\.0\.1, a loopback address"),
    ("2130706433:{port}", r"2130706433 is 127\.0\.0\.1, a loopback address"),
    ("127.1:{port}", r"127\.1 is 127\.0\.0\.1, a loopback"),
    ("10.0.0.7", " is a private address"),
    ("172.16.5.4", " is a private address"),
    ("192.168.1.20", " is a private address"),
    ("169.254.169.254", " is a link-local address"),  # the cloud metadata service
    ("100.64.0.1", r" is a shared \(carrier-grade NAT\) address"),
    ("224.0.0.251", " is a multicast address"),
    ("240.0.0.1", " is a reserved address"),
    ("0.0.0.0:{port}", " is an unspecified address"),
    ("[fc00::1]", " is a private address"),  # unique-local IPv6
    ("[fe80::1]", " is a link-local address"),
    ("[2002:7f00:1::1]:{port}", r" is an IPv6 form of 127\.0\.0\.1 \(a loopback"),  # 6to4
    ("[64:ff9b::a00:7]", r" is an IPv6 form of 10\.0\.0\.7 \(a private address\)"),  # NAT64
]


@pytest.mark.parametrize(("netloc", "why"), NON_PUBLIC)
async def test_non_public_addresses_are_refused_everywhere(
    srv: ReferenceServer, port: int, netloc: str, why: str
) -> None:
    url = f"http://{netloc.format(port=port)}/img"
    shown = url.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")
    pattern = rf"image URL {shown} in a message is refused: \S*{why}.*allowed_image_hosts"
    with pytest.raises(ArliValidationError, match=pattern) as info:
        inline_images(vision(url))
    assert info.value.field == "image"
    with pytest.raises(ArliValidationError, match=pattern):
        await ainline_images(vision(url))
    # The skins' URL types may normalize the spelling (pydantic: 0x7f.1 -> 127.0.0.1).
    pattern = r"in a message is refused: .*(loopback|private|link-local|multicast|reserved|"
    pattern += r"unspecified|NAT).*allowed_image_hosts"
    with pytest.raises(ArliValidationError, match=pattern):
        chat_arli(srv).invoke(lc_message(url))
    with pytest.raises(ArliValidationError, match=pattern):
        await chat_arli(srv).ainvoke(lc_message(url))
    with pytest.raises(ArliValidationError, match=pattern):
        li_arli(srv).chat(li_message(url=url))
    assert Host.seen == []  # the local image host was never asked
    assert srv.requests_for(CHAT) == []  # nor was anything sent to the model


def test_a_name_is_checked_after_it_is_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = {"intranet.example": ["10.1.2.3"], "mixed.example": ["93.184.216.34", "::1"]}
    monkeypatch.setattr(fetch, "resolve_host", lambda host, port: answers[host])
    with pytest.raises(ArliValidationError, match=r"intranet\.example resolves to 10\.1\.2\.3"):
        inline_images(vision("https://intranet.example/cat.png"))
    # One non-public address among the answers is enough to refuse (no "pick a good one").
    with pytest.raises(ArliValidationError, match=r"mixed\.example resolves to ::1, a loopback"):
        inline_images(vision("http://mixed.example/cat.png"))


def test_a_name_that_does_not_resolve_is_a_connection_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def nxdomain(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    monkeypatch.setattr(fetch, "resolve_host", nxdomain)
    with pytest.raises(ArliConnectionError, match=r"nowhere\.example does not resolve"):
        inline_images(vision("http://nowhere.example/cat.png"))


def test_credentials_in_a_refused_url_are_not_repeated() -> None:
    with pytest.raises(ArliValidationError) as info:
        inline_images(vision("http://admin:hunter2@10.0.0.7/cat.png"))
    assert "hunter2" not in str(info.value)
    assert "http://10.0.0.7/cat.png" in str(info.value)


# -- public hosts: connected to at the address that was checked --------------------------------


def _public_host(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[list[str]]]) -> list[str]:
    """Replace name resolution: each call for a host takes its next answer; returns the log."""
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[host].pop(0)

    monkeypatch.setattr(fetch, "resolve_host", resolve)
    return calls


def test_a_public_host_is_fetched_at_the_checked_address(monkeypatch: pytest.MonkeyPatch) -> None:
    # A second lookup would answer 127.0.0.1 (DNS rebinding): there is no second lookup.
    calls = _public_host(monkeypatch, {"img.example": [["93.184.216.34"], ["127.0.0.1"]]})
    requests: list[httpx.Request] = []

    def remote(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, content=IMAGE)

    policy = ImageSourcePolicy()
    with httpx.Client(transport=httpx.MockTransport(remote)) as client:
        image = load_image("https://img.example/cat.png", policy=policy, http_client=client)
    assert image.data == IMAGE
    assert calls == ["img.example"]
    (request,) = requests
    assert str(request.url) == "https://93.184.216.34/cat.png"  # the checked address
    assert request.headers["host"] == "img.example"  # the host's name for the server ...
    assert request.extensions["sni_hostname"] == "img.example"  # ... and for TLS


def test_every_redirect_is_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    _public_host(
        monkeypatch,
        {"cdn.example": [["93.184.216.34"]] * 4, "inner.example": [["10.9.8.7"]]},
    )
    requests: list[str] = []

    def remote(request: httpx.Request) -> httpx.Response:
        requests.append(str(request.url))
        targets = {
            "/hop": "https://cdn.example/final.png",
            "/inside": "http://inner.example/secret",
            "/meta": "http://169.254.169.254/latest/meta-data/",
        }
        if request.url.path in targets:
            return httpx.Response(302, headers={"location": targets[request.url.path]})
        return httpx.Response(200, content=IMAGE)

    policy = ImageSourcePolicy()
    with httpx.Client(transport=httpx.MockTransport(remote)) as client:
        # a redirect to the same public host is checked (looked up) and followed
        assert load_image("https://cdn.example/hop", policy=policy, http_client=client)
        with pytest.raises(ArliValidationError, match=r"inner\.example resolves to 10\.9\.8\.7"):
            load_image("https://cdn.example/inside", policy=policy, http_client=client)
        with pytest.raises(ArliValidationError, match=r"169\.254\.169\.254.*link-local"):
            load_image("https://cdn.example/meta", policy=policy, http_client=client)
    # The refused targets were never requested.
    assert requests == [
        "https://93.184.216.34/hop",
        "https://93.184.216.34/final.png",
        "https://93.184.216.34/inside",
        "https://93.184.216.34/meta",
    ]


def test_a_redirect_from_an_allowed_host_to_a_private_one_is_refused(
    srv: ReferenceServer, host_url: str, port: int
) -> None:
    allowed = ["127.0.0.1"]
    for target in ("http://169.254.169.254/latest/meta-data/", f"http://localhost:{port}/img"):
        url = f"{host_url}/to?{target}"
        with pytest.raises(ArliValidationError, match="not in allowed_image_hosts"):
            chat_arli(srv, allowed_image_hosts=allowed).invoke(lc_message(url))
    # With "*" public hosts are allowed too, but a private target still is not.
    with pytest.raises(ArliValidationError, match=r"169\.254\.169\.254 is a link-local address"):
        inline_images(
            vision(f"{host_url}/to?http://169.254.169.254/"),
            policy=ImageSourcePolicy.of(allowed_image_hosts=["*", "127.0.0.1"]),
        )
    assert Host.seen == ["/to?" + t for t in ("http://169.254.169.254/latest/meta-data/",)] + [
        f"/to?http://localhost:{port}/img",
        "/to?http://169.254.169.254/",
    ]
    assert srv.requests_for(CHAT) == []


# -- the allowlist -----------------------------------------------------------------------------


def test_an_allowlisted_private_host_is_fetched(srv: ReferenceServer, host_url: str) -> None:
    answer = chat_arli(srv, allowed_image_hosts=["127.0.0.1"]).invoke(lc_message(f"{host_url}/img"))
    assert answer.content
    assert sent_image(srv) == IMAGE_URI
    srv.reset()
    li_arli(srv, allowed_image_hosts=["127.0.0.1"]).chat(li_message(url=f"{host_url}/img"))
    assert sent_image(srv) == IMAGE_URI
    srv.reset()
    # The core text client takes the same option (the skins only pass theirs).
    client = TextClient(api_key=KEY, base_url=srv.url, allowed_image_hosts=["127.0.0.1"])
    inlined = TextCalls(client).messages(CallOptions(model=MODEL), vision(f"{host_url}/img"))
    assert inlined[0]["content"][1]["image_url"]["url"] == IMAGE_URI
    assert Host.seen == ["/img", "/img", "/img"]


def test_an_allowlist_is_the_only_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _public_host(monkeypatch, {"img.example": [["93.184.216.34"]]})
    only_ours = ImageSourcePolicy.of(allowed_image_hosts=["images.internal", "*.corp.example"])
    with pytest.raises(ArliValidationError, match=r"img\.example is not in allowed_image_hosts"):
        load_image("https://img.example/cat.png", policy=only_ours)
    assert calls == []  # refused before any lookup
    assert only_ours.names("images.internal")
    assert only_ours.names("a.b.corp.example")
    assert not only_ours.names("corp.example.evil")
    assert not only_ours.names("xcorp.example")


@pytest.mark.parametrize(
    ("hosts", "match"),
    [
        # one string: refused by the constructor's argument check (a sequence of names)
        ("127.0.0.1", "allowed_image_hosts='127.0.0.1' is invalid"),
        (["http://127.0.0.1/"], "give host names, not URLs"),
        ([""], "give host names"),
    ],
)
def test_a_malformed_allowlist_is_refused_at_construction(hosts: Any, match: str) -> None:
    with pytest.raises(ArliValidationError, match=match):
        TextClient(api_key=KEY, base_url="http://127.0.0.1:9", allowed_image_hosts=hosts)


# -- local files -------------------------------------------------------------------------------


def test_a_local_path_is_read_only_with_the_opt_in(srv: ReferenceServer, tmp_path: Path) -> None:
    path = tmp_path / "holiday.png"
    path.write_bytes(IMAGE)
    refused = r"holiday\.png' in a message .* allow_local_files=True"
    with pytest.raises(ArliValidationError, match=refused):
        chat_arli(srv).invoke(lc_message(str(path)))
    with pytest.raises(ArliValidationError, match=refused):
        li_arli(srv).chat(li_message(path=path))
    with pytest.raises(ArliValidationError, match=refused):
        inline_images(vision(str(path)))
    client = TextClient(api_key=KEY, base_url=srv.url)
    with pytest.raises(ArliValidationError, match=refused):
        TextCalls(client).messages(CallOptions(model=MODEL), vision(str(path)))
    assert srv.requests_for(CHAT) == []
    # The same answer whether the file exists or not: a refusal tells nothing about the disk.
    with pytest.raises(ArliValidationError, match=r"nothing-here\.png' in a message .* allow_"):
        inline_images(vision(str(tmp_path / "nothing-here.png")))

    chat_arli(srv, allow_local_files=True).invoke(lc_message(str(path)))
    assert sent_image(srv) == IMAGE_URI
    srv.reset()
    li_arli(srv, allow_local_files=True).chat(li_message(path=path))
    assert sent_image(srv) == IMAGE_URI
    trusting = TextClient(api_key=KEY, base_url=srv.url, allow_local_files=True)
    inlined = TextCalls(trusting).messages(CallOptions(model=MODEL), vision(str(path)))
    assert inlined[0]["content"][1]["image_url"]["url"] == IMAGE_URI


def test_data_and_base64_need_no_opt_in(srv: ReferenceServer) -> None:
    b64 = base64.b64encode(IMAGE).decode()
    assert inline_images(vision(IMAGE_URI))[0]["content"][1]["image_url"]["url"] == IMAGE_URI
    assert inline_images(vision(b64))[0]["content"][1]["image_url"]["url"] == IMAGE_URI
    from langchain_core.messages import HumanMessage

    block = {"type": "image", "base64": b64, "mime_type": "image/png"}
    chat_arli(srv).invoke([HumanMessage(content=[{"type": "text", "text": "?"}, block])])
    assert sent_image(srv) == IMAGE_URI


def test_explicit_arguments_keep_their_rules(host_url: str, tmp_path: Path) -> None:
    """A programmer's own argument (no policy) may name a local file or a local host."""
    path = tmp_path / "mine.png"
    path.write_bytes(IMAGE)
    assert load_image(str(path)).data == IMAGE
    assert load_image(f"{host_url}/img").data == IMAGE


# -- the other ways an image enters a request: tool results, PDF pages ------------------------

PDF = Path(__file__).parents[1] / "fixtures" / "pdf" / "dummy.pdf"


def lc_tool_turn(image_block: dict[str, Any]) -> list[Any]:
    """A conversation whose last tool result holds an image (relayed to a user turn)."""
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    call = {"name": "draw", "args": {}, "id": "call_1", "type": "tool_call"}
    result = ToolMessage(
        content=[{"type": "text", "text": "done"}, image_block], tool_call_id="call_1"
    )
    return [HumanMessage("draw a fox"), AIMessage("", tool_calls=[call]), result]  # type: ignore[list-item]


def li_tool_turn(**image: Any) -> list[Any]:
    from llama_index.core.base.llms.types import ImageBlock, TextBlock, ToolCallBlock
    from llama_index.core.llms import ChatMessage

    call = ToolCallBlock(tool_call_id="c1", tool_name="draw", tool_kwargs={})
    return [
        ChatMessage(role="user", content="draw a fox"),
        ChatMessage(role="assistant", blocks=[call]),
        ChatMessage(
            role="tool",
            blocks=[TextBlock(text="done"), ImageBlock(**image)],
            additional_kwargs={"tool_call_id": "c1", "name": "draw"},
        ),
    ]


def relayed_image(srv: ReferenceServer) -> str:
    """The image of the user turn the tool result's image was moved to."""
    (request,) = srv.requests_for(CHAT)
    last = request.json["messages"][-1]
    assert last["role"] == "user"
    return str(last["content"][1]["image_url"]["url"])


def test_images_in_tool_results_meet_the_same_rules(
    srv: ReferenceServer, port: int, tmp_path: Path
) -> None:
    """A tool result is message content too: its image moves to a user turn, and is checked."""
    url = f"http://127.0.0.1:{port}/img"
    loopback = r"127\.0\.0\.1 is a loopback address.*allowed_image_hosts"
    with pytest.raises(ArliValidationError, match=loopback):
        chat_arli(srv).invoke(lc_tool_turn({"type": "image", "url": url}))
    with pytest.raises(ArliValidationError, match=loopback):
        li_arli(srv).chat(li_tool_turn(url=url))
    path = tmp_path / "fox.png"
    path.write_bytes(IMAGE)
    local = r"fox\.png' in a message .* allow_local_files=True"
    with pytest.raises(ArliValidationError, match=local):
        chat_arli(srv).invoke(lc_tool_turn({"type": "image", "url": str(path)}))
    with pytest.raises(ArliValidationError, match=local):
        li_arli(srv).chat(li_tool_turn(path=path))
    assert Host.seen == []
    assert srv.requests_for(CHAT) == []

    chat_arli(srv, allow_local_files=True).invoke(lc_tool_turn({"type": "image", "url": str(path)}))
    assert relayed_image(srv) == IMAGE_URI
    srv.reset()
    li_arli(srv, allow_local_files=True).chat(li_tool_turn(path=path))
    assert relayed_image(srv) == IMAGE_URI


def test_a_tool_result_image_over_the_pixel_cap_is_not_sent(srv: ReferenceServer) -> None:
    data = base64.b64encode(png((300, 200))).decode()
    block = {"type": "image", "base64": data, "mime_type": "image/png"}
    too_many = "60000 pixels, more than the 59999 pixel limit.*image_max_pixels"
    with pytest.raises(ArliValidationError, match=too_many):
        chat_arli(srv, image_max_pixels=59_999).invoke(lc_tool_turn(block))
    with pytest.raises(ArliValidationError, match=too_many):
        li_arli(srv, image_max_pixels=59_999).chat(li_tool_turn(image=png((300, 200))))
    assert srv.requests_for(CHAT) == []
    chat_arli(srv, image_max_pixels=60_000).invoke(lc_tool_turn(block))
    assert relayed_image(srv).endswith(data)


def pdf_messages() -> tuple[list[Any], list[Any]]:
    """A user turn asking to summarize the test PDF: as LangChain and as LlamaIndex messages."""
    from langchain_core.messages import HumanMessage
    from llama_index.core.base.llms.types import DocumentBlock, TextBlock
    from llama_index.core.llms import ChatMessage

    pdf = PDF.read_bytes()
    block = {
        "type": "file",
        "base64": base64.b64encode(pdf).decode(),
        "mime_type": "application/pdf",
    }
    lc = [HumanMessage(content=[{"type": "text", "text": "Summarize"}, block])]  # type: ignore[list-item]
    li = [ChatMessage(role="user", blocks=[TextBlock(text="Summarize"), DocumentBlock(data=pdf)])]
    return lc, li


def test_pdf_pages_are_held_to_the_pixel_cap(srv: ReferenceServer) -> None:
    """Each rendered page is an image sent to the model: ``image_max_pixels`` applies."""
    pytest.importorskip("pypdfium2")

    lc, li = pdf_messages()
    too_many = r"pixels, more than the 1000 pixel limit.*image_max_pixels"
    with pytest.raises(ArliValidationError, match=too_many):
        chat_arli(srv, image_max_pixels=1000).invoke(lc)
    with pytest.raises(ArliValidationError, match=too_many):
        li_arli(srv, image_max_pixels=1000).chat(li)
    assert srv.requests_for(CHAT) == []
    chat_arli(srv).invoke(lc)
    assert sent_image(srv).startswith("data:image/")


@pytest.mark.parametrize("where", ["url", "path"])
def test_a_pdf_named_by_url_or_path_is_not_read(
    srv: ReferenceServer, port: int, tmp_path: Path, where: str
) -> None:
    from langchain_core.messages import HumanMessage

    (tmp_path / "secret.pdf").write_bytes(PDF.read_bytes())
    source = f"http://127.0.0.1:{port}/img" if where == "url" else str(tmp_path / "secret.pdf")
    block = {"type": "file", where: source, "mime_type": "application/pdf"}
    with pytest.raises(ArliValidationError, match="a PDF block must carry its bytes as base64"):
        chat_arli(srv, allow_local_files=True).invoke([HumanMessage(content=[block])])  # type: ignore[list-item]
    assert Host.seen == []
    assert srv.requests_for(CHAT) == []


def test_an_async_call_renders_its_pdf_off_the_event_loop(
    srv: ReferenceServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rasterizing takes CPU time: ``ainvoke``/``achat`` do it on a worker thread, and the
    pages still reach the server; a sync call renders on its own thread."""
    pytest.importorskip("pypdfium2")
    import asyncio
    import threading

    from arli.text import attachments

    rendered_on: list[int] = []
    real = attachments.pdf_image_parts

    def recording(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        rendered_on.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(attachments, "pdf_image_parts", recording)
    lc, li = pdf_messages()

    async def calls() -> int:
        loop_thread = threading.get_ident()
        await chat_arli(srv).ainvoke(lc)
        await li_arli(srv).achat(li)
        return loop_thread

    loop_thread = asyncio.run(calls())
    assert len(rendered_on) == 2
    assert loop_thread not in rendered_on
    for request in srv.requests_for(CHAT):
        parts = request.json["messages"][-1]["content"]
        assert [p["type"] for p in parts] == ["text", "image_url"]
        assert parts[1]["image_url"]["url"].startswith("data:image/")
    chat_arli(srv).invoke(lc)
    assert rendered_on[-1] == threading.get_ident()

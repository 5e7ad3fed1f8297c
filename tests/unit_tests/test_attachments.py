"""PDFs in chat and images in tool results (arli.text.attachments), and the cassette matcher
that lets conversations with random tool-call ids replay."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from arli import ArliError
from arli._cassettes import json_body_matcher
from arli.text.attachments import decode_base64, pdf_image_parts, relay_tool_images

PDF = Path(__file__).parents[1] / "fixtures" / "pdf" / "dummy.pdf"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


def _image(n: int) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{n}"}}


def test_every_pdf_page_becomes_one_base64_image_part() -> None:
    pytest.importorskip("pypdfium2")
    parts = pdf_image_parts(PDF.read_bytes())
    # the fixture has one page; each part is a data URL holding a decodable image
    assert len(parts) == 1
    url = parts[0]["image_url"]["url"]
    head, data = url.split(",", 1)
    assert head.startswith("data:image/")
    assert head.endswith(";base64")
    raw = base64.b64decode(data)
    assert raw.startswith((PNG_MAGIC, JPEG_MAGIC))


def test_a_pdf_past_the_page_limit_is_refused_not_cut() -> None:
    pytest.importorskip("pypdfium2")
    with pytest.raises(ArliError, match=r"has 1 pages; a chat message takes at most 0"):
        pdf_image_parts(PDF.read_bytes(), name="report.pdf", max_pages=0)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"GIF89a not a pdf", "is not a PDF"),
        (b"%PDF-1.7\n garbage without objects", "cannot be read as a PDF"),
    ],
)
def test_what_is_not_a_readable_pdf_is_named(data: bytes, expected: str) -> None:
    pytest.importorskip("pypdfium2")
    with pytest.raises(ArliError, match=expected) as info:
        pdf_image_parts(data, name="upload.pdf")
    assert "upload.pdf" in str(info.value)


def test_bad_base64_names_what_it_was() -> None:
    with pytest.raises(ArliError, match="the file block is not valid base64"):
        decode_base64("data:application/pdf;base64,@@@", what="the file block")
    assert decode_base64("data:application/pdf;base64,JVBERi0=", what="x") == b"%PDF-"


def test_tool_images_move_to_one_user_turn_after_the_run_of_tool_messages() -> None:
    messages = [
        {"role": "user", "content": "draw two foxes"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "a"}, {"id": "b"}]},
        {
            "role": "tool",
            "tool_call_id": "a",
            "content": [{"type": "text", "text": "fox 1"}, _image(1)],
        },
        {"role": "tool", "tool_call_id": "b", "name": "draw", "content": [_image(2)]},
        {"role": "user", "content": "which is nicer?"},
    ]
    out = relay_tool_images(messages)
    assert [m["role"] for m in out] == ["user", "assistant", "tool", "tool", "user", "user"]
    # the tool messages keep their text and say where the image went; no image is left in them
    assert out[2]["content"].startswith("fox 1\n")
    assert "next user message" in out[2]["content"]
    assert "next user message" in out[3]["content"]
    assert out[2]["tool_call_id"] == "a"
    assert out[3]["tool_call_id"] == "b"
    relayed = out[4]["content"]
    assert relayed == [
        {"type": "text", "text": "Image(s) returned by a:"},
        _image(1),
        {"type": "text", "text": "Image(s) returned by draw:"},
        _image(2),
    ]
    assert out[5] == messages[4]
    assert messages[2]["content"][1] == _image(1)  # the caller's messages are not changed


def test_a_trailing_tool_image_still_reaches_the_model() -> None:
    messages = [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "a"}]},
        {"role": "tool", "tool_call_id": "a", "content": [_image(1)]},
    ]
    out = relay_tool_images(messages)
    assert out[-1]["role"] == "user"
    assert _image(1) in out[-1]["content"]


def test_messages_without_tool_images_pass_unchanged() -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "hi"}, _image(1)]},
        {"role": "tool", "tool_call_id": "a", "content": "42"},
    ]
    assert relay_tool_images(messages) == messages


def _request(body: dict[str, Any]) -> Any:
    return SimpleNamespace(body=json.dumps(body).encode())


def _conversation(first: str, second: str) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "assistant", "tool_calls": [{"id": first, "type": "function"}]},
            {"role": "tool", "tool_call_id": first, "content": "ok"},
            {"role": "assistant", "tool_calls": [{"id": second, "type": "function"}]},
            {"role": "tool", "tool_call_id": second, "content": "ok"},
        ]
    }


def test_cassette_bodies_match_whatever_the_tool_call_ids_were() -> None:
    json_body_matcher(
        _request(_conversation("uuid-1", "uuid-2")), _request(_conversation("x", "y"))
    )


def test_cassette_bodies_with_differently_linked_tool_calls_do_not_match() -> None:
    # the ids are renamed by order, not erased: a tool answer linked to another call differs
    crossed = _conversation("x", "y")
    crossed["messages"][1]["tool_call_id"] = "y"
    with pytest.raises(AssertionError, match="request bodies differ"):
        json_body_matcher(_request(_conversation("a", "b")), _request(crossed))

"""Attachments the servers cannot take as they are: PDFs in chat, images in tool results.

Arli's vision models take base64 images only, and vLLM's chat templates put images in user
turns. So, for both skins:

- a PDF in a message becomes one image part per page (:func:`pdf_image_parts`), rendered
  by the OCR renderer (:func:`arli.ocr.render.open_document`: the same DPI, size caps and
  decoding guard), with a page limit and a clear error past it. A skin writes the PDF as
  an OpenAI ``file`` part (:func:`pdf_file_part`); the call layer renders it when the
  message is sent (:func:`expand_pdf_files`), on a worker thread for an async call so
  that rasterizing never blocks the event loop;
- an image in a tool result moves to a user turn right after the run of tool messages
  (:func:`relay_tool_images`); the tool message keeps its text and says where the image went.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from arli._errors import ArliValidationError, OCRSourceError
from arli.media import _b64decode

__all__ = [
    "PDF_MAX_PAGES",
    "decode_base64",
    "expand_pdf_files",
    "has_pdf_files",
    "pdf_file_part",
    "pdf_image_parts",
    "relay_tool_images",
]

#: The most PDF pages one message may carry (each page is one image the model must read).
PDF_MAX_PAGES = 20

_TOOL_IMAGE_NOTE = "[the image(s) this tool returned follow in the next user message]"

_PDF_DATA = "data:application/pdf;base64,"


def decode_base64(data: str, *, what: str) -> bytes:
    """Decode base64 (a ``data:`` URL or bare), with an error that names ``what``."""
    text = data.split(",", 1)[1] if data.startswith("data:") else data
    return _b64decode(text, what)


def pdf_image_parts(
    data: bytes,
    *,
    name: str = "the PDF",
    max_pages: int = PDF_MAX_PAGES,
    render: Any = None,
) -> list[dict[str, Any]]:
    """Rasterize a PDF into OpenAI ``image_url`` parts (base64 data URLs), one per page.

    Args:
        data: the PDF's bytes.
        name: how errors name the document.
        max_pages: the most pages accepted; a longer PDF is refused (not cut).
        render: :class:`~arli.ocr.render.RenderOptions` (default: the OCR defaults).

    Raises:
        ArliValidationError: more pages than ``max_pages``, or a PDF that cannot be read.
        OCRDependencyError: pypdfium2 or Pillow is not installed (``pip install
            'arli-integrations[ocr]'``).
    """
    # the renderer needs the ocr extra (Pillow, pypdfium2): imported when a PDF is sent
    from arli.ocr.render import RenderOptions, open_document  # noqa: PLC0415
    from arli.ocr.sources import OCRSource  # noqa: PLC0415

    _check_pdf(data, name)
    options = render or RenderOptions()
    source = OCRSource(name=name, data=data)
    try:
        with open_document(source, options=options) as document:
            count = document.page_count
            if count > max_pages:
                msg = (
                    f"{name} has {count} pages; a chat message takes at most {max_pages} "
                    f"(each page is sent as an image): send fewer pages, or OCR the document "
                    f"with arli.ocr and send its text"
                )
                raise ArliValidationError(msg, field="content", allowed=f"<= {max_pages} pages")
            pages = [document.render(number, options) for number in range(1, count + 1)]
    except OCRSourceError as exc:
        msg = f"{name} cannot be read as a PDF: {exc}"
        raise ArliValidationError(msg, field="content", allowed="a readable PDF") from exc
    return [
        {
            "type": "image_url",
            "image_url": {
                "url": f"data:{page.image.mime_type};base64,"
                + base64.b64encode(page.image.data).decode("ascii")
            },
        }
        for page in pages
    ]


def pdf_file_part(data: bytes, *, name: str = "the PDF") -> dict[str, Any]:
    """An OpenAI ``file`` content part holding the PDF ``data``, rendered when it is sent.

    Raises:
        ArliValidationError: ``data`` is not a PDF (it does not start with ``%PDF-``).
    """
    _check_pdf(data, name)
    return {
        "type": "file",
        "file": {"filename": name, "file_data": _PDF_DATA + base64.b64encode(data).decode()},
    }


def _check_pdf(data: bytes, name: str) -> None:
    if data.lstrip()[:5] != b"%PDF-":
        msg = f"{name} is not a PDF (it does not start with %PDF-)"
        raise ArliValidationError(msg, field="content", allowed="a PDF")


def _is_pdf_file(part: Any) -> bool:
    if not isinstance(part, dict) or part.get("type") != "file":
        return False
    inner = part.get("file")
    data = inner.get("file_data") if isinstance(inner, dict) else None
    return isinstance(data, str) and data.startswith(_PDF_DATA)


def has_pdf_files(messages: Sequence[dict[str, Any]]) -> bool:
    """True when a message holds a PDF ``file`` part (:func:`expand_pdf_files` has work)."""
    return any(
        isinstance(m.get("content"), list) and any(_is_pdf_file(p) for p in m["content"])
        for m in messages
    )


def expand_pdf_files(
    messages: list[dict[str, Any]], *, max_pages: int = PDF_MAX_PAGES
) -> list[dict[str, Any]]:
    """Replace every PDF ``file`` part by its pages as ``image_url`` parts (in place).

    Each PDF is rendered by :func:`pdf_image_parts` (``max_pages`` at most); messages
    without one are left as they are. Returns ``messages``.

    Raises:
        ArliValidationError: a PDF past ``max_pages`` or one that cannot be read.
    """
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list) or not any(_is_pdf_file(p) for p in content):
            continue
        parts: list[Any] = []
        for part in content:
            if _is_pdf_file(part):
                name = str(part["file"].get("filename") or "the PDF")
                data = decode_base64(part["file"]["file_data"], what=name)
                parts.extend(pdf_image_parts(data, name=name, max_pages=max_pages))
            else:
                parts.append(part)
        message["content"] = parts
    return messages


def _split_images(content: Any) -> tuple[Any, list[dict[str, Any]]]:
    if not isinstance(content, list):
        return content, []
    images = [
        p
        for p in content
        if (isinstance(p, dict) and p.get("type") == "image_url") or _is_pdf_file(p)
    ]
    if not images:
        return content, []
    text = "".join(
        p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
    )
    return (f"{text}\n{_TOOL_IMAGE_NOTE}" if text else _TOOL_IMAGE_NOTE), images


def relay_tool_images(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Move image parts out of ``tool`` messages into one user turn after them.

    Tool messages cannot carry images in the chat templates vLLM serves; the model sees
    them in the user turn that follows the run of tool messages, each introduced by the
    tool call it answers. Messages without images in tool results pass unchanged (the same
    list contents, new list).
    """
    out: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    for message in messages:
        if message.get("role") == "tool":
            content, images = _split_images(message.get("content"))
            if images:
                label = message.get("name") or message.get("tool_call_id") or "a tool"
                pending.append({"type": "text", "text": f"Image(s) returned by {label}:"})
                pending.extend(images)
                out.append({**message, "content": content})
            else:
                out.append(message)
            continue
        if pending:
            out.append({"role": "user", "content": pending})
            pending = []
        out.append(message)
    if pending:
        out.append({"role": "user", "content": pending})
    return out

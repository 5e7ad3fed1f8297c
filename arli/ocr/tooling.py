"""The framework-free logic behind the OCR tools of ``langchain_arli`` and ``llama_index_arli``.

:class:`OCRToolbox` takes what a language model may choose — a document by file path or
http(s) URL, and optionally which pages — and answers with a text made for the model:
the pages' text (headed by their page labels when there are several), then short notes
for pages that failed, were cut off, were blank or were left out by the page cap. Local
paths must lie under ``input_dirs`` (by default the working directory at construction),
so an agent cannot read arbitrary files. Errors the agent can fix (a wrong path, a page
beyond the end, an unreadable file) come back as short texts (:meth:`OCRToolbox.explain`);
a rejected key or unknown model is raised as it is.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr

from arli._errors import (
    ArliConfigError,
    ArliConnectionError,
    ArliError,
    ArliStatusError,
    ArliValidationError,
    AuthenticationError,
    NotFoundError,
    OCRError,
    OCRSourceError,
    PermissionDeniedError,
)
from arli._secrets import secret_password
from arli.ocr.engine import OCREngine, OCRResult, PageResult
from arli.tool_contract import (
    ToolArguments,
    ToolContract,
    invalid_argument_text,
    resolve_agent_path,
    with_message,
)

__all__ = [
    "DEFAULT_MAX_CHARS",
    "OCR_TOOL",
    "ArliOCRInput",
    "OCRToolOutput",
    "OCRToolbox",
    "agent_text",
    "with_message",
]

#: The longest answer a tool gives the model (the full text stays in the artifact).
DEFAULT_MAX_CHARS = 20_000


class ArliOCRInput(ToolArguments):
    """Arguments of the OCR tool (``arli_ocr`` in LangChain, ``read_document`` in LlamaIndex)."""

    source: str = Field(
        min_length=1,
        description=(
            "The document to read: the path of a local image or PDF file (PNG, JPEG, WEBP, "
            "GIF, BMP, TIFF, PDF) or an http(s) URL."
        ),
    )
    pages: str | None = Field(
        default=None,
        description=(
            "Which pages to read, 1-based, e.g. '1-3,7' or '5-'. Leave unset to read the "
            "whole document (up to the tool's page limit)."
        ),
    )


#: The OCR tool as both skins offer it (``arli_ocr`` in LangChain, ``read_document`` in
#: LlamaIndex): its arguments and the description the agent reads.
OCR_TOOL = ToolContract(
    function="read_document",
    prefixed_name="arli_ocr",
    schema=ArliOCRInput,
    capability="ocr",
    description=(
        "Read the text of an image or a PDF (scans, photos of documents, screenshots, forms) "
        "by OCR. Pass `source`: a file path or an http(s) URL; optionally `pages`, e.g. "
        "'1-3'. Returns the transcribed text, page by page for several pages."
    ),
)


def _label_list(pages: Sequence[PageResult]) -> str:
    return ", ".join(p.page_label for p in pages)


def agent_text(result: OCRResult, *, max_chars: int | None = DEFAULT_MAX_CHARS) -> str:
    """The answer for a language model: page texts, then notes on anything missing.

    Failed pages are named in a note after the text, never mixed into it.
    """
    pages = result.pages
    several = len(pages) > 1
    parts: list[str] = []
    for page in pages:
        if page.error is not None:
            continue
        text = page.text.strip()
        if several:
            parts.append(
                f"[page {page.page_label}]\n{text}" if text else f"[page {page.page_label}]"
            )
        elif text:
            parts.append(text)
    body = "\n\n".join(parts)
    notes: list[str] = []
    failed = [p for p in pages if p.error is not None]
    for page in failed:
        assert page.error is not None
        where = f"Page {page.page_label}" if page.page else "The document"
        notes.append(
            f"{where} could not be read ({page.error.error_type}: {page.error.error[:200]})."
        )
    blank = [p for p in pages if p.blank]
    if blank:
        notes.append(f"Blank page{'s' if len(blank) > 1 else ''}: {_label_list(blank)}.")
    cut = [p for p in pages if p.truncated]
    if cut:
        notes.append(
            f"The text of page{'s' if len(cut) > 1 else ''} {_label_list(cut)} was cut off "
            "(too long for one answer)."
        )
    report = result.report
    if report.pages_left_out and pages:
        last = max(p.page for p in pages)
        total = pages[-1].total_pages
        notes.append(
            f"Only {len(pages)} of the selected pages were read (the page limit); the document "
            f"has {total} pages. Ask for more with pages='{last + 1}-'."
        )
    if not body.strip() and not failed:
        body = "No text was found in the document."
    if max_chars is not None and len(body) > max_chars:
        shown = body[:max_chars].rstrip()
        body = (
            f"{shown}\n[... the text goes on: {len(body)} characters in all; ask for fewer "
            "pages with the pages argument to read the rest]"
        )
    if notes:
        body = f"{body}\n\nNotes:\n" + "\n".join(f"- {n}" for n in notes)
    return body


@dataclass
class OCRToolOutput:
    """What an OCR tool returns: the text for the model, and every page with the report.

    ``str(output)`` is the text (LlamaIndex puts it in ``ToolOutput.content``).

    Attributes:
        source: the document as the agent named it.
        text: the answer for the model.
        result: the page results and the run report.
    """

    source: str
    text: str
    result: OCRResult

    def __str__(self) -> str:
        return self.text

    def artifact(self) -> dict[str, Any]:
        """Per-page details and the report, as JSON-serializable data."""
        return {
            "source": self.source,
            "pages": [p.as_dict() for p in self.result.pages],
            "report": self.result.report.as_dict(),
        }


class OCRToolbox:
    """Reads a document named by an agent and answers with text (see the module docstring).

    Args:
        engine: the OCR engine (model, retries, failure policy, cache...).
        input_dirs: directories the agent may read files from (default: the current
            working directory when the toolbox is built).
        allow_urls: accept http(s) URLs.
        max_chars: the longest text given to the model (``None``: no limit).
        password: the password for encrypted PDFs (held as a ``SecretStr``).
    """

    def __init__(
        self,
        engine: OCREngine,
        *,
        input_dirs: Sequence[str | os.PathLike[str]] | None = None,
        allow_urls: bool = True,
        max_chars: int | None = DEFAULT_MAX_CHARS,
        password: str | SecretStr | None = None,
    ):
        self.engine = engine
        self.input_dirs = [Path(d).expanduser() for d in input_dirs or [Path.cwd()]]
        self.allow_urls = allow_urls
        self.max_chars = max_chars
        self.password = secret_password(password)

    def __repr__(self) -> str:
        dirs = ", ".join(str(d) for d in self.input_dirs)
        return f"OCRToolbox({self.engine!r}, input_dirs=[{dirs}], allow_urls={self.allow_urls})"

    def resolve(self, source: str) -> str | Path:
        """Check a document reference from the agent: a file under ``input_dirs``, or a URL.

        Raises:
            ArliValidationError: saying what is allowed.
        """
        return resolve_agent_path(
            source,
            field="source",
            roots=self.input_dirs,
            allow_urls=self.allow_urls,
            refuse_base64=False,
        )

    def _output(self, source: str, result: OCRResult) -> OCRToolOutput:
        if result.pages and all(p.error is not None for p in result.pages):
            first = result.pages[0].error
            assert first is not None
            msg = f"No page of {source} could be read: {first.error_type}: {first.error[:300]}"
            raise OCRError(msg, source=source, report=result.report)
        return OCRToolOutput(source, agent_text(result, max_chars=self.max_chars), result)

    def read(self, source: str, pages: str | None = None) -> OCRToolOutput:
        """Transcribe the document (sync).

        Raises:
            ArliValidationError: a path outside ``input_dirs``, a bad page selection.
            OCRError: the document cannot be read, or no page could be.
            ArliError: a rejected key, an unknown model (raised as they are).
        """
        target = self.resolve(source)
        result = self.engine.ocr(target, pages=pages or None, password=self.password)
        return self._output(source, result)

    async def aread(self, source: str, pages: str | None = None) -> OCRToolOutput:
        """Async :meth:`read`."""
        target = self.resolve(source)
        result = await self.engine.aocr(target, pages=pages or None, password=self.password)
        return self._output(source, result)

    def explain(self, exc: ArliError) -> str | None:
        """A short text an agent can act on, or ``None`` for errors no argument can fix."""
        if isinstance(
            exc,
            (AuthenticationError, PermissionDeniedError, NotFoundError, ArliConfigError),
        ):
            return None
        if isinstance(exc, ArliValidationError):
            return invalid_argument_text(exc)
        if isinstance(exc, OCRSourceError):
            return f"The document could not be read: {exc}"
        if isinstance(exc, OCRError):
            return str(exc)
        if isinstance(exc, (ArliConnectionError, ArliStatusError)):
            return f"The OCR service failed ({exc}); try again later."
        return str(exc)

"""The bulk OCR job's interface: what a page of work is, what it gives back, and who does it.

These are the stable, picklable pieces every runner (the local one in
:mod:`arli.ocr.job.runner`, a Ray one in :mod:`arli.ocr.job.ray_runner`) builds on:

- :class:`JobOptions`: everything that shapes the job (model, prompt, rendering, policies,
  limits, prices). Picklable; the key is a :class:`~pydantic.SecretStr`.
- :func:`plan` (``inputs, options -> (tasks, failures)``): expands files, directories,
  globs and ``@manifest`` files, opens every document once (page count, page selection,
  text layers) and returns one :class:`PageTask` per page to transcribe plus one
  :class:`FileFailure` per input that cannot be used. Nothing is sent: every input and
  option is checked before the first request.
- :class:`PageWorker` (``worker(task) -> PageRecord``, or ``await worker.arun(task)``):
  renders one page, asks the model (through the page cache), and never raises for a page
  failure: the record says what happened. It builds its client lazily (so it pickles
  without one) and takes one slot of the ``limiter`` it is given per request, retries
  included.
- :class:`Sink`: the output directory: ``pages.jsonl`` appended per record (fsync'ed in
  the background; what resume reads back), one Markdown file per document and
  ``report.json`` at the end.

Page numbers are 1-based everywhere: in tasks, records, ``pages.jsonl`` and the metadata
of the Documents the loaders make.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import SecretStr

from arli.ocr._client import SlotLimiter

__all__ = [
    "FileFailure",
    "JobOptions",
    "PageRecord",
    "PageStatus",
    "PageTask",
    "PageWorker",
    "Sink",
    "SlotLimiter",
    "TextLayerMode",
    "TextSource",
    "plan",
]

TextLayerMode = Literal["auto", "fallback", "never"]
TextSource = Literal["model", "text_layer", "fallback"]
PageStatus = Literal["ok", "blank", "error"]


@dataclass(frozen=True)
class JobOptions:
    """What shapes a bulk OCR job (picklable: workers on other machines get a copy).

    Attributes:
        model: the vision model (``None``: ``ARLI_OCR_MODEL``, else the provider default).
        api_key: the text API key (``None``: the environment).
        base_url: an OpenAI-compatible endpoint (``None``: the provider's).
        provider: ``"arli"``, ``"featherless"`` or ``"arli-proxy"``.
        output_format: ``"markdown"`` or ``"text"``.
        prompt: a prompt replacing the preset.
        pages: the 1-based pages of each document (``"1-3,7"``), ``None`` for all.
        password: the password of encrypted PDFs.
        dpi: PDF rendering resolution.
        max_tokens: completion tokens per page.
        max_retries: transport retries per request.
        timeout: read timeout per request, seconds (``None``: the default).
        on_page_error: ``"raise"`` (stop the job at the first failed page), ``"skip"``
            (leave it out of the Markdown) or ``"placeholder"`` (mark it there). Every
            failed page has its record in ``pages.jsonl`` either way.
        max_page_error_rate: a document with a larger share of failed pages fails as a
            whole (``None``: never).
        text_layer: ``"auto"`` (a good embedded text layer is used without a request),
            ``"fallback"`` (the layer replaces a page that failed for good) or
            ``"never"``.
        anchor_text_layer: send the page's text layer with the image as a hint.
        skip_blank_pages: do not send pages that look blank.
        max_in_flight: requests in flight for the whole job (``None``: the account's
            limit when known, else 4).
        cache_dir: the page cache, a directory or an fsspec URL (``None``: ``<out>/cache``).
        price_per_mtok_in: dollars per million prompt tokens (cost report).
        price_per_mtok_out: dollars per million completion tokens.
        price_per_request: dollars per request (per-request plans).
        engine_options: other :class:`~arli.ocr.OCREngine` arguments (``max_side_px``,
            ``model_kwargs``, ``retry_initial_backoff``...).
    """

    model: str | None = None
    api_key: SecretStr | None = field(default=None, repr=False)
    base_url: str | None = None
    provider: str = "arli"
    output_format: Literal["markdown", "text"] = "markdown"
    prompt: str | None = None
    pages: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    dpi: float = 150.0
    max_tokens: int = 4096
    max_retries: int = 4
    timeout: float | None = None
    on_page_error: Literal["raise", "skip", "placeholder"] = "placeholder"
    max_page_error_rate: float | None = None
    text_layer: TextLayerMode = "never"
    anchor_text_layer: bool = False
    skip_blank_pages: bool = False
    max_in_flight: int | None = None
    cache_dir: str | None = None
    price_per_mtok_in: float | None = None
    price_per_mtok_out: float | None = None
    price_per_request: float | None = None
    engine_options: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """A digest of every option that changes a page's text (not limits or prices).

        Records in ``pages.jsonl`` carry it; a resumed job reuses only records whose
        fingerprint matches.
        """
        shaping = {
            "model": self.model,
            "base_url": self.base_url,
            "provider": self.provider,
            "output_format": self.output_format,
            "prompt": self.prompt,
            "dpi": self.dpi,
            "max_tokens": self.max_tokens,
            "text_layer": self.text_layer,
            "anchor_text_layer": self.anchor_text_layer,
            "skip_blank_pages": self.skip_blank_pages,
            "engine_options": {
                k: v
                for k, v in sorted(self.engine_options.items())
                if not k.startswith("retry_") and k not in ("max_concurrency", "show_progress")
            },
        }
        text = json.dumps(shaping, sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PageTask:
    """One page to transcribe (picklable; small: no image inside).

    Attributes:
        doc_id: the document's identity: a digest of its bytes and its output name (the
            same file named twice is one document; two copies under two names are two).
        doc_index: the document's position among the job's documents (output order).
        source: the document's path (absolute) as a string.
        name: the output name of the document (``sub/report`` → ``sub/report.md``).
        page: the 1-based page number.
        page_count: how many pages the document has.
        kind: ``"pdf"`` or ``"image"``.
        page_label: the PDF page label, else the number as text.
        fingerprint: :meth:`JobOptions.fingerprint` of the job's options.
        text_layer: the page's embedded text, when the job uses text layers and it has one.
        text_layer_ok: the layer passed the quality rules (:mod:`arli.ocr.job.textlayer`).
    """

    doc_id: str
    doc_index: int
    source: str
    name: str
    page: int
    page_count: int
    kind: str
    page_label: str
    fingerprint: str
    text_layer: str | None = field(default=None, repr=False)
    text_layer_ok: bool = False

    @property
    def key(self) -> tuple[str, int]:
        """``(doc_id, page)``: what identifies the page in ``pages.jsonl``."""
        return (self.doc_id, self.page)


@dataclass
class PageRecord:
    """What became of one page: one line of ``pages.jsonl``.

    Attributes:
        source: the document's path.
        doc_id: the document's content digest.
        name: the document's output name.
        page: the 1-based page number.
        page_label: the PDF page label, else the number as text.
        total_pages: the document's page count.
        text: the transcription (``""`` for a blank or failed page).
        status: ``"ok"``, ``"blank"`` or ``"error"``.
        text_source: ``"model"``, ``"text_layer"`` (taken from the PDF's layer, no
            request) or ``"fallback"`` (the layer, after the model failed for good);
            ``None`` for a failed or blank page.
        model: the model that answered (or was asked).
        prompt_tokens: prompt tokens of every request sent for the page.
        completion_tokens: completion tokens of every request sent for the page.
        attempts: requests sent for the page, retries included.
        finish_reason: the model's finish reason.
        error: the error message of a failed page (never containing the key).
        error_type: the exception class name of a failed page.
        status_code: the HTTP status of a failed page's last answer.
        fingerprint: the job options' fingerprint.
        cached: the text came from the page cache (not written to ``pages.jsonl``: a
            resumed job's outputs equal an uninterrupted one's).
    """

    source: str
    doc_id: str
    name: str
    page: int
    page_label: str
    total_pages: int
    text: str = ""
    status: PageStatus = "ok"
    text_source: TextSource | None = "model"
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 0
    finish_reason: str | None = None
    error: str | None = None
    error_type: str | None = None
    status_code: int | None = None
    fingerprint: str = ""
    cached: bool = field(default=False, compare=False)

    @property
    def key(self) -> tuple[str, int]:
        """``(doc_id, page)``."""
        return (self.doc_id, self.page)

    @property
    def done(self) -> bool:
        """Whether the page needs no more work (transcribed, blank or from the layer)."""
        return self.status != "error"

    def to_json(self) -> str:
        """One ``pages.jsonl`` line (no newline)."""
        data = dataclasses.asdict(self)
        data.pop("cached")
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> PageRecord:
        """Parse a ``pages.jsonl`` line.

        Raises:
            ValueError: not a page record.
        """
        data = json.loads(line)
        if not isinstance(data, dict):
            msg = "not a page record"
            raise ValueError(msg)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class FileFailure:
    """An input that yields no page: missing, unreadable, not a document, bad selection.

    Attributes:
        source: the input as given (or the file found under a directory or glob).
        cause: ``"missing"``, ``"not_a_document"``, ``"unreadable"``, ``"encrypted"``,
            ``"no_pages"``, ``"pages"`` (the page selection is beyond the end),
            ``"no_match"`` (a glob or directory with no file) or ``"error_rate"``.
        error: what went wrong, in words.
    """

    source: str
    cause: str
    error: str

    def as_dict(self) -> dict[str, str]:
        """The failure as a JSON-serializable dict."""
        return dataclasses.asdict(self)


# The implementations live in their own modules; they are re-exported here so runners
# import the whole interface from one place.
from arli.ocr.job.inputs import plan  # noqa: E402
from arli.ocr.job.sink import Sink  # noqa: E402
from arli.ocr.job.worker import PageWorker  # noqa: E402

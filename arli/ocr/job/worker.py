"""One page of a bulk job: render it, ask the model (through the page cache), make a record.

:class:`PageWorker` is what every runner calls per :class:`~arli.ocr.job.tasks.PageTask`.
It holds an :class:`~arli.ocr.OCREngine` built lazily from the job's options (so the worker
pickles without a client or a socket: a Ray actor builds its own), with the job's
``limiter`` on its transport: every request, retries included, takes one slot of it.

A page failure never raises: the record says ``status="error"`` and why. Only errors that
would fail every page (a rejected key, an unknown model, a missing dependency) propagate,
so a runner can stop the job at once.

Text layers (``JobOptions.text_layer``): under ``"auto"`` a page whose layer passed the
rules is taken from it without a request (``text_source="text_layer"``); under
``"fallback"`` a page that failed for good takes its layer (``text_source="fallback"``,
the model's error kept in the record); with ``anchor_text_layer`` the layer goes with the
image as a hint.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arli.ocr._pipeline import render_one
from arli.ocr._sync import shared_loop
from arli.ocr.job.storage import open_cache
from arli.ocr.job.tasks import JobOptions, PageRecord, PageTask, SlotLimiter
from arli.ocr.job.textlayer import anchored_prompt, clean
from arli.ocr.progress import Run
from arli.ocr.prompts import PROMPT_OVERRIDE, resolve_prompt
from arli.ocr.render import Document, open_document, render_executor
from arli.ocr.results import OCRReport, PageResult
from arli.ocr.sources import OCRSource

if TYPE_CHECKING:
    from arli.ocr.engine import OCREngine

__all__ = ["PageWorker", "engine_options"]

#: Documents a worker keeps open (pages of a document usually come one after another).
OPEN_DOCUMENTS = 4
#: The engine's own per-run bound; the job's limiter is what bounds requests.
_UNBOUNDED = 1_000_000


def engine_options(options: JobOptions) -> dict[str, Any]:
    """The :class:`~arli.ocr.OCREngine` arguments of a job's options."""
    kwargs: dict[str, Any] = {
        "model": options.model,
        "api_key": options.api_key,
        "base_url": options.base_url,
        "provider": options.provider,
        "output_format": options.output_format,
        "prompt": options.prompt,
        "dpi": options.dpi,
        "max_tokens": options.max_tokens,
        "max_retries": options.max_retries,
        "timeout": options.timeout,
        "skip_blank_pages": options.skip_blank_pages,
        "on_page_error": "placeholder",
        "max_concurrency": _UNBOUNDED,
        **options.engine_options,
    }
    return {k: v for k, v in kwargs.items() if v is not None}


class PageWorker:
    """Transcribe one :class:`PageTask` into a :class:`PageRecord` (see the module doc).

    Args:
        options: the job's options.
        limiter: slots every request takes (``None``: the key's process-wide limiter).
        cache_dir: the page cache: a directory or an fsspec URL (else
            ``options.cache_dir``; ``None``: none).
    """

    def __init__(
        self,
        options: JobOptions,
        limiter: SlotLimiter | None = None,
        *,
        cache_dir: str | None = None,
    ):
        self.options = options
        self.limiter = limiter
        self.cache_dir = cache_dir if cache_dir is not None else options.cache_dir
        self._engine: OCREngine | None = None
        self._docs: OrderedDict[str, Document] = OrderedDict()
        self._run: Run | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PageWorker(model={self.options.model!r}, cache_dir={self.cache_dir!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"options": self.options, "limiter": self.limiter, "cache_dir": self.cache_dir}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["options"], state["limiter"], cache_dir=state["cache_dir"])  # type: ignore[misc]

    @property
    def engine(self) -> OCREngine:
        """The engine (built on first use).

        Raises:
            ArliConfigError: no API key.
            ArliValidationError: a bad option.
        """
        with self._lock:
            if self._engine is None:
                from arli.ocr.engine import OCREngine  # noqa: PLC0415 - engine imports a lot

                kwargs = engine_options(self.options)
                if self.cache_dir is not None:
                    # a directory, or an fsspec URL (a cluster's shared cache)
                    kwargs["cache"] = open_cache(self.cache_dir)
                self._engine = OCREngine(request_limiter=self.limiter, **kwargs)
            return self._engine

    def __call__(self, task: PageTask) -> PageRecord:
        """Transcribe one page (sync; runs on the OCR event loop thread)."""
        return shared_loop().run(self.arun(task))

    async def arun(self, task: PageTask) -> PageRecord:
        """Transcribe one page.

        Raises:
            AuthenticationError: the key was rejected (also 403, 404: every page would fail).
            OCRDependencyError: Pillow or pypdfium2 is missing.
        """
        if self.options.text_layer == "auto" and task.text_layer_ok and task.text_layer:
            return _record(task, text=clean(task.text_layer), text_source="text_layer")
        engine = self.engine
        if self._run is None:
            self._run = Run(OCRReport(model=engine.model), _UNBOUNDED)
        loop = asyncio.get_running_loop()
        executor = render_executor()
        try:
            document = await loop.run_in_executor(executor, self._document, task)
        except Exception as exc:  # noqa: BLE001 - the file changed since the plan
            return _failed(task, engine.model, exc)
        label, page = await loop.run_in_executor(
            executor, render_one, document, task.page, engine.render_options
        )
        hint = None
        if self.options.anchor_text_layer and task.text_layer:
            hint = anchored_prompt(
                resolve_prompt(engine.output_format, self.options.prompt), task.text_layer
            )
        token = PROMPT_OVERRIDE.set(hint)
        try:
            await self._run.rendered.acquire()
            result = await engine._page(
                self._run, task.doc_index, document.source, task.page_count, task.page, label, page
            )
        finally:
            PROMPT_OVERRIDE.reset(token)
        return self._to_record(task, result)

    def _to_record(self, task: PageTask, result: PageResult) -> PageRecord:
        record = _record(task, text=result.text, text_source="model")
        record.page_label = result.page_label or task.page_label
        record.model = result.model
        record.prompt_tokens = result.usage.prompt_tokens
        record.completion_tokens = result.usage.completion_tokens
        record.attempts = result.cached_attempts if result.cached else result.attempts
        record.finish_reason = result.finish_reason
        record.cached = result.cached
        if result.blank:
            record.status, record.text_source = "blank", None
        if result.error is not None:
            record.error = result.error.error
            record.error_type = result.error.error_type
            record.status_code = result.error.status_code
            record.attempts = result.error.attempts
            layer = clean(task.text_layer or "")
            if self.options.text_layer == "fallback" and layer:
                record.status, record.text_source, record.text = "ok", "fallback", layer
            else:
                record.status, record.text_source, record.text = "error", None, ""
        return record

    def _document(self, task: PageTask) -> Document:
        """The task's document, opened (on the renderer thread) or kept open."""
        document = self._docs.get(task.source)
        if document is not None:
            self._docs.move_to_end(task.source)
            return document
        password = self.options.password
        document = open_document(
            OCRSource(name=task.source, path=Path(task.source)),
            password=password.get_secret_value() if password else None,
            options=self.engine.render_options,
        )
        self._docs[task.source] = document
        while len(self._docs) > OPEN_DOCUMENTS:
            _, old = self._docs.popitem(last=False)
            old.close()
        return document

    async def aclose(self) -> None:
        """Close open documents and the engine's connections."""
        loop = asyncio.get_running_loop()
        docs, self._docs = list(self._docs.values()), OrderedDict()
        for document in docs:
            await loop.run_in_executor(render_executor(), document.close)
        if self._engine is not None:
            await self._engine.aclose()

    def close(self) -> None:
        """Sync :meth:`aclose`."""
        shared_loop().run(self.aclose())


def _record(task: PageTask, *, text: str, text_source: Any) -> PageRecord:
    return PageRecord(
        source=task.source,
        doc_id=task.doc_id,
        name=task.name,
        page=task.page,
        page_label=task.page_label,
        total_pages=task.page_count,
        text=text,
        status="ok",
        text_source=text_source,
        fingerprint=task.fingerprint,
    )


def _failed(task: PageTask, model: str, exc: Exception) -> PageRecord:
    record = _record(task, text="", text_source=None)
    record.status, record.model = "error", model
    record.error, record.error_type = str(exc), type(exc).__name__
    return record

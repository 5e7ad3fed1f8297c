"""OCR through a vision chat model: documents in, ordered page transcriptions out.

:class:`OCREngine` renders pages lazily (:mod:`arli.ocr.render`), sends each page as one
user message holding the prompt and the page image through the same chat request builder
as ``ChatArli`` (:func:`arli.text.payload.plan_chat`: every sampler extra works here too),
and yields :class:`PageResult` objects **in page order**, whatever order the answers come
back in.

How a run behaves:

- **Bounded work.** At most ``max_concurrency`` requests are in flight (default: the
  process-wide limit for the key when one is set, else 4), and at most
  ``max_concurrency + 2`` rendered pages exist at any time: a 1000-page PDF takes the
  memory of a few pages.
- **Retries.** The transport retries 408, 429, 5xx, timeouts and connection errors with
  exponential backoff, honouring ``Retry-After`` (``max_retries``, default 4; a timed-out
  page is re-sent, which is safe here). 400, 401, 403, 404 and 422 are never retried.
  The engine adds what only it can judge: an answer cut off by ``max_tokens``
  (``finish_reason == "length"``) is asked again once with ``length_retry_factor`` times
  the tokens, then kept and marked ``truncated``; an answer stuck in a repetition loop is
  asked again at each of ``retry_temperatures``.
- **Failures are never silent.** ``on_page_error="raise"`` (default) raises
  :class:`~arli.OCRPageError` naming the page (the pages before it are yielded first,
  pages under way finish, no further page is started). ``"skip"`` leaves the page out,
  ``"placeholder"`` yields it with empty text and its ``error`` set. Either way the
  failure (page, label, error, attempts) is in the run's :class:`OCRReport` and in the
  log, and error text never goes into page text. Configuration errors that would fail
  every page (401, 403, 404: a wrong key or model) end the run with their own typed error.
- **Blank pages** (``skip_blank_pages=True``) are detected from pixel statistics and not
  sent at all; they come back with empty text and ``blank=True``.
- **Cache.** With ``cache="dir/"`` each finished page is stored under the SHA-256 of its
  image and request (:mod:`arli.ocr.cache`); a re-run after an interruption pays only for
  the pages not done yet.
- **Sync and async.** :meth:`OCREngine.aocr` / :meth:`OCREngine.aiter_pages` are native
  async; :meth:`OCREngine.ocr` / :meth:`OCREngine.iter_pages` run the same code on a
  private event loop in a worker thread, so they also work inside a running loop
  (Jupyter, FastAPI) without ``nest_asyncio``.

Example:
    .. code-block:: python

        from arli.ocr import OCREngine

        with OCREngine(model="Qwen/Qwen3.5-VL", on_page_error="placeholder") as engine:
            result = engine.ocr("scan.pdf", pages="1-3,7")
        for page in result:
            print(page.page, page.page_label, page.finish_reason, page.text[:80])
        print(result.report.summary())
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from typing import Any

import httpx
from pydantic import SecretStr

from arli._errors import (
    ArliConnectionError,
    ArliError,
    ArliResponseError,
    ArliStatusError,
    ArliValidationError,
    NotFoundError,
    OCRDependencyError,
    OCRSourceError,
)
from arli._kwargs import checks_arguments
from arli._providers import get_provider
from arli._secrets import secret_password
from arli._settings import SETTINGS_ARGUMENTS, ArliSettings
from arli._transport import PooledClient, shared_limiter
from arli.media import afetch_url
from arli.ocr._client import SlotLimiter, counting_attempts, ocr_settings, ocr_text_client
from arli.ocr._pipeline import End, Fatal, SourceFailed, render_one
from arli.ocr._precheck import check_selection
from arli.ocr._sync import shared_loop
from arli.ocr.cache import DirectoryCache, OCRCache, cache_key
from arli.ocr.models import (
    DEFAULT_CONCURRENCY,
    DEFAULT_OCR_MODEL,
    DEFAULT_OCR_MODELS,
    DOCUMENTED_VISION_MODELS,
)
from arli.ocr.policy import (
    FATAL,
    OnPageError,
    check_options,
    explain_not_found,
    fail_page,
    log_failure,
    page_error,
    source_failed,
)
from arli.ocr.progress import PageCallback, Run
from arli.ocr.prompts import (
    PROMPT_OVERRIDE,
    OutputFormat,
    build_messages,
    resolve_prompt,
    strip_code_fences,
)
from arli.ocr.render import (
    DEFAULT_MAX_DOWNLOAD_BYTES,
    Document,
    ImageFormat,
    OCRSource,
    PageImage,
    RawPage,
    RenderOptions,
    as_sources,
    encode_executor,
    open_document,
    parse_page_spec,
    render_executor,
    select_pages,
)
from arli.ocr.results import (
    OCRReport,
    OCRResult,
    PageFailure,
    PageResult,
    apply_cache_entry,
    cache_entry,
    page_metadata,
)
from arli.ocr.retries import Answer, improve
from arli.text.calls import CallOptions, TextCalls
from arli.text.client import TextClient
from arli.text.payload import RequestPlan

__all__ = [
    "DEFAULT_OCR_MODEL",
    "DOCUMENTED_VISION_MODELS",
    "OCREngine",
    "OCRReport",
    "OCRResult",
    "OnPageError",
    "PageFailure",
    "PageResult",
    "aocr",
    "ocr",
    "page_metadata",
]


# -- the engine ------------------------------------------------------------------------------


@checks_arguments(
    passes_to=SETTINGS_ARGUMENTS,
    extras="extra_body",
    sets={"text_base_url": "pass the endpoint as base_url=..."},
)
class OCREngine(PooledClient):
    """Transcribe images and PDFs page by page with a vision model (see the module docstring).

    Args:
        model: the vision model (else ``ARLI_OCR_MODEL``, else :data:`DEFAULT_OCR_MODEL`).
        api_key: the text API key (else ``ARLI_TEXT_KEY`` or ``ARLIAI_API_KEY``).
        base_url: any OpenAI-compatible endpoint that accepts base64 images (else
            ``ARLI_TEXT_BASE_URL``/``ARLI_BASE_URL``, else Arli's), e.g. Featherless.
        settings: complete settings (``api_key``, ``base_url`` and ``client_options``
            are then ignored).
        http_async_client: an httpx async client to use (not closed by us).
        output_format: ``"markdown"`` (verbatim, tables as Markdown) or ``"text"``.
        prompt: a prompt replacing the preset (sent as the text next to the image).
        system_prompt: an optional system message.
        max_tokens: completion tokens allowed per page.
        temperature: sampling temperature (0: deterministic transcription).
        model_kwargs: other sampler parameters (``top_p``, ``repetition_penalty``,
            ``min_p``, ``dry_multiplier``...), validated like ``ChatArli``'s.
        extra_body: fields merged into every request body last.
        dpi: PDF rendering resolution.
        max_side_px: the longest side of a page image in pixels.
        image_format: ``"jpeg"`` (default, quality ``jpeg_quality``) or ``"png"``.
        jpeg_quality: JPEG quality, 1-95.
        max_image_bytes: the largest page image sent (pages are downscaled to fit).
        max_input_pixels: the largest input image decoded (decompression-bomb guard).
        passthrough: send JPEG/PNG inputs that need no change as they are.
        skip_blank_pages: do not send pages that look blank (they come back empty).
        blank_threshold: the share of ink pixels under which a page is blank (default
            0.005 %: about two characters on an A4 page at 150 DPI).
        max_concurrency: requests in flight at most (default: the key's process-wide
            limit when ``text_max_concurrency`` is set, else 4).
        max_retries: transport retries per request (429, 5xx, timeouts, connection errors).
        timeout: read timeout in seconds per request (default: the text timeout, 300 s).
        on_page_error: ``"raise"``, ``"skip"`` or ``"placeholder"`` (see the module doc).
        length_retry_factor: ``max_tokens`` multiplier for the one retry of a cut-off
            answer (``1`` disables that retry).
        retry_temperatures: temperatures tried, in order, when an answer loops.
        cache: a directory (or an :class:`~arli.ocr.cache.OCRCache`) keeping finished pages.
        show_progress: draw a progress bar (tqdm when installed, else a line on stderr).
        on_page_done: ``callback(result, done, total)`` after each page, in completion
            order (``total`` is ``None`` until every document is open). It runs on the
            event loop: keep it quick.
        max_pages: transcribe at most this many pages per document (after ``pages``); the
            rest are counted in :attr:`OCRReport.pages_left_out`. A cost guard.
        max_download_bytes: the largest document read from a URL or a file object.
        download_timeout: seconds allowed to download a URL.
        request_limiter: slots every request takes, retries included (a bulk job's or a
            cluster's limit; default: the key's process-wide limiter, if any).
        **client_options: other :class:`~arli.ArliSettings` fields (``require_key``,
            ``connect_timeout``, ``text_max_concurrency``, ``default_headers``...).

    Raises:
        ArliConfigError: no API key (unless ``require_key=False``).
        ArliValidationError: a parameter out of range or unknown.
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        settings: ArliSettings | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        output_format: OutputFormat = "markdown",
        prompt: str | None = None,
        system_prompt: str | None = None,
        max_tokens: int = 4096,
        temperature: float = 0.0,
        model_kwargs: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        dpi: float = 150.0,
        max_side_px: int = 2000,
        image_format: ImageFormat = "jpeg",
        jpeg_quality: int = 90,
        max_image_bytes: int = 4 * 2**20,
        max_input_pixels: int = 64_000_000,
        passthrough: bool = True,
        skip_blank_pages: bool = False,
        blank_threshold: float = 5e-5,
        max_concurrency: int | None = None,
        max_retries: int = 4,
        timeout: float | None = None,
        on_page_error: OnPageError = "raise",
        length_retry_factor: float = 2.0,
        retry_temperatures: Sequence[float] = (0.3, 0.7),
        cache: str | os.PathLike[str] | OCRCache | None = None,
        show_progress: bool = False,
        on_page_done: PageCallback | None = None,
        max_pages: int | None = None,
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        download_timeout: float = 60.0,
        request_limiter: SlotLimiter | None = None,
        **client_options: Any,
    ):
        check_options(
            on_page_error=on_page_error,
            max_concurrency=max_concurrency,
            max_retries=max_retries,
            max_tokens=max_tokens,
            max_pages=max_pages,
            length_retry_factor=length_retry_factor,
            timeout=timeout,
            download_timeout=download_timeout,
        )
        try:
            self._prompt = resolve_prompt(output_format, prompt)
        except ValueError as exc:
            raise ArliValidationError(
                str(exc), field="output_format", allowed="markdown, text"
            ) from None
        self.settings = settings or ArliSettings.resolve(
            api_key=api_key, text_base_url=base_url, **client_options
        )
        self._provider = get_provider(self.settings.provider)
        self.model = (
            model
            or os.environ.get("ARLI_OCR_MODEL")
            or DEFAULT_OCR_MODELS.get(self.settings.provider, DEFAULT_OCR_MODEL)
        )
        self.output_format = output_format
        self.system_prompt = system_prompt
        self.render_options = RenderOptions(
            dpi=dpi,
            max_side_px=max_side_px,
            image_format=image_format,
            jpeg_quality=jpeg_quality,
            max_image_bytes=max_image_bytes,
            max_input_pixels=max_input_pixels,
            passthrough=passthrough,
            blank_threshold=blank_threshold if skip_blank_pages else None,
        )
        self.on_page_error: OnPageError = on_page_error
        self.length_retry_factor = float(length_retry_factor)
        self.retry_temperatures = tuple(float(t) for t in retry_temperatures)
        self.show_progress = show_progress
        self.on_page_done = on_page_done
        self.max_pages = max_pages
        self.max_download_bytes = max_download_bytes
        self.download_timeout = download_timeout
        self._params: dict[str, Any] = {
            "temperature": temperature,
            "max_tokens": max_tokens,
            **dict(model_kwargs or {}),
        }
        self._extra_body = dict(extra_body) if extra_body else None
        if cache is None or isinstance(cache, OCRCache):
            self.cache: OCRCache | None = cache
        else:
            self.cache = DirectoryCache(cache)

        shared = shared_limiter(self.settings, "text")
        self.max_concurrency = max_concurrency or (
            shared.limit if shared is not None else DEFAULT_CONCURRENCY
        )
        self.client: TextClient = ocr_text_client(
            ocr_settings(self.settings, max_retries=max_retries, timeout=timeout),
            http_async_client=http_async_client,
            limiter=request_limiter,
        )
        self._transport = self.client.transport
        self._calls = TextCalls(self.client)
        self._plan("data:image/png;base64,")  # validates every parameter now, not per page
        self.last_report: OCRReport | None = None

    @classmethod
    def from_options(
        cls,
        engine: OCREngine | None,
        *,
        model: str | None = None,
        api_key: Any = None,
        base_url: str | None = None,
        **options: Any,
    ) -> OCREngine:
        """``engine`` when one is given, else a new engine built from the options.

        For loaders and readers that take either a configured engine or its options.

        Raises:
            ValueError: both an engine and engine options were given.
        """
        if engine is None:
            return cls(model=model, api_key=api_key, base_url=base_url, **options)
        if model or api_key or base_url or options:
            msg = "pass either engine=... or engine options (model, api_key, ...), not both"
            raise ValueError(msg)
        return engine

    def __repr__(self) -> str:
        return (
            f"OCREngine(model={self.model!r}, base_url={self._transport.base_url!r}, "
            f"output_format={self.output_format!r}, max_concurrency={self.max_concurrency}, "
            f"on_page_error={self.on_page_error!r})"
        )

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the engine's connections (it reopens them if used again)."""
        loop = shared_loop()
        if loop.started and not loop.in_loop_thread():
            with contextlib.suppress(RuntimeError):  # another loop's client: closed below
                loop.run(self._transport.aclose())
        self._transport.close()

    async def aclose(self) -> None:
        """Close the connections of the running loop (and those of the sync API)."""
        await self._transport.aclose()
        loop = shared_loop()
        if loop.started and not loop.in_loop_thread():
            await asyncio.to_thread(loop.run, self._transport.aclose())

    async def _explain_not_found(self, exc: BaseException) -> BaseException:
        return await explain_not_found(
            exc,
            client=self.client,
            model=self.model,
            provider=self._provider,
            documented=DOCUMENTED_VISION_MODELS.get(self._provider.name, ()),
        )

    # -- public API ----------------------------------------------------------------------

    async def aiter_pages(
        self,
        sources: Any,
        *,
        pages: str | int | Sequence[int] | None = None,
        password: str | SecretStr | None = None,
        report: OCRReport | None = None,
    ) -> AsyncGenerator[PageResult, None]:
        """Transcribe documents, yielding page results in order as they are ready.

        Args:
            sources: a path, URL, bytes, binary file object or PIL image, or a list of them.
            pages: the 1-based pages to transcribe in each document (``"1-3,7"``, ``"5-"``,
                ``[1, 2]``); checked against each document's page count.
            password: the password of encrypted PDFs (``str`` or ``SecretStr``; held as a
                ``SecretStr``, unwrapped only to open the file).
            report: a report to fill (else a new one; it is also :attr:`last_report`).

        Raises:
            OCRPageError: a page failed and ``on_page_error="raise"``.
            OCRSourceError: a document could not be read and ``on_page_error="raise"``.
            ArliValidationError: a bad source or page selection.
            AuthenticationError: the key was rejected (also 403 and 404: every page would fail).
        """
        srcs = as_sources(sources, max_bytes=self.max_download_bytes)
        spec = parse_page_spec(pages)
        password = secret_password(password)  # a SecretStr from here to the PDF's opening
        await check_selection(srcs, spec, password=password, options=self.render_options)
        report = report if report is not None else OCRReport(model=self.model)
        report.model = self.model
        report.sources = [s.name for s in srcs]
        self.last_report = report
        run = Run(
            report,
            self.max_concurrency,
            show_progress=self.show_progress,
            callback=self.on_page_done,
        )
        order: asyncio.Queue[Any] = asyncio.Queue(maxsize=max(16, 4 * self.max_concurrency))
        producer = asyncio.create_task(self._produce(run, srcs, spec, password, order))
        try:
            while True:
                item = await order.get()
                if isinstance(item, End):
                    break
                if isinstance(item, Fatal):
                    raise await self._explain_not_found(item.error)
                if isinstance(item, SourceFailed):
                    placeholder = source_failed(
                        run, item.source.name, item.error, self.on_page_error, index=item.index
                    )
                    if placeholder is not None:
                        yield placeholder
                    continue
                try:
                    result: PageResult = await item
                except NotFoundError as exc:
                    raise await self._explain_not_found(exc) from exc
                if result.error is not None:
                    if self.on_page_error == "raise":
                        raise page_error(result, report)
                    log_failure(result, self.on_page_error)
                    if self.on_page_error == "skip":
                        report.pages_skipped += 1
                        continue
                yield result
            await producer
        finally:
            run.stop()
            producer.cancel()
            pending = [t for t in run.tasks if not t.done()]
            for task in pending:
                task.cancel()
            await asyncio.gather(producer, *run.tasks, return_exceptions=True)
            report._finish()
            run.progress.close()

    def iter_pages(
        self,
        sources: Any,
        *,
        pages: str | int | Sequence[int] | None = None,
        password: str | SecretStr | None = None,
        report: OCRReport | None = None,
    ) -> Generator[PageResult, None, None]:
        """Sync :meth:`aiter_pages` (runs on a private event loop; fine inside a running one)."""
        return shared_loop().iterate(
            self.aiter_pages(sources, pages=pages, password=password, report=report)
        )

    async def aocr(
        self,
        sources: Any,
        *,
        pages: str | int | Sequence[int] | None = None,
        password: str | SecretStr | None = None,
    ) -> OCRResult:
        """Transcribe documents and return every page with the run's report.

        See :meth:`aiter_pages` for the arguments and errors. An :class:`OCRPageError`
        carries the report of the run so far (``error.report``).
        """
        report = OCRReport(model=self.model)
        results: list[PageResult] = []
        agen = self.aiter_pages(sources, pages=pages, password=password, report=report)
        async with contextlib.aclosing(agen) as stream:
            async for result in stream:
                results.append(result)
        return OCRResult(results, report)

    def ocr(
        self,
        sources: Any,
        *,
        pages: str | int | Sequence[int] | None = None,
        password: str | SecretStr | None = None,
    ) -> OCRResult:
        """Sync :meth:`aocr` (runs on a private event loop; fine inside a running one)."""
        return shared_loop().run(self.aocr(sources, pages=pages, password=password))

    # -- internals -----------------------------------------------------------------------

    def _plan(
        self, data_uri: str, *, temperature: float | None = None, max_tokens: int | None = None
    ) -> RequestPlan:
        params = dict(self._params)
        if temperature is not None:
            params["temperature"] = temperature
        if max_tokens is not None:
            params["max_tokens"] = max_tokens
        prompt = PROMPT_OVERRIDE.get() or self._prompt
        messages = build_messages(prompt, data_uri, system_prompt=self.system_prompt)
        return self._calls.plan_chat(self._call_options(), messages, params)

    def _call_options(self) -> CallOptions:
        # transcriptions: not checked against a guided constraint (model_kwargs may hold one)
        return CallOptions(model=self.model, extra_body=self._extra_body, check_output=False)

    async def _fetch(self, source: OCRSource) -> bytes | None:
        if source.url is None:
            return None
        try:
            data, _ = await afetch_url(
                source.url, max_bytes=self.max_download_bytes, timeout=self.download_timeout
            )
        except (ArliValidationError, ArliConnectionError, ArliStatusError) as exc:
            # The document could not be read; ``cause`` says why (refused, unreachable, status).
            raise OCRSourceError(str(exc), source=source.name, cause=exc) from exc
        return data

    async def _produce(
        self,
        run: Run,
        sources: list[OCRSource],
        spec: Any,
        password: SecretStr | None,
        order: asyncio.Queue[Any],
    ) -> None:
        """Open the documents and render their pages in order, one page task per page.

        Rendering waits for a free slot (at most ``max_concurrency + 2`` rendered pages
        exist), and ``order`` is bounded, so a slow consumer slows the producer down.
        """
        loop = asyncio.get_running_loop()
        executor = render_executor()
        try:
            for index, source in enumerate(sources):
                if run.is_stopped():
                    break
                try:
                    data = await self._fetch(source)
                    document: Document = await loop.run_in_executor(
                        executor,
                        functools.partial(
                            open_document,
                            source,
                            data=data,
                            password=password,
                            options=self.render_options,
                        ),
                    )
                except OCRSourceError as exc:
                    await order.put(SourceFailed(index, source, exc))
                    continue
                try:
                    numbers = select_pages(spec, document.page_count, source=source.name)
                    if self.max_pages is not None and len(numbers) > self.max_pages:
                        run.report.pages_left_out += len(numbers) - self.max_pages
                        numbers = numbers[: self.max_pages]
                    run.add_pages(len(numbers))
                    if index == len(sources) - 1:
                        run.all_open()
                    for number in numbers:
                        if run.is_stopped():
                            break
                        await run.rendered.acquire()
                        try:
                            label, page = await loop.run_in_executor(
                                executor, render_one, document, number, self.render_options
                            )
                        except BaseException:
                            run.rendered.release()
                            raise
                        task = asyncio.create_task(
                            self._page(run, index, source, document.page_count, number, label, page)
                        )
                        run.tasks.add(task)
                        await order.put(task)
                finally:
                    await loop.run_in_executor(executor, document.close)
            run.all_open()
            await order.put(End())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            await order.put(Fatal(exc))

    async def _page(
        self,
        run: Run,
        index: int,
        source: OCRSource,
        total_pages: int,
        number: int,
        label: str,
        page: PageImage | RawPage | Exception,
    ) -> PageResult:
        """One page: encoding, blank check, cache, request and semantic retries.

        A page failure is recorded in the result, never raised; only fatal errors (a
        rejected key, an unknown model, a missing dependency) propagate.
        """
        result = PageResult(
            source=source.name,
            source_index=index,
            page=number,
            page_label=label,
            total_pages=total_pages,
            model=self.model,
        )
        started = time.monotonic()
        try:
            if isinstance(page, RawPage):  # encode off the renderer thread
                loop = asyncio.get_running_loop()
                try:
                    page = await loop.run_in_executor(
                        encode_executor(), page.finish, self.render_options
                    )
                except OCRDependencyError:
                    raise
                except Exception as exc:  # noqa: BLE001 - recorded as the page's failure
                    page = exc
            if isinstance(page, Exception):
                fail_page(run, result, page, 0, self.on_page_error)
            else:
                result.image_width, result.image_height = page.width, page.height
                result.image_mime = page.image.mime_type
                result.dpi = page.dpi
                if page.blank:
                    result.blank = True
                else:
                    async with run.requests:
                        await self._transcribe(run, result, page)
        finally:
            run.rendered.release()
        result.elapsed = time.monotonic() - started
        run.page_done(result)
        return result

    async def _transcribe(self, run: Run, result: PageResult, page: PageImage) -> None:
        data_uri = page.image.data_uri()
        plan = self._plan(data_uri)
        key = cache_key(page.image.data, plan.body) if self.cache is not None else None
        if key is not None and self.cache is not None:
            entry = self.cache.get(key)
            if entry is not None and isinstance(entry.get("text"), str):
                apply_cache_entry(result, entry)
                return
        with counting_attempts() as counter:
            try:
                answer = await self._send(plan, result, self._params.get("temperature"))
            except FATAL:
                raise
            except ArliError as exc:
                fail_page(run, result, exc, counter[0], self.on_page_error)
                return
            answer = await improve(
                answer,
                functools.partial(self._ask, data_uri, result),
                result,
                retry_temperatures=self.retry_temperatures,
                length_retry_factor=self.length_retry_factor,
                max_tokens=int(self._params["max_tokens"]),
            )
        result.attempts = counter[0]
        result.text = strip_code_fences(answer.text)
        result.finish_reason = answer.finish_reason
        result.model = answer.model or self.model
        result.truncated = answer.finish_reason == "length"
        if key is not None and self.cache is not None:
            self.cache.set(key, cache_entry(result))

    async def _send(
        self, plan: RequestPlan, result: PageResult, temperature: float | None
    ) -> Answer:
        completion = (await self._calls.asend_chat(self._call_options(), plan)).result
        if not completion.choices:
            msg = "the answer has no choices"
            raise ArliResponseError(msg, body=str(completion.raw)[:300])
        choice = completion.choices[0]
        if completion.usage is not None:
            usage = result.usage
            usage.prompt_tokens += completion.usage.prompt_tokens
            usage.completion_tokens += completion.usage.completion_tokens
            usage.total_tokens += completion.usage.total_tokens
        return Answer(choice.content or "", choice.finish_reason, completion.model, temperature)

    async def _ask(
        self, data_uri: str, result: PageResult, temperature: float | None, max_tokens: int | None
    ) -> Answer:
        """The page asked again at ``temperature`` / ``max_tokens`` (``None``: ours)."""
        plan = self._plan(data_uri, temperature=temperature, max_tokens=max_tokens)
        return await self._send(plan, result, temperature)


from arli.ocr._oneshot import aocr, ocr  # noqa: E402 - they build an OCREngine

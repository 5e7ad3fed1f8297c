"""What the OCR document loaders and readers of both skins share, framework-free.

:class:`OCRDocumentReader` holds their options (pages, password, ``skip_empty``, the
engine or its options), runs the engine (a fresh :class:`~arli.ocr.OCRReport` per run in
``last_report``, the page iterator closed when the caller stops early) and yields the page
results grouped as the documents will be: one page each (``skip_empty`` applied), or one
group per source. :func:`source_metadata` is the metadata of a document made of a whole
source's pages. ``langchain_arli.document_loaders`` and ``llama_index_arli.readers`` only
turn the groups into their framework's ``Document`` (with
:func:`~arli.ocr.results.page_metadata` for a page).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from pydantic import SecretStr

from arli._secrets import secret_password
from arli.ocr.engine import OCREngine, OCRReport, PageResult

__all__ = ["OCRDocumentReader", "source_metadata"]


def source_metadata(results: Sequence[PageResult]) -> dict[str, Any]:
    """The metadata of one document holding all of a source's page ``results``.

    Keys: ``source``, ``total_pages``, ``model``, ``prompt_tokens`` and
    ``completion_tokens`` (sums), ``pages_read``, ``truncated``; with failed pages,
    ``ocr_failed_pages`` (0-based) and ``ocr_error`` (one line per failed page).
    """
    first = results[0]
    failed = [r for r in results if r.error is not None]
    metadata: dict[str, Any] = {
        "source": first.source,
        "total_pages": first.total_pages,
        "model": first.model,
        "prompt_tokens": sum(r.usage.prompt_tokens for r in results),
        "completion_tokens": sum(r.usage.completion_tokens for r in results),
        "pages_read": len(results) - len(failed),
        "truncated": any(r.truncated for r in results),
    }
    if failed:
        metadata["ocr_failed_pages"] = [r.page_index for r in failed]
        metadata["ocr_error"] = "; ".join(
            f"page {r.page_label}: {r.error.error_type}: {r.error.error}"
            for r in failed
            if r.error is not None
        )
    return metadata


class _Groups:
    """Page results in, document groups out (one page, or one source's pages)."""

    def __init__(self, *, by_source: bool, skip_empty: bool) -> None:
        self.by_source = by_source
        self.skip_empty = skip_empty
        self.group: list[PageResult] = []

    def add(self, result: PageResult) -> list[list[PageResult]]:
        if not self.by_source:
            empty = result.error is None and not result.text.strip()
            return [] if self.skip_empty and empty else [[result]]
        done: list[list[PageResult]] = []
        if self.group and result.source_index != self.group[0].source_index:
            done, self.group = [self.group], []
        self.group.append(result)
        return done

    def end(self) -> list[list[PageResult]]:
        return [self.group] if self.group else []


class OCRDocumentReader:
    """The options and the run of an OCR document loader or reader (any framework).

    Args:
        pages: the 1-based pages to read in each document (``"1-3,7"``, ``[1, 2]``).
        password: the password of encrypted PDFs.
        skip_empty: leave out pages with no text (blank pages; failed ones stay).
        model: the vision model (else ``ARLI_OCR_MODEL``, else the default).
        api_key: the API key (else ``ARLI_TEXT_KEY`` or ``ARLIAI_API_KEY``).
        base_url: an OpenAI-compatible endpoint taking base64 images (default: Arli).
        engine: a configured :class:`~arli.ocr.OCREngine` (instead of the options).
        **engine_options: any other :class:`~arli.ocr.OCREngine` argument.

    Raises:
        ValueError: both ``engine`` and engine options were given.
    """

    def __init__(
        self,
        *,
        pages: str | int | Sequence[int] | None = None,
        password: str | SecretStr | None = None,
        skip_empty: bool = False,
        model: str | None = None,
        api_key: Any = None,
        base_url: str | None = None,
        engine: OCREngine | None = None,
        **engine_options: Any,
    ) -> None:
        self.pages = pages
        self.password = secret_password(password)  # never a plain str in vars() or a pickle
        self.skip_empty = skip_empty
        self._options: dict[str, Any] = {
            "model": model,
            # a SecretStr in the kept options too (they may be pickled to workers)
            "api_key": SecretStr(api_key) if isinstance(api_key, str) else api_key,
            "base_url": base_url,
            **engine_options,
        }
        self._user_engine = engine is not None
        # built now, so that a missing key fails early
        self._engine: OCREngine | None = OCREngine.from_options(engine, **self._options)
        self.last_report: OCRReport | None = None

    @property
    def engine(self) -> OCREngine:
        """The OCR engine (built again from the options if it was dropped, e.g. by a pickle)."""
        if self._engine is None:
            self._engine = OCREngine(**self._options)
        return self._engine

    def _start(self, by_source: bool) -> tuple[OCRReport, _Groups]:
        self.last_report = OCRReport(model=self.engine.model)
        return self.last_report, _Groups(by_source=by_source, skip_empty=self.skip_empty)

    def read(self, sources: Any, *, by_source: bool = False) -> Iterator[list[PageResult]]:
        """Read ``sources``; yield each document's page results, in page order.

        Args:
            sources: what :meth:`OCREngine.iter_pages` takes.
            by_source: one group per source (else one per page, ``skip_empty`` applied).
        """
        report, groups = self._start(by_source)
        results = self.engine.iter_pages(
            sources, pages=self.pages, password=self.password, report=report
        )
        with contextlib.closing(results):
            for result in results:
                yield from groups.add(result)
        yield from groups.end()

    async def aread(
        self, sources: Any, *, by_source: bool = False
    ) -> AsyncIterator[list[PageResult]]:
        """Async :meth:`read`, on the caller's event loop."""
        report, groups = self._start(by_source)
        results = self.engine.aiter_pages(
            sources, pages=self.pages, password=self.password, report=report
        )
        async with contextlib.aclosing(results):
            async for result in results:
                for group in groups.add(result):
                    yield group
        for group in groups.end():
            yield group

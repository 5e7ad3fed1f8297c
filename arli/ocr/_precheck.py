"""Checks made before an OCR run's first request (issue 14 #5: no paid work then a refusal).

A page selection (``pages="1-5"``) is checked against every local document (a path or
bytes) before anything is sent: ``ocr([big, small], pages="1-5")`` used to pay for five
pages of ``big`` and then fail on ``small``. A document that cannot be opened here is left
to the run, which reports it under its ``on_page_error`` policy; URLs are checked when
they are downloaded (their page count is not known before).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from pydantic import SecretStr

from arli._errors import ArliValidationError, OCRSourceError
from arli.ocr.render import RenderOptions, open_document, render_executor
from arli.ocr.sources import OCRSource, PageSpec, select_pages

__all__ = ["check_selection", "selection_errors"]


def selection_errors(
    sources: Sequence[OCRSource],
    spec: PageSpec | None,
    *,
    password: SecretStr | None,
    options: RenderOptions,
) -> list[str]:
    """The page-selection error of every local document it does not fit (opens each once)."""
    if spec is None:
        return []
    errors: list[str] = []
    for source in sources:
        if source.url is not None:
            continue
        try:
            with open_document(source, password=password, options=options) as document:
                count = document.page_count
        except OCRSourceError:
            continue  # reported by the run, per its on_page_error policy
        try:
            select_pages(spec, count, source=source.name)
        except ArliValidationError as exc:
            errors.append(str(exc))
    return errors


async def check_selection(
    sources: Sequence[OCRSource],
    spec: PageSpec | None,
    *,
    password: SecretStr | None,
    options: RenderOptions,
) -> None:
    """Refuse a page selection that does not fit every local document, before any request.

    Raises:
        ArliValidationError: naming every document it does not fit and its page count.
    """
    if spec is None:
        return
    loop = asyncio.get_running_loop()
    errors = await loop.run_in_executor(
        render_executor(),
        lambda: selection_errors(sources, spec, password=password, options=options),
    )
    if errors:
        msg = "; ".join(errors) + " (nothing was sent)"
        raise ArliValidationError(msg, field="pages")

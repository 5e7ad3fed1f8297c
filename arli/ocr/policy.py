"""What happens when a page fails: the engine's options checks and failure policies.

``on_page_error`` decides what a failed page does to the run: ``"raise"`` ends it with an
:class:`~arli.OCRPageError` naming the page (pages under way finish, no further page is
started), ``"skip"`` leaves the page out, ``"placeholder"`` yields it with empty text and
its ``error`` set. Either way the failure is in the run's report and in the log, and error
text never goes into page text. Errors that would fail every page (:data:`FATAL`: a
rejected key, a forbidden or unknown model, a configuration error) end the run with their
own typed error; a 404 is told with the vision models the server does list.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

from arli._errors import (
    ArliConfigError,
    ArliError,
    ArliStatusError,
    ArliValidationError,
    AuthenticationError,
    NotFoundError,
    OCRPageError,
    OCRSourceError,
    PermissionDeniedError,
)
from arli._providers import Provider
from arli._settings import check_count, check_seconds
from arli.ocr.progress import Run
from arli.ocr.results import OCRReport, PageFailure, PageResult
from arli.text.client import TextClient

__all__ = [
    "FATAL",
    "OnPageError",
    "check_options",
    "explain_not_found",
    "fail_page",
    "log_failure",
    "page_error",
    "source_failed",
]

logger = logging.getLogger("arli.ocr")

OnPageError = Literal["raise", "skip", "placeholder"]

#: Errors that would fail every page: they end the run whatever ``on_page_error`` says.
FATAL = (AuthenticationError, PermissionDeniedError, NotFoundError, ArliConfigError)


def check_options(
    *,
    on_page_error: object,
    max_concurrency: int | None,
    max_retries: int,
    max_tokens: int,
    max_pages: int | None,
    length_retry_factor: float,
    timeout: float | None = None,
    download_timeout: float = 60.0,
) -> None:
    """Check the engine's policy, limit and timeout options.

    Counts and durations follow the core's rules (:func:`arli._settings.check_count`,
    :func:`arli._settings.check_seconds`).

    Raises:
        ArliValidationError: naming the option and what is allowed.
    """
    if on_page_error not in ("raise", "skip", "placeholder"):
        msg = f"on_page_error must be 'raise', 'skip' or 'placeholder', not {on_page_error!r}"
        raise ArliValidationError(msg, field="on_page_error", allowed="raise, skip, placeholder")
    for name, value, low in (
        ("max_concurrency", max_concurrency, 1),
        ("max_retries", max_retries, 0),
        ("max_tokens", max_tokens, 1),
        ("max_pages", max_pages, 1),
    ):
        if value is not None:
            check_count(value, name, low=low, label="OCREngine")
    if timeout is not None:
        check_seconds(timeout, "timeout", label="OCREngine")
    check_seconds(download_timeout, "download_timeout", label="OCREngine")
    if isinstance(length_retry_factor, bool) or not isinstance(length_retry_factor, (int, float)):
        msg = f"length_retry_factor={length_retry_factor!r} is not a number: allowed >= 1"
        raise ArliValidationError(msg, field="length_retry_factor", allowed=">= 1")
    if not length_retry_factor >= 1:
        msg = f"length_retry_factor={length_retry_factor!r} is out of range: allowed >= 1"
        raise ArliValidationError(msg, field="length_retry_factor", allowed=">= 1")


def fail_page(
    run: Run, result: PageResult, exc: Exception, attempts: int, on_page_error: OnPageError
) -> None:
    """Record ``exc`` as the failure of ``result`` (its text is emptied) in the run's report.

    Under ``"raise"`` the run stops: pages under way finish, no further page is started.
    """
    status = exc.status_code if isinstance(exc, ArliStatusError) else None
    result.error = PageFailure(
        source=result.source,
        page=result.page,
        page_label=result.page_label,
        error=str(exc),
        error_type=type(exc).__name__,
        attempts=attempts,
        status_code=status,
    )
    result.exception = exc
    result.attempts = attempts
    result.text = ""
    result.finish_reason = None
    run.report.failures.append(result.error)
    if on_page_error == "raise":
        run.stop()


def source_failed(
    run: Run, source: str, error: OCRSourceError, on_page_error: OnPageError, *, index: int = 0
) -> PageResult | None:
    """Record a document that could not be read; raise ``error`` under ``"raise"``.

    Returns:
        Under ``"placeholder"``, a document-level result (``page=0``, ``total_pages=0``,
        ``error`` set) that stands for the document in the output; else ``None``.

    Raises:
        OCRSourceError: ``error``, carrying the run's report, when ``on_page_error="raise"``.
    """
    failure = PageFailure(
        source=source,
        page=None,
        page_label=None,
        error=str(error),
        error_type=type(error).__name__,
    )
    run.report.failures.append(failure)
    if on_page_error == "raise":
        error.report = run.report
        raise error
    logger.warning("OCR skipped %s: %s", source, error)
    if on_page_error != "placeholder":
        return None
    return PageResult(
        source=source,
        source_index=index,
        page=0,
        page_label="",
        total_pages=0,
        model=run.report.model,
        error=failure,
        exception=error,
    )


def page_error(result: PageResult, report: OCRReport) -> OCRPageError:
    """The :class:`~arli.OCRPageError` of a failed page (raised under ``"raise"``)."""
    failure = result.error
    assert failure is not None
    cause = result.exception
    where = f"page {result.page}"
    if result.page_label != str(result.page):
        where += f" (label {result.page_label!r})"
    tries = (
        f" after {failure.attempts} attempt{'s' if failure.attempts != 1 else ''}"
        if failure.attempts
        else ""
    )
    msg = (
        f"OCR failed on {where} of {result.source}{tries}: {failure.error_type}: "
        f"{failure.error}. Pass on_page_error='skip' or 'placeholder' to keep going past "
        "failed pages."
    )
    error = OCRPageError(
        msg,
        source=result.source,
        page=result.page,
        page_label=result.page_label,
        attempts=failure.attempts,
        cause=cause,
        report=report,
    )
    error.__cause__ = cause
    return error


def log_failure(result: PageResult, on_page_error: OnPageError) -> None:
    """Log a failed page that the run goes past (``"skip"`` or ``"placeholder"``)."""
    failure = result.error
    assert failure is not None
    logger.warning(
        "OCR failed on page %s of %s after %d attempt(s) (%s): %s: %s",
        result.page_label,
        result.source,
        failure.attempts,
        "left out" if on_page_error == "skip" else "kept as an empty placeholder",
        failure.error_type,
        failure.error,
    )


async def explain_not_found(
    exc: BaseException,
    *,
    client: TextClient,
    model: str,
    provider: Provider,
    documented: Sequence[str],
) -> BaseException:
    """A 404 for ``model``, told with the vision models ``/v1/models`` does list.

    Any other error (or a listing that cannot be read, or one that lists the model)
    comes back unchanged.

    Args:
        exc: the error that ended the run.
        client: the client to list the served models with.
        model: the OCR model asked.
        provider: the provider (named in the message).
        documented: the vision models the provider documents.
    """
    if not isinstance(exc, NotFoundError):
        return exc
    try:
        served = [m.id for m in await client.alist_models()]
    except ArliError:
        return exc
    if model in served:
        return exc
    vision = [name for name in served if name in documented]
    if vision:
        hint = f"the vision models it lists: {', '.join(vision)}"
    else:
        shown = ", ".join(served[:20]) + (", ..." if len(served) > 20 else "")
        hint = (
            f"it lists none of the vision models {provider.label} documents "
            f"({', '.join(documented) or 'none'}); it lists: {shown or 'nothing'}"
        )
    clone = exc.__class__.__new__(exc.__class__)
    clone.__dict__.update(exc.__dict__)
    text = (
        f"{exc}. The OCR model {model!r} is not served by {provider.label} "
        f"(/v1/models); {hint}. Pass one as model=... (or set ARLI_OCR_MODEL)"
    )
    clone.args = (text,)
    if isinstance(clone, ArliStatusError):
        clone.message = text
    return clone

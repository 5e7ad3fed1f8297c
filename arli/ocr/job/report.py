"""A bulk job's ``report.json``: counts, throughput, tokens, failures by cause, and cost.

Counts and tokens cover the whole job (every record in ``pages.jsonl``, earlier runs of a
resumed job included); ``pages_per_second`` and ``elapsed_s`` cover this run only.
Cost is computed from the prices the user gives (per million prompt/completion tokens, or
per request); without a price the cost fields are ``null``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from arli.ocr.job.tasks import FileFailure, JobOptions, PageRecord, PageTask

__all__ = ["DocumentFailure", "build_report", "failed_documents", "summary"]


@dataclass(frozen=True)
class DocumentFailure:
    """A document past ``max_page_error_rate``: failed as a whole, with its pages' errors."""

    doc_id: str
    source: str
    failed: int
    pages: int
    errors: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """The failure as a JSON-serializable dict."""
        return {
            "source": self.source,
            "cause": "error_rate",
            "failed_pages": self.failed,
            "pages": self.pages,
            "error_rate": round(self.failed / self.pages, 4) if self.pages else 0.0,
            "errors": list(self.errors),
        }


def failed_documents(
    tasks: Sequence[PageTask], records: dict[tuple[str, int], PageRecord], rate: float | None
) -> list[DocumentFailure]:
    """Complete documents whose share of failed pages is above ``rate``."""
    if rate is None:
        return []
    pages: Counter[str] = Counter()
    source: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    incomplete: set[str] = set()
    for task in tasks:
        pages[task.doc_id] += 1
        source[task.doc_id] = task.source
        record = records.get(task.key)
        if record is None:
            incomplete.add(task.doc_id)
        elif record.status == "error":
            errors.setdefault(task.doc_id, []).append(
                f"page {record.page}: {record.error_type}: {record.error}"
            )
    out = []
    for doc_id, errs in errors.items():
        if doc_id not in incomplete and len(errs) / pages[doc_id] > rate:
            out.append(
                DocumentFailure(doc_id, source[doc_id], len(errs), pages[doc_id], tuple(errs))
            )
    return out


def _cost(options: JobOptions, prompt: int, completion: int, requests: int) -> float | None:
    if options.price_per_request is not None:
        return requests * options.price_per_request
    if options.price_per_mtok_in is None and options.price_per_mtok_out is None:
        return None
    return (
        prompt * (options.price_per_mtok_in or 0.0)
        + completion * (options.price_per_mtok_out or 0.0)
    ) / 1e6


def build_report(
    *,
    options: JobOptions,
    tasks: Sequence[PageTask],
    records: dict[tuple[str, int], PageRecord],
    file_failures: Sequence[FileFailure],
    document_failures: Sequence[DocumentFailure],
    elapsed: float,
    pages_this_run: int,
    requests_this_run: int,
    max_in_flight: int,
    state: str,
) -> dict[str, Any]:
    """The report of a job (see the module docstring).

    Args:
        options: the job's options (prices, policy).
        tasks: every page of the job.
        records: the latest record of each page.
        file_failures: inputs that yielded no page.
        document_failures: documents failed past the error rate.
        elapsed: seconds this run took.
        pages_this_run: pages finished in this run.
        requests_this_run: requests sent in this run (cache hits and layer pages excluded).
        max_in_flight: the job's request limit.
        state: ``"complete"``, ``"interrupted"`` or ``"stopped"`` (a page failed under
            ``on_page_error="raise"``).
    """
    done = [records[t.key] for t in tasks if t.key in records]
    status = Counter(r.status for r in done)
    source = Counter(r.text_source for r in done if r.text_source)
    by_cause = Counter(r.error_type or "error" for r in done if r.status == "error")
    by_cause.update(f.cause for f in file_failures)
    by_cause.update("error_rate" for _ in document_failures)
    prompt = sum(r.prompt_tokens for r in done)
    completion = sum(r.completion_tokens for r in done)
    requests = sum(r.attempts for r in done)
    model_pages = sum(1 for r in done if r.attempts)
    cost = _cost(options, prompt, completion, requests)
    documents = {t.doc_id for t in tasks}
    return {
        "state": state,
        "model": options.model,
        "documents": {
            "total": len(documents) + len(file_failures),
            "planned": len(documents),
            "failed_to_open": len(file_failures),
            "failed_error_rate": len(document_failures),
        },
        "pages": {
            "total": len(tasks),
            "done": len(done),
            "remaining": len(tasks) - len(done),
            "ok": status["ok"],
            "blank": status["blank"],
            "failed": status["error"],
            "from_model": source["model"],
            "from_text_layer": source["text_layer"],
            "from_fallback": source["fallback"],
        },
        "this_run": {
            "elapsed_s": round(elapsed, 3),
            "pages": pages_this_run,
            "requests": requests_this_run,
            "pages_per_second": round(pages_this_run / elapsed, 3) if elapsed > 0 else None,
            "max_in_flight": max_in_flight,
        },
        "tokens": {
            "prompt": prompt,
            "completion": completion,
            "requests": requests,
            "prompt_per_model_page": round(prompt / model_pages, 1) if model_pages else None,
            "completion_per_model_page": round(completion / model_pages, 1)
            if model_pages
            else None,
        },
        "cost": {
            "price_per_mtok_in": options.price_per_mtok_in,
            "price_per_mtok_out": options.price_per_mtok_out,
            "price_per_request": options.price_per_request,
            "usd": round(cost, 6) if cost is not None else None,
            "usd_per_1000_pages": round(cost / len(done) * 1000, 4)
            if cost is not None and done
            else None,
        },
        "failures_by_cause": dict(sorted(by_cause.items())),
        "file_failures": [f.as_dict() for f in file_failures],
        "document_failures": [d.as_dict() for d in document_failures],
        "page_failures": [
            {
                "source": r.source,
                "page": r.page,
                "error_type": r.error_type,
                "error": r.error,
                "attempts": r.attempts,
                "status_code": r.status_code,
            }
            for r in done
            if r.status == "error"
        ],
    }


def summary(report: dict[str, Any]) -> str:
    """A few lines for a person: pages, speed, tokens, cost, failures."""
    pages, run, tokens, cost = report["pages"], report["this_run"], report["tokens"], report["cost"]
    lines = [
        f"{pages['done']}/{pages['total']} pages ({pages['ok']} ok, {pages['blank']} blank, "
        f"{pages['failed']} failed; {pages['from_text_layer']} from text layers, "
        f"{pages['from_fallback']} fallbacks), {report['documents']['planned']} documents",
    ]
    speed = run["pages_per_second"]
    lines.append(
        f"this run: {run['pages']} pages in {run['elapsed_s']:.1f} s"
        + (f" ({speed:.1f} pages/s)" if speed else "")
        + f", {run['requests']} requests"
    )
    lines.append(
        f"tokens: {tokens['prompt']} prompt + {tokens['completion']} completion"
        + (
            f" ({tokens['prompt_per_model_page']} + {tokens['completion_per_model_page']} per page)"
            if tokens["prompt_per_model_page"] is not None
            else ""
        )
    )
    if cost["usd"] is not None:
        per = cost["usd_per_1000_pages"]
        lines.append(
            f"cost: ${cost['usd']:.4f}"
            + (f" (${per:.2f} per 1000 pages)" if per is not None else "")
        )
    if report["failures_by_cause"]:
        causes = ", ".join(f"{k} {v}" for k, v in report["failures_by_cause"].items())
        lines.append(f"failures: {causes}")
    return "\n".join(lines)

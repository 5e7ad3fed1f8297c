"""``arli ocr``: files and URLs in, Markdown/text or JSON lines out, and a run report.

Kept apart from :mod:`arli.cli` so ``arli --help`` never imports the OCR engine.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any, TextIO

from arli._errors import OCRPageError, OCRSourceError
from arli.ocr import OCREngine, OCRReport, OCRResult, PageResult

__all__ = [
    "check_output",
    "format_result",
    "interrupted_message",
    "resume_command",
    "run_job_command",
    "run_ocr",
]


def format_result(result: OCRResult, *, jsonl: bool) -> str:
    """The run's pages as Markdown/text (one section per document) or as JSON lines."""
    if jsonl:
        lines = []
        for page in result.pages:
            record = {
                "source": page.source,
                "page": page.page,
                "page_number": page.page,
                "page_label": page.page_label,
                "total_pages": page.total_pages,
                "text": page.text,
                "error": page.error.as_dict() if page.error is not None else None,
                "finish_reason": page.finish_reason,
                "prompt_tokens": page.usage.prompt_tokens,
                "completion_tokens": page.usage.completion_tokens,
            }
            lines.append(json.dumps(record, ensure_ascii=False))
        return "\n".join(lines) + ("\n" if lines else "")
    parts: list[str] = []
    current: str | None = None
    for page in result.pages:
        if page.source != current:
            current = page.source
            parts.append(f"# {page.source}\n")
        marker = f"<!-- page {page.page_label} -->" if page.page else "<!-- document -->"
        if page.error is not None:
            marker += f"\n<!-- not transcribed: {page.error.error_type} -->"
        parts.append(f"{marker}\n\n{page.text}".rstrip() + "\n")
    return "\n".join(parts)


def _job_options(args: argparse.Namespace, client_options: dict[str, Any]) -> Any:
    from pydantic import SecretStr  # noqa: PLC0415

    from arli.ocr.job.tasks import JobOptions  # noqa: PLC0415

    key = client_options.get("api_key")
    return JobOptions(
        model=args.model,
        api_key=SecretStr(key.strip()) if key else None,
        base_url=client_options.get("base_url"),
        provider=client_options.get("provider", "arli"),
        output_format=args.format,
        pages=args.pages,
        dpi=float(args.dpi) if args.dpi else 150.0,
        max_retries=args.max_retries if args.max_retries is not None else 4,
        timeout=args.timeout,
        on_page_error=args.on_error,
        max_page_error_rate=args.max_page_error_rate,
        text_layer=args.text_layer or "never",
        anchor_text_layer=args.anchor_text_layer,
        max_in_flight=args.max_in_flight or args.concurrency,
        cache_dir=args.cache,
        price_per_mtok_in=args.price_per_mtok_in,
        price_per_mtok_out=args.price_per_mtok_out,
        price_per_request=args.price_per_request,
    )


def run_job_command(args: argparse.Namespace, client_options: dict[str, Any]) -> int:
    """``arli ocr INPUT... --out DIR``: the resumable bulk job; 1 when anything failed."""
    from arli._errors import ArliValidationError  # noqa: PLC0415
    from arli.ocr.job.report import summary  # noqa: PLC0415
    from arli.ocr.job.runner import prepare, run_job  # noqa: PLC0415

    options = _job_options(args, client_options)
    if args.output:
        msg = "-o names one output file and --out a job directory: give one of them"
        raise ArliValidationError(msg, field="output")
    show = False if args.no_progress else None
    try:
        if args.runner == "ray":
            try:
                ray_runner = importlib.import_module("arli.ocr.job.ray_runner")
            except ImportError as exc:
                msg = (
                    f"--runner ray is not available ({exc}); install it with "
                    'pip install "arli-integrations[ray]", or use --runner local'
                )
                raise ImportError(msg) from None
            result = ray_runner.run_job(
                list(args.files), args.out, options, overwrite=args.overwrite, show_progress=show
            )
        else:
            job = prepare(list(args.files), args.out, options, overwrite=args.overwrite)
            result = run_job(job, show_progress=show)
    except KeyboardInterrupt:
        sys.stderr.write(interrupted_message(args) + "\n")
        return 130
    sys.stderr.write(summary(result.report) + "\n")
    sys.stderr.write(f"wrote {result.location} (report.json, pages.jsonl, documents/)\n")
    return 0 if result.ok else 1


def resume_command(args: argparse.Namespace, argv: list[str] | None = None) -> str:
    """The command that resumes the job of ``args`` (``--overwrite`` left out: it restarts).

    Args:
        args: the parsed ``arli ocr ... --out DIR`` command line.
        argv: the command line's words (``None``: ``sys.argv[1:]`` when it is this
            command, else one rebuilt from the inputs and ``--out``).
    """
    words = argv if argv is not None else sys.argv[1:]
    if "ocr" not in words or args.out not in words:  # called as a library: rebuild it
        words = ["ocr", *args.files, "--out", args.out]
    kept = [w for w in words if w != "--overwrite"]
    return shlex.join(["arli", *kept])


def interrupted_message(args: argparse.Namespace, argv: list[str] | None = None) -> str:
    """What the CLI says when a job is interrupted: the pages kept, the command to resume."""
    try:
        report = json.loads((Path(args.out) / "report.json").read_text(encoding="utf-8"))
        pages = report["pages"]
        kept = (
            f"{pages['done']} of {pages['total']} pages are done and kept "
            f"({report['this_run']['pages']} this run)"
        )
    except (OSError, ValueError, KeyError, TypeError):
        kept = "every finished page is kept"
    return (
        f"\ninterrupted: {kept} in {args.out}/pages.jsonl and the page cache; no finished "
        f"page is sent again. To resume, run the same command again:\n  "
        f"{resume_command(args, argv)}"
    )


def check_output(path: str | None, *, overwrite: bool) -> None:
    """Refuse an ``-o`` destination that would fail or clobber, before any request.

    Raises:
        ArliValidationError: a directory, an existing file without ``--overwrite``, or a
            parent that is a file.
    """
    from arli._errors import ArliValidationError  # noqa: PLC0415

    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        msg = f"-o {path} is a directory; -o names a file (.md, .txt, .jsonl); --out a job dir"
        raise ArliValidationError(msg, field="output")
    if target.exists() and not overwrite:
        msg = f"-o {path} already exists; pass --overwrite to replace it"
        raise ArliValidationError(msg, field="output")
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        msg = f"-o {path}: cannot write in {parent}"
        raise ArliValidationError(msg, field="output")


#: Flags that only a bulk job (``--out DIR``) uses, with their "not given" value.
_JOB_FLAGS = {
    "max_in_flight": None,
    "text_layer": None,
    "anchor_text_layer": False,
    "max_page_error_rate": None,
    "price_per_mtok_in": None,
    "price_per_mtok_out": None,
    "price_per_request": None,
    "runner": None,
}


def _refuse_job_flags(args: argparse.Namespace) -> None:
    """A job-only flag without ``--out`` would be ignored: refuse it instead."""
    from arli._errors import ArliValidationError  # noqa: PLC0415

    given = [k for k, unset in _JOB_FLAGS.items() if getattr(args, k) != unset]
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        msg = f"{flags} only apply to a bulk job: add --out DIR"
        raise ArliValidationError(msg, field="out")


def run_ocr(args: argparse.Namespace, out: TextIO, client_options: dict[str, Any]) -> int:
    """Run the ``ocr`` command; 1 when a page failed (they are listed on stderr)."""
    if args.out:
        return run_job_command(args, client_options)
    _refuse_job_flags(args)
    check_output(args.output, overwrite=args.overwrite)
    options: dict[str, Any] = {
        "output_format": args.format,
        "on_page_error": args.on_error,
        "show_progress": not args.no_progress and sys.stderr.isatty(),
        **{k: v for k, v in client_options.items() if k != "base_url"},
    }
    if client_options.get("base_url"):
        options["base_url"] = client_options["base_url"]
    for name in ("model", "cache", "dpi", "timeout", "max_retries"):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    if args.concurrency is not None:
        options["max_concurrency"] = args.concurrency
    report = OCRReport(model="")
    pages: list[PageResult] = []
    # every page the engine finished, when it finished: a page answered but not yet
    # handed over in order when Ctrl-C or a failure stops the run is paid work too
    finished: list[PageResult] = []
    options["on_page_done"] = lambda result, _done, _total: finished.append(result)
    with OCREngine(**options) as engine:
        try:
            for page in engine.iter_pages(list(args.files), pages=args.pages, report=report):
                pages.append(page)
        except KeyboardInterrupt:
            kept = _with_finished(pages, finished, args.on_error)
            _write(OCRResult(kept, report), args, out)
            hint = (
                f"the pages finished are in the page cache {args.cache}; rerun to resume"
                if args.cache
                else "use --out DIR (resumable) or --cache DIR so a rerun pays only new pages"
            )
            sys.stderr.write(f"\ninterrupted after {len(kept)} page(s), written; {hint}\n")
            return 130
        except (OCRPageError, OCRSourceError):
            # the pages paid for before the failure are not thrown away
            _write(OCRResult(_with_finished(pages, finished, args.on_error), report), args, out)
            raise
    result = OCRResult(pages, report)
    _write(result, args, out)
    sys.stderr.write(result.report.summary() + "\n")
    return 0 if result.report.ok else 1


def _with_finished(
    pages: list[PageResult], finished: list[PageResult], on_error: str
) -> list[PageResult]:
    """The pages handed over, plus those finished but not yet handed over, in page order.

    A failed page is added only where the run writes failures (``--on-error placeholder``).
    """
    handed = {id(page) for page in pages}
    extra = [
        page
        for page in finished
        if id(page) not in handed and (page.error is None or on_error == "placeholder")
    ]
    if not extra:
        return pages
    return sorted([*pages, *extra], key=lambda page: (page.source_index, page.page))


def _write(result: OCRResult, args: argparse.Namespace, out: TextIO) -> None:
    """Write the pages (all of them, or those finished before a failure or Ctrl-C)."""
    if not result.pages and args.output is None:
        return
    jsonl = bool(args.output and args.output.endswith(".jsonl"))
    text = format_result(result, jsonl=jsonl)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text, encoding="utf-8")
        sys.stderr.write(f"wrote {args.output} ({len(result.pages)} page(s))\n")
    else:
        out.write(text)

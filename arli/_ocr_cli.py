"""``arli ocr``: files and URLs in, Markdown/text or JSON lines out, and a run report.

Kept apart from :mod:`arli.cli` so ``arli --help`` never imports the OCR engine.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from arli.ocr import OCREngine, OCRResult

__all__ = ["format_result", "run_ocr"]


def format_result(result: OCRResult, *, jsonl: bool) -> str:
    """The run's pages as Markdown/text (one section per document) or as JSON lines."""
    if jsonl:
        lines = []
        for page in result.pages:
            record = {
                "source": page.source,
                "page": page.page,
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
        marker = f"<!-- page {page.page_label} -->"
        if page.error is not None:
            marker += f"\n<!-- not transcribed: {page.error.error_type} -->"
        parts.append(f"{marker}\n\n{page.text}".rstrip() + "\n")
    return "\n".join(parts)


def run_ocr(args: argparse.Namespace, out: TextIO, client_options: dict[str, Any]) -> int:
    """Run the ``ocr`` command; 1 when a page failed (they are listed on stderr)."""
    options: dict[str, Any] = {
        "output_format": args.format,
        "on_page_error": args.on_error,
        "show_progress": not args.no_progress and sys.stderr.isatty(),
        **{k: v for k, v in client_options.items() if k != "base_url"},
    }
    if client_options.get("base_url"):
        options["base_url"] = client_options["base_url"]
    for name in ("model", "cache", "dpi"):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    if args.concurrency is not None:
        options["max_concurrency"] = args.concurrency
    with OCREngine(**options) as engine:
        result = engine.ocr(list(args.files), pages=args.pages)
    jsonl = bool(args.output and args.output.endswith(".jsonl"))
    text = format_result(result, jsonl=jsonl)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        out.write(text)
    sys.stderr.write(result.report.summary() + "\n")
    if args.output:
        sys.stderr.write(f"wrote {args.output}\n")
    return 0 if result.report.ok else 1

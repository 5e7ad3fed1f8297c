"""OCR with a vision chat model: images and PDFs in, ordered page transcriptions out.

- :mod:`arli.ocr.engine`: :class:`OCREngine` and :func:`ocr` / :func:`aocr`: the run
  (rendering ahead, concurrency, semantic retries, cache, page order).
- :mod:`arli.ocr.results`: page results, failures and the run report.
- :mod:`arli.ocr.policy`: what a failed page does (``on_page_error``), fatal errors.
- :mod:`arli.ocr.retries`: the semantic retries (a looping or cut-off answer).
- :mod:`arli.ocr.progress`: the progress bar and the state one run shares.
- :mod:`arli.ocr.render`: sources and lazy page rendering (pypdfium2 for PDFs, Pillow for
  images; the ``ocr`` extra).
- :mod:`arli.ocr.prompts`: prompt presets and answer clean-up.
- :mod:`arli.ocr.cache`: the content-addressed page cache.

Importing this package imports neither Pillow nor pypdfium2; they load when a page is
rendered (``pip install "arli-integrations[ocr]"``).
"""

from __future__ import annotations

from arli.ocr.cache import DirectoryCache, OCRCache, cache_key
from arli.ocr.engine import (
    DEFAULT_OCR_MODEL,
    OCREngine,
    OCRReport,
    OCRResult,
    OnPageError,
    PageFailure,
    PageResult,
    aocr,
    ocr,
    page_metadata,
)
from arli.ocr.prompts import (
    MARKDOWN_PROMPT,
    TEXT_PROMPT,
    OutputFormat,
    looks_repetitive,
    strip_code_fences,
)
from arli.ocr.render import (
    OCRSource,
    PageImage,
    RenderOptions,
    parse_page_spec,
    render_pages,
    select_pages,
)

__all__ = [
    "DEFAULT_OCR_MODEL",
    "MARKDOWN_PROMPT",
    "TEXT_PROMPT",
    "DirectoryCache",
    "OCRCache",
    "OCREngine",
    "OCRReport",
    "OCRResult",
    "OCRSource",
    "OnPageError",
    "OutputFormat",
    "PageFailure",
    "PageImage",
    "PageResult",
    "RenderOptions",
    "aocr",
    "cache_key",
    "looks_repetitive",
    "ocr",
    "page_metadata",
    "parse_page_spec",
    "render_pages",
    "select_pages",
    "strip_code_fences",
]

"""LlamaIndex integrations for Arli AI.

The public classes are imported on first use: llama-index-core imports Pillow and much
more, so ``import llama_index_arli`` stays light (add new exports to ``_EXPORTS``, by
module, to ``__all__`` and to the ``TYPE_CHECKING`` imports).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from arli._lazy import lazy_exports

if TYPE_CHECKING:
    from llama_index_arli.llms import Arli, Featherless
    from llama_index_arli.readers.ocr import ArliOCRReader
    from llama_index_arli.readers.ocr_job import ArliOCRJobReader
    from llama_index_arli.tools.images import ArliImageToolSpec
    from llama_index_arli.tools.ocr import ArliOCRToolSpec

_EXPORTS: dict[str, tuple[str, ...]] = {
    "llama_index_arli.llms": ("Arli", "Featherless"),
    "llama_index_arli.readers.ocr": ("ArliOCRReader",),
    "llama_index_arli.readers.ocr_job": ("ArliOCRJobReader",),
    "llama_index_arli.tools.images": ("ArliImageToolSpec",),
    "llama_index_arli.tools.ocr": ("ArliOCRToolSpec",),
}

__all__ = [
    "Arli",
    "ArliImageToolSpec",
    "ArliOCRJobReader",
    "ArliOCRReader",
    "ArliOCRToolSpec",
    "Featherless",
]


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

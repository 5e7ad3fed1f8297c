"""LlamaIndex integrations for Arli AI.

The public classes are imported on first use: llama-index-core imports Pillow and much
more, so ``import llama_index_arli`` stays light (add new exports to ``_LAZY``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llama_index_arli.llms import Arli, Featherless
    from llama_index_arli.readers.ocr import ArliOCRReader
    from llama_index_arli.tools.images import ArliImageToolSpec
    from llama_index_arli.tools.ocr import ArliOCRToolSpec

_LAZY: dict[str, str] = {
    "Arli": "llama_index_arli.llms",
    "Featherless": "llama_index_arli.llms",
    "ArliImageToolSpec": "llama_index_arli.tools.images",
    "ArliOCRReader": "llama_index_arli.readers.ocr",
    "ArliOCRToolSpec": "llama_index_arli.tools.ocr",
}

__all__ = ["Arli", "ArliImageToolSpec", "ArliOCRReader", "ArliOCRToolSpec", "Featherless"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])

"""LlamaIndex tool specs for Arli AI."""

from llama_index_arli.tools.images import ArliImageToolSpec
from llama_index_arli.tools.ocr import ArliOCRToolSpec

__all__ = ["ArliImageToolSpec", "ArliOCRToolSpec"]

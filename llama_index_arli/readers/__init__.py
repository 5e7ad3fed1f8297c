"""LlamaIndex readers for Arli AI: OCR of images and PDFs with a vision model."""

from llama_index_arli.readers.ocr import ArliOCRReader

__all__ = ["ArliOCRReader"]

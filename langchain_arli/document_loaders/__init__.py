"""LangChain document loaders for Arli AI: OCR of images and PDFs with a vision model."""

from langchain_arli.document_loaders.ocr import ArliOCRLoader, ArliOCRParser

__all__ = ["ArliOCRLoader", "ArliOCRParser"]

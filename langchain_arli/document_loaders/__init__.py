"""LangChain document loaders for Arli AI: OCR with a vision model, and bulk OCR job output.

``ArliOCRJobLoader`` reads the pages a bulk OCR job wrote (finished or running).
"""

from langchain_arli.document_loaders.ocr import ArliOCRLoader, ArliOCRParser
from langchain_arli.document_loaders.ocr_job import ArliOCRJobLoader

__all__ = ["ArliOCRJobLoader", "ArliOCRLoader", "ArliOCRParser"]

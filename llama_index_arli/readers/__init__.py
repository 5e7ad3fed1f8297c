"""LlamaIndex readers for Arli AI: OCR with a vision model, and bulk OCR job output.

``ArliOCRJobReader`` reads the pages a bulk OCR job wrote (finished or running).
"""

from llama_index_arli.readers.ocr import ArliOCRReader
from llama_index_arli.readers.ocr_job import ArliOCRJobReader

__all__ = ["ArliOCRJobReader", "ArliOCRReader"]

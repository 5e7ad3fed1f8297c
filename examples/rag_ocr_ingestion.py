"""RAG ingestion of scanned documents: OCR a PDF page by page, index the pages, retrieve.

    python examples/rag_ocr_ingestion.py [FILE.pdf ...]            # Arli (ARLIAI_API_KEY)
    python examples/rag_ocr_ingestion.py --offline                 # the local reference server

Every page becomes a LangChain Document with its page number and label; a failed page
would be reported (``on_page_error="placeholder"`` keeps an empty page whose metadata
says why), never silently dropped. The vector store is LangChain's in-memory one; the
embedding here is a tiny word-hashing function so the example runs anywhere; use your
embedding model in real code.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from pathlib import Path
from typing import Any

from _offline import connection, example_parser
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import InMemoryVectorStore

import arli
from langchain_arli import ArliOCRLoader

OCR_MODEL = os.environ.get("ARLI_OCR_MODEL", "Qwen/Qwen3.5-VL")
SAMPLE = Path(arli.__file__).resolve().parent / "_demo_assets" / "sample-report.pdf"
QUESTION = "How much oil did North Rock use?"


class HashingEmbeddings(Embeddings):
    """Bag-of-words vectors by hashing: no model, no network (an example stand-in)."""

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dim
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            vector[int(hashlib.sha1(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents."""
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        """Embed a query."""
        return self._vector(text)


def ingest(
    files: list[Path], connection: dict[str, Any]
) -> tuple[InMemoryVectorStore, list[Document]]:
    """OCR ``files`` into page Documents and index them."""
    loader = ArliOCRLoader(
        files,
        model=OCR_MODEL,
        on_page_error="placeholder",
        max_concurrency=1 if connection else 4,
        **connection,
    )
    docs = loader.load()
    print(loader.last_report.summary() if loader.last_report else "")
    store = InMemoryVectorStore(HashingEmbeddings())
    store.add_documents([d for d in docs if d.page_content.strip()])
    return store, docs


def main(argv: list[str] | None = None) -> list[Document]:
    """Run the example; return the retrieved documents."""
    parser = example_parser(__doc__)
    parser.add_argument("files", nargs="*", type=Path, default=[SAMPLE], help="PDFs or images")
    args = parser.parse_args(argv)
    with connection(args.offline, demo=True) as options:
        store, _ = ingest(list(args.files), options)
    hits = store.similarity_search(QUESTION, k=1)
    for hit in hits:
        print(f"\n{QUESTION}\n-> page {hit.metadata['page_label']} of {hit.metadata['source']}:")
        print(hit.page_content)
    return hits


if __name__ == "__main__":
    main()

"""The vision models OCR uses by default, per provider, and the default concurrency.

Re-exported by :mod:`arli.ocr.engine`.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_OCR_MODEL",
    "DEFAULT_OCR_MODELS",
    "DOCUMENTED_VISION_MODELS",
]

#: The vision models each provider's documents list (seed 002, "Vision / OCR Guide": Arli's
#: take images as base64 only, which is how pages are always sent; Featherless's take both).
DOCUMENTED_VISION_MODELS: dict[str, tuple[str, ...]] = {
    "arli": ("Qwen/Qwen3.5-VL", "Qwen/Qwen3.5-27B-Derestricted"),
    "arli-proxy": ("Qwen/Qwen3.5-VL", "Qwen/Qwen3.5-27B-Derestricted"),
    "featherless": (
        "google/gemma-3-27b-it",
        "google/gemma-3-12b-it",
        "google/gemma-3-4b-it",
        "mistralai/Mistral-Small-3.1-24B-Instruct-2503",
        "mistralai/Mistral-Small-3.2-24B-Instruct-2506",
        "mistralai/Magistral-Small-2506-24B-Instruct",
    ),
}
#: The vision model used when none is given (``ARLI_OCR_MODEL`` overrides it): Arli's
#: documented "Document/vision" model.
DEFAULT_OCR_MODEL = "Qwen/Qwen3.5-VL"
#: The default vision model per provider (Featherless recommends gemma-3-27b-it for OCR).
DEFAULT_OCR_MODELS = {"featherless": "google/gemma-3-27b-it"}
#: Pages in flight when neither ``max_concurrency`` nor a process-wide limit is set.
DEFAULT_CONCURRENCY = 4

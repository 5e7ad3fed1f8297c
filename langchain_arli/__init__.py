"""LangChain integrations for Arli AI: chat and completion models, tools and loaders.

Public classes are imported on first use, so ``import langchain_arli`` stays light (and
using the image tools never imports the chat-model machinery); add new exports to
``_EXPORTS`` (by module), to ``__all__`` and to the ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from arli._lazy import lazy_exports
from arli._version import __version__

if TYPE_CHECKING:
    from langchain_arli._init_chat_model import init_chat_model
    from langchain_arli.chat_models import ChatArli, ChatFeatherless
    from langchain_arli.document_loaders import ArliOCRJobLoader, ArliOCRLoader, ArliOCRParser
    from langchain_arli.llms import ArliLLM
    from langchain_arli.tools import (
        ArliImageEditTool,
        ArliImageGenerationTool,
        ArliImageToolkit,
        ArliImageToVideoTool,
        ArliImageUpscaleTool,
        ArliListImageModelsTool,
        ArliListSamplersTool,
        ArliListUpscalersTool,
        ArliOCRTool,
    )

_EXPORTS: dict[str, tuple[str, ...]] = {
    "langchain_arli.chat_models": ("ChatArli", "ChatFeatherless"),
    "langchain_arli.llms": ("ArliLLM", "FeatherlessLLM"),
    "langchain_arli.document_loaders": ("ArliOCRJobLoader", "ArliOCRLoader", "ArliOCRParser"),
    "langchain_arli.tools": (
        "ArliImageEditTool",
        "ArliImageGenerationTool",
        "ArliImageToVideoTool",
        "ArliImageToolkit",
        "ArliImageUpscaleTool",
        "ArliListImageModelsTool",
        "ArliListSamplersTool",
        "ArliListUpscalersTool",
        "ArliOCRTool",
    ),
    "langchain_arli._init_chat_model": ("init_chat_model",),
}

__all__ = [
    "ArliImageEditTool",
    "ArliImageGenerationTool",
    "ArliImageToVideoTool",
    "ArliImageToolkit",
    "ArliImageUpscaleTool",
    "ArliLLM",
    "ArliListImageModelsTool",
    "ArliListSamplersTool",
    "ArliListUpscalersTool",
    "ArliOCRJobLoader",
    "ArliOCRLoader",
    "ArliOCRParser",
    "ArliOCRTool",
    "ChatArli",
    "ChatFeatherless",
    "FeatherlessLLM",
    "__version__",
    "init_chat_model",
]


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

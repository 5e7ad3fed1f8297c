"""LangChain integrations for Arli AI: chat and completion models, tools and loaders.

Public classes are imported on first use, so ``import langchain_arli`` stays light (and
using the image tools never imports the chat-model machinery); add new exports to
``_LAZY``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from arli._version import __version__

if TYPE_CHECKING:
    from langchain_arli._init_chat_model import init_chat_model
    from langchain_arli.chat_models import ChatArli, ChatFeatherless
    from langchain_arli.document_loaders import ArliOCRLoader, ArliOCRParser
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

_LAZY: dict[str, str] = {
    "ArliImageEditTool": "langchain_arli.tools",
    "ArliImageGenerationTool": "langchain_arli.tools",
    "ArliImageToVideoTool": "langchain_arli.tools",
    "ArliImageToolkit": "langchain_arli.tools",
    "ArliImageUpscaleTool": "langchain_arli.tools",
    "ArliLLM": "langchain_arli.llms",
    "ArliListImageModelsTool": "langchain_arli.tools",
    "ArliListSamplersTool": "langchain_arli.tools",
    "ArliListUpscalersTool": "langchain_arli.tools",
    "ArliOCRLoader": "langchain_arli.document_loaders",
    "ArliOCRParser": "langchain_arli.document_loaders",
    "ArliOCRTool": "langchain_arli.tools",
    "ChatArli": "langchain_arli.chat_models",
    "ChatFeatherless": "langchain_arli.chat_models",
    "FeatherlessLLM": "langchain_arli.llms",
    "init_chat_model": "langchain_arli._init_chat_model",
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
    "ArliOCRLoader",
    "ArliOCRParser",
    "ArliOCRTool",
    "ChatArli",
    "ChatFeatherless",
    "FeatherlessLLM",
    "__version__",
    "init_chat_model",
]


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

"""LangChain tools for Arli AI: image generation, editing, upscaling, listings, video, OCR."""

from langchain_arli.tools.images import (
    ArliImageEditInput,
    ArliImageEditTool,
    ArliImageGenerationInput,
    ArliImageGenerationTool,
    ArliImageToolkit,
    ArliImageToVideoInput,
    ArliImageToVideoTool,
    ArliImageUpscaleInput,
    ArliImageUpscaleTool,
    ArliListImageModelsTool,
    ArliListSamplersTool,
    ArliListUpscalersTool,
)
from langchain_arli.tools.ocr import ArliOCRInput, ArliOCRTool

__all__ = [
    "ArliImageEditInput",
    "ArliImageEditTool",
    "ArliImageGenerationInput",
    "ArliImageGenerationTool",
    "ArliImageToVideoInput",
    "ArliImageToVideoTool",
    "ArliImageToolkit",
    "ArliImageUpscaleInput",
    "ArliImageUpscaleTool",
    "ArliListImageModelsTool",
    "ArliListSamplersTool",
    "ArliListUpscalersTool",
    "ArliOCRInput",
    "ArliOCRTool",
]

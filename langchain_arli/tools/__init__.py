"""LangChain tools for Arli AI: image generation, editing, upscaling, listings, video, OCR.

The public names are those of :mod:`langchain_arli.tools.images` and
:mod:`langchain_arli.tools.ocr` (their ``__all__``), listed once there.
"""

from langchain_arli.tools import images, ocr
from langchain_arli.tools.images import *  # noqa: F403 - the module's __all__
from langchain_arli.tools.ocr import *  # noqa: F403 - the module's __all__

__all__ = images.__all__ + ocr.__all__

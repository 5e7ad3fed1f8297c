"""LlamaIndex tool spec for OCR: an agent reads the text of an image or PDF by path or URL.

The spec translates; :class:`arli.ocr.tooling.OCRToolbox` decides (which files may be
read, the page cap, the text the model gets). Each function returns an
:class:`~arli.ocr.tooling.OCRToolOutput`: LlamaIndex puts ``str(output)`` — the pages' text,
then notes on failed, cut-off, blank or left-out pages — into ``ToolOutput.content``, and
keeps the output itself (every page's details and the run report) in
``ToolOutput.raw_output``. Errors the agent can fix are raised with a message saying what
to change; a missing or rejected key is raised as it is.

The function's name, arguments and description come from the core contract
(:data:`arli.ocr.tooling.OCR_TOOL`), as for the LangChain tool, so both answer the same bad
arguments with the same text. This module does not use ``from __future__ import
annotations``: LlamaIndex evaluates the functions' annotations.
"""

import os
from collections.abc import Sequence
from typing import Any

from llama_index.core.tools.tool_spec.base import SPEC_FUNCTION_TYPE
from pydantic import SecretStr

from arli._errors import ArliError
from arli._kwargs import checks_arguments
from arli.ocr.engine import OCREngine, OnPageError
from arli.ocr.tooling import DEFAULT_MAX_CHARS, OCR_TOOL, OCRToolbox, OCRToolOutput
from arli.tool_contract import ToolContract
from llama_index_arli.tools._contract import ContractToolSpec, spec_pair

__all__ = ["ArliOCRToolSpec"]


@checks_arguments(passes_to=(OCREngine,), extras="extra_body")
class ArliOCRToolSpec(ContractToolSpec):
    """Arli AI OCR for LlamaIndex agents: ``read_document`` and its async twin.

    Args:
        model: the vision model (else ``ARLI_OCR_MODEL``, else the default).
        api_key: the API key (else ``ARLI_TEXT_KEY`` or ``ARLIAI_API_KEY``).
        base_url: an OpenAI-compatible endpoint taking base64 images (default: Arli).
        engine: a configured :class:`~arli.ocr.OCREngine` (instead of the options).
        on_page_error: what a failed page does (default ``"placeholder"``: it is named in
            the answer's notes and the other pages are kept).
        max_pages: pages read per call at most (a cost guard); ``None`` for no limit.
        max_chars: the longest text given to the model (the raw output has all of it).
        input_dirs: directories the agent may read files from (default: the working
            directory).
        allow_urls: accept http(s) URLs from the agent.
        password: the password of encrypted PDFs.
        **engine_options: any other :class:`~arli.ocr.OCREngine` argument.

    Example:
        .. code-block:: python

            from llama_index.core.agent.workflow import FunctionAgent
            from llama_index_arli import ArliOCRToolSpec

            spec = ArliOCRToolSpec(model="Qwen/Qwen3.5-VL", input_dirs=["uploads/"])
            agent = FunctionAgent(tools=spec.to_tool_list(), llm=llm)
            output = spec.to_tool_list()[0].call(source="uploads/scan.png")
            output.content                      # the text
            output.raw_output.result.pages      # per page: text, label, tokens, errors...
    """

    spec_functions: list[SPEC_FUNCTION_TYPE] = [  # noqa: RUF012 - LlamaIndex's convention
        ("read_document", "aread_document"),
    ]

    def __init__(
        self,
        *,
        model: str | None = None,
        api_key: Any = None,
        base_url: str | None = None,
        engine: OCREngine | None = None,
        on_page_error: OnPageError = "placeholder",
        max_pages: int | None = 50,
        max_chars: int | None = DEFAULT_MAX_CHARS,
        input_dirs: Sequence[str | os.PathLike[str]] | None = None,
        allow_urls: bool = True,
        password: str | SecretStr | None = None,
        **engine_options: Any,
    ):
        if engine is None:
            engine = OCREngine(
                model=model,
                api_key=api_key,
                base_url=base_url,
                on_page_error=on_page_error,
                max_pages=max_pages,
                **engine_options,
            )
        self.toolbox = OCRToolbox(
            engine,
            input_dirs=input_dirs,
            allow_urls=allow_urls,
            max_chars=max_chars,
            password=password,
        )

    def __repr__(self) -> str:
        return f"ArliOCRToolSpec({self.toolbox!r})"

    @property
    def engine(self) -> OCREngine:
        """The OCR engine the functions use."""
        return self.toolbox.engine

    def _contract(self, fn_name: str) -> ToolContract:
        return OCR_TOOL

    def _run_tool(self, fn_name: str, args: dict[str, Any]) -> OCRToolOutput:
        return self.toolbox.read(**args)

    async def _arun_tool(self, fn_name: str, args: dict[str, Any]) -> OCRToolOutput:
        return await self.toolbox.aread(**args)

    def _explain(self, exc: ArliError) -> str | None:
        return self.toolbox.explain(exc)

    read_document, aread_document = spec_pair(OCR_TOOL, OCRToolOutput)

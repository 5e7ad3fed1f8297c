"""LangChain OCR tool: an agent reads the text of an image or PDF by path or URL.

The tool translates; :class:`arli.ocr.tooling.OCRToolbox` decides (which files may be
read, the page cap, the text the model gets). It answers with
``response_format="content_and_artifact"``: the content is the text (pages headed by
their labels, then notes for failed, cut-off, blank or left-out pages); the artifact holds
every page's details and the run report. Errors the agent can fix become a
:class:`~langchain_core.tools.ToolException` whose text says what to change; a missing or
rejected key is raised as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Self

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.tools import BaseTool, ToolException
from langchain_core.utils import secret_from_env
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    model_validator,
)

from arli._errors import ArliError
from arli._kwargs import check_model_arguments, forwarded, raise_arli_errors
from arli._providers import PROVIDERS
from arli.ocr.engine import OCREngine, OnPageError
from arli.ocr.tooling import (
    DEFAULT_MAX_CHARS,
    OCR_TOOL,
    ArliOCRInput,
    OCRToolbox,
    OCRToolOutput,
)
from arli.tool_contract import validation_text

__all__ = ["ArliOCRInput", "ArliOCRTool"]

#: Where the text key is looked for (the provider preset says).
_KEY_ENV = list(PROVIDERS["arli"].text_key_env)


def _validation_message(exc: ValidationError | Any) -> str:
    """Text for the agent when its arguments fail the schema (the core contract's text)."""
    return validation_text(exc, ArliOCRInput)


class ArliOCRTool(BaseTool):
    r"""Read the text of an image or PDF with an Arli AI vision model (OCR).

    Setup:
        .. code-block:: bash

            pip install "arli-integrations[langchain,ocr]"
            export ARLIAI_API_KEY="..."

    Instantiate:
        .. code-block:: python

            from langchain_arli import ArliOCRTool

            tool = ArliOCRTool(model="Qwen/Qwen3.5-VL", input_dirs=["uploads/"])

    Invoke directly with args:
        .. code-block:: python

            tool.invoke({"source": "uploads/invoice.pdf", "pages": "1-2"})
            # '[page 1]\n# Invoice 2024-117\n...\n\n[page 2]\n...'

    Invoke with a tool call (content and artifact):
        .. code-block:: python

            msg = tool.invoke({"type": "tool_call", "id": "1", "name": tool.name,
                               "args": {"source": "uploads/scan.png"}})
            msg.content                  # the text
            msg.artifact["pages"]        # per page: text, label, tokens, finish reason...
            msg.artifact["report"]       # counts, tokens, failures

    Files are read only under ``input_dirs`` (default: the working directory when the tool
    is built); ``allow_urls`` accepts http(s) URLs. ``max_pages`` (default 50) caps the
    pages read per call and ``max_chars`` the text given to the model; the answer says
    when either applied. Failed pages are named in the answer's notes (the default
    ``on_page_error`` here is ``"placeholder"``, so one bad page does not lose the rest).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str = OCR_TOOL.name("arli_")
    description: str = OCR_TOOL.describe("arli_")
    args_schema: type[BaseModel] = ArliOCRInput
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"

    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(_KEY_ENV, default=None), repr=False, exclude=True
    )
    """Text API key (else ``ARLI_TEXT_KEY`` or ``ARLIAI_API_KEY``)."""
    base_url: str | None = None
    """An OpenAI-compatible endpoint that takes base64 images (default: Arli)."""
    model: str | None = None
    """The vision model (else ``ARLI_OCR_MODEL``, else the default)."""
    engine: OCREngine | None = Field(default=None, repr=False, exclude=True)
    """A configured :class:`~arli.ocr.OCREngine` to use instead of building one."""
    engine_options: dict[str, Any] = Field(default_factory=dict, repr=False)
    """Other :class:`~arli.ocr.OCREngine` arguments (``dpi``, ``output_format``, ``cache``,
    ``max_concurrency``, ``model_kwargs``...)."""
    on_page_error: OnPageError = "placeholder"
    """What a failed page does: named in the answer (``"placeholder"``), left out, or raised."""
    max_pages: int | None = Field(default=50, ge=1)
    """Pages read per call at most (a cost guard); ``None`` for no limit."""
    max_chars: int | None = Field(default=DEFAULT_MAX_CHARS, ge=100)
    """The longest text given to the model; the artifact always has all of it."""
    input_dirs: list[Path] | None = None
    """Directories the agent may read files from (default: the working directory)."""
    allow_urls: bool = True
    """Accept http(s) URLs from the agent."""
    password: SecretStr | None = Field(default=None, repr=False, exclude=True)
    """The password of encrypted PDFs."""
    handle_tool_error: bool | str | Callable[[ToolException], str] | None = True
    """Send errors the agent can fix back to it as the tool's answer."""
    handle_validation_error: bool | str | Callable[[ValidationError | Any], str] | None = (
        _validation_message
    )
    """Send argument errors back to the agent, naming the field (as the LlamaIndex spec)."""

    _toolbox: OCRToolbox = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        # Before pydantic, which would drop a misspelled name (or wrap our error).
        check_model_arguments(type(self), data, extras="engine_options.extra_body")
        with raise_arli_errors():
            super().__init__(**data)

    @model_validator(mode="after")
    def _build_toolbox(self) -> Self:
        explicit = {
            "model": self.model,
            "api_key": self.api_key,
            "base_url": self.base_url,
            "on_page_error": self.on_page_error,
            "max_pages": self.max_pages,
        }
        engine = self.engine or OCREngine(
            **forwarded(type(self).__name__, "engine_options", self.engine_options, explicit)
        )
        self._toolbox = OCRToolbox(
            engine,
            input_dirs=self.input_dirs,
            allow_urls=self.allow_urls,
            max_chars=self.max_chars,
            password=self.password,
        )
        return self

    @property
    def toolbox(self) -> OCRToolbox:
        """The framework-free logic this tool delegates to."""
        return self._toolbox

    def _fail(self, exc: ArliError) -> Exception:
        text = self._toolbox.explain(exc)
        return exc if text is None else ToolException(text)

    @staticmethod
    def _answer(output: OCRToolOutput) -> tuple[str, dict[str, Any]]:
        return output.text, output.artifact()

    def _run(
        self,
        source: str,
        pages: str | None = None,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Read the document and answer with its text."""
        try:
            output = self._toolbox.read(source, pages)
        except ArliError as exc:
            raise self._fail(exc) from exc
        return self._answer(output)

    async def _arun(
        self,
        source: str,
        pages: str | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Async :meth:`_run`."""
        try:
            output = await self._toolbox.aread(source, pages)
        except ArliError as exc:
            raise self._fail(exc) from exc
        return self._answer(output)

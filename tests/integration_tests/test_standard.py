"""langchain-tests' standard integration suite for ChatArli, replayed from cassettes.

Recorded against tests/reference_server (``make record``): a random-weight model cannot
answer ``magic_function(3)`` with ``{"input": 3}``, the reference server's script can.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_arli import ChatArli
from tests.conftest import target_for

pytestmark = [pytest.mark.vcr, pytest.mark.recorded_against("reference")]

# Their requests carry PDF pages rendered here: matched with images masked (tests/conftest.py).
RENDERED_IMAGE_TESTS = ("test_pdf_inputs", "test_pdf_tool_message")

_DOCS_IMAGE = "https://raw.githubusercontent.com/langchain-ai/docs/"
_LOCAL_IMAGE = Path(__file__).parents[1] / "fixtures" / "images" / "agentic-rag-output.png"
_DOCS_PDF = "https://www.w3.org/WAI/ER/tests/xhtml/testfiles/resources/pdf/dummy.pdf"
_LOCAL_PDF = Path(__file__).parents[1] / "fixtures" / "pdf" / "dummy.pdf"


@pytest.fixture(autouse=True)
def offline_docs_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """test_image_inputs and test_image_tool_message download a PNG from GitHub with
    httpx.get, test_pdf_inputs a PDF from w3.org; serve local files instead.

    There is no internet here; the content does not matter to the tests (they check that an
    image or a PDF can be sent), and it still goes through ChatArli's handling (the PDF is
    rasterized page by page here, the tool-result image relayed to a user turn).
    """
    real_get = httpx.get

    def get(url: Any, *args: Any, **kwargs: Any) -> httpx.Response:
        if str(url).startswith(_DOCS_IMAGE):
            return httpx.Response(200, content=_LOCAL_IMAGE.read_bytes())
        if str(url) == _DOCS_PDF:
            return httpx.Response(200, content=_LOCAL_PDF.read_bytes())
        return real_get(url, *args, **kwargs)

    monkeypatch.setattr(httpx, "get", get)


class TestChatArliStandard(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatArli]:
        return ChatArli

    @property
    def chat_model_params(self) -> dict[str, Any]:
        target = target_for("reference")
        return {"model": target.model, "api_key": target.api_key, "base_url": target.base_url}

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_pdf_inputs(self) -> bool:
        return True  # rasterized here into one image part per page

    @property
    def supports_image_tool_message(self) -> bool:
        return True  # relayed to a user turn after the tool messages

    @property
    def enable_vcr_tests(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "tiny"  # the reference server serves a second model under this name

    @property
    def supports_pdf_tool_message(self) -> bool:
        return True  # rasterized, then relayed like an image

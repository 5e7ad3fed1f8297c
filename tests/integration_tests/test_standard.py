"""langchain-tests' standard integration suite for ChatArli, replayed from cassettes.

Recorded against tests/reference_server (``make record``): a random-weight model cannot
answer ``magic_function(3)`` with ``{"input": 3}``, the reference server's script can.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_arli import ChatArli
from tests.conftest import target_for
from tests.helpers import serve_standard_suite_files_offline

pytestmark = [pytest.mark.vcr, pytest.mark.recorded_against("reference")]

# Their requests carry PDF pages rendered here: matched with images masked (tests/conftest.py).
RENDERED_IMAGE_TESTS = ("test_pdf_inputs", "test_pdf_tool_message")


@pytest.fixture(autouse=True)
def offline_files(monkeypatch: pytest.MonkeyPatch) -> None:
    serve_standard_suite_files_offline(monkeypatch)


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

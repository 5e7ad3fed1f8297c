"""langchain-tests' standard integration suite for ChatFeatherless, replayed from cassettes.

Recorded against tests/reference_server in Featherless mode (``make record
TARGET=featherless``): image URLs are accepted as they are, like Featherless does.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_arli import ChatFeatherless
from tests.conftest import target_for
from tests.helpers import serve_standard_suite_files_offline

pytestmark = [pytest.mark.vcr, pytest.mark.recorded_against("featherless")]

# Their requests carry PDF pages rendered here: matched with images masked (tests/conftest.py).
RENDERED_IMAGE_TESTS = ("test_pdf_inputs", "test_pdf_tool_message")


@pytest.fixture(autouse=True)
def offline_files(monkeypatch: pytest.MonkeyPatch) -> None:
    serve_standard_suite_files_offline(monkeypatch)


class TestChatFeatherlessStandard(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatFeatherless]:
        return ChatFeatherless

    @property
    def chat_model_params(self) -> dict[str, Any]:
        target = target_for("featherless")
        return {"model": target.model, "api_key": target.api_key, "base_url": target.base_url}

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True  # Featherless takes image URLs; ChatFeatherless passes them through

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_pdf_inputs(self) -> bool:
        return True  # rasterized here into one image part per page, as for ChatArli

    @property
    def supports_image_tool_message(self) -> bool:
        return True  # relayed to a user turn after the tool messages

    @property
    def supports_pdf_tool_message(self) -> bool:
        return True  # rasterized, then relayed like an image

    @property
    def enable_vcr_tests(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "tiny"

"""langchain-tests' standard integration suite for ChatFeatherless, replayed from cassettes.

Recorded against tests/reference_server in Featherless mode (``make record
TARGET=featherless``): image URLs are accepted as they are, like Featherless does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_arli import ChatFeatherless
from tests.conftest import target_for

pytestmark = [pytest.mark.vcr, pytest.mark.recorded_against("featherless")]

_DOCS_IMAGE = "https://raw.githubusercontent.com/langchain-ai/docs/"
_LOCAL_IMAGE = Path(__file__).parents[1] / "fixtures" / "images" / "agentic-rag-output.png"


@pytest.fixture(autouse=True)
def offline_docs_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """test_image_inputs downloads a PNG with httpx.get; serve a local PNG (no internet here)."""
    real_get = httpx.get

    def get(url: Any, *args: Any, **kwargs: Any) -> httpx.Response:
        if str(url).startswith(_DOCS_IMAGE):
            return httpx.Response(200, content=_LOCAL_IMAGE.read_bytes())
        return real_get(url, *args, **kwargs)

    monkeypatch.setattr(httpx, "get", get)


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
    def enable_vcr_tests(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "tiny"

"""The LlamaIndex contract suite for ``Featherless``, replayed from cassettes.

Recorded against tests/reference_server in Featherless mode (``make record
TARGET=featherless``). Featherless takes image URLs as they are; local images (bytes,
paths) are still inlined as base64, which the suite's image tests use.
"""

from __future__ import annotations

from typing import Any

import pytest

from llama_index_arli import Featherless
from tests.conftest import target_for
from tests.llama_index.contract import LLMContractTests

pytestmark = [pytest.mark.vcr, pytest.mark.recorded_against("featherless")]


class TestFeatherlessContract(LLMContractTests):
    @property
    def llm_class(self) -> type[Featherless]:
        return Featherless

    @property
    def llm_params(self) -> dict[str, Any]:
        target = target_for("featherless")
        return {"model": target.model, "api_key": target.api_key, "base_url": target.base_url}

    @property
    def supports_tokenize(self) -> bool:
        return True

    def check_image_answer(self, answer: str, width: int, height: int) -> None:
        assert f"{width}x{height}" in answer

    def check_tool_answer(self, answer: str) -> None:
        assert "5" in answer

"""The LlamaIndex contract suite for ``Arli``, replayed from cassettes.

Recorded against tests/reference_server (``scripts/record.sh reference -k
test_llama_index_contract``): its script answers the suite's prompts the way a capable
model would (``magic_function(3)`` → ``{"input": 3}``, a weather call, the cat joke), and
it describes images as "an image of WxH pixels", so the checks below can be exact.
"""

from __future__ import annotations

from typing import Any

import pytest

from llama_index_arli import Arli
from tests.conftest import target_for
from tests.llama_index.contract import LLMContractTests

pytestmark = [pytest.mark.vcr, pytest.mark.recorded_against("reference")]


class TestArliContract(LLMContractTests):
    @property
    def llm_class(self) -> type[Arli]:
        return Arli

    @property
    def llm_params(self) -> dict[str, Any]:
        target = target_for("reference")
        return {"model": target.model, "api_key": target.api_key, "base_url": target.base_url}

    @property
    def supports_tokenize(self) -> bool:
        return True

    def check_image_answer(self, answer: str, width: int, height: int) -> None:
        assert f"{width}x{height}" in answer

    def check_tool_answer(self, answer: str) -> None:
        assert "5" in answer

    def test_context_window_from_the_server(self, llm: Arli) -> None:
        assert llm.metadata.context_window == 8192  # the reference server's max_model_len
        assert [m.id for m in llm.list_models()] == [llm.model, "tiny"]

    def test_count_tokens(self, llm: Arli) -> None:
        from llama_index.core.llms import ChatMessage

        assert llm.count_tokens("hello world") == len(llm.tokenize("hello world"))
        assert llm.count_tokens([ChatMessage(content="hello world")]) > 2

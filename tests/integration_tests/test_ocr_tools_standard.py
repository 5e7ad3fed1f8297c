"""langchain-tests ``ToolsIntegrationTests`` for ArliOCRTool, replayed from cassettes.

Recorded against tests/reference_server; re-record with
``scripts/record.sh reference -k test_ocr_tools_standard``. The example reads a 300x200
JPEG fixture page.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests

from langchain_arli import ArliOCRTool
from tests.conftest import target_for
from tests.helpers import FIXTURES

pytestmark = [pytest.mark.vcr, pytest.mark.recorded_against("reference")]

OCR_DIR = FIXTURES / "ocr"


class TestArliOCRToolStandard(ToolsIntegrationTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ArliOCRTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        target = target_for("reference")
        return {
            "api_key": target.api_key,
            "base_url": target.base_url,
            "model": target.model,
            "input_dirs": [str(OCR_DIR)],
        }

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"source": str(OCR_DIR / "page-1.jpg"), "pages": "1"}

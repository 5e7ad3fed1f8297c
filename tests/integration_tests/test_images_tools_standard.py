"""langchain-tests ``ToolsIntegrationTests`` for the image tools, replayed from cassettes.

Recorded against tests/reference_server; re-record with
``scripts/record.sh reference -k test_images_tools_standard``. The examples generate 64x64
images (or upscale a 96x64 fixture) to keep the cassettes small.
"""

from __future__ import annotations

import functools
import tempfile
from typing import Any

import pytest
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests

from langchain_arli import ArliImageEditTool, ArliImageGenerationTool, ArliImageUpscaleTool
from tests.conftest import target_for
from tests.helpers import FIXTURES

pytestmark = [pytest.mark.vcr, pytest.mark.recorded_against("reference")]

INIT = FIXTURES / "image_api" / "init_96x64.png"
MASK = FIXTURES / "image_api" / "mask_96x64.png"


@functools.cache
def _output_dir() -> str:
    return tempfile.mkdtemp(prefix="arli-tool-it-")


def _params() -> dict[str, Any]:
    target = target_for("reference")
    return {
        "api_key": target.api_key,
        "base_url": target.base_url,
        "model": "FLUX.2-klein-4B",
        "output_dir": _output_dir(),
        "input_dirs": [str(INIT.parent)],
    }


class TestArliImageGenerationToolStandard(ToolsIntegrationTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ArliImageGenerationTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {**_params(), "params": {"steps": 4}}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"prompt": "a red square", "width": 64, "height": 64, "seed": 42}


class TestArliImageEditToolStandard(ToolsIntegrationTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ArliImageEditTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {**_params(), "params": {"steps": 4}}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"image": str(INIT), "prompt": "a yellow door", "mask": str(MASK), "seed": 3}


class TestArliImageUpscaleToolStandard(ToolsIntegrationTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ArliImageUpscaleTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return _params()

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"image": str(INIT), "scale": 2}

"""langchain-tests ``ToolsIntegrationTests`` for the tools on the AiArt backend, replayed.

``ArliImageToVideoTool`` and the generation and edit tools with ``backend="aiart"``.
Recorded against tests/reference_server extended with AiArt's routes (``--provider aiart``);
re-record with ``scripts/record.sh aiart -k test_aiart_tools_standard``. Each video is
polled three times (202, 202, 200): the cassettes replay each exchange once, in order.
"""

from __future__ import annotations

import functools
import tempfile
from typing import Any

import pytest
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests

from langchain_arli import ArliImageEditTool, ArliImageGenerationTool, ArliImageToVideoTool
from tests.conftest import target_for
from tests.helpers import FIXTURES

pytestmark = [
    pytest.mark.vcr(allow_playback_repeats=False),
    pytest.mark.recorded_against("aiart"),
]

INIT = FIXTURES / "image_api" / "init_96x64.png"


@functools.cache
def _output_dir() -> str:
    return tempfile.mkdtemp(prefix="arli-aiart-tool-it-")


def _params() -> dict[str, Any]:
    target = target_for("aiart")
    hosts = None if target.recording else ["127.0.0.1", "replay.invalid"]
    return {
        "backend": "aiart",
        "base_url": target.base_url,
        "client_options": {"download_hosts": hosts, "max_retries": 0},
        "output_dir": _output_dir(),
        "input_dirs": [str(INIT.parent)],
    }


class TestArliImageToVideoToolStandard(ToolsIntegrationTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ArliImageToVideoTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {**_params(), "poll_interval": 0.01}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"image": str(INIT), "seed": 21, "motion_bucket_id": 100, "cfg_scale": 2}


class TestAiArtImageGenerationToolStandard(ToolsIntegrationTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ArliImageGenerationTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {**_params(), "params": {"style_preset": "pixel-art"}}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"prompt": "a red square", "aspect_ratio": "16:9", "seed": 42}


class TestAiArtImageEditToolStandard(ToolsIntegrationTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ArliImageEditTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return _params()

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"image": str(INIT), "prompt": "a yellow door", "strength": 0.5, "seed": 3}

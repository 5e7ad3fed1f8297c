"""`arli demo` replays its cassette end to end (and `make record` re-records it)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from arli._demo import DEMO_SAMPLERS, Recipe, demo_cassette_path, run_demo
from tests.demo_script import DEMO_MODELS, DEMO_SCRIPT, PAGE_2
from tests.reference_server import ReferenceServer


@pytest.mark.recorded_against("reference")
def test_demo_steps(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    out = io.StringIO()
    if request.config.getoption("--record-mode") not in ("none", None):
        if os.environ.get("ARLI_RECORD_TARGET") != "reference":
            pytest.skip("the demo cassette is recorded against the reference server")
        # its own server: the demo needs its models and scripted answers
        with ReferenceServer(api_key="demo-key", models=DEMO_MODELS, script=DEMO_SCRIPT) as srv:
            files = run_demo(
                out, base_url=srv.url, api_key="demo-key", record_mode="all", output=tmp_path
            )
    else:
        files = run_demo(out, output=tmp_path)
    text = out.getvalue()
    # 1. the streamed answer and the sampler extras on the wire
    assert "answer: Every night for forty years" in text
    for name, value in DEMO_SAMPLERS.items():
        assert f'"{name}": {value}' in text
    assert '"stream_options": {\n' in text
    # 2. structured output
    assert 'Recipe(name="Fisherman\'s stew", minutes=45' in text
    assert "guided_json and structured_outputs" in text
    # 3. the agent saved a real image
    (image,) = [f for f in files if f.suffix in (".jpg", ".png", ".webp")]
    assert image.parent == tmp_path / "images"
    with Image.open(image) as img:
        img.load()
        assert img.size[0] > img.size[1]  # the 3:2 the agent asked for
    assert "assistant: Here is the lighthouse" in text
    # 4. OCR: three pages, in order, with their metadata, and the LlamaIndex side
    assert "LangChain ArliOCRLoader: 3 Documents" in text
    for page in range(3):
        assert f"page={page} page_label='{page + 1}'" in text
    markdown = tmp_path / "ocr" / "sample-report.md"
    assert PAGE_2 in markdown.read_text()
    assert "LlamaIndex ArliOCRReader: 3 Documents" in text
    # 5. the files
    assert str(markdown) in text
    assert Recipe.model_json_schema()["required"] == ["name", "minutes", "ingredients"]


def test_demo_cassette_is_bundled_and_clean() -> None:
    path = demo_cassette_path()
    assert path.exists()
    text = path.read_text()
    assert "/v1/chat/completions" in text
    assert "/v1/txt2img" in text
    assert "REDACTED" in text


def test_arli_demo_command_exits_zero(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "arli", "demo", "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "offline, replaying" in proc.stdout
    assert "Traceback" not in proc.stderr
    assert (tmp_path / "out" / "ocr" / "sample-report.md").exists()

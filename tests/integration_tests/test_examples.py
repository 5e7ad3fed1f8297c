"""Every script in examples/ runs offline (against the reference server) and does its job."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> ModuleType:
    if str(EXAMPLES) not in sys.path:  # as when run as a script: _offline.py is next to it
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the example's annotations through it
    spec.loader.exec_module(module)
    return module


def test_structured_extraction() -> None:
    booking = load("structured_extraction").main(["--offline"])
    assert (booking.venue, booking.date, booking.people) == (
        "Gull Point lighthouse",
        "2026-03-14",
        12,
    )
    assert booking.transport == "ferry"


def test_langchain_image_agent(tmp_path: Path) -> None:
    (saved,) = load("langchain_image_agent").main(["--offline", "-o", str(tmp_path)])
    with Image.open(saved) as img:
        img.load()
        assert img.size[0] > img.size[1]  # the 16:9 the agent asked for
    assert Path(saved).parent == tmp_path


def test_llama_index_image_agent(tmp_path: Path) -> None:
    (saved,) = load("llama_index_image_agent").main(["--offline", "-o", str(tmp_path)])
    with Image.open(saved) as img:
        img.load()
    assert Path(saved).parent == tmp_path


def test_rag_ocr_ingestion() -> None:
    (hit,) = load("rag_ocr_ingestion").main(["--offline"])
    assert hit.metadata["page_label"] == "2"
    assert "North Rock | 980" in hit.page_content


def test_an_example_runs_as_a_script(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "structured_extraction.py"), "--offline"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"venue": "Gull Point lighthouse"' in proc.stdout


def test_framework_contracts() -> None:
    example = load("framework_contracts")
    shown = example.main(["--offline"])
    assert shown.profile["max_input_tokens"] == 32768  # the server's max_model_len
    assert shown.profile["image_inputs"] is True
    reasoning, text = shown.v1_blocks
    assert (reasoning["type"], text["type"]) == ("reasoning", "text")
    assert reasoning["reasoning"].startswith("Compare tenths")
    assert text["text"] == "9.9 is larger."
    assert shown.reasoning_sent_back == reasoning["reasoning"]
    assert shown.pdf_images_sent == 1
    pdf_request = next(b for b in shown.bodies if "document" in json.dumps(b["messages"][-1]))
    (page,) = example.image_parts(pdf_request["messages"][-1])
    assert page["image_url"]["url"].startswith("data:image/")
    assert shown.tool_image_relayed
    assert shown.final_answer == "A red fox on white."

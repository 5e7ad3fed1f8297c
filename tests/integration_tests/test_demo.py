"""`arli demo` replays its cassette end to end (and `make record` re-records it)."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from arli._demo import DEMO_SAMPLERS, demo_cassette_path, run_demo


@pytest.mark.recorded_against("reference")
def test_demo_steps(request: pytest.FixtureRequest) -> None:
    out = io.StringIO()
    if request.config.getoption("--record-mode") not in ("none", None):
        if os.environ.get("ARLI_RECORD_TARGET") != "reference":
            pytest.skip("the demo cassette is recorded against the reference server")
        run_demo(
            out,
            base_url=os.environ["ARLI_RECORD_BASE_URL"],
            api_key=os.environ["ARLI_RECORD_API_KEY"],
            record_mode="all",
        )
    else:
        run_demo(out)
    text = out.getvalue()
    assert "Mistral-Nemo-12B-Instruct-2407  (" in text
    for name, value in DEMO_SAMPLERS.items():
        assert f'"{name}": {value}' in text  # the sampler extras are shown on the wire
    answer = text.split("answer: ", 1)[1].split("\n", 1)[0]
    assert len(answer.split()) >= 3
    assert "usage: " in text
    assert "tokens for Mistral-Nemo-12B-Instruct-2407" in text
    assert "NotFoundError: The model `no-such-model` does not exist." in text


def test_demo_cassette_is_bundled_and_clean() -> None:
    path = demo_cassette_path()
    assert path.exists()
    text = path.read_text()
    assert "/v1/chat/completions" in text
    assert "REDACTED" in text


def test_arli_demo_command_exits_zero() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "arli", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "offline, replaying" in proc.stdout
    assert "Traceback" not in proc.stderr

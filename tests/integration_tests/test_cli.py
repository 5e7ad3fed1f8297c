"""The ``arli`` command against the reference server: every subcommand, and its failures."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from arli.cli import main
from tests.ocr_helpers import page_image
from tests.reference_server import ReferenceServer, ScriptEntry

KEY = "cli-test-key"
MODEL = "Mistral-Nemo-12B-Instruct-2407"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> ReferenceServer:
    script = [ScriptEntry(match="Transcribe", has_image=True, reply="HELLO FROM THE PAGE")]
    with ReferenceServer(api_key=KEY, script=script) as srv:
        monkeypatch.setenv("ARLIAI_API_KEY", KEY)
        monkeypatch.setenv("ARLI_BASE_URL", srv.url)
        yield srv  # type: ignore[misc]


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


def test_chat_streams_and_sends_every_sampler_flag(server: ReferenceServer) -> None:
    status, text = run(
        "chat", "Hello", "--model", MODEL, "--system", "Be brief.",
        "--min-p", "0.05", "--dry-multiplier", "0.8", "--xtc-threshold", "0.1",
        "--mirostat", "2", "--stop", "END", "--dry-sequence-breakers", "\n",
        "--dry-sequence-breakers", ":", "--no-ignore-eos",
        "--param", 'logit_bias={"42": -5}',
    )  # fmt: skip
    assert status == 0
    assert text.strip() == "Hello! How can I help you today?"
    body = server.requests_for("/v1/chat/completions")[-1].json
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert (body["min_p"], body["dry_multiplier"], body["xtc_threshold"]) == (0.05, 0.8, 0.1)
    assert body["mirostat_mode"] == 2
    assert body["stop"] == ["END"]
    assert body["dry_sequence_breakers"] == ["\n", ":"]
    assert body["ignore_eos"] is False
    assert body["logit_bias"] == {"42": -5}
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_chat_json_with_guided_choice_and_schema(server: ReferenceServer, tmp_path: Path) -> None:
    status, text = run(
        "chat", "Pick", "--model", MODEL, "--choice", "red", "--choice", "blue", "--json"
    )
    assert status == 0
    payload = json.loads(text)
    assert payload["parsed"] in ("red", "blue")
    assert payload["usage"]["total_tokens"] > 0
    schema = tmp_path / "joke.json"
    schema.write_text(json.dumps({
        "type": "object",
        "properties": {"setup": {"type": "string"}, "punchline": {"type": "string"}},
        "required": ["setup", "punchline"],
    }))  # fmt: skip
    status, text = run(
        "chat",
        "Tell me a joke about cats.",
        "--model",
        MODEL,
        "--json-schema",
        str(schema),
        "--json",
    )
    assert status == 0
    assert set(json.loads(text)["parsed"]) == {"setup", "punchline"}
    body = server.requests_for("/v1/chat/completions")[-1].json
    assert body["guided_json"] == body["structured_outputs"]["json"]


def test_complete_tokens_models(server: ReferenceServer) -> None:
    status, text = run(
        "complete", "The sky is", "--model", MODEL, "--max-tokens", "5", "--no-stream"
    )
    assert status == 0
    assert text.strip()
    assert server.requests_for("/v1/completions")[-1].json["max_tokens"] == 5
    status, text = run("tokens", "hello world", "--model", MODEL, "--json")
    assert status == 0
    assert json.loads(text)["count"] > 0
    status, text = run("models")
    assert status == 0
    assert MODEL in text
    assert "8192" in text
    status, text = run("models", "--samplers", "--json")
    assert status == 0
    assert any(row["name"] for row in json.loads(text))


def test_image_edit_upscale_save_real_files(server: ReferenceServer, tmp_path: Path) -> None:
    status, text = run(
        "image",
        "a red fox",
        "-o",
        str(tmp_path),
        "--width",
        "64",
        "--height",
        "64",
        "--seed",
        "7",
        "--model",
        "FLUX.2-klein-4B",
    )
    assert status == 0
    (line,) = text.strip().splitlines()
    path, _, seed = line.partition("  seed ")
    assert seed == "7"
    with Image.open(path) as img:
        assert img.size == (64, 64)
    status, text = run(
        "edit",
        path,
        "make it blue",
        "-o",
        str(tmp_path),
        "--strength",
        "0.5",
        "--model",
        "FLUX.2-klein-4B",
    )
    assert status == 0
    assert Path(text.split()[0]).exists()
    status, text = run("upscale", path, "-o", str(tmp_path), "--scale", "2")
    assert status == 0
    with Image.open(text.split()[0]) as img:
        assert img.size == (128, 128)


def test_ocr_writes_markdown_and_jsonl(server: ReferenceServer, tmp_path: Path) -> None:
    image = tmp_path / "page.png"
    page_image("HELLO FROM THE PAGE").save(image)
    status, text = run("ocr", str(image), "--model", MODEL, "--no-progress")
    assert status == 0
    assert "HELLO FROM THE PAGE" in text
    assert "<!-- page 1 -->" in text
    out = tmp_path / "out.jsonl"
    status, _ = run("ocr", str(image), "--model", MODEL, "-o", str(out), "--no-progress")
    assert status == 0
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert (record["page"], record["text"], record["error"]) == (1, "HELLO FROM THE PAGE", None)


def test_failures_are_one_line_with_a_status(
    server: ReferenceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("chat", "Hello")[0] == 2  # no model
    assert "pass --model" in capsys.readouterr().err
    assert run("chat", "Hello", "--model", "no-such-model")[0] == 1
    err = capsys.readouterr().err
    assert "NotFoundError" in err
    assert "arli models" in err
    assert run("chat", "Hello", "--model", MODEL, "--top-p", "2")[0] == 2
    assert "top_p=2.0 is out of range: allowed (0, 1]" in capsys.readouterr().err
    assert run("chat", "Hello", "--model", MODEL, "--regex", "a", "--choice", "b")[0] == 2


def test_missing_key_in_a_subprocess_has_no_traceback(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "arli", "chat", "Hello", "--model", MODEL],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "No API key" in proc.stderr
    assert "ARLIAI_API_KEY" in proc.stderr
    assert "Traceback" not in proc.stderr

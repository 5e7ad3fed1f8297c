"""The ``arli`` command misused, against the reference server (issue 14 #13, #6).

A bad path, a misspelt flag or a wrong value is one line on stderr with status 2 and no
request sent; the advice speaks of flags, not Python keywords; ``--timeout`` and
``--max-retries`` reach the transport; boolean sampler fields are flag pairs; ``complete
--logprobs N`` sends a count; an unusable ``-o`` is refused before an image is generated.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from arli.cli import main
from tests.ocr_helpers import page_image
from tests.reference_server import Fault, ReferenceServer

KEY = "cli-misuse-key"
MODEL = "Mistral-Nemo-12B-Instruct-2407"
IMAGE_MODEL = "FLUX.2-klein-4B"
CHAT = "/v1/chat/completions"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> ReferenceServer:
    with ReferenceServer(api_key=KEY) as srv:
        monkeypatch.setenv("ARLIAI_API_KEY", KEY)
        monkeypatch.setenv("ARLI_BASE_URL", srv.url)
        yield srv  # type: ignore[misc]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """(status, stdout, stderr) of one command line."""
    out = io.StringIO()
    status = main(list(argv), out=out)
    captured = capsys.readouterr()
    return status, out.getvalue() + captured.out, captured.err


def one_line(err: str) -> str:
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_a_path_that_cannot_be_read_is_one_line_and_sends_nothing(
    server: ReferenceServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "grammar.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    cases = [
        ("--grammar", str(tmp_path), "cannot read it: Is a directory"),
        ("--grammar", str(tmp_path / "missing.gbnf"), "cannot read it: No such file"),
        ("--grammar", str(binary), "not a UTF-8 text file"),
        ("--json-schema", str(tmp_path), "cannot read it: Is a directory"),
    ]
    for flag, path, reason in cases:
        status, _, err = run(capsys, "chat", "Hello", "--model", MODEL, flag, path)
        assert status == 2
        assert f"{flag} {path}: {reason}" in one_line(err)
    assert server.requests_for(CHAT) == []


def test_a_bad_flag_or_value_is_one_line_naming_the_closest_flag(
    server: ReferenceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "chat", "Hello", "--model", MODEL, "--temprature", "0.5")
    assert status == 2
    assert "unrecognized arguments: --temprature 0.5; did you mean --temperature?" in one_line(err)
    assert err.startswith("arli chat: ")
    assert "usage:" not in err
    status, _, err = run(capsys, "chat", "Hello", "--model", MODEL, "--top-p", "lots")
    assert status == 2
    assert "argument --top-p: invalid float value: 'lots'" in one_line(err)
    status, _, err = run(capsys, "chat")  # the prompt is missing
    assert status == 2
    assert "the following arguments are required: prompt" in one_line(err)
    status, _, err = run(capsys, "imagine", "a fox")
    assert status == 2
    assert "invalid choice: 'imagine'" in one_line(err)
    assert run(capsys, "--version")[0] == 0  # --help / --version still exit 0
    assert server.requests_for(CHAT) == []


def test_max_retries_and_timeout_flags_reach_the_transport(
    server: ReferenceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.add_fault(Fault(path=CHAT, kind="status", status=503, times=-1))
    status, _, err = run(
        capsys, "chat", "Hi", "--model", MODEL, "--no-stream", "--max-retries", "0"
    )
    assert status == 1
    assert "503" in one_line(err)
    assert len(server.requests_for(CHAT)) == 1  # the default (2 retries) would send 3
    server.clear_faults()
    server.add_fault(Fault(path=CHAT, kind="hang", times=-1))
    started = time.monotonic()
    status, _, err = run(
        capsys, "chat", "Hi", "--model", MODEL, "--no-stream", "--timeout", "0.5",
        "--max-retries", "0",
    )  # fmt: skip
    assert time.monotonic() - started < 5  # not the 300 s default
    assert status == 1
    assert "ArliTimeoutError" in one_line(err)
    for bad in (("--timeout", "0"), ("--timeout", "soon"), ("--max-retries", "-1")):
        status, _, err = run(capsys, "chat", "Hi", "--model", MODEL, *bad)
        assert status == 2
        assert f"argument {bad[0]}: expected" in one_line(err)


def test_boolean_sampler_fields_are_flag_pairs(
    server: ReferenceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ("chat", "Hi", "--model", MODEL, "--no-stream")
    assert run(capsys, *base, "--ignore-eos")[0] == 0
    assert server.requests_for(CHAT)[-1].json["ignore_eos"] is True
    assert run(capsys, *base, "--no-ignore-eos", "--no-skip-special-tokens")[0] == 0
    body = server.requests_for(CHAT)[-1].json
    assert (body["ignore_eos"], body["skip_special_tokens"]) == (False, False)
    assert run(capsys, *base)[0] == 0
    assert "ignore_eos" not in server.requests_for(CHAT)[-1].json  # neither flag: not sent
    # A flag followed by the prompt no longer swallows it as its value.
    assert run(capsys, "chat", "--ignore-eos", "Hi", "--model", MODEL, "--no-stream")[0] == 0
    assert server.requests_for(CHAT)[-1].json["messages"][-1]["content"] == "Hi"


def test_complete_logprobs_takes_a_count(
    server: ReferenceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, _ = run(
        capsys, "complete", "Once", "--model", MODEL, "--no-stream", "--logprobs", "3"
    )
    assert status == 0
    body = server.requests_for("/v1/completions")[-1].json
    assert body["logprobs"] == 3
    assert body["logprobs"] is not True
    status, _, err = run(capsys, "complete", "Once", "--model", MODEL, "--logprobs", "yes")
    assert status == 2
    assert "argument --logprobs: invalid int value" in one_line(err)
    # chat keeps its true/false logprobs
    assert run(capsys, "chat", "Hi", "--model", MODEL, "--no-stream", "--logprobs")[0] == 0
    assert server.requests_for(CHAT)[-1].json["logprobs"] is True


def test_advice_is_given_in_flags(
    server: ReferenceServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ARLIAI_API_KEY")
    status, _, err = run(capsys, "chat", "Hi", "--model", MODEL)
    assert status == 2
    assert "pass --api-key KEY, or set " in one_line(err)
    assert "api_key=" not in err
    status, _, err = run(capsys, "chat", "Hi", "--model", MODEL, "--api-key", "wrong-key")
    assert status == 1
    assert "AuthenticationError" in one_line(err)
    assert "pass --api-key KEY or set ARLIAI_API_KEY" in err
    assert "wrong-key" not in err
    status, _, err = run(
        capsys, "chat", "Hi", "--model", MODEL, "--api-key", KEY, "--base-url", "ftp://host"
    )
    assert status == 2
    assert "--base-url 'ftp://host' must be an absolute http(s):// URL" in one_line(err)
    assert "base_url=" not in err


def test_an_unusable_output_is_refused_before_an_image_is_generated(
    server: ReferenceServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "notes.txt"
    existing.write_text("keep me")
    size = ("--width", "64", "--height", "64", "--model", IMAGE_MODEL)
    status, _, err = run(capsys, "image", "a fox", "-o", str(existing), *size)
    assert status == 2
    assert f"-o/--output {str(existing)!r} is an existing file, not a directory" in one_line(err)
    status, _, err = run(capsys, "image", "a fox", "-o", str(existing / "fox.png"), *size)
    assert status == 2
    assert "a file, not a directory" in one_line(err)
    status, _, err = run(capsys, "upscale", str(existing), "-o", str(existing))
    assert status == 2
    assert "-o/--output" in one_line(err)
    assert server.requests_for("/v1/txt2img") == []
    assert server.requests_for("/v1/upscale-img") == []
    assert existing.read_text() == "keep me"
    # A path with an image suffix is the file's name.
    status, text, _ = run(capsys, "image", "a fox", "-o", str(tmp_path / "out" / "fox.jpg"), *size)
    assert status == 0
    saved = Path(text.split()[0])
    assert saved.parent == (tmp_path / "out").resolve()
    assert saved.stem == "fox"
    assert saved.is_file()


def test_ocr_takes_the_shared_timeout_and_retry_flags(
    server: ReferenceServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "page.png"
    page_image("HELLO").save(image)
    server.add_fault(Fault(path=CHAT, kind="status", status=503, times=-1))
    status, _, _ = run(
        capsys, "ocr", str(image), "--model", MODEL, "--no-progress", "--on-error", "skip",
        "--max-retries", "0", "--timeout", "5",
    )  # fmt: skip
    assert status == 1  # the page failed, and was said to
    assert len(server.requests_for(CHAT)) == 1  # the OCR engine's default is 4 retries

"""The offline demo behind ``arli demo`` / ``make demo``.

It replays a recorded cassette (``cassettes/demo/``) through the real client code: the
requests are built and sent exactly as they would be to Arli, and vcrpy answers them
with the recorded responses, so the demo runs anywhere without a key or a network.
With ``live=True`` the same steps run against the real service.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TextIO

from arli._errors import ArliError, NotFoundError
from arli.text.client import TextClient

__all__ = ["DEMO_MODEL", "demo_cassette_path", "run_demo"]

DEMO_MODEL = "Mistral-Nemo-12B-Instruct-2407"
_CASSETTE = "demo.yaml"

#: The sampler extras the demo sends (Aphrodite's DRY, XTC and min-p among them).
DEMO_SAMPLERS: dict[str, Any] = {
    "temperature": 0.8,
    "min_p": 0.05,
    "top_k": 40,
    "repetition_penalty": 1.05,
    "dry_multiplier": 0.8,
    "dry_base": 1.75,
    "dry_allowed_length": 2,
    "xtc_threshold": 0.1,
    "xtc_probability": 0.5,
}


def demo_cassette_path() -> Path:
    """Where the demo cassette is: the checkout's ``cassettes/demo`` or the installed copy."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "cassettes" / "demo", here / "_demo_cassettes"):
        if (candidate / _CASSETTE).exists():
            return candidate / _CASSETTE
    return here.parent / "cassettes" / "demo" / _CASSETTE


class _Printer:
    def __init__(self, out: TextIO):
        self.out = out
        self.step = 0

    def heading(self, text: str) -> None:
        self.step += 1
        self.out.write(f"\n== {self.step}. {text}\n")
        self.out.flush()

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()


@contextmanager
def _recording(path: Path, record_mode: str | None) -> Iterator[None]:
    if record_mode is None:
        with nullcontext():
            yield
        return
    from arli._cassettes import use_cassette  # noqa: PLC0415 - vcrpy is optional

    path.parent.mkdir(parents=True, exist_ok=True)
    with use_cassette(path, record_mode=record_mode):
        yield


def run_demo(
    out: TextIO | None = None,
    *,
    live: bool = False,
    base_url: str | None = None,
    api_key: str | None = None,
    model: str = DEMO_MODEL,
    record_mode: str = "none",
    cassette: Path | None = None,
) -> None:
    """Run the demo, printing each step.

    Args:
        out: where to print (stdout by default).
        live: talk to the real service instead of replaying (needs ``ARLIAI_API_KEY``).
        base_url: server to use when recording or live.
        api_key: key to use when recording or live.
        model: the text model.
        record_mode: vcrpy record mode (``"none"`` replays; ``"all"`` re-records).
        cassette: the cassette file (default: :func:`demo_cassette_path`).
    """
    p = _Printer(out or sys.stdout)
    path = cassette or demo_cassette_path()
    replaying = not live and record_mode == "none"
    if replaying and not path.exists():
        msg = f"the demo cassette {path} is missing; run `make record` to create it"
        raise FileNotFoundError(msg)
    if live:
        client = TextClient(api_key=api_key, base_url=base_url)
    else:
        client = TextClient(
            api_key=api_key or "demo-key-not-secret",
            base_url=base_url or "https://api.arliai.com",
            max_retries=0,
        )
    mode = "live against " + client.transport.base_url if live else f"offline, replaying {path}"
    p.line(f"arli-integrations demo ({mode})")
    with _recording(path, None if live else record_mode):
        _steps(p, client, model)
    p.heading("Files")
    p.line("This demo wrote no files; the cassette it replayed is " + str(path))


def _steps(p: _Printer, client: TextClient, model: str) -> None:
    p.heading("Models available to the key (GET /v1/models)")
    for info in client.list_models():
        ctx = f"{info.max_model_len} tokens" if info.max_model_len else "context unknown"
        p.line(f"  {info.id}  ({ctx})")

    p.heading("A chat answer, streamed, with Arli's sampler extras")
    body: dict[str, Any] = {
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "Write one sentence about a lighthouse keeper."},
        ],
        "max_tokens": 80,
        **DEMO_SAMPLERS,
    }
    p.line("  request body sent to POST /v1/chat/completions:")
    shown = {**body, "stream": True, "stream_options": {"include_usage": True}}
    for line in json.dumps(shown, indent=2).splitlines():
        p.line("    " + line)
    p.out.write("  answer: ")
    usage = None
    for chunk in client.stream_chat(body):
        for choice in chunk.choices:
            if choice.content:
                p.out.write(choice.content)
                p.out.flush()
        if chunk.usage is not None and not chunk.choices:
            usage = chunk.usage
    p.line()
    if usage is not None:
        p.line(
            f"  usage: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion = "
            f"{usage.total_tokens} tokens"
        )

    p.heading("Token count before sending (POST /v1/tokenize)")
    counted = client.tokenize(model=model, messages=body["messages"])
    p.line(f"  the two messages above are {counted.count} tokens for {model}")

    p.heading("Errors are typed and say what went wrong")
    try:
        client.chat({"model": "no-such-model", "messages": body["messages"][1:], "max_tokens": 8})
    except NotFoundError as exc:
        p.line(f"  {type(exc).__name__}: {exc.message}")
    except ArliError as exc:  # pragma: no cover - depends on the server
        p.line(f"  {type(exc).__name__}: {exc}")


def main_demo(live: bool) -> int:
    """Entry point used by the CLI; returns the exit status."""
    if live and not (os.environ.get("ARLIAI_API_KEY") or os.environ.get("ARLI_TEXT_KEY")):
        sys.stderr.write("arli demo --live needs ARLIAI_API_KEY (or ARLI_TEXT_KEY) to be set\n")
        return 2
    run_demo(live=live)
    return 0

"""The main job a newcomer runs: ``arli demo`` / ``make demo``.

Five steps through the real code paths of the package: a streamed chat answer with
Arli's sampler extras, structured output by guided decoding, a LangChain tool-calling
agent that generates and saves an image, OCR of a bundled 3-page PDF into LangChain
Documents and LlamaIndex Documents, and the files it wrote.

Offline (the default) it replays the recorded cassette ``cassettes/demo/demo.yaml``:
requests are built and sent exactly as they would be to Arli, and vcrpy answers them with
the recorded responses (recorded against ``tests/reference_server``; page images are
compared by type only, so a different PDF renderer version still replays). With
``live=True`` the same steps run against the real service.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import httpx
from pydantic import BaseModel, Field

__all__ = [
    "DEMO_IMAGE_MODEL",
    "DEMO_MODEL",
    "DEMO_OCR_MODEL",
    "DEMO_SAMPLERS",
    "Recipe",
    "demo_cassette_path",
    "main_demo",
    "run_demo",
    "sample_pdf_path",
]

DEMO_MODEL = "Mistral-Nemo-12B-Instruct-2407"
DEMO_IMAGE_MODEL = "FLUX.2-klein-4B"
DEMO_OCR_MODEL = "Qwen/Qwen3.5-VL"
_CASSETTE = "demo.yaml"
_HERE = Path(__file__).resolve().parent

#: The sampler extras the chat step sends (Aphrodite's DRY and XTC, min-p).
DEMO_SAMPLERS: dict[str, Any] = {
    "temperature": 0.8,
    "min_p": 0.05,
    "repetition_penalty": 1.05,
    "dry_multiplier": 0.8,
    "dry_base": 1.75,
    "dry_allowed_length": 2,
    "xtc_threshold": 0.1,
    "xtc_probability": 0.5,
}

CHAT_PROMPT = "Write one sentence about a lighthouse keeper."
RECIPE_PROMPT = "Suggest a simple recipe for a stormy night."
AGENT_PROMPT = "Draw the lighthouse at Gull Point at dusk and save the picture."


class Recipe(BaseModel):
    """A recipe, as the structured-output step asks for it."""

    name: str = Field(description="the dish")
    minutes: int = Field(description="total time in minutes", ge=1, le=600)
    ingredients: list[str] = Field(description="what to buy", min_length=1)


def demo_cassette_path() -> Path:
    """Where the demo cassette is: the checkout's ``cassettes/demo`` or the installed copy."""
    for candidate in (_HERE.parent / "cassettes" / "demo", _HERE / "_demo_cassettes"):
        if (candidate / _CASSETTE).exists():
            return candidate / _CASSETTE
    return _HERE.parent / "cassettes" / "demo" / _CASSETTE


def sample_pdf_path() -> Path:
    """The bundled 3-page sample PDF the OCR step reads."""
    return _HERE / "_demo_assets" / "sample-report.pdf"


class _Printer:
    def __init__(self, out: TextIO):
        self.out = out
        self.step = 0

    def heading(self, text: str) -> None:
        self.step += 1
        self.line(f"\n== {self.step}. {text}")

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def json(self, value: Any, indent: str = "    ") -> None:
        for line in json.dumps(value, indent=2, ensure_ascii=False).splitlines():
            self.line(indent + line)


class _Wire:
    """Captures the JSON bodies the text requests carry, to show what went on the wire."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def hook(self, request: httpx.Request) -> None:
        if request.url.path.endswith("/chat/completions"):
            self.bodies.append(json.loads(request.read()))

    def client(self) -> httpx.Client:
        return httpx.Client(event_hooks={"request": [self.hook]}, timeout=300)


@contextmanager
def _cassette(path: Path, record_mode: str | None) -> Iterator[None]:
    if record_mode is None:
        yield
        return
    from arli._cassettes import use_cassette  # noqa: PLC0415 - vcrpy is optional

    path.parent.mkdir(parents=True, exist_ok=True)
    with use_cassette(path, record_mode=record_mode, ignore_images=True):
        yield


def run_demo(
    out: TextIO | None = None,
    *,
    live: bool = False,
    base_url: str | None = None,
    api_key: str | None = None,
    record_mode: str = "none",
    cassette: Path | None = None,
    output: str | os.PathLike[str] = "arli-demo-output",
    model: str = DEMO_MODEL,
    image_model: str = DEMO_IMAGE_MODEL,
    ocr_model: str = DEMO_OCR_MODEL,
) -> list[Path]:
    """Run the demo, printing each step; return the files it wrote.

    Args:
        out: where to print (stdout by default).
        live: talk to the real service instead of replaying (needs ``ARLIAI_API_KEY``).
        base_url: server to use when recording or live.
        api_key: key to use when recording or live.
        record_mode: vcrpy record mode (``"none"`` replays; ``"all"`` re-records).
        cassette: the cassette file (default: :func:`demo_cassette_path`).
        output: the directory the demo writes into.
        model: the text model.
        image_model: the image model.
        ocr_model: the vision model for OCR.

    Raises:
        ImportError: when the ``langchain``/``llama-index``/``ocr`` extras are missing.
        FileNotFoundError: when replaying and the cassette is missing.
    """
    p = _Printer(out or sys.stdout)
    path = cassette or demo_cassette_path()
    if not live and record_mode == "none" and not path.exists():
        msg = f"the demo cassette {path} is missing; run `make record` to create it"
        raise FileNotFoundError(msg)
    try:
        import langchain_core  # noqa: F401, PLC0415
        import llama_index.core  # noqa: F401, PLC0415
        import PIL  # noqa: F401, PLC0415
    except ImportError as exc:
        msg = (
            f"the demo needs the langchain, llama-index and ocr extras ({exc.name} is "
            "missing): pip install 'arli-integrations[all]'"
        )
        raise ImportError(msg) from None
    if live:
        connection: dict[str, Any] = {"api_key": api_key, "base_url": base_url}
        where = "live against " + (base_url or "https://api.arliai.com")
    else:
        connection = {
            "api_key": api_key or "demo-key-not-secret",
            "base_url": base_url or "https://api.arliai.com",
        }
        where = f"offline, replaying {path}"
    folder = Path(output)
    p.line(f"arli-integrations demo ({where})")
    with _cassette(path, None if live else record_mode):
        files = _steps(p, connection, folder, model, image_model, ocr_model)
    p.heading("Files written")
    for file in files:
        p.line(f"  {file}")
    return files


def _steps(
    p: _Printer,
    connection: dict[str, Any],
    folder: Path,
    model: str,
    image_model: str,
    ocr_model: str,
) -> list[Path]:
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage  # noqa: PLC0415

    from langchain_arli import ArliImageGenerationTool, ArliOCRLoader, ChatArli  # noqa: PLC0415
    from llama_index_arli import ArliOCRReader  # noqa: PLC0415

    wire = _Wire()
    files: list[Path] = []
    llm = ChatArli(model=model, http_client=wire.client(), max_retries=0, **connection)

    p.heading("A chat answer, streamed, with Arli's sampler extras (ChatArli)")
    p.out.write("  answer: ")
    usage = None
    for chunk in llm.stream(CHAT_PROMPT, **DEMO_SAMPLERS):
        p.out.write(str(chunk.content))
        p.out.flush()
        usage = chunk.usage_metadata or usage
    p.line()
    if usage:
        p.line(
            f"  usage: {usage['input_tokens']} prompt + {usage['output_tokens']} completion tokens"
        )
    p.line("  the request body that went on the wire:")
    p.json(wire.bodies[-1])

    p.heading("Structured output through guided decoding, into a pydantic object")
    recipe = llm.with_structured_output(Recipe).invoke(RECIPE_PROMPT)
    p.line(f"  {recipe!r}")
    body = wire.bodies[-1]
    forms = [k for k in ("guided_json", "structured_outputs", "response_format") if k in body]
    p.line(
        f"  the schema went out as {' and '.join(forms)} (old and new servers each read "
        "their form), and the answer was checked against it here"
    )

    p.heading("A tool-calling agent (LangChain) that generates and saves an image")
    tool = ArliImageGenerationTool(
        output_dir=folder / "images",
        model=image_model,
        base_size=512,
        params={"steps": 20},
        **connection,
    )
    agent = llm.bind_tools([tool])
    messages: list[Any] = [HumanMessage(AGENT_PROMPT)]
    p.line(f"  user: {AGENT_PROMPT}")
    for _ in range(4):
        ai = agent.invoke(messages)
        assert isinstance(ai, AIMessage)
        messages.append(ai)
        if not ai.tool_calls:
            p.line(f"  assistant: {ai.content}")
            break
        for call in ai.tool_calls:
            p.line(f"  assistant calls {call['name']}({json.dumps(call['args'])})")
            result = tool.invoke(call)
            assert isinstance(result, ToolMessage)
            messages.append(result)
            for line in str(result.content).splitlines():
                p.line(f"  tool: {line}")
            artifact = result.artifact
            for saved in getattr(artifact, "paths", []):
                from PIL import Image  # noqa: PLC0415

                with Image.open(saved) as img:
                    img.load()
                    p.line(f"  {saved}: a real {img.format} image, {img.size[0]}x{img.size[1]}")
                files.append(Path(saved))

    p.heading("OCR of a 3-page PDF into LangChain and LlamaIndex documents")
    pdf = sample_pdf_path()
    ocr_options: dict[str, Any] = {"model": ocr_model, "max_concurrency": 1, **connection}
    docs = ArliOCRLoader(pdf, **ocr_options).load()
    p.line(f"  LangChain ArliOCRLoader: {len(docs)} Documents from {pdf.name}")
    for doc in docs:
        meta = doc.metadata
        first = doc.page_content.strip().splitlines()[0] if doc.page_content.strip() else ""
        p.line(
            f"    page={meta['page']} page_label={meta['page_label']!r} "
            f"tokens={meta['prompt_tokens']}+{meta['completion_tokens']} "
            f"image={meta['image_width']}x{meta['image_height']}: {first[:60]}"
        )
    markdown = folder / "ocr" / "sample-report.md"
    markdown.parent.mkdir(parents=True, exist_ok=True)
    markdown.write_text(
        "\n\n".join(f"<!-- page {d.metadata['page_label']} -->\n{d.page_content}" for d in docs)
        + "\n",
        encoding="utf-8",
    )
    files.append(markdown)
    nodes = ArliOCRReader(**ocr_options).load_data(pdf)
    p.line(f"  LlamaIndex ArliOCRReader: {len(nodes)} Documents, index-ready")
    first_node = nodes[0]
    p.line(f"    metadata keys: {sorted(first_node.metadata)}")
    p.line(f"    kept out of embeddings: {sorted(first_node.excluded_embed_metadata_keys)}")
    return files


def main_demo(live: bool, *, output: str = "arli-demo-output", out: TextIO | None = None) -> int:
    """Entry point used by the CLI; returns the exit status."""
    if live and not (os.environ.get("ARLIAI_API_KEY") or os.environ.get("ARLI_TEXT_KEY")):
        sys.stderr.write("arli demo --live needs ARLIAI_API_KEY (or ARLI_TEXT_KEY) to be set\n")
        return 2
    if live:
        run_demo(
            out,
            live=True,
            output=output,
            model=os.environ.get("ARLI_DEMO_MODEL", DEMO_MODEL),
            image_model=os.environ.get("ARLI_DEMO_IMAGE_MODEL", DEMO_IMAGE_MODEL),
            ocr_model=os.environ.get("ARLI_OCR_MODEL", DEMO_OCR_MODEL),
        )
    else:
        run_demo(out, output=output)
    return 0

"""LangChain 1.x contracts on Arli: profile, v1 blocks, reasoning round trip, PDFs, tool images.

    python examples/framework_contracts.py            # against Arli (ARLIAI_API_KEY)
    python examples/framework_contracts.py --offline  # against the local reference server

Five things a LangChain 1.x app expects of a chat model, each shown on the wire:

1. ``llm.profile``: what the model can do (an agent filtering on ``tool_calling`` or
   ``image_inputs`` sees the truth) and ``max_input_tokens`` from the server's listing.
2. ``output_version="v1"``: standard ``reasoning`` and ``text`` blocks in ``content``.
3. Reasoning round trip: with ``send_reasoning=True`` the earlier turn's reasoning goes back
   as the assistant message's ``reasoning`` field (templates such as MiniMax-M2's need it).
4. A PDF in a ``file`` block: Arli takes base64 images only, so it is rasterized here into
   one image per page.
5. An image in a tool result: our image tool with ``return_image_blocks=True``; the image
   reaches the vision model in a user turn after the tool message.

The request bodies are read from an httpx event hook on the client we pass in.
"""

from __future__ import annotations

import base64
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

import httpx
from _offline import connection, example_parser, script_entry
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from PIL import Image

from langchain_arli import ArliImageGenerationTool, ChatArli

MODEL = os.environ.get("ARLI_VISION_MODEL", "Qwen/Qwen3.5-VL")
IMAGE_MODEL = os.environ.get("ARLI_IMAGE_MODEL", "FLUX.2-klein-4B")


@dataclass
class Shown:
    """What the example saw: the answers, and the request bodies that were sent."""

    profile: dict[str, Any]
    v1_blocks: list[dict[str, Any]]
    reasoning_sent_back: str | None
    pdf_images_sent: int
    tool_image_relayed: bool
    final_answer: str
    bodies: list[dict[str, Any]] = field(default_factory=list)


def recording_client(bodies: list[dict[str, Any]]) -> httpx.Client:
    """An httpx client that keeps each chat request body it sends."""

    def keep(request: httpx.Request) -> None:
        if request.url.path.endswith("/chat/completions"):
            bodies.append(json.loads(request.content))

    return httpx.Client(event_hooks={"request": [keep]}, timeout=120)


def one_page_pdf() -> str:
    """A one-page PDF (drawn with Pillow), base64."""
    buf = io.BytesIO()
    Image.new("RGB", (200, 120), "white").save(buf, "PDF")
    return base64.b64encode(buf.getvalue()).decode()


def image_parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``image_url`` parts of one sent message."""
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [part for part in content if part.get("type") == "image_url"]


def run(options: dict[str, Any], out_dir: str) -> Shown:
    """Run the five steps; return what was answered and sent."""
    bodies: list[dict[str, Any]] = []
    client = recording_client(bodies)
    llm = ChatArli(model=MODEL, temperature=0, http_client=client, **options)

    # 1. The profile: known capabilities, and the context window from /v1/models.
    profile = dict(llm.profile or {})

    # 2. v1 content blocks: reasoning and text as standard blocks.
    v1 = llm.model_copy(update={"output_version": "v1"})
    question = HumanMessage("Which is larger, 9.11 or 9.9?")
    first = v1.invoke([question])
    assert isinstance(first, AIMessage)
    blocks = [dict(block) for block in first.content_blocks]

    # 3. Reasoning round trip: the next request carries the first turn's reasoning back.
    thinker = llm.model_copy(update={"send_reasoning": True})
    thinker.invoke([question, first, HumanMessage("And which is smaller?")])
    assistant = next(m for m in bodies[-1]["messages"] if m["role"] == "assistant")
    reasoning_sent_back = assistant.get("reasoning")

    # 4. A PDF in a file block, rasterized into page images before sending.
    pdf = {"type": "file", "base64": one_page_pdf(), "mime_type": "application/pdf"}
    llm.invoke([HumanMessage([{"type": "text", "text": "Describe this document."}, pdf])])
    pdf_images = len(image_parts(bodies[-1]["messages"][-1]))

    # 5. An image made by a tool reaches the model on its next turn.
    tool = ArliImageGenerationTool(
        model=IMAGE_MODEL, output_dir=out_dir, return_image_blocks=True, **options
    )
    agent = llm.bind_tools([tool])
    history: list[BaseMessage] = [HumanMessage("Please draw a fox, then describe it.")]
    answer = agent.invoke(history)
    assert isinstance(answer, AIMessage)
    history.append(answer)
    history.extend(tool.invoke(call) for call in answer.tool_calls)
    final = agent.invoke(history)
    relayed = bodies[-1]["messages"][-1]
    client.close()
    return Shown(
        profile=profile,
        v1_blocks=blocks,
        reasoning_sent_back=reasoning_sent_back,
        pdf_images_sent=pdf_images,
        tool_image_relayed=relayed["role"] == "user" and bool(image_parts(relayed)),
        final_answer=str(final.content),
        bodies=bodies,
    )


def offline_script() -> list[Any]:
    """What the reference server answers with ``--offline``."""
    return [
        script_entry(match="smaller", reply="9.11 is smaller."),
        script_entry(
            match="which is larger",
            reasoning="Compare tenths: 9.9 has 9 tenths, 9.11 has 1.",
            reply="9.9 is larger.",
        ),
        script_entry(match="describe this document", has_image=True, reply="A blank page."),
        script_entry(
            match="draw a fox",
            tool_call=(
                "arli_generate_image",
                {"prompt": "a red fox", "width": 96, "height": 64, "steps": 1, "seed": 7},
            ),
        ),
        script_entry(match="returned by", has_image=True, reply="A red fox on white."),
    ]


def main(argv: list[str] | None = None) -> Shown:
    """Run the example; print and return what it saw."""
    args = example_parser(__doc__).parse_args(argv)
    with (
        connection(args.offline, offline_script, models=(MODEL,), max_model_len=32768) as opts,
        tempfile.TemporaryDirectory() as out_dir,
    ):
        shown = run(opts, out_dir)
    print("1. profile:", {k: shown.profile.get(k) for k in ("max_input_tokens", "image_inputs")})
    print("2. v1 blocks:", [block["type"] for block in shown.v1_blocks])
    print("3. reasoning sent back:", shown.reasoning_sent_back)
    print("4. images sent for the PDF:", shown.pdf_images_sent)
    print("5. tool image relayed to the model:", shown.tool_image_relayed, "-", shown.final_answer)
    return shown


if __name__ == "__main__":
    main()

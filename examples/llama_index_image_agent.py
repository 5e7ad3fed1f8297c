"""A LlamaIndex FunctionAgent with Arli as the LLM and Arli's image tool spec.

python examples/llama_index_image_agent.py            # Arli (ARLIAI_API_KEY)
python examples/llama_index_image_agent.py --offline  # the local reference server
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from _offline import connection, example_parser, script_entry
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult

from llama_index_arli import Arli, ArliImageToolSpec

MODEL = os.environ.get("ARLI_MODEL", "Mistral-Nemo-12B-Instruct-2407")
IMAGE_MODEL = os.environ.get("ARLI_IMAGE_MODEL", "FLUX.2-klein-4B")
PROMPT = "Please make a picture of a lighthouse in a storm."


async def run_agent(connection: dict[str, Any], output_dir: Path) -> list[Path]:
    """Run the agent once; return the images the tool saved."""
    spec = ArliImageToolSpec(output_dir=output_dir, model=IMAGE_MODEL, **connection)
    llm = Arli(model=MODEL, **connection)
    agent = FunctionAgent(tools=spec.to_tool_list(), llm=llm, system_prompt="You draw pictures.")
    handler = agent.run(user_msg=PROMPT)
    saved: list[Path] = []
    async for event in handler.stream_events():
        if isinstance(event, ToolCallResult):
            print(f"-> {event.tool_name}({event.tool_kwargs})\n<- {event.tool_output.content}")
            saved.extend(getattr(event.tool_output.raw_output, "paths", []))
    print(f"assistant: {await handler}")
    return saved


def offline_script() -> list[Any]:
    """What the reference server answers with ``--offline``: a tool call, then a reply."""
    call = ("generate_image", {"prompt": "a lighthouse in a storm, dramatic sky"})
    return [
        script_entry(match="lighthouse in a storm", tool_call=call),
        script_entry(match="lighthouse in a storm", when_tool_result=True, reply="Saved it."),
    ]


def main(argv: list[str] | None = None) -> list[Path]:
    """Run the example; return the images it saved."""
    parser = example_parser(__doc__)
    parser.add_argument("-o", "--output", default="arli-output", help="where images go")
    args = parser.parse_args(argv)
    with connection(args.offline, offline_script, models=(MODEL, IMAGE_MODEL)) as options:
        return asyncio.run(run_agent(options, Path(args.output)))


if __name__ == "__main__":
    main()

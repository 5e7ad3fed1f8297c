"""A LangChain agent with Arli's image tools: it decides to draw, the tool saves the image.

    python examples/langchain_image_agent.py            # Arli (ARLIAI_API_KEY / ARLI_IMAGE_KEY)
    python examples/langchain_image_agent.py --offline  # the local reference server

The loop is the plain tool-calling loop (model → tool calls → tool messages → model);
with `langchain` installed, `create_agent(model, tools)` runs the same loop for you.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from _offline import connection, example_parser, script_entry
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from langchain_arli import ArliImageToolkit, ChatArli

MODEL = os.environ.get("ARLI_MODEL", "Mistral-Nemo-12B-Instruct-2407")
IMAGE_MODEL = os.environ.get("ARLI_IMAGE_MODEL", "FLUX.2-klein-4B")
PROMPT = "Paint a red fox sleeping in the snow, wide format."


def run_agent(connection: dict[str, Any], output_dir: Path) -> list[Path]:
    """Let the model call the image tools until it answers; return the saved images."""
    toolkit = ArliImageToolkit(
        output_dir=output_dir,
        model=IMAGE_MODEL,
        generation_params={"steps": 20},
        **connection,
    )
    tools = {tool.name: tool for tool in toolkit.get_tools()}
    llm = ChatArli(model=MODEL, **connection).bind_tools(list(tools.values()))
    messages: list[BaseMessage] = [HumanMessage(PROMPT)]
    saved: list[Path] = []
    for _ in range(5):
        reply = llm.invoke(messages)
        assert isinstance(reply, AIMessage)
        messages.append(reply)
        if not reply.tool_calls:
            print(f"assistant: {reply.content}")
            break
        for call in reply.tool_calls:
            print(f"-> {call['name']}({call['args']})")
            result = tools[call["name"]].invoke(call)
            assert isinstance(result, ToolMessage)
            print(f"<- {result.content}")
            saved.extend(getattr(result.artifact, "paths", []))
            messages.append(result)
    return saved


def offline_script() -> list[Any]:
    """What the reference server answers with ``--offline``: a tool call, then a reply."""
    call = ("arli_generate_image", {"prompt": "a red fox asleep in snow", "aspect_ratio": "16:9"})
    return [
        script_entry(match="red fox", tool_call=call),
        script_entry(match="red fox", when_tool_result=True, reply="Done: the fox is saved."),
    ]


def main(argv: list[str] | None = None) -> list[Path]:
    """Run the example; return the images it saved."""
    parser = example_parser(__doc__)
    parser.add_argument("-o", "--output", default="arli-output", help="where images go")
    args = parser.parse_args(argv)
    with connection(args.offline, offline_script, models=(MODEL, IMAGE_MODEL)) as options:
        return run_agent(options, Path(args.output))


if __name__ == "__main__":
    main()

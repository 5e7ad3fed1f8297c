"""An agent loop: ChatArli decides to call the image-generation tool, the tool saves a real image.

Both APIs are served by one reference server: the chat side answers the prompt with a
tool call (a script entry), the image side generates a real JPEG.
"""

from __future__ import annotations

from pathlib import Path

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from PIL import Image

from arli.images import ImageResult
from langchain_arli import ArliImageGenerationTool, ChatArli
from tests.reference_server import ReferenceServer, ScriptEntry

KEY = "test-key"
PROMPT = "Please draw a red fox in the snow and save it."
SCRIPT = [
    ScriptEntry(
        match="draw a red fox",
        tool_call=(
            "arli_generate_image",
            {"prompt": "a red fox in the snow", "aspect_ratio": "3:2"},
        ),
    ),
    ScriptEntry(match="draw a red fox", when_tool_result=True, reply="Here is your fox."),
]


def test_agent_calls_the_generation_tool_and_a_real_image_is_saved(tmp_path: Path) -> None:
    with ReferenceServer(api_key=KEY, script=SCRIPT) as srv:
        tool = ArliImageGenerationTool(
            model="FLUX.2-klein-4B",
            api_key=KEY,
            base_url=srv.url,
            output_dir=tmp_path,
            base_size=256,
            params={"steps": 4},
        )
        llm = ChatArli(model="Mistral-Nemo-12B-Instruct-2407", api_key=KEY, base_url=srv.url)
        agent = llm.bind_tools([tool])
        messages: list = [HumanMessage(PROMPT)]
        for _ in range(3):  # a minimal agent loop: call tools until the model answers
            ai = agent.invoke(messages)
            assert isinstance(ai, AIMessage)
            messages.append(ai)
            if not ai.tool_calls:
                break
            for call in ai.tool_calls:
                result = tool.invoke(call)
                assert isinstance(result, ToolMessage)
                messages.append(result)
        tool_messages = [m for m in messages if isinstance(m, ToolMessage)]
        assert len(tool_messages) == 1
        assert messages[-1].content == "Here is your fox."
        artifact = tool_messages[0].artifact
        assert isinstance(artifact, ImageResult)
        (saved,) = artifact.paths
        assert Path(saved).parent == tmp_path  # written only under output_dir
        assert str(saved) in str(tool_messages[0].content)
        with Image.open(saved) as img:
            img.load()  # a real, decodable image
            assert img.size[0] > img.size[1]  # 3:2
        (sent,) = [r.json for r in srv.requests_for("/v1/txt2img")]
        assert sent["prompt"] == "a red fox in the snow"

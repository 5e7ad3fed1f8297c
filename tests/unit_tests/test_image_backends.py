"""Image backends for the tools: Arli, the keyless proxy and AiArt behind one interface.

The toolbox, the LangChain tools and the LlamaIndex spec driven against a fake AiArt
(``httpx.MockTransport``); langchain-tests ``ToolsUnitTests`` for ``ArliImageToVideoTool``.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langchain_tests.unit_tests import ToolsUnitTests
from pydantic import ValidationError

from arli import (
    AiArtClient,
    ArliConfigError,
    ArliValidationError,
    GenerationTimeoutError,
    ImageClient,
    NotFoundError,
    VideoResult,
)
from arli.images.backends import (
    BACKENDS,
    backend_name,
    backend_supports,
    make_image_backend,
    schema_for_backend,
)
from arli.images.tooling import ImageToolbox
from langchain_arli import (
    ArliImageEditTool,
    ArliImageGenerationTool,
    ArliImageToolkit,
    ArliImageToVideoTool,
    ArliImageUpscaleTool,
    ArliListImageModelsTool,
)
from langchain_arli.tools.images import ArliImageEditInput, ArliImageGenerationInput
from llama_index_arli import ArliImageToolSpec
from tests.aiart_helpers import INIT, FakeAiArt, FakeClock, make
from tests.reference_server.aiart import fake_mp4

MASK = INIT.parent / "mask_96x64.png"


@functools.cache
def _tmp() -> str:
    return tempfile.mkdtemp(prefix="arli-video-unit-")


def call(tool: BaseTool, args: dict[str, Any]) -> ToolMessage:
    msg = tool.invoke({"type": "tool_call", "id": "call-1", "name": tool.name, "args": args})
    assert isinstance(msg, ToolMessage)
    return msg


def toolbox(server: FakeAiArt, tmp_path: Path, **options: Any) -> ImageToolbox:
    return ImageToolbox(
        make(server), output_dir=tmp_path, input_dirs=[INIT.parent, tmp_path], **options
    )


# -- langchain-tests standard unit suite ----------------------------------------------------


class TestArliImageToVideoToolUnit(ToolsUnitTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ArliImageToVideoTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {
            "base_url": "http://replay.invalid",
            "output_dir": _tmp(),
            "input_dirs": [str(INIT.parent)],
        }

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"image": str(INIT), "motion_bucket_id": 100, "seed": 7}


# -- building backends -------------------------------------------------------------------------


def test_backend_names_build_the_right_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARLIAI_API_KEY", "sk-arli-should-stay-home-123456")
    arli_client = make_image_backend("arli")
    assert isinstance(arli_client, ImageClient)
    assert backend_name(arli_client) == "arli"
    assert arli_client.settings.image_api_key is not None
    proxy = make_image_backend("arli-proxy", api_key="sk-explicit-also-dropped")
    assert isinstance(proxy, ImageClient)
    assert backend_name(proxy) == "arli-proxy"
    assert proxy.settings.image_api_key is None
    assert proxy.transport.base_url == "https://generate.kim8.s4s.host/api"
    assert proxy.routes.txt2img == "/txt2img/sdapi/v1/txt2img"
    keyless = make_image_backend("aiart", api_key="sk-ignored-for-aiart")
    assert isinstance(keyless, AiArtClient)
    assert backend_name(keyless) == "aiart"
    assert keyless.base_url == "https://aiart-zroo.onrender.com"
    assert make_image_backend(keyless) is keyless
    with pytest.raises(ArliConfigError, match="unknown image backend 'dalle'"):
        make_image_backend("dalle")
    assert BACKENDS == ("arli", "arli-proxy", "aiart")


def test_capabilities() -> None:
    aiart_client = AiArtClient(base_url="http://aiart.test")
    proxy = ImageClient(provider="arli-proxy")
    arli_client = ImageClient(model="FLUX.2-klein-4B", api_key="k")
    for capability in ("generate", "edit", "upscale", "listings", "video"):
        assert backend_supports(aiart_client, capability) is (
            capability != "upscale" and capability != "listings"
        )
        assert backend_supports(proxy, capability) is (capability != "video")
        assert backend_supports(arli_client, capability) is (capability != "video")


def test_schemas_are_narrowed_for_aiart_only() -> None:
    aiart_client = AiArtClient(base_url="http://aiart.test")
    proxy = ImageClient(provider="arli-proxy")
    assert schema_for_backend(ArliImageGenerationInput, "generate", proxy) is (
        ArliImageGenerationInput
    )
    gen = schema_for_backend(ArliImageGenerationInput, "generate", aiart_client)
    shown = gen.model_json_schema()
    assert list(shown["properties"]) == ["prompt", "negative_prompt", "aspect_ratio", "seed"]
    assert shown["properties"]["aspect_ratio"]["anyOf"][0]["enum"] == [
        "1:1",
        "4:3",
        "16:9",
        "9:16",
        "3:4",
    ]
    assert shown["properties"]["prompt"]["description"].startswith("What the image shows")
    assert gen.__name__ == ArliImageGenerationInput.__name__
    # Hidden arguments are still accepted, so that the toolbox can say why they are refused.
    assert gen(prompt="p", width=64).width == 64  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):
        gen(prompt="p", aspect_ratio="3:2")
    edit = schema_for_backend(ArliImageEditInput, "edit", aiart_client).model_json_schema()
    assert list(edit["properties"]) == ["image", "prompt", "negative_prompt", "strength", "seed"]
    assert edit["required"] == ["image", "prompt"]


# -- the toolbox with AiArt --------------------------------------------------------------------


def test_toolbox_maps_generation_arguments(tmp_path: Path) -> None:
    server = FakeAiArt()
    box = toolbox(server, tmp_path, generation_params={"style_preset": "anime"})
    assert box.backend == "aiart"
    result = box.generate("a fox", negative_prompt="blur", seed=-1)
    assert json.loads(server.bodies[0]) == {
        "video_description": "a fox",
        "style_preset": "anime",
        "aspect_ratio": "1:1",  # the toolbox default, as for Arli
        "negative_prompt": "blur",
        "seed": 0,  # -1 (random for Arli) is AiArt's 0
    }
    assert result.paths[0].parent == tmp_path.resolve()
    box.generate("a fox", aspect_ratio="9:16", seed=5)
    assert json.loads(server.bodies[2])["aspect_ratio"] == "9:16"
    assert json.loads(server.bodies[2])["seed"] == 5
    wide = toolbox(server, tmp_path, generation_params={"aspect_ratio": "16:9"})
    wide.generate("a fox")
    assert json.loads(server.bodies[4])["aspect_ratio"] == "16:9"


@pytest.mark.parametrize(
    ("args", "field", "reason"),
    [
        ({"width": 512}, "width", "it takes no pixel size, only an aspect_ratio"),
        ({"height": 512}, "height", "it takes no pixel size"),
        ({"steps": 20}, "steps", "it chooses the number of steps itself"),
        ({"model": "sdxl"}, "model", "it has no model choice"),
        ({"aspect_ratio": "21:9"}, "aspect_ratio", "allowed 1:1, 4:3, 16:9, 9:16, 3:4"),
    ],
)
def test_toolbox_refuses_what_aiart_cannot_do(
    tmp_path: Path, args: dict[str, Any], field: str, reason: str
) -> None:
    server = FakeAiArt()
    with pytest.raises(ArliValidationError) as info:
        toolbox(server, tmp_path).generate("p", **args)
    assert info.value.field == field
    assert reason in str(info.value)
    assert server.requests == []


def test_toolbox_edit_keeps_the_input_shape_and_refuses_masks(tmp_path: Path) -> None:
    server = FakeAiArt()
    box = toolbox(server, tmp_path)
    result = box.edit(str(INIT), "at night", strength=0.4, seed=-1)
    form = server.form(0)
    assert form["aspect_ratio"][2] == b"4:3"  # nearest to the 96x64 input
    assert form["strength"][2] == b"0.4"
    assert form["seed"][2] == b"0"
    assert form["image"][0] == "image.png"
    assert result.operation == "img2img"
    with pytest.raises(ArliValidationError, match="it has no inpainting"):
        box.edit(str(INIT), "p", mask=str(MASK))
    with pytest.raises(ArliValidationError, match="steps"):
        box.edit(str(INIT), "p", steps=10)
    fixed = toolbox(server, tmp_path, edit_params={"aspect_ratio": "1:1", "strength": 0.9})
    fixed.edit(str(INIT), "p")
    form = server.form(2)
    assert (form["aspect_ratio"][2], form["strength"][2]) == (b"1:1", b"0.9")
    with pytest.raises(ArliValidationError, match="outside the directories"):
        box.edit("/etc/hostname", "p")


def test_toolbox_construction_checks_the_backend(tmp_path: Path) -> None:
    server = FakeAiArt()
    with pytest.raises(ArliConfigError, match="model='sdxl' does not apply to the AiArt backend"):
        toolbox(server, tmp_path, model="sdxl")
    with pytest.raises(ArliValidationError, match="steps is not a parameter"):
        toolbox(server, tmp_path, generation_params={"steps": 20})
    with pytest.raises(ArliValidationError, match="denoising_strength is not a parameter"):
        toolbox(server, tmp_path, edit_params={"denoising_strength": 0.5})
    with pytest.raises(ArliValidationError, match="aspect_ratio='3:2' is not supported"):
        toolbox(server, tmp_path, aspect_ratio="3:2")
    with pytest.raises(ArliValidationError, match="motion_bucket_id=0 is out of range"):
        toolbox(server, tmp_path, video_params={"motion_bucket_id": 0})
    box = toolbox(server, tmp_path)
    with pytest.raises(ArliConfigError, match="upscaling is not available with the 'aiart'"):
        box.upscale(str(INIT))
    with pytest.raises(ArliConfigError, match="listings is not available"):
        box.models_text()
    assert not box.supports("upscale")
    assert box.supports("video")


def test_toolbox_video_start_resume_and_explanations(tmp_path: Path, clock: FakeClock) -> None:
    server = FakeAiArt(polls=1000)
    box = toolbox(server, tmp_path, video_params={"motion_bucket_id": 80}, video_timeout=10)
    with pytest.raises(GenerationTimeoutError) as info:
        box.image_to_video(str(INIT), seed=-1)
    assert server.form(0)["motion_bucket_id"][2] == b"80"
    assert server.form(0)["seed"][2] == b"0"
    text = box.explain(info.value)
    assert text is not None
    assert "generation_id='a1b2c3d4e5f6'" in text
    assert "not ready yet" in text
    server.polls = server.video_polls + 1
    video = box.image_to_video(generation_id="a1b2c3d4e5f6")
    assert isinstance(video, VideoResult)
    assert video.path is not None
    assert video.path.parent == tmp_path.resolve()
    assert video.path.read_bytes() == fake_mp4(12345)
    assert server.paths().count("/api/img2video") == 1
    with pytest.raises(ArliValidationError, match="either image"):
        box.image_to_video(str(INIT), generation_id="a1b2c3d4e5f6")
    with pytest.raises(ArliValidationError, match="image is required"):
        box.image_to_video()
    missing = NotFoundError(
        "Generation not found",
        status_code=404,
        url="http://aiart.test/api/img2video/result/zzz",
        method="GET",
    )
    assert "Check `generation_id`" in (box.explain(missing) or "")


async def test_toolbox_async_paths(tmp_path: Path, clock: FakeClock) -> None:
    server = FakeAiArt(polls=1)
    box = toolbox(server, tmp_path)
    image = await box.agenerate("p", aspect_ratio="16:9")
    edited = await box.aedit(str(INIT), "q")
    video = await box.aimage_to_video(str(INIT))
    assert image.paths
    assert edited.paths
    assert video.path is not None
    with pytest.raises(ArliValidationError, match="mask"):
        await box.aedit(str(INIT), "q", mask=str(MASK))
    with pytest.raises(ArliConfigError):
        await box.aupscale(str(INIT))


def test_arli_toolbox_has_no_video(tmp_path: Path) -> None:
    box = ImageToolbox(
        ImageClient(model="FLUX.2-klein-4B", api_key="k", base_url="http://sd.test"),
        output_dir=tmp_path,
    )
    assert box.backend == "arli"
    with pytest.raises(ArliConfigError, match="image-to-video needs the AiArt backend"):
        box.image_to_video(str(INIT))


# -- LangChain ---------------------------------------------------------------------------------


def test_langchain_tools_on_aiart(tmp_path: Path, clock: FakeClock) -> None:
    server = FakeAiArt(polls=1)
    client = make(server)
    common = {"backend": client, "output_dir": tmp_path, "input_dirs": [INIT.parent, tmp_path]}
    gen = ArliImageGenerationTool(**common)
    props = gen.tool_call_schema.model_json_schema()["properties"]
    assert list(props) == ["prompt", "negative_prompt", "aspect_ratio", "seed"]
    assert "steps" not in gen.description
    assert "1:1, 4:3, 16:9, 9:16 or 3:4" in gen.description
    msg = call(gen, {"prompt": "a fox", "aspect_ratio": "16:9", "seed": 3})
    assert msg.status == "success"
    assert "Saved to:" in msg.content
    assert msg.artifact.seeds == [3]
    refused = call(gen, {"prompt": "a fox", "model": "sdxl"})
    assert refused.status == "error"
    assert "`model` is not supported by the AiArt backend" in refused.content
    assert "Fix this argument" in refused.content
    bad_ratio = call(gen, {"prompt": "a fox", "aspect_ratio": "21:9"})
    assert bad_ratio.status == "error"
    assert "aspect_ratio" in bad_ratio.content

    edit = ArliImageEditTool(**common)
    assert "mask" not in edit.tool_call_schema.model_json_schema()["properties"]
    assert "inpainting" not in edit.description
    assert call(edit, {"image": str(INIT), "prompt": "night"}).status == "success"

    video = ArliImageToVideoTool(**common, poll_interval=2.0)
    out = call(video, {"image": str(INIT), "cfg_scale": 2.5})
    assert out.status == "success"
    assert isinstance(out.artifact, VideoResult)
    assert "generation id a1b2c3d4e5f6" in out.content
    assert str(out.artifact.path) in out.content
    assert server.form(server.paths().index("/api/img2video"))["cfg_scale"][2] == b"2.5"
    assert clock.sleeps == [2.0]


def test_langchain_video_tool_timeout_answers_with_the_generation_id(
    tmp_path: Path, clock: FakeClock
) -> None:
    server = FakeAiArt(polls=1000)
    tool = ArliImageToVideoTool(
        backend=make(server),
        output_dir=tmp_path,
        input_dirs=[INIT.parent],
        poll_interval=1.0,
        max_polls=2,
    )
    msg = call(tool, {"image": str(INIT)})
    assert msg.status == "error"
    assert "generation_id='a1b2c3d4e5f6'" in msg.content
    server.polls = server.video_polls + 1
    resumed = call(tool, {"generation_id": "a1b2c3d4e5f6"})
    assert resumed.status == "success"
    assert server.paths().count("/api/img2video") == 1


async def test_langchain_video_tool_async(tmp_path: Path, clock: FakeClock) -> None:
    server = FakeAiArt(polls=2)
    tool = ArliImageToVideoTool(
        backend=make(server), output_dir=tmp_path, input_dirs=[INIT.parent], poll_interval=0.5
    )
    msg = await tool.ainvoke(
        {"type": "tool_call", "id": "1", "name": tool.name, "args": {"image": str(INIT)}}
    )
    assert msg.status == "success"
    assert clock.sleeps == [0.5, 0.5]


def test_tools_refuse_backends_without_the_capability(tmp_path: Path) -> None:
    # our error, raised in a validator, reaches the user as itself (raise_arli_errors)
    with pytest.raises(ArliConfigError, match="upscaling is not available with the 'aiart'"):
        ArliImageUpscaleTool(backend="aiart", output_dir=tmp_path)
    with pytest.raises(ArliConfigError, match="listings is not available with the 'aiart'"):
        ArliListImageModelsTool(backend="aiart")
    with pytest.raises(ArliConfigError, match="image-to-video needs the AiArt backend"):
        ArliImageToVideoTool(backend="arli-proxy", output_dir=tmp_path)
    with pytest.raises(
        ArliValidationError, match="backend='midjourney' is invalid: Input should be 'arli'"
    ):
        ArliImageGenerationTool(backend="midjourney")  # type: ignore[arg-type]


def test_toolkit_tools_follow_the_backend(tmp_path: Path) -> None:
    aiart_tools = ArliImageToolkit(backend="aiart", output_dir=tmp_path).get_tools()
    assert [t.name for t in aiart_tools] == [
        "arli_generate_image",
        "arli_edit_image",
        "arli_image_to_video",
    ]
    clients = {id(t.toolbox.client) for t in aiart_tools}  # type: ignore[attr-defined]
    assert len(clients) == 1
    without_video = ArliImageToolkit(backend="aiart", include_video=False).get_tools()
    assert len(without_video) == 2
    proxy_tools = ArliImageToolkit(backend="arli-proxy", output_dir=tmp_path).get_tools()
    assert [t.name for t in proxy_tools] == [
        "arli_generate_image",
        "arli_edit_image",
        "arli_upscale_image",
        "arli_list_image_models",
        "arli_list_samplers",
        "arli_list_upscalers",
    ]
    proxy_client = proxy_tools[0].toolbox.client  # type: ignore[attr-defined]
    assert backend_name(proxy_client) == "arli-proxy"
    assert proxy_client.settings.image_api_key is None
    # The same argument schema as Arli's where it makes sense.
    arli_schema = ArliImageGenerationTool(api_key="k").tool_call_schema.model_json_schema()
    proxy_schema = proxy_tools[0].tool_call_schema.model_json_schema()
    assert proxy_schema["properties"] == arli_schema["properties"]


def test_proxy_backend_never_reads_the_arli_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARLI_IMAGE_KEY", "sk-arli-image-key-not-for-proxy")
    tool = ArliImageGenerationTool(backend="arli-proxy", base_url="http://proxy.test/api")
    client = tool.toolbox.client
    assert isinstance(client, ImageClient)
    assert client.settings.image_api_key is None
    assert client.transport.base_url == "http://proxy.test/api"
    assert "authorization" not in {k.lower() for k in client.transport._headers}


# -- LlamaIndex --------------------------------------------------------------------------------


def test_llama_index_spec_on_aiart(tmp_path: Path, clock: FakeClock) -> None:
    server = FakeAiArt(polls=0)
    spec = ArliImageToolSpec(
        backend=make(server), output_dir=tmp_path, input_dirs=[INIT.parent, tmp_path]
    )
    assert spec.backend == "aiart"
    tools = {t.metadata.name: t for t in spec.to_tool_list()}
    assert list(tools) == ["generate_image", "edit_image", "image_to_video"]
    gen_params = tools["generate_image"].metadata.get_parameters_dict()
    assert list(gen_params["properties"]) == ["prompt", "negative_prompt", "aspect_ratio", "seed"]
    description = tools["generate_image"].metadata.description
    assert description.startswith("generate_image(prompt, negative_prompt=None, aspect_ratio=None")
    assert "width" not in description
    edit_params = tools["edit_image"].metadata.get_parameters_dict()
    assert "mask" not in edit_params["properties"]
    video_params = tools["image_to_video"].metadata.get_parameters_dict()
    assert set(video_params["properties"]) == {
        "image",
        "seed",
        "cfg_scale",
        "motion_bucket_id",
        "generation_id",
    }
    out = tools["generate_image"].call(prompt="a fox", seed=4)
    assert "seed 4" in out.content
    video = tools["image_to_video"].call(image=str(INIT))
    assert isinstance(video.raw_output, VideoResult)
    assert "generation id" in video.content
    with pytest.raises(ArliConfigError, match="upscaling is not available"):
        spec.upscale_image(str(INIT))
    with pytest.raises(ArliValidationError, match="`model` is not supported"):
        spec.generate_image("p", model="sdxl")


def test_llama_index_spec_functions_follow_the_backend() -> None:
    proxy = ArliImageToolSpec(backend="arli-proxy")
    assert proxy.backend == "arli-proxy"
    assert [t.metadata.name for t in proxy.to_tool_list()] == [
        "generate_image",
        "edit_image",
        "upscale_image",
        "list_image_models",
        "list_samplers",
        "list_upscalers",
    ]
    assert "width" in proxy.to_tool_list()[0].metadata.get_parameters_dict()["properties"]
    with pytest.raises(ArliConfigError, match="image-to-video needs the AiArt backend"):
        proxy.image_to_video(str(INIT))
    with pytest.raises(ArliConfigError, match="does not apply to the AiArt backend"):
        ArliImageToolSpec(backend="aiart", model="sdxl")

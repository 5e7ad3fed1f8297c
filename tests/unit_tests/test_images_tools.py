"""LangChain image tools without a network: standard unit suites, schemas, errors, secrets.

Server answers come from an httpx MockTransport; the replayed standard integration suites
and the reference-server tests live in tests/integration_tests/.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.load import dumpd, dumps
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, ToolException
from langchain_tests.unit_tests import ToolsUnitTests

from arli import (
    ArliConnectionError,
    ArliResponseError,
    ArliTimeoutError,
    ArliValidationError,
    AuthenticationError,
    ImageClient,
    ImageResult,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    UnprocessableEntityError,
)
from arli.images.tooling import ImageToolbox, size_for_aspect_ratio
from langchain_arli import (
    ArliImageEditTool,
    ArliImageGenerationTool,
    ArliImageToolkit,
    ArliImageUpscaleTool,
    ArliListImageModelsTool,
)
from tests.helpers import FIXTURES, WIRE

INIT = FIXTURES / "image_api" / "init_96x64.png"
MASK = FIXTURES / "image_api" / "mask_96x64.png"
FAKE_KEY = "sk-arli-FAKE-KEY-0123456789abcdef"
TXT2IMG = json.loads((WIRE / "sd_txt2img_response.json").read_text())
MODELS = json.loads((WIRE / "sd_models.json").read_text())
SAMPLERS = json.loads((WIRE / "sd_samplers.json").read_text())
UPSCALERS = json.loads((WIRE / "sd_upscalers.json").read_text())
EXTRA = json.loads((WIRE / "sd_extra_single_image_response.json").read_text())


@functools.cache
def _tmp() -> str:
    return tempfile.mkdtemp(prefix="arli-tool-unit-")


def common_params() -> dict[str, Any]:
    return {"api_key": "test-key", "base_url": "http://replay.invalid", "output_dir": _tmp()}


# -- langchain-tests standard unit suites ----------------------------------------------------


class TestArliImageGenerationToolUnit(ToolsUnitTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ArliImageGenerationTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return common_params()

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"prompt": "a red square", "width": 64, "height": 64, "steps": 4, "seed": 42}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"ARLI_IMAGE_KEY": "env-image-key"},
            {"output_dir": _tmp()},
            {"api_key": "env-image-key"},
        )


class TestArliImageEditToolUnit(ToolsUnitTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ArliImageEditTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {**common_params(), "input_dirs": [str(INIT.parent)]}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"image": str(INIT), "prompt": "a watercolor", "mask": str(MASK), "seed": 1}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return ({"ARLIAI_API_KEY": "shared-key"}, {"output_dir": _tmp()}, {"api_key": "shared-key"})


class TestArliImageUpscaleToolUnit(ToolsUnitTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ArliImageUpscaleTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {**common_params(), "input_dirs": [str(INIT.parent)]}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"image": str(INIT), "scale": 2}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"ARLI_IMAGE_KEY": "image-key", "ARLIAI_API_KEY": "shared-key"},
            {"output_dir": _tmp()},
            {"api_key": "image-key"},
        )


# -- a mock server --------------------------------------------------------------------------


class FakeServer:
    """Answers like SDNext; ``fail`` maps a path to (status, body) for error tests."""

    def __init__(self, fail: dict[str, tuple[int, Any]] | None = None) -> None:
        self.fail = fail or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path in self.fail:
            status, body = self.fail[path]
            return httpx.Response(status, json=body)
        if path.endswith("sd-models"):
            return httpx.Response(200, json=MODELS)
        if path.endswith("samplers"):
            return httpx.Response(200, json=SAMPLERS)
        if path.endswith("upscalers"):
            return httpx.Response(200, json=UPSCALERS)
        if path.endswith(("upscale-img", "extra-single-image")):
            return httpx.Response(200, json=EXTRA)
        return httpx.Response(200, json=TXT2IMG)

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path == path]


def mock_client(server: FakeServer) -> ImageClient:
    return ImageClient(
        model="FLUX.2-klein-4B",
        api_key=FAKE_KEY,
        base_url="http://sd.test",
        http_client=httpx.Client(transport=httpx.MockTransport(server)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
        max_retries=0,
    )


def call(tool: BaseTool, args: dict[str, Any]) -> ToolMessage:
    msg = tool.invoke({"type": "tool_call", "id": "call-1", "name": tool.name, "args": args})
    assert isinstance(msg, ToolMessage)
    return msg


# -- behaviour -------------------------------------------------------------------------------


def test_generation_tool_content_artifact_and_output_dir(tmp_path: Path) -> None:
    server = FakeServer()
    tool = ArliImageGenerationTool(
        client=mock_client(server),
        output_dir=tmp_path / "out",
        model="sdxl-base",
        params={"sampler_name": "Euler a", "cfg_scale": 5, "enable_hr": False},
    )
    msg = call(tool, {"prompt": "a red square", "aspect_ratio": "16:9", "seed": 42})
    result = msg.artifact
    assert isinstance(result, ImageResult)
    assert isinstance(msg.content, str)
    (path,) = result.paths
    assert path.parent == (tmp_path / "out").resolve()
    assert str(path) in msg.content
    assert "seed 1234567890" in msg.content
    assert "model sdxl-base" in msg.content
    (body,) = server.bodies("/v1/txt2img")
    assert body == {
        "prompt": "a red square",
        "sampler_name": "Euler a",
        "cfg_scale": 5,
        "enable_hr": False,
        "width": 1344,
        "height": 768,
        "seed": 42,
        "sd_model_checkpoint": "sdxl-base",
        "override_settings": {"sd_model_checkpoint": "sdxl-base"},
        "override_settings_restore_afterwards": True,
    }
    # Plain args: only the content comes back.
    assert isinstance(tool.invoke({"prompt": "x"}), str)


async def test_async_tools_and_image_blocks(tmp_path: Path) -> None:
    server = FakeServer()
    tool = ArliImageGenerationTool(
        client=mock_client(server), output_dir=tmp_path, return_image_blocks=True
    )
    msg = await tool.ainvoke(
        {"type": "tool_call", "id": "1", "name": tool.name, "args": {"prompt": "p"}}
    )
    assert isinstance(msg.content, list)
    text, image = msg.content
    assert isinstance(text, dict)
    assert text["type"] == "text"
    assert isinstance(image, dict)
    assert image["type"] == "image"
    assert image["mime_type"] == "image/png"
    assert image["base64"] == TXT2IMG["images"][0]
    edit = ArliImageEditTool(client=mock_client(server), output_dir=tmp_path)
    generated = msg.artifact.paths[0]
    out = await edit.ainvoke(
        {
            "type": "tool_call",
            "id": "2",
            "name": edit.name,
            "args": {"image": str(generated), "prompt": "q", "strength": 0.4},
        }
    )
    assert "Saved to:" in out.content
    (body,) = server.bodies("/v1/img2img")
    assert body["denoising_strength"] == 0.4
    assert "mask" not in body


def test_edit_tool_defaults_and_mask(tmp_path: Path) -> None:
    server = FakeServer()
    tool = ArliImageEditTool(
        client=mock_client(server),
        output_dir=tmp_path,
        input_dirs=[INIT.parent],
        params={"inpainting_fill": 1},
    )
    msg = call(tool, {"image": str(INIT), "prompt": "a red door", "mask": str(MASK)})
    assert msg.status == "success"
    (body,) = server.bodies("/v1/img2img")
    assert body["denoising_strength"] == 0.6
    assert body["mask_blur"] == 4
    assert body["inpaint_full_res"] is True
    assert body["inpainting_fill"] == 1
    assert (body["width"], body["height"]) == (96, 64)


def test_upscale_tool_defaults(tmp_path: Path) -> None:
    server = FakeServer()
    tool = ArliImageUpscaleTool(
        client=mock_client(server), output_dir=tmp_path, input_dirs=[INIT.parent]
    )
    msg = call(tool, {"image": str(INIT), "scale": 2})
    assert msg.content.startswith("Upscaled 1 image (upscaler Resize Lanczos, x2, now 2x2).")
    (body,) = server.bodies("/v1/upscale-img")
    assert body["upscaler_1"] == "ESRGAN_4x"
    assert body["upscaling_resize"] == 2
    assert msg.artifact.paths[0].name.startswith("arli-upscaled-0-")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"prompt": "p", "steps": 500}, "steps=500 is out of range: allowed 1..150"),
        ({"prompt": "p", "width": 10}, "width=10 is out of range: allowed 64..2048"),
        ({"prompt": "p", "seed": -7}, "seed=-7 is out of range"),
        ({"prompt": "p", "aspect_ratio": "5:1"}, "aspect_ratio='5:1' is not valid"),
        ({"prompt": ""}, "prompt=''"),
        ({}, "prompt is required"),
    ],
)
def test_bad_arguments_come_back_as_actionable_text(
    tmp_path: Path, args: dict[str, Any], expected: str
) -> None:
    server = FakeServer()
    tool = ArliImageGenerationTool(client=mock_client(server), output_dir=tmp_path)
    msg = call(tool, args)
    assert msg.status == "error"
    assert expected in msg.content
    assert "Fix this argument" in msg.content
    assert server.requests == []


def test_models_restrict_the_model_argument(tmp_path: Path) -> None:
    server = FakeServer()
    tool = ArliImageGenerationTool(
        client=mock_client(server), output_dir=tmp_path, models=["sdxl-base", "FLUX.1-dev"]
    )
    schema = tool.tool_call_schema.model_json_schema()
    model_schema = json.dumps(schema["properties"]["model"])
    assert '"sdxl-base"' in model_schema
    assert '"FLUX.1-dev"' in model_schema
    msg = call(tool, {"prompt": "p", "model": "nope"})
    assert msg.status == "error"
    assert "model='nope' is not valid" in msg.content
    assert "'sdxl-base'" in msg.content


def test_tool_schema_is_small_and_documented() -> None:
    tool = ArliImageGenerationTool(**common_params())
    props = tool.tool_call_schema.model_json_schema()["properties"]
    assert set(props) == {
        "prompt",
        "negative_prompt",
        "aspect_ratio",
        "width",
        "height",
        "steps",
        "seed",
        "model",
    }
    assert all(p.get("description") for p in props.values())
    edit = ArliImageEditTool(**common_params()).tool_call_schema.model_json_schema()
    assert edit["required"] == ["image", "prompt"]
    assert "never base64" in edit["properties"]["image"]["description"]


@pytest.mark.parametrize(
    ("path", "status", "body", "expected"),
    [
        (
            "/v1/txt2img",
            404,
            {
                "error": "HTTPException",
                "code": 404,
                "detail": "Checkpoint not found: nope",
                "body": "",
                "errors": "404: Checkpoint not found: nope",
            },
            "Use one of these for `model`: sdxl-base, FLUX.1-dev.",
        ),
        (
            "/v1/txt2img",
            404,
            json.loads((WIRE / "sd_404_sampler_not_found.json").read_text()),
            "Use one of these for `sampler`: UniPC, DDIM, Euler, Euler a.",
        ),
        (
            "/v1/txt2img",
            422,
            json.loads((WIRE / "sd_422_error.json").read_text()),
            "The image server rejected the request (argument `steps`): body.steps: Input should",
        ),
        (
            "/v1/txt2img",
            429,
            {"error": "Too Many Requests", "detail": "busy", "code": 429},
            "The image API is busy",
        ),
        ("/v1/txt2img", 503, {"detail": "down"}, "The image server failed"),
    ],
)
def test_server_errors_become_tool_exceptions(
    tmp_path: Path, path: str, status: int, body: Any, expected: str
) -> None:
    server = FakeServer(fail={path: (status, body)})
    tool = ArliImageGenerationTool(client=mock_client(server), output_dir=tmp_path)
    msg = call(tool, {"prompt": "p", "model": "nope"})
    assert msg.status == "error"
    assert expected in msg.content
    with pytest.raises(ToolException):
        tool.model_copy(update={"handle_tool_error": False})._run(prompt="p")


def test_auth_errors_are_not_hidden_from_the_developer(tmp_path: Path) -> None:
    server = FakeServer(fail={"/v1/txt2img": (401, {"detail": "Not authenticated"})})
    tool = ArliImageGenerationTool(client=mock_client(server), output_dir=tmp_path)
    with pytest.raises(AuthenticationError) as info:
        call(tool, {"prompt": "p"})
    assert FAKE_KEY not in str(info.value)


def test_listing_tools_and_toolkit(tmp_path: Path) -> None:
    server = FakeServer()
    toolkit = ArliImageToolkit(client=mock_client(server), output_dir=tmp_path, fetch_models=True)
    tools = {t.name: t for t in toolkit.get_tools()}
    assert set(tools) == {
        "arli_generate_image",
        "arli_edit_image",
        "arli_upscale_image",
        "arli_list_image_models",
        "arli_list_samplers",
        "arli_list_upscalers",
    }
    assert tools["arli_list_image_models"].invoke({}) == (
        "Image models (pass one as `model`): sdxl-base, FLUX.1-dev."
    )
    assert tools["arli_list_samplers"].invoke({}) == "Samplers: UniPC, DDIM, Euler, Euler a."
    assert tools["arli_list_upscalers"].invoke({}).startswith("Upscalers (pass one as `upscaler`)")
    schema = tools["arli_generate_image"].tool_call_schema.model_json_schema()
    assert "sdxl-base" in json.dumps(schema["properties"]["model"])
    clients = {id(t.toolbox.client) for t in tools.values()}  # type: ignore[attr-defined]
    assert len(clients) == 1
    sd_model_calls = [r for r in server.requests if r.url.path.endswith("sd-models")]
    assert len(sd_model_calls) == 1  # the listing is cached
    without = ArliImageToolkit(client=mock_client(server), include_listing=False).get_tools()
    assert len(without) == 3


def test_bad_constructor_params_fail_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cfg_scale=99 is out of range: allowed 1\.\.20"):
        ArliImageGenerationTool(**common_params(), params={"cfg_scale": 99})
    with pytest.raises(ValueError, match="aspect_ratio"):
        ImageToolbox(mock_client(FakeServer()), aspect_ratio="wide")


def test_missing_key_is_a_clear_config_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"No API key for the Arli (AI )?image API"):
        ArliImageGenerationTool(output_dir=tmp_path)


# -- the key never leaks ---------------------------------------------------------------------


def test_api_key_never_appears_in_reprs_or_serialized_tools(tmp_path: Path) -> None:
    objects: list[Any] = [
        ArliImageGenerationTool(api_key=FAKE_KEY, base_url="http://sd.test", output_dir=tmp_path),
        ArliImageEditTool(api_key=FAKE_KEY, base_url="http://sd.test", output_dir=tmp_path),
        ArliImageUpscaleTool(api_key=FAKE_KEY, base_url="http://sd.test", output_dir=tmp_path),
        ArliListImageModelsTool(api_key=FAKE_KEY, base_url="http://sd.test"),
        ArliImageToolkit(api_key=FAKE_KEY, base_url="http://sd.test"),
    ]
    basic = ImageClient(
        model="FLUX.2-klein-4B", api_key=FAKE_KEY, base_url="http://sd.test", image_auth="basic"
    )
    texts: list[str] = []
    for obj in objects:
        texts += [
            repr(obj),
            str(obj),
            obj.model_dump_json(exclude={"args_schema", "handle_validation_error"}),
            json.dumps(obj.model_dump(), default=str),
        ]
        texts += [dumps(obj), json.dumps(dumpd(obj), default=str)]
        if isinstance(obj, BaseTool):
            toolbox = obj.toolbox  # type: ignore[attr-defined]
            texts += [
                repr(toolbox),
                repr(toolbox.client),
                repr(toolbox.client.transport),
                repr(toolbox.client.settings),
                toolbox.client.settings.model_dump_json(),
            ]
    texts += [repr(basic), repr(basic.transport), repr(basic.settings)]
    for text in texts:
        assert FAKE_KEY not in text
        assert "FAKE-KEY" not in text
    assert objects[0].api_key.get_secret_value() == FAKE_KEY


# -- toolbox logic ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        ("1:1", (1024, 1024)),
        ("16:9", (1344, 768)),
        ("9:16", (768, 1344)),
        ("4:3", (1152, 896)),
        ("2:3", (832, 1280)),
        ("21:9", (1536, 640)),
    ],
)
def test_aspect_ratio_sizes(ratio: str, size: tuple[int, int]) -> None:
    w, h = size_for_aspect_ratio(ratio)
    assert (w, h) == size
    assert w % 64 == 0
    assert h % 64 == 0
    assert 0.9 < (w * h) / 1024**2 < 1.1
    small = size_for_aspect_ratio(ratio, 512)
    assert all(64 <= s <= 2048 for s in small)


def _sent_size(box: ImageToolbox, server: FakeServer, **args: Any) -> dict[str, int]:
    """The width and height the toolbox sent for a generate call with ``args``."""
    box.generate("p", **args)
    body = server.bodies("/v1/txt2img")[-1]
    return {k: body[k] for k in ("width", "height") if k in body}


def test_size_arguments(tmp_path: Path) -> None:
    server = FakeServer()
    box = ImageToolbox(mock_client(server), output_dir=tmp_path, base_size=512)
    assert _sent_size(box, server) == {"width": 512, "height": 512}
    assert _sent_size(box, server, aspect_ratio="16:9") == {"width": 704, "height": 384}
    assert _sent_size(box, server, width=100, height=203) == {"width": 104, "height": 200}
    assert _sent_size(box, server, aspect_ratio="2:1", width=800) == {"width": 800, "height": 400}
    assert _sent_size(box, server, aspect_ratio="1:2", height=600) == {"width": 304, "height": 600}
    fixed_server = FakeServer()
    fixed = ImageToolbox(
        mock_client(fixed_server), output_dir=tmp_path, generation_params={"width": 640}
    )
    assert _sent_size(fixed, fixed_server) == {"width": 640}


def test_input_references_are_paths_or_urls_within_bounds(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    inside = out / "a.png"
    inside.write_bytes(INIT.read_bytes())
    outside = tmp_path / "secret.png"
    outside.write_bytes(INIT.read_bytes())
    link = out / "link.png"
    link.symlink_to(outside)
    box = ImageToolbox(mock_client(FakeServer()), output_dir=out)
    assert box.resolve_input(str(inside)) == inside.resolve()
    assert box.resolve_input("a.png") == inside.resolve()  # relative to output_dir
    assert box.resolve_input(f"file://{inside}") == inside.resolve()
    assert box.resolve_input("https://example.com/x.png") == "https://example.com/x.png"
    refused = {
        str(outside): "outside the directories",
        str(link): "outside the directories",  # a symlink escape
        "../secret.png": "outside the directories",
        "data:image/png;base64,iVBORw0KGgo=": "looks like image data",
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ": "image data",
        "ftp://host/x.png": r"only file paths and http\(s\) URLs",
        "": "is empty",
        str(out / "missing.png"): "no image file",
    }
    for ref, message in refused.items():
        with pytest.raises(ArliValidationError, match=message):
            box.resolve_input(ref, "image")
    no_urls = ImageToolbox(mock_client(FakeServer()), output_dir=out, allow_urls=False)
    with pytest.raises(ArliValidationError, match="URLs are not allowed"):
        no_urls.resolve_input("https://example.com/x.png")
    wider = ImageToolbox(mock_client(FakeServer()), output_dir=out, input_dirs=[tmp_path])
    assert wider.resolve_input(str(outside)) == outside.resolve()


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            ArliValidationError("mask: the mask is empty", field="mask", allowed="white pixels"),
            "Invalid argument: mask: the mask is empty (allowed: white pixels).",
        ),
        (RateLimitError("busy", status_code=429, retry_after=2.0), "Try again in 2 s."),
        (UnprocessableEntityError("x: bad", status_code=422, param="x"), "(argument `x`)"),
        (NotFoundError("Model 'x' not found", status_code=404), "for `model`"),
        (ArliTimeoutError("POST u timed out after 300 s"), "may still be running"),
        (InternalServerError("boom", status_code=500), "You may try again once."),
        (ArliConnectionError("could not connect"), "The image server failed"),
        (ArliResponseError("no image"), "could not be used: no image."),
    ],
)
def test_explanations(tmp_path: Path, exc: Any, expected: str) -> None:
    box = ImageToolbox(mock_client(FakeServer()), output_dir=tmp_path)
    text = box.explain(exc)
    assert text is not None
    assert expected in text


def test_unfixable_errors_have_no_explanation(tmp_path: Path) -> None:
    box = ImageToolbox(mock_client(FakeServer()), output_dir=tmp_path)
    assert box.explain(AuthenticationError("no", status_code=401)) is None
    # a 404 naming no model, sampler or upscaler: a wrong base URL, the programmer's
    assert box.explain(NotFoundError("Not Found", status_code=404)) is None

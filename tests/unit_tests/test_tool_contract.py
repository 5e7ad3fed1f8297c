"""One agent tool contract: both skins answer the same bad arguments with the same text.

The LangChain tools and the LlamaIndex tool specs are built from
:mod:`arli.images.contract` / :mod:`arli.tool_contract`. Here the same bad arguments are
fed to both, the way each framework's agent calls them (a LangChain tool call answering
with a ``ToolMessage``; a LlamaIndex ``FunctionTool`` whose error ``FunctionAgent`` turns
into ``str(error)``), and the texts the agent would read are compared. None of these calls
reaches a server (the clients point at an unroutable host).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel, ValidationError

from arli import (
    AiArtClient,
    ArliConfigError,
    ArliValidationError,
    ImageClient,
    Img2ImgRequest,
    Txt2ImgRequest,
    UpscaleRequest,
)
from arli.images.aiart import AiArtImg2VideoRequest
from arli.images.backends import AiArtAdapter, ProxyAdapter, SDNextAdapter, adapter_for
from arli.images.contract import (
    IMAGE_TOOLS,
    ArliImageEditInput,
    ArliImageGenerationInput,
    ArliImageToVideoInput,
    ArliImageUpscaleInput,
)
from arli.images.tooling import ImageToolbox
from arli.ocr.engine import OCREngine
from arli.ocr.tooling import OCR_TOOL, ArliOCRInput
from langchain_arli import ArliImageToolkit, ArliOCRTool
from llama_index_arli import ArliImageToolSpec, ArliOCRToolSpec
from tests.aiart_helpers import INIT

KEY = "sk-contract-test"
NOWHERE = "http://127.0.0.1:9"  # nothing listens: a request would fail, not hang


def _clients() -> dict[str, ImageClient | AiArtClient]:
    return {
        "arli": ImageClient(api_key=KEY, base_url=NOWHERE, max_retries=0),
        "aiart": AiArtClient(base_url=NOWHERE, max_retries=0),
    }


def langchain_answer(tool: BaseTool, args: dict[str, Any]) -> str:
    msg = tool.invoke({"type": "tool_call", "id": "c1", "name": tool.name, "args": args})
    assert isinstance(msg, ToolMessage)
    assert msg.status == "error", msg.content
    return str(msg.content)


def llama_index_answer(tool: FunctionTool, args: dict[str, Any]) -> str:
    with pytest.raises(Exception) as info:
        tool.call(**args)
    return str(info.value)


def both(backend: str, tmp_path: Path) -> tuple[dict[str, BaseTool], dict[str, FunctionTool]]:
    client = _clients()[backend]
    common: dict[str, Any] = {"client": client, "output_dir": tmp_path / "out"}
    lc = {t.name: t for t in ArliImageToolkit(**common).get_tools()}
    li = {t.metadata.name or "": t for t in ArliImageToolSpec(**common).to_tool_list()}
    return lc, li


def _outside(tmp_path: Path) -> str:
    secret = tmp_path / "secret.png"
    secret.write_bytes(INIT.read_bytes())
    return str(secret)


BAD_ARLI: list[tuple[str, dict[str, Any], str]] = [
    ("generate_image", {"prompt": "p", "width": 4000}, "width=4000 is out of range"),
    ("generate_image", {"prompt": "p", "height": 10}, "height=10 is out of range"),
    ("generate_image", {"prompt": "p", "aspect_ratio": "5:1"}, "aspect_ratio='5:1'"),
    ("generate_image", {"prompt": "p", "steps": "many"}, "steps='many' is not valid"),
    ("generate_image", {"prompt": "p", "steps": 500}, "allowed 1..150"),
    ("generate_image", {"prompt": "p", "seed": -7}, "seed=-7 is out of range"),
    ("generate_image", {"prompt": ""}, "prompt=''"),
    ("generate_image", {}, "prompt is required"),
    ("edit_image", {"image": "OUTSIDE", "prompt": "p"}, "outside the directories"),
    ("edit_image", {"image": "../../etc/passwd", "prompt": "p"}, "image"),
    ("edit_image", {"image": "data:image/png;base64,AAAA", "prompt": "p"}, "not base64"),
    ("edit_image", {"image": "x.png", "prompt": "p", "strength": 2}, "strength=2"),
    ("upscale_image", {"image": "x.png", "scale": 9}, "scale=9 is out of range: allowed 1..8"),
    (
        "generate_image",
        {"prompt": "p", "colour": "red"},
        "colour is not an argument of this tool: it takes prompt, negative_prompt, "
        "aspect_ratio, width, height, steps, seed, model",
    ),
    ("upscale_image", {"image": "x.png", "factor": 2, "mode": "x"}, "factor, mode are not"),
]

BAD_AIART: list[tuple[str, dict[str, Any], str]] = [
    ("generate_image", {"prompt": "p", "aspect_ratio": "3:2"}, "aspect_ratio='3:2'"),
    ("generate_image", {"prompt": "p", "steps": 20}, "not supported by the AiArt backend"),
    ("edit_image", {"image": "OUTSIDE", "prompt": "p"}, "outside the directories"),
    ("image_to_video", {"image": "x.png", "motion_bucket_id": 0}, "motion_bucket_id=0"),
    ("image_to_video", {"image": "x.png", "cfg_scale": "hot"}, "cfg_scale='hot'"),
    ("image_to_video", {}, "image is required"),
    # the arguments AiArt cannot use are hidden, so they are not offered as the fix
    (
        "generate_image",
        {"prompt": "p", "style": "x"},
        "it takes prompt, negative_prompt, aspect_ratio, seed.",
    ),
    ("image_to_video", {"image": "x.png", "fps": 3}, "fps is not an argument"),
]


@pytest.mark.parametrize(
    ("backend", "function", "args", "expected"),
    [("arli", *case) for case in BAD_ARLI] + [("aiart", *case) for case in BAD_AIART],
)
def test_both_skins_give_the_agent_the_same_error_text(
    tmp_path: Path, backend: str, function: str, args: dict[str, Any], expected: str
) -> None:
    lc, li = both(backend, tmp_path)
    args = {k: (_outside(tmp_path) if v == "OUTSIDE" else v) for k, v in args.items()}
    lc_text = langchain_answer(lc["arli_" + function], args)
    li_text = llama_index_answer(li[function], args)
    assert lc_text == li_text
    assert expected in lc_text
    assert KEY not in lc_text


def test_ocr_skins_give_the_same_error_text(tmp_path: Path) -> None:
    engine = OCREngine(api_key=KEY, base_url=NOWHERE, model="m")
    lc = ArliOCRTool(engine=engine, input_dirs=[tmp_path / "in"])
    (li,) = ArliOCRToolSpec(engine=engine, input_dirs=[tmp_path / "in"]).to_tool_list()
    for args, expected in [
        ({"source": _outside(tmp_path)}, "outside the directories"),
        ({"source": ""}, "source=''"),
        ({"source": "ftp://example.com/a.pdf"}, "only file paths and http"),
        ({"source": "x.pdf", "pages": 3}, "pages=3 is not valid"),
        ({}, "source is required"),
        ({"source": "x.pdf", "language": "de"}, "language is not an argument"),
    ]:
        lc_text = langchain_answer(lc, args)
        assert lc_text == llama_index_answer(li, args)
        assert expected in lc_text
        assert lc_text.startswith("Invalid argument: ")


def test_refusing_unknown_arguments_leaves_the_schema_the_agent_sees(tmp_path: Path) -> None:
    """No ``additionalProperties`` in the JSON schema: the tools sent (and recorded) stay."""
    for backend in ("arli", "aiart"):
        lc, li = both(backend, tmp_path)
        lc_schema = lc["arli_generate_image"].args_schema
        li_schema = li["generate_image"].metadata.fn_schema
        assert isinstance(lc_schema, type)
        assert li_schema is not None
        shown = [
            lc_schema.model_json_schema(),
            li_schema.model_json_schema(),
            convert_to_openai_tool(lc["arli_generate_image"])["function"]["parameters"],
            li["generate_image"].metadata.to_openai_tool()["function"]["parameters"],
        ]
        for params in shown:
            assert "additionalProperties" not in params
            assert params["required"] == ["prompt"]


def test_a_listing_ignores_arguments_in_both_skins(tmp_path: Path) -> None:
    """LangChain does not validate a tool without fields; LlamaIndex then ignores them too."""
    lc, li = both("arli", tmp_path)
    args = {"verbose": True}
    lc_text = langchain_answer(lc["arli_list_samplers"], args)
    assert lc_text == llama_index_answer(li["list_samplers"], args)
    assert "could not connect to http://127.0.0.1:9/v1/img-samplers" in lc_text


def _bounds(schema: type[BaseModel], field: str) -> tuple[float, float]:
    lo = hi = None
    for meta in schema.model_fields[field].metadata:
        lo = getattr(meta, "ge", lo)
        hi = getattr(meta, "le", hi)
    assert lo is not None
    assert hi is not None
    return lo, hi


def _accepts(model: type[BaseModel], **values: Any) -> bool:
    try:
        model(**values)
    except (ValidationError, ValueError):
        return False
    return True


@pytest.mark.parametrize(
    ("schema", "argument", "request_model", "request_field", "base"),
    [
        (ArliImageGenerationInput, "width", Txt2ImgRequest, "width", {"prompt": "p"}),
        (ArliImageGenerationInput, "height", Txt2ImgRequest, "height", {"prompt": "p"}),
        (ArliImageGenerationInput, "steps", Txt2ImgRequest, "steps", {"prompt": "p"}),
        (
            ArliImageEditInput,
            "steps",
            Img2ImgRequest,
            "steps",
            {"prompt": "p", "init_images": [b"-"]},
        ),
        (
            ArliImageEditInput,
            "strength",
            Img2ImgRequest,
            "denoising_strength",
            {"prompt": "p", "init_images": [b"-"]},
        ),
        (ArliImageUpscaleInput, "scale", UpscaleRequest, "upscaling_resize", {"image": b"-"}),
        (ArliImageToVideoInput, "cfg_scale", AiArtImg2VideoRequest, "cfg_scale", {}),
        (ArliImageToVideoInput, "motion_bucket_id", AiArtImg2VideoRequest, "motion_bucket_id", {}),
    ],
)
def test_tool_ranges_are_the_request_ranges(
    schema: type[BaseModel],
    argument: str,
    request_model: type[BaseModel],
    request_field: str,
    base: dict[str, Any],
) -> None:
    """A tool argument accepts exactly what the request it becomes accepts, at both ends."""
    lo, hi = _bounds(schema, argument)
    required = {"prompt": "p", "image": "x.png"}
    tool_base = {k: v for k, v in required.items() if k in schema.model_fields}
    step = 1 if isinstance(lo, int) and isinstance(hi, int) else 0.01
    for value, ok in ((lo, True), (hi, True), (lo - step, False), (hi + step, False)):
        assert _accepts(schema, **tool_base, **{argument: value}) is ok, (argument, value)
        assert _accepts(request_model, **base, **{request_field: value}) is ok, (argument, value)


def test_every_contract_is_offered_by_both_skins(tmp_path: Path) -> None:
    offered_lc: set[str] = set()
    offered_li: set[str] = set()
    for backend in ("arli", "aiart"):
        lc, li = both(backend, tmp_path)
        offered_lc |= set(lc)
        offered_li |= set(li)
        for function, tool in li.items():
            contract = IMAGE_TOOLS[function]
            assert contract.describe("", aiart=backend == "aiart") in tool.metadata.description
            assert lc["arli_" + function].description == contract.describe(
                "arli_", aiart=backend == "aiart"
            )
    assert offered_li == set(IMAGE_TOOLS)
    assert offered_lc == {"arli_" + f for f in IMAGE_TOOLS}


def test_the_ocr_tools_are_built_from_one_contract(tmp_path: Path) -> None:
    engine = OCREngine(api_key=KEY, base_url=NOWHERE, model="m")
    lc = ArliOCRTool(engine=engine, input_dirs=[tmp_path])
    spec = ArliOCRToolSpec(engine=engine, input_dirs=[tmp_path])
    (li,) = spec.to_tool_list()
    assert (lc.name, li.metadata.name) == ("arli_ocr", "read_document")
    assert lc.description == OCR_TOOL.describe("arli_")
    assert li.metadata.description.endswith("\n" + OCR_TOOL.describe(""))
    assert lc.args_schema is li.metadata.fn_schema is ArliOCRInput
    # the Python method takes the contract's arguments, by position too
    with pytest.raises(ArliValidationError, match="pages=3 is not valid"):
        spec.read_document("x.pdf", 3)


def test_one_adapter_per_backend_behind_one_interface(tmp_path: Path) -> None:
    proxy = ImageClient(provider="arli-proxy", base_url=NOWHERE, max_retries=0)
    clients = {**_clients(), "arli-proxy": proxy}
    expected = {"arli": SDNextAdapter, "arli-proxy": ProxyAdapter, "aiart": AiArtAdapter}
    for name, client in clients.items():
        adapter = adapter_for(client)
        assert type(adapter) is expected[name]
        assert adapter.name == name
        box = ImageToolbox(client, output_dir=tmp_path)
        assert box.backend == name
        for capability in ("generate", "edit", "upscale", "listings", "video"):
            assert box.supports(capability) is (capability in adapter.capabilities)
    aiart = ImageToolbox(clients["aiart"], output_dir=tmp_path)
    with pytest.raises(ArliConfigError, match="upscaling is not available with the 'aiart'"):
        aiart.upscale(str(INIT))
    with pytest.raises(ArliConfigError, match="image-to-video needs the AiArt backend"):
        ImageToolbox(proxy, output_dir=tmp_path).image_to_video(image=str(INIT))

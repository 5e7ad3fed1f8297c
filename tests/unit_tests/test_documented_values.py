"""Every documented range, default, choice and required field, checked against a transcription.

``tests/fixtures/documented_values.csv`` is transcribed by hand from the documents
(``tests/fixtures/docs/``: copies of the seeds) and the engine reference
(``tests/fixtures/wire/WIRE_REFERENCE.md``); every row names the file and line it comes from.
Nothing here reads a bound from the code under test: each documented bound is probed with a
value just inside and one just outside it, through the public entry points (the core
validators and clients, ``ChatArli``, ``ArliLLM``, LlamaIndex ``Arli``, the Featherless
classes, the image and AiArt requests, the LangChain image-tool arguments). Coverage runs
both ways: a field of the code without a row fails, and so does a row whose field the code
does not have.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from pydantic import BaseModel, ValidationError

from arli import ArliValidationError, ImageClient, Img2ImgRequest, Txt2ImgRequest, UpscaleRequest
from arli._demo import DEMO_OCR_MODEL
from arli._errors import NotFoundError
from arli._providers import FEATHERLESS_PARAMS
from arli.images.aiart import AiArtGenerateRequest, AiArtImg2ImgRequest, AiArtImg2VideoRequest
from arli.ocr.engine import DOCUMENTED_VISION_MODELS, OCREngine
from arli.text.params import REFUSED_PARAMS, SAMPLER_NAMES, validate_params
from arli.text.payload import plan_chat, split_call_kwargs
from langchain_arli import ArliLLM, ChatArli, ChatFeatherless, FeatherlessLLM
from langchain_arli.tools.images import (
    ArliImageEditInput,
    ArliImageGenerationInput,
    ArliImageToVideoInput,
    ArliImageUpscaleInput,
)
from llama_index_arli import Arli, ArliImageToolSpec, Featherless
from tests.helpers import FIXTURES, SD_EXTRA, SD_TXT2IMG, SDNextRecorder
from tests.ocr_helpers import page_image
from tests.reference_server import ReferenceServer

TABLE = FIXTURES / "documented_values.csv"
DOCS = FIXTURES / "docs"
ENGINE = FIXTURES / "wire" / "WIRE_REFERENCE.md"
INIT = FIXTURES / "image_api" / "init_96x64.png"
MASK = FIXTURES / "image_api" / "mask_96x64.png"
MASK_EMPTY = FIXTURES / "image_api" / "mask_empty_96x64.png"
TXT2IMG = SD_TXT2IMG
EXTRA = SD_EXTRA
MODEL = "FLUX.2-klein-4B"
MESSAGES = [{"role": "user", "content": "hi"}]
#: Names a client takes as arguments rather than as sampling fields.
STRUCTURAL_KINDS = ("structural",)


@dataclass(frozen=True)
class Row:
    service: str
    endpoint: str
    field: str
    doc_name: str
    type: str
    kind: str
    range: str
    choices: str
    accepted: str
    refused: str
    default: str
    default_by: str
    required: str
    context: str
    source: str
    line: str
    other_source: str
    other_line: str
    note: str

    @property
    def endpoints(self) -> list[str]:
        return self.endpoint.split("+")

    @property
    def ctx(self) -> dict[str, Any]:
        return json.loads(self.context) if self.context else {}

    def __str__(self) -> str:
        return f"{self.service}/{self.endpoint}/{self.field}"


ROWS = [Row(**r) for r in csv.DictReader(TABLE.open(newline=""))]


def rows(service: str, *kinds: str, endpoint: str | None = None) -> list[Row]:
    return [
        r
        for r in ROWS
        if r.service == service
        and (not kinds or r.kind in kinds)
        and (endpoint is None or endpoint in r.endpoints)
    ]


def ids(items: list[Row]) -> list[str]:
    return [str(r) for r in items]


# -- the transcription itself ---------------------------------------------------------------


def doc_lines(source: str) -> list[str]:
    if source.startswith("engine:"):
        return ENGINE.read_text().split("\n")
    return (DOCS / source).read_text().split("\n")


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_every_row_cites_a_line_that_names_its_field(row: Row) -> None:
    if row.source == "client":
        assert row.note, f"{row}: a field no document lists needs a note saying why we have it"
        return
    for source, line in ((row.source, row.line), (row.other_source, row.other_line)):
        if not source:
            continue
        lines = doc_lines(source)
        # seed 004's tables put a field's name on the line before its description
        text = " ".join(lines[max(int(line) - 2, 0) : int(line)]).lower()
        name = (row.doc_name or row.field).lower()
        assert name in text, f"{row}: {source}:{line} is {lines[int(line) - 1]!r}"


def test_the_arli_text_reference_has_a_row_for_every_parameter_it_lists() -> None:
    """Seed 003's parameter table and its example body, read from the document itself."""
    lines = (DOCS / "003_c6aed25a59867119.txt").read_text().split("\n")
    table = {m.group(1) for ln in lines[75:129] if (m := re.match(r"^([a-z_]+?)aphrodite", ln))}
    # keys of the example body, less those of its nested messages and JSON schema
    nested = {"role", "content", "type", "properties", "response"}
    example = set(re.findall(r'"([a-z_]+)": ', lines[70])) - nested
    assert len(table) > 50
    transcribed = {r.field for r in rows("arli-text")}
    assert table - transcribed == set()
    assert example - transcribed - {"messages", "prompt"} == set()


# -- probing a documented range ----------------------------------------------------------------

_RANGE = re.compile(r"^([\[(])\s*(-?[0-9.e+]+|-inf)\s*,\s*(-?[0-9.e+]+|inf)\s*([\])])$")


def probes(row: Row) -> list[tuple[Any, bool]]:
    """``(value, allowed)`` just inside and just outside each finite end of the row's range."""
    match = _RANGE.match(row.range)
    assert match, f"{row}: unreadable range {row.range!r}"
    left, lo_text, hi_text, right = match.groups()
    integer = row.type == "int"

    def num(text: str) -> float:
        return int(text) if integer and "inf" not in text else float(text)

    lo, hi = num(lo_text), num(hi_text)
    step: Callable[[float], float] = (lambda _: 1) if integer else (lambda b: max(abs(b), 1) * 1e-6)
    out: list[tuple[Any, bool]] = []
    if math.isfinite(lo):
        if left == "[":
            out += [(lo, True), (lo - step(lo), False)]
        else:
            out += [(lo, False), (lo + step(lo), True)]
    if math.isfinite(hi):
        if right == "]":
            out += [(hi, True), (hi + step(hi), False)]
        else:
            out += [(hi, False), (hi - step(hi), True)]
    if not math.isfinite(lo) or not math.isfinite(hi):
        out.append((lo + 10 if math.isfinite(lo) else hi - 10, True))  # far inside the open end
    return out


def examples(row: Row) -> list[tuple[Any, bool]]:
    """The values a row says are allowed / refused, whatever its kind."""
    if row.kind == "range":
        return probes(row)
    out: list[tuple[Any, bool]] = []
    if row.choices:  # every documented choice passes (also where other values are not refused)
        out += [(c, True) for c in json.loads(row.choices)]
    if row.accepted:
        out.append((json.loads(row.accepted), True))
    if row.refused and row.kind != "refused":
        out.append((json.loads(row.refused), False))
    return out


def outcome(call: Callable[[], object]) -> bool:
    try:
        call()
    except (ArliValidationError, ValidationError):
        return False
    return True


# -- text: the core, both LangChain classes and LlamaIndex, per call and in constructors ----------


def text_outcomes(kwargs: dict[str, Any]) -> dict[str, bool]:
    return {
        "validate_params": outcome(lambda: validate_params(kwargs)),
        "per call": outcome(
            lambda: plan_chat(model="m", messages=MESSAGES, instance={}, call_kwargs=kwargs)
        ),
        "ChatArli": outcome(lambda: ChatArli(model="m", api_key="k", **kwargs)),
        "ArliLLM": outcome(lambda: ArliLLM(model="m", api_key="k", **kwargs)),
        "llama_index Arli": outcome(lambda: Arli(model="m", api_key="k", **kwargs)),
    }


def featherless_outcomes(kwargs: dict[str, Any]) -> dict[str, bool]:
    return {
        "per call": outcome(
            lambda: plan_chat(
                model="m",
                messages=MESSAGES,
                instance={},
                call_kwargs=kwargs,
                allowed=FEATHERLESS_PARAMS,
                provider_label="Featherless AI",
            )
        ),
        "ChatFeatherless": outcome(lambda: ChatFeatherless(model="m", api_key="k", **kwargs)),
        "FeatherlessLLM": outcome(lambda: FeatherlessLLM(model="m", api_key="k", **kwargs)),
        "llama_index Featherless": outcome(lambda: Featherless(model="m", api_key="k", **kwargs)),
    }


TEXT_ROWS = [r for r in rows("arli-text") if r.kind not in (*STRUCTURAL_KINDS, "refused")]
FEATHERLESS_ROWS = [
    r for r in rows("featherless") if r.kind not in (*STRUCTURAL_KINDS, "vision_model")
]


@pytest.mark.parametrize("row", TEXT_ROWS, ids=ids(TEXT_ROWS))
def test_text_values_inside_pass_and_outside_fail_everywhere(row: Row) -> None:
    cases = examples(row)
    assert cases, f"{row}: nothing to probe"
    for value, allowed in cases:
        got = text_outcomes({**row.ctx, row.field: value})
        assert got == dict.fromkeys(got, allowed), (row.field, value, got)


@pytest.mark.parametrize("row", FEATHERLESS_ROWS, ids=ids(FEATHERLESS_ROWS))
def test_featherless_values_inside_pass_and_outside_fail(row: Row) -> None:
    for value, allowed in examples(row):
        got = featherless_outcomes({**row.ctx, row.field: value})
        assert got == dict.fromkeys(got, allowed), (row.field, value, got)


def test_text_rows_and_sampling_fields_match_both_ways() -> None:
    transcribed = {r.field for r in TEXT_ROWS}
    assert transcribed - SAMPLER_NAMES == set(), "rows for fields the code does not have"
    assert SAMPLER_NAMES - transcribed == set(), "fields of the code without a row"
    for row in rows("arli-text", *STRUCTURAL_KINDS):
        assert row.field not in SAMPLER_NAMES


def test_featherless_accepts_exactly_its_documented_parameters() -> None:
    documented = {r.field for r in FEATHERLESS_ROWS}
    assert set(FEATHERLESS_PARAMS) == documented
    # every other parameter is refused, with a value Arli itself accepts
    for row in TEXT_ROWS:
        if row.field in documented:
            continue
        value = next(v for v, ok in examples(row) if ok)
        got = featherless_outcomes({**row.ctx, row.field: value})
        assert not any(got.values()), (row.field, got)


@pytest.mark.parametrize("row", rows("arli-text", "refused"), ids=ids(rows("arli-text", "refused")))
def test_refused_parameters_say_why(row: Row) -> None:
    assert row.field in REFUSED_PARAMS
    with pytest.raises(ArliValidationError) as info:
        split_call_kwargs({row.field: []})
    assert json.loads(row.refused) in str(info.value)
    assert row.field in str(info.value)
    assert info.value.field == row.field


def test_refused_names_all_have_rows() -> None:
    assert set(REFUSED_PARAMS) == {r.field for r in rows("arli-text", "refused")}


def test_text_defaults_are_left_to_the_server() -> None:
    """Unset = not sent: every documented default is the server's (none is applied here)."""
    body = plan_chat(model="m", messages=MESSAGES, instance={}, call_kwargs={}).body
    chat = ChatArli(model="m", api_key="k")
    for row in [*TEXT_ROWS, *FEATHERLESS_ROWS]:
        assert row.default_by in ("", "server"), row
        assert row.field not in body
        assert getattr(chat, row.field) is None


# -- images: through the client, on a transport that records what would be sent ---------------


def image_client(recorder: SDNextRecorder, **options: Any) -> ImageClient:
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    options.setdefault("base_url", "http://sd.test")
    return ImageClient(api_key="k", http_client=http, max_retries=0, **options)


BASE: dict[str, dict[str, Any]] = {
    "txt2img": {"prompt": "p", "model": MODEL},
    "img2img": {"prompt": "p", "model": MODEL, "init_images": INIT},
    "upscale": {"image": INIT},
}


def send_image(endpoint: str, kwargs: dict[str, Any], **options: Any) -> SDNextRecorder:
    recorder = SDNextRecorder()
    client = image_client(recorder, **options)
    call = {"txt2img": client.txt2img, "img2img": client.img2img, "upscale": client.upscale}
    call[endpoint](**kwargs)
    return recorder


def image_cases() -> Iterator[tuple[Row, str]]:
    for row in rows("arli-image"):
        for endpoint in row.endpoints:
            yield row, endpoint


IMAGE_CASES = list(image_cases())


@pytest.mark.parametrize(("row", "endpoint"), IMAGE_CASES, ids=[f"{r}@{e}" for r, e in IMAGE_CASES])
def test_image_values_required_fields_and_defaults(row: Row, endpoint: str) -> None:
    base = dict(BASE[endpoint])
    for value, allowed in examples(row):
        kwargs = {**base, **row.ctx, row.field: value}
        assert outcome(lambda kw=kwargs: send_image(endpoint, kw)) == allowed, (row.field, value)
    if row.required == "yes":
        name = "model" if row.field == "sd_model_checkpoint" else row.field
        kwargs = {k: v for k, v in base.items() if k != name}
        with pytest.raises(ArliValidationError) as info:
            send_image(endpoint, kwargs)
        assert row.field in str(info.value)
        # a model chosen for the whole client fills the required field
        if row.field == "sd_model_checkpoint":
            (body,) = send_image(endpoint, kwargs, model=MODEL).bodies
            assert body["sd_model_checkpoint"] == MODEL
    if row.default_by:
        unset = {k: v for k, v in base.items() if k != row.field}
        (body,) = send_image(endpoint, unset).bodies
        if row.default == "init image size":
            with Image.open(INIT) as img:
                size = {"width": img.width, "height": img.height}
            assert body[row.field] == size[row.field]
        elif row.default_by == "client":
            assert body[row.field] == row.default
        else:
            assert row.field not in body  # the server applies its default
    if row.kind == "mask":
        (body,) = send_image(endpoint, {**base, "mask": MASK}).bodies
        assert body["mask"]
        with pytest.raises(ArliValidationError, match="repaint"):
            send_image(endpoint, {**base, "mask": MASK_EMPTY})


def test_sd_model_checkpoint_required_message_says_how_to_list_models() -> None:
    with pytest.raises(ArliValidationError) as info:
        send_image("txt2img", {"prompt": "p"})
    assert info.value.field == "sd_model_checkpoint"
    assert "list_models()" in str(info.value)


@pytest.mark.parametrize(
    ("model", "fields"),
    [(Txt2ImgRequest, "txt2img"), (Img2ImgRequest, "img2img"), (UpscaleRequest, "upscale")],
)
def test_image_rows_and_request_fields_match_both_ways(model: type[BaseModel], fields: str) -> None:
    transcribed = {r.field for r in rows("arli-image", endpoint=fields)}
    assert transcribed == set(model.model_fields)


@pytest.mark.parametrize("row", rows("arli-proxy"), ids=ids(rows("arli-proxy")))
def test_the_proxy_takes_generations_without_a_model(row: Row) -> None:
    assert row.required == "no"
    (body,) = send_image(
        row.endpoint, {"prompt": "p"}, provider="arli-proxy", base_url="http://proxy.test/api"
    ).bodies
    assert row.field not in body


# -- AiArt ----------------------------------------------------------------------------------------

AIART: dict[str, tuple[type[BaseModel], dict[str, Any]]] = {
    "generate": (AiArtGenerateRequest, {"prompt": "p"}),
    "img2img": (AiArtImg2ImgRequest, {"prompt": "p"}),
    "img2video": (AiArtImg2VideoRequest, {}),
}
AIART_ROWS = [r for r in rows("aiart") if r.kind not in STRUCTURAL_KINDS]


@pytest.mark.parametrize("row", AIART_ROWS, ids=ids(AIART_ROWS))
def test_aiart_values_required_fields_and_defaults(row: Row) -> None:
    model, base = AIART[row.endpoint]
    for value, allowed in examples(row):
        assert outcome(lambda v=value: model(**{**base, row.field: v})) == allowed, value
    if row.required == "yes":
        with pytest.raises(ArliValidationError):
            model(**{k: v for k, v in base.items() if k != row.field})
    if row.default_by == "server":
        assert row.field not in model(**base).model_dump(exclude_none=True)


@pytest.mark.parametrize("endpoint", sorted(AIART))
def test_aiart_rows_and_request_fields_match_both_ways(endpoint: str) -> None:
    model, _ = AIART[endpoint]
    assert {r.field for r in AIART_ROWS if r.endpoint == endpoint} == set(model.model_fields)


# -- the LangChain image tools' arguments (they restate the ranges to the model) ----------------

TOOLS: dict[str, tuple[type[BaseModel], dict[str, Any]]] = {
    "generate": (ArliImageGenerationInput, {"prompt": "p"}),
    "edit": (ArliImageEditInput, {"image": "in.png", "prompt": "p"}),
    "upscale": (ArliImageUpscaleInput, {"image": "in.png"}),
    "video": (ArliImageToVideoInput, {}),
}
TOOL_CASES = [(r, e) for r in rows("lc-tools") for e in r.endpoints]


@pytest.mark.parametrize(("row", "endpoint"), TOOL_CASES, ids=[f"{r}@{e}" for r, e in TOOL_CASES])
def test_tool_arguments_follow_the_documents(row: Row, endpoint: str) -> None:
    model, base = TOOLS[endpoint]
    for value, allowed in examples(row):
        got = outcome(lambda v=value: model.model_validate({**base, row.field: v}))
        assert got == allowed, (row.field, value)
    if row.required == "yes":
        with pytest.raises(ValidationError):
            model.model_validate({k: v for k, v in base.items() if k != row.field})


@pytest.mark.parametrize("endpoint", sorted(TOOLS))
def test_tool_rows_and_arguments_match_both_ways(endpoint: str) -> None:
    model, _ = TOOLS[endpoint]
    assert {r.field for r in rows("lc-tools", endpoint=endpoint)} == set(model.model_fields)


LI_CASES = [(r, e) for r, e in TOOL_CASES if r.kind == "range" and e != "video"]


@pytest.mark.parametrize(("row", "endpoint"), LI_CASES, ids=[f"{r}@{e}" for r, e in LI_CASES])
def test_llama_index_tools_follow_the_same_ranges(row: Row, endpoint: str, tmp_path: Path) -> None:
    """The LlamaIndex tools state the ranges in their docstrings; the calls keep to them."""
    client = image_client(SDNextRecorder(), model=MODEL)
    spec = ArliImageToolSpec(client=client, output_dir=tmp_path, input_dirs=[INIT.parent])
    calls: dict[str, Callable[..., object]] = {
        "generate": lambda **kw: spec.generate_image(prompt="p", **kw),
        "edit": lambda **kw: spec.edit_image(image=str(INIT), prompt="p", **kw),
        "upscale": lambda **kw: spec.upscale_image(image=str(INIT), **kw),
    }
    for value, allowed in examples(row):
        got = outcome(lambda v=value: calls[endpoint](**{row.field: v}))
        assert got == allowed, (row.field, value)


# -- OCR: the default vision model is one the documents list ---------------------------------------


@pytest.mark.parametrize("provider", ["arli", "featherless"])
def test_default_ocr_model_is_a_documented_vision_model(provider: str) -> None:
    documented = rows(provider, "vision_model")
    assert set(DOCUMENTED_VISION_MODELS[provider]) == {r.field for r in documented}
    (default,) = [r.field for r in documented if r.default == "yes"]
    engine = OCREngine(api_key="k", provider=provider)
    assert engine.model == default


def test_the_demo_ocr_model_is_a_documented_vision_model() -> None:
    assert DEMO_OCR_MODEL in {r.field for r in rows("arli", "vision_model")}


def test_an_unserved_ocr_model_names_the_vision_models_the_server_lists(tmp_path: Path) -> None:
    listed = ("Mistral-Nemo-12B-Instruct-2407", "Qwen/Qwen3.5-VL")
    image = tmp_path / "page.png"
    page_image("HELLO").save(image)
    with ReferenceServer(api_key="k", models=listed) as srv:
        engine = OCREngine(api_key="k", base_url=srv.url, model="Qwen2.5-VL-7B-Instruct")
        with pytest.raises(NotFoundError) as info:
            engine.ocr(image)
    text = str(info.value)
    assert "Qwen2.5-VL-7B-Instruct" in text
    assert "vision models it lists: Qwen/Qwen3.5-VL" in text
    assert "Mistral-Nemo" not in text.split("vision models it lists:")[1]

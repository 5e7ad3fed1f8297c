"""Every documented range, end to end: in range reaches the wire unchanged, out of range
fails before any request with a message naming the field and the range.

The ranges are read from the request models themselves (pydantic constraints of the image
and AiArt requests, :data:`arli.text.params._RANGES` for text), so a field added later is
covered without touching this file. Requests go through the real clients and skins on an
``httpx.MockTransport`` that records what would be sent.

Already covered elsewhere, and not repeated: the text ranges through the request builder
(``test_payload.py``, 25 examples per field), six txt2img ranges and seeds through
``ImageClient`` (``test_images_models.py``), AiArt messages for single values
(``test_aiart_client.py``). New here: every image field (img2img, upscale, ``n_iter``,
``subseed_strength``...), every AiArt field on the wire (JSON and multipart), and the text
ranges through ``ChatArli``, ``ArliLLM`` and LlamaIndex ``Arli`` (constructor and per call).
"""

from __future__ import annotations

import json
import math
from typing import Any

import annotated_types
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from arli import ArliValidationError, ImageClient, Img2ImgRequest, Txt2ImgRequest, UpscaleRequest
from arli.images.aiart import (
    AIART_MAX_SEED,
    AiArtGenerateRequest,
    AiArtImg2ImgRequest,
    AiArtImg2VideoRequest,
)
from arli.text.params import _RANGES, SamplingParams
from tests.aiart_helpers import FakeAiArt, make
from tests.helpers import FIXTURES, WIRE

INIT = FIXTURES / "image_api" / "init_96x64.png"
TXT2IMG = json.loads((WIRE / "sd_txt2img_response.json").read_text())
EXTRA = json.loads((WIRE / "sd_extra_single_image_response.json").read_text())
CHAT = json.loads((WIRE / "chat_response.json").read_text())
COMPLETION = json.loads((WIRE / "completion_response.json").read_text())
QUICK = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))


# -- ranges from the models --------------------------------------------------------------------


def bounds(model: type[BaseModel], name: str) -> tuple[float | None, bool, float | None, bool]:
    """``(lo, lo_open, hi, hi_open)`` from a field's pydantic constraints."""
    lo = hi = None
    lo_open = hi_open = False
    for meta in model.model_fields[name].metadata:
        if isinstance(meta, annotated_types.Ge):
            lo = meta.ge
        elif isinstance(meta, annotated_types.Gt):
            lo, lo_open = meta.gt, True
        if isinstance(meta, annotated_types.Le):
            hi = meta.le
        elif isinstance(meta, annotated_types.Lt):
            hi, hi_open = meta.lt, True
    return lo, lo_open, hi, hi_open  # type: ignore[return-value]


def is_int(model: type[BaseModel], name: str) -> bool:
    return "int" in str(model.model_fields[name].annotation)


def ranged(model: type[BaseModel]) -> list[str]:
    return [n for n in model.model_fields if bounds(model, n) != (None, False, None, False)]


def inside(lo: Any, lo_open: bool, hi: Any, hi_open: bool, integer: bool) -> st.SearchStrategy[Any]:
    low = -1e6 if lo is None else lo
    high = 1e6 if hi is None else hi
    if integer:
        low_i = math.floor(low) + 1 if lo_open else math.ceil(low)
        high_i = math.ceil(high) - 1 if hi_open else math.floor(high)
        return st.integers(int(low_i), int(high_i))
    return st.floats(low, high, exclude_min=lo_open, exclude_max=hi_open, allow_nan=False)


def outside(
    lo: Any, lo_open: bool, hi: Any, hi_open: bool, integer: bool
) -> st.SearchStrategy[Any]:
    cases: list[st.SearchStrategy[Any]] = []
    if lo is not None:
        if integer:
            cases.append(st.integers(max_value=int(lo) if lo_open else int(lo) - 1))
        else:
            cases.append(st.floats(max_value=lo, exclude_max=not lo_open, allow_nan=False))
    if hi is not None:
        if integer:
            cases.append(st.integers(min_value=int(hi) if hi_open else int(hi) + 1))
        else:
            cases.append(st.floats(min_value=hi, exclude_min=not hi_open, allow_nan=False))
    return st.one_of(*cases).filter(lambda v: not (isinstance(v, float) and math.isinf(v)))


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def check_names_field_and_range(exc: ArliValidationError, name: str, bound: tuple[Any, ...]):
    lo, _, hi, _ = bound
    assert exc.field == name, (exc.field, str(exc))
    assert name in str(exc)
    for value in (lo, hi):
        if value is not None:
            assert _fmt(value) in (exc.allowed or ""), (exc.allowed, value)
            assert _fmt(value) in str(exc)


# -- images ------------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        if request.url.path.endswith(("extra-single-image", "upscale-img")):
            return httpx.Response(200, json=EXTRA)
        return httpx.Response(200, json=TXT2IMG)


def image_client(recorder: Recorder) -> ImageClient:
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    return ImageClient(
        model="FLUX.2-klein-4B",
        api_key="k",
        base_url="http://sd.test",
        http_client=http,
        max_retries=0,
    )


def call_images(client: ImageClient, model: type[BaseModel], params: dict[str, Any]) -> None:
    if model is Txt2ImgRequest:
        client.txt2img(prompt="p", **params)
    elif model is Img2ImgRequest:
        client.img2img(init_images=INIT, prompt="p", **params)
    else:
        if params.get("resize_mode") == 1:
            params = {**params, "upscaling_resize_w": 64, "upscaling_resize_h": 64}
        client.upscale(image=INIT, **params)


IMAGE_FIELDS = [
    (model, name)
    for model in (Txt2ImgRequest, Img2ImgRequest, UpscaleRequest)
    for name in ranged(model)
]


def test_every_image_range_is_found() -> None:
    names = {name for _, name in IMAGE_FIELDS}
    assert {"steps", "n_iter", "subseed_strength", "mask_blur", "scale_by"} <= names
    assert {"upscaling_resize", "upscaling_resize_w", "extras_upscaler_2_visibility"} <= names


@pytest.mark.parametrize(("model", "name"), IMAGE_FIELDS, ids=lambda v: getattr(v, "__name__", v))
def test_image_ranges_on_the_wire(model: type[BaseModel], name: str) -> None:
    bound = bounds(model, name)
    integer = is_int(model, name)

    @QUICK
    @given(value=inside(*bound, integer))
    def in_range(value: Any) -> None:
        recorder = Recorder()
        call_images(image_client(recorder), model, {name: value})
        (body,) = recorder.bodies
        assert body[name] == value
        assert type(body[name]) is type(value)

    @QUICK
    @given(value=outside(*bound, integer))
    def out_of_range(value: Any) -> None:
        recorder = Recorder()
        with pytest.raises(ArliValidationError) as info:
            call_images(image_client(recorder), model, {name: value})
        assert recorder.bodies == []  # nothing sent
        check_names_field_and_range(info.value, name, bound)
        assert str(info.value).startswith(f"{name}={value!r} is out of range: allowed ")

    in_range()
    out_of_range()


@QUICK
@given(
    seed=st.just(-1) | st.integers(0, 2**63),
    subseed=st.just(-1) | st.integers(0, 2**63),
    bad=st.integers(max_value=-2),
)
def test_seeds_on_the_wire_for_txt2img_and_img2img(seed: int, subseed: int, bad: int) -> None:
    recorder = Recorder()
    client = image_client(recorder)
    client.txt2img(prompt="p", seed=seed, subseed=subseed)
    client.img2img(init_images=INIT, prompt="p", seed=seed, subseed=subseed)
    assert [(b["seed"], b["subseed"]) for b in recorder.bodies] == [(seed, subseed)] * 2
    for name in ("seed", "subseed"):
        with pytest.raises(ArliValidationError, match=rf"^{name}={bad} is out of range") as info:
            client.img2img(init_images=INIT, prompt="p", **{name: bad})
        assert info.value.allowed == "-1 (random) or an integer >= 0"
    assert len(recorder.bodies) == 2


# -- AiArt ---------------------------------------------------------------------------------------

AIART_FIELDS = [
    (model, name)
    for model in (AiArtGenerateRequest, AiArtImg2ImgRequest, AiArtImg2VideoRequest)
    for name in ranged(model)
]


def call_aiart(model: type[BaseModel], params: dict[str, Any]) -> tuple[FakeAiArt, Any]:
    server = FakeAiArt(polls=0)
    client = make(server)
    if model is AiArtGenerateRequest:
        client.generate("a cat", **params)
    elif model is AiArtImg2ImgRequest:
        client.img2img(INIT, "a cat", **params)
    else:
        client.start_img2video(INIT, **params)
    return server, client


def test_every_aiart_range_is_found() -> None:
    found = {(m.__name__, n) for m, n in AIART_FIELDS}
    assert ("AiArtImg2ImgRequest", "strength") in found
    assert ("AiArtImg2VideoRequest", "motion_bucket_id") in found
    assert ("AiArtImg2VideoRequest", "cfg_scale") in found
    assert bounds(AiArtGenerateRequest, "seed") == (0, False, AIART_MAX_SEED, False)


@pytest.mark.parametrize(("model", "name"), AIART_FIELDS, ids=lambda v: getattr(v, "__name__", v))
def test_aiart_ranges_on_the_wire(model: type[BaseModel], name: str) -> None:
    bound = bounds(model, name)
    integer = is_int(model, name)

    @QUICK
    @given(value=inside(*bound, integer))
    def in_range(value: Any) -> None:
        server, _ = call_aiart(model, {name: value})
        first = server.requests[0]
        if model is AiArtGenerateRequest:  # JSON
            assert json.loads(server.bodies[0])[name] == value
        else:  # multipart text: the same number, written exactly
            sent = server.form(0)[name][2].decode()
            assert (int(sent) if integer else float(sent)) == value
            assert first.headers["content-type"].startswith("multipart/form-data")

    @QUICK
    @given(value=outside(*bound, integer))
    def out_of_range(value: Any) -> None:
        with pytest.raises(ArliValidationError) as info:
            call_aiart(model, {name: value})
        check_names_field_and_range(info.value, name, bound)

    in_range()
    out_of_range()


def test_an_out_of_range_aiart_value_sends_nothing() -> None:
    server = FakeAiArt()
    client = make(server)
    with pytest.raises(ArliValidationError):
        client.start_img2video(INIT, motion_bucket_id=0)
    with pytest.raises(ArliValidationError):
        client.img2img(INIT, "p", strength=1.5)
    assert server.requests == []


# -- text, through the skins ------------------------------------------------------------------


class TextRecorder:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        body = COMPLETION if request.url.path.endswith("/v1/completions") else CHAT
        return httpx.Response(200, json=body)


def _text_value(name: str, value: Any) -> dict[str, Any]:
    params = {name: value}
    if name == "top_logprobs":
        params["logprobs"] = True
    return params


def _skin(kind: str, recorder: TextRecorder, params: dict[str, Any]) -> Any:
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    common: dict[str, Any] = {"model": "m", "api_key": "k", "base_url": "http://t", **params}
    if kind == "ChatArli":
        from langchain_arli import ChatArli

        return ChatArli(http_client=http, **common)
    if kind == "ArliLLM":
        from langchain_arli import ArliLLM

        return ArliLLM(http_client=http, **common)
    from llama_index_arli import Arli

    return Arli(http_client=http, discover_context_window=False, **common)


def _call(kind: str, llm: Any, kwargs: dict[str, Any]) -> None:
    if kind == "Arli":
        from llama_index.core.llms import ChatMessage

        llm.chat([ChatMessage(role="user", content="x")], **kwargs)
    else:
        llm.invoke("x", **kwargs)


TEXT_FIELDS = sorted(_RANGES)
SKINS = ["ChatArli", "ArliLLM", "Arli"]


@pytest.mark.parametrize("name", TEXT_FIELDS)
def test_text_ranges_through_every_skin(name: str) -> None:
    spec = _RANGES[name]
    integer = "int" in str(SamplingParams.model_fields[name].annotation)
    if spec.choices is not None:
        good: st.SearchStrategy[Any] = st.sampled_from([int(c) for c in spec.choices])
        bad: st.SearchStrategy[Any] = st.sampled_from(
            [int(c) + 1 for c in spec.choices if c + 1 not in spec.choices]
        )
    else:
        lo = -(2**63) if spec.lo is not None and spec.lo < -1e18 else spec.lo
        good = inside(lo, spec.lo_open, spec.hi, spec.hi_open, integer)
        bad = outside(spec.lo, spec.lo_open, spec.hi, spec.hi_open, integer)

    @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
    @given(value=good, kind=st.sampled_from(SKINS), per_call=st.booleans())
    def in_range(value: Any, kind: str, per_call: bool) -> None:
        recorder = TextRecorder()
        params = _text_value(name, value)
        llm = _skin(kind, recorder, {} if per_call else params)
        _call(kind, llm, params if per_call else {})
        (body,) = recorder.bodies
        if name == "top_logprobs" and kind == "ArliLLM":
            return  # /v1/completions has no top_logprobs: logprobs=N carries it
        assert body[name] == value
        assert type(body[name]) is type(value)

    @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
    @given(value=bad, kind=st.sampled_from(SKINS))
    def out_of_range(value: Any, kind: str) -> None:
        recorder = TextRecorder()
        with pytest.raises(ValueError) as at_init:  # pydantic's error, carrying ours
            _skin(kind, recorder, {name: value})
        assert name in str(at_init.value)
        assert spec.describe() in str(at_init.value)
        llm = _skin(kind, recorder, {})
        with pytest.raises(ArliValidationError) as per_call:
            _call(kind, llm, {name: value})
        assert per_call.value.field == name
        assert per_call.value.allowed == spec.describe()
        assert recorder.bodies == []  # nothing sent

    in_range()
    out_of_range()

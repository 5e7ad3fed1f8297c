"""AiArtClient without a server: validation, multipart bodies, URLs, polling, results.

A fake AiArt (``httpx.MockTransport``) answers the API calls and the downloads; the
polling loop runs on a fake clock, so timeouts take no time.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

import arli
from arli import (
    AiArtClient,
    ArliConfigError,
    ArliResponseError,
    ArliSettings,
    ArliValidationError,
    BadRequestError,
    GenerationTimeoutError,
    ImageClient,
    ImageResult,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    VideoResult,
)
from arli.images import aiart
from arli.images.aiart import (
    AIART_ASPECT_RATIOS,
    AIART_STYLE_PRESETS,
    AiArtGenerateRequest,
    AiArtImg2ImgRequest,
    AiArtImg2VideoRequest,
    nearest_aspect_ratio,
    sniff_video,
)
from arli.media import ImageData
from tests.aiart_helpers import BASE, INIT, FakeAiArt, FakeClock, make, png
from tests.reference_server.aiart import fake_mp4

# -- configuration ---------------------------------------------------------------------------


def test_the_aiart_preset_is_keyless_and_has_its_own_url_variable() -> None:
    settings = ArliSettings.resolve(provider="aiart", env={"ARLIAI_API_KEY": "sk-should-not-go"})
    assert settings.base_url == "https://aiart-zroo.onrender.com"
    assert settings.image_api_key is None
    assert settings.authorization_for("image") is None
    env = {"AIART_BASE_URL": "http://mirror.test/"}
    assert ArliSettings.resolve(provider="aiart", env=env).base_url == "http://mirror.test"
    with pytest.raises(
        ArliConfigError, match=r"AiArt has no SDNext image API: use arli\.AiArtClient"
    ):
        ImageClient(provider="aiart")
    with pytest.raises(ArliConfigError, match="AiArt has no text API"):
        arli.TextClient(provider="aiart")


def test_the_client_never_takes_or_sends_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARLIAI_API_KEY", "sk-should-not-go-anywhere-123")
    monkeypatch.setenv("AIART_BASE_URL", "http://env-aiart.test")
    client = AiArtClient()
    assert client.base_url == "http://env-aiart.test"
    assert client.download_hosts == ("env-aiart.test",)
    assert "authorization" not in {k.lower() for k in client.transport._headers}
    with pytest.raises(ArliConfigError, match="AiArt takes no API key"):
        AiArtClient(api_key="sk-x")
    keyed = ArliSettings.resolve(api_key="sk-should-be-dropped", base_url=BASE)
    assert AiArtClient(settings=keyed).settings.image_api_key is None
    assert repr(client) == "AiArtClient(base_url='http://env-aiart.test')"


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fields", "expected"),
    [
        (
            AiArtGenerateRequest,
            {"prompt": "p", "style_preset": "vaporwave"},
            "style_preset='vaporwave' is not allowed: allowed 3d-model, analog-film, anime, "
            "cinematic, digital-art, enhance, fantasy-art, isometric, line-art, low-poly, "
            "modeling-compound, neon-punk, origami, photographic, pixel-art, tile-texture",
        ),
        (
            AiArtGenerateRequest,
            {"prompt": "p", "aspect_ratio": "3:2"},
            "aspect_ratio='3:2' is not allowed: allowed 1:1, 4:3, 16:9, 9:16, 3:4",
        ),
        (
            AiArtGenerateRequest,
            {"prompt": "p", "output_format": "gif"},
            "output_format='gif' is not allowed: allowed png, jpg, webp",
        ),
        (
            AiArtGenerateRequest,
            {"prompt": "p", "seed": -1},
            "seed=-1 is out of range: allowed 0 (random) .. 4294967294",
        ),
        (
            AiArtGenerateRequest,
            {"prompt": "p", "seed": 4294967295},
            "seed=4294967295 is out of range",
        ),
        (AiArtGenerateRequest, {"prompt": "p", "seed": 1.5}, "seed=1.5 is not valid"),
        (AiArtGenerateRequest, {"prompt": "p", "seed": True}, "seed=True is not valid"),
        (AiArtGenerateRequest, {"prompt": ""}, "prompt is empty"),
        (AiArtGenerateRequest, {"prompt": "   "}, "prompt='   ' is not valid"),
        (AiArtGenerateRequest, {}, "prompt is required"),
        (
            AiArtGenerateRequest,
            {"prompt": "p", "steps": 20},
            "steps is not a parameter of this AiArt request: allowed prompt, negative_prompt, "
            "style_preset, aspect_ratio, output_format, seed",
        ),
        (
            AiArtImg2ImgRequest,
            {"prompt": "p", "strength": 1.5},
            "strength=1.5 is out of range: allowed 0..1",
        ),
        (
            AiArtImg2ImgRequest,
            {"prompt": "p", "strength": -0.1},
            "strength=-0.1 is out of range: allowed 0..1",
        ),
        (AiArtImg2ImgRequest, {"prompt": "p", "style_preset": "Anime"}, "is not allowed"),
        (
            AiArtImg2VideoRequest,
            {"cfg_scale": 10.5},
            "cfg_scale=10.5 is out of range: allowed 0..10",
        ),
        (
            AiArtImg2VideoRequest,
            {"cfg_scale": -1},
            "cfg_scale=-1 is out of range: allowed 0..10",
        ),
        (
            AiArtImg2VideoRequest,
            {"motion_bucket_id": 0},
            "motion_bucket_id=0 is out of range: allowed 1..255",
        ),
        (
            AiArtImg2VideoRequest,
            {"motion_bucket_id": 256},
            "motion_bucket_id=256 is out of range: allowed 1..255",
        ),
        (AiArtImg2VideoRequest, {"motion_bucket_id": 12.5}, "motion_bucket_id=12.5 is not valid"),
    ],
)
def test_every_field_is_checked_with_a_message_naming_what_is_allowed(
    model: type[Any], fields: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ArliValidationError) as info:
        model(**fields)
    assert expected in str(info.value)
    assert info.value.field in (*fields, "prompt")


def test_boundaries_are_accepted() -> None:
    for ratio in AIART_ASPECT_RATIOS:
        AiArtGenerateRequest(prompt="p", aspect_ratio=ratio)
    for style in AIART_STYLE_PRESETS:
        AiArtImg2ImgRequest(prompt="p", style_preset=style)
    AiArtImg2ImgRequest(prompt="p", strength=0, seed=0)
    AiArtImg2ImgRequest(prompt="p", strength=1, seed=4294967294)
    AiArtImg2VideoRequest(cfg_scale=0, motion_bucket_id=1)
    AiArtImg2VideoRequest(cfg_scale=10, motion_bucket_id=255)


def test_validation_errors_carry_field_and_allowed() -> None:
    with pytest.raises(ArliValidationError) as info:
        AiArtImg2VideoRequest(motion_bucket_id=999)
    assert info.value.field == "motion_bucket_id"
    assert info.value.allowed == "1..255"


def test_invalid_values_send_nothing() -> None:
    server = FakeAiArt()
    client = make(server)
    with pytest.raises(ArliValidationError):
        client.generate("p", style_preset="vaporwave")
    with pytest.raises(ArliValidationError):
        client.img2img(INIT, "p", strength=2)
    with pytest.raises(ArliValidationError):
        client.img2video(INIT, cfg_scale=11)
    with pytest.raises(ArliValidationError):
        client.img2video(INIT, poll_interval=-1)
    with pytest.raises(ArliValidationError, match="max_polls=0 must be at least 1"):
        client.img2video(INIT, max_polls=0)
    assert server.requests == []


# -- uploads -----------------------------------------------------------------------------------


def test_wrong_image_types_are_refused_before_sending_like_the_servers_415(tmp_path: Path) -> None:
    server = FakeAiArt()
    client = make(server)
    gif = tmp_path / "anim.gif"
    Image.new("RGB", (8, 8)).save(gif, format="GIF")
    with pytest.raises(ArliValidationError) as info:
        client.img2img(gif, "p")
    assert "AiArt accepts JPG, PNG and WEBP images only" in str(info.value)
    assert "415" in str(info.value)
    assert info.value.allowed == "JPG, PNG, WEBP"
    text = tmp_path / "notes.txt"
    text.write_text("not an image at all")
    with pytest.raises(ArliValidationError, match="AiArt accepts JPG, PNG and WEBP"):
        client.img2video(text)
    assert server.requests == []


def test_images_over_10_mb_are_refused_before_sending_like_the_servers_413(tmp_path: Path) -> None:
    server = FakeAiArt()
    client = make(server)
    big = png() + b"\0" * (10 * 1024 * 1024)
    with pytest.raises(ArliValidationError) as info:
        client.img2img(big, "p")
    assert "more than AiArt's 10 MB limit" in str(info.value)
    assert "413" in str(info.value)
    assert info.value.allowed == "<= 10 MB"
    exact = png()
    exact += b"\0" * (10 * 1024 * 1024 - len(exact))
    assert AiArtClient.check_upload(ImageData(exact, "image/png")) is not None
    huge = tmp_path / "huge.png"
    huge.write_bytes(png() + b"\0" * (65 * 2**20))
    with pytest.raises(ArliValidationError, match="AiArt accepts uploads of at most 10 MB"):
        client.img2video(huge)
    assert server.requests == []


def test_multipart_body_shape(tmp_path: Path) -> None:
    server = FakeAiArt()
    client = make(server)
    jpg = tmp_path / "photo.jpeg"
    jpg.write_bytes(png(32, 24, "JPEG"))
    client.img2img(
        jpg,
        "a watercolor",
        negative_prompt="blurry",
        strength=0.8,
        style_preset="cinematic",
        aspect_ratio="4:3",
        output_format="webp",
        seed=7,
    )
    request = server.requests[0]
    assert request.method == "POST"
    assert request.url.path == "/api/img2img"
    ctype = request.headers["content-type"]
    assert ctype.startswith("multipart/form-data; boundary=arli-")
    assert "authorization" not in request.headers
    form = server.form(0)
    assert form.pop("image") == ("image.jpg", "image/jpeg", jpg.read_bytes())
    assert {k: v[2].decode() for k, v in form.items()} == {
        "prompt": "a watercolor",
        "negative_prompt": "blurry",
        "strength": "0.8",
        "style_preset": "cinematic",
        "aspect_ratio": "4:3",
        "output_format": "webp",
        "seed": "7",
    }
    assert all(v[0] is None for v in form.values())  # text fields, not files
    # The same request gives the same bytes (cassettes replay; retries resend it).
    client.img2img(
        jpg,
        "a watercolor",
        negative_prompt="blurry",
        strength=0.8,
        style_preset="cinematic",
        aspect_ratio="4:3",
        output_format="webp",
        seed=7,
    )
    assert server.bodies[2] == server.bodies[0]


def test_unset_fields_are_not_sent_and_integers_stay_integers() -> None:
    server = FakeAiArt()
    client = make(server)
    client.start_img2video(INIT.read_bytes(), cfg_scale=2, motion_bucket_id=200)
    form = server.form(0)
    assert set(form) == {"image", "cfg_scale", "motion_bucket_id"}
    assert form["cfg_scale"][2] == b"2"
    assert form["image"][:2] == ("image.png", "image/png")
    client.generate("a cat")
    assert json.loads(server.bodies[1]) == {"video_description": "a cat"}
    client.generate(
        "a cat",
        negative_prompt="dogs",
        style_preset="anime",
        aspect_ratio="1:1",
        output_format="jpg",
        seed=0,
    )
    assert json.loads(server.bodies[3]) == {
        "video_description": "a cat",
        "negative_prompt": "dogs",
        "style_preset": "anime",
        "aspect_ratio": "1:1",
        "output_format": "jpg",
        "seed": 0,
    }


# -- results and URLs --------------------------------------------------------------------------


def test_generate_downloads_the_image_like_arli_results(tmp_path: Path) -> None:
    server = FakeAiArt()
    result = make(server).generate("a lighthouse", style_preset="cinematic", seed=42)
    assert isinstance(result, ImageResult)
    assert server.paths() == ["/api/generate", "/images/generated_image_1.png"]
    assert "authorization" not in server.requests[1].headers
    assert result.operation == "txt2img"
    assert result.mime_type == "image/png"
    assert (result.image.width, result.image.height) == (64, 36)
    assert result.seeds == [42]  # generate does not answer with a seed: the one asked for
    assert result.info.styles == ["cinematic"]
    assert result.info.raw["message"] == "Image generated successfully"
    assert result.to_pil().size == (64, 36)
    (path,) = result.save(tmp_path)
    assert path.name.startswith("arli-42-0-")
    assert path.suffix == ".png"
    assert str(result) == f"Generated 1 image (64x36, seed 42).\nSaved to: {path}"


def test_img2img_takes_the_seed_from_the_answer_and_sniffs_the_format() -> None:
    server = FakeAiArt()
    result = make(server).img2img(INIT, "a dog", output_format="png")
    assert result.operation == "img2img"
    assert result.mime_type == "image/webp"  # detected from the bytes, not the request
    assert result.seeds == [123456]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/processed_videos/v.mp4", "http://aiart.test/processed_videos/v.mp4"),
        ("http://aiart.test/images/x.png", "http://aiart.test/images/x.png"),
        ("images/x.png", "http://aiart.test/images/x.png"),
    ],
)
def test_relative_urls_are_joined_with_the_base_url(url: str, expected: str) -> None:
    assert make(FakeAiArt()).resolve_url(url) == expected


def test_relative_urls_keep_a_base_path() -> None:
    client = AiArtClient(base_url="https://host.test/aiart/")
    assert (
        client.resolve_url("/processed_videos/v.mp4") == "https://host.test/processed_videos/v.mp4"
    )
    assert client.resolve_url("images/x.png") == "https://host.test/aiart/images/x.png"


def test_downloads_stay_on_the_aiart_host_unless_allowed() -> None:
    client = make(FakeAiArt())
    with pytest.raises(ArliResponseError, match=r"another host \(evil\.test\).*download_hosts"):
        client.resolve_url("http://evil.test/x.png")
    with pytest.raises(ArliResponseError, match="not http"):
        client.resolve_url("file:///etc/passwd")
    cdn = make(FakeAiArt(), download_hosts=["cdn.test"])
    assert cdn.resolve_url("https://CDN.test/x.png") == "https://cdn.test/x.png"
    anywhere = make(FakeAiArt(), download_hosts=["*"])
    assert anywhere.resolve_url("http://evil.test/x.png") == "http://evil.test/x.png"


def test_a_foreign_image_url_is_refused_without_downloading() -> None:
    server = FakeAiArt()
    server.fail["/api/generate"] = (
        200,
        {"success": True, "image_url": "http://elsewhere.test/images/generated_image_1.png"},
        {},
    )
    with pytest.raises(ArliResponseError, match="another host"):
        make(server).generate("p")
    assert server.paths() == ["/api/generate"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"success": True, "message": "done"}, "has no image_url"),
        ({"success": False, "error": "model overloaded"}, "model overloaded"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_unusable_answers_are_response_errors(body: Any, expected: str) -> None:
    server = FakeAiArt(fail={"/api/generate": (200, body, {})})
    with pytest.raises(ArliResponseError, match=expected):
        make(server).generate("p")


def test_a_download_that_is_not_an_image_is_a_response_error() -> None:
    server = FakeAiArt(fail={"/images/generated_image_1.png": (200, {"html": "<p>"}, {})})
    with pytest.raises(ArliResponseError, match="is not an image"):
        make(server).generate("p")
    # A download that fails is the status error of its status, not an unusable answer.
    server = FakeAiArt(fail={"/images/generated_image_1.png": (404, {"error": "gone"}, {})})
    with pytest.raises(NotFoundError, match=r"HTTP 404 \(GET .*/images/generated_image_1.png\)"):
        make(server).generate("p")


@pytest.mark.parametrize(
    ("status", "error", "cls"),
    [
        (400, "video_description is required", BadRequestError),
        (413, "File too large. Maximum size is 10MB", arli.ArliStatusError),
        (415, "Unsupported file type", arli.ArliStatusError),
        (429, "Too many requests", RateLimitError),
        (500, "Internal error", InternalServerError),
    ],
)
def test_error_envelope_becomes_typed_errors(status: int, error: str, cls: type[Exception]) -> None:
    server = FakeAiArt(fail={"/api/generate": (status, {"error": error}, {})})
    with pytest.raises(cls) as info:
        make(server).generate("p")
    assert info.value.status_code == status  # type: ignore[attr-defined]
    assert info.value.message == error  # type: ignore[attr-defined]


def test_429_with_retry_after_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("arli._transport.time.sleep", waits.append)
    server = FakeAiArt()
    calls = {"n": 0}
    original = server.__call__

    def limited(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/generate" and calls["n"] == 0:
            calls["n"] += 1
            return httpx.Response(
                429, json={"error": "Too many requests"}, headers={"Retry-After": "3"}
            )
        return original(request)

    client = AiArtClient(
        base_url=BASE,
        http_client=httpx.Client(transport=httpx.MockTransport(limited)),
        max_retries=2,
    )
    assert client.generate("p").mime_type == "image/png"
    assert waits == [3.0]


# -- videos and polling ------------------------------------------------------------------------


def test_polling_in_progress_then_complete(clock: FakeClock) -> None:
    server = FakeAiArt(polls=2)
    client = make(server)
    video = client.img2video(INIT, seed=5, motion_bucket_id=90, poll_interval=5.0)
    assert isinstance(video, VideoResult)
    assert server.paths() == [
        "/api/img2video",
        "/api/img2video/result/a1b2c3d4e5f6",
        "/api/img2video/result/a1b2c3d4e5f6",
        "/api/img2video/result/a1b2c3d4e5f6",
        "/processed_videos/video_a1b2c3d4_12345.mp4",
    ]
    assert clock.sleeps == [5.0, 5.0]
    assert video.mime_type == "video/mp4"
    assert video.url == "http://aiart.test/processed_videos/video_a1b2c3d4_12345.mp4"
    assert (video.seed, video.finish_reason, video.generation_id) == (
        12345,
        "SUCCESS",
        "a1b2c3d4e5f6",
    )
    assert video.data == fake_mp4(12345)


def test_polling_gives_up_at_the_timeout_with_the_generation_id(clock: FakeClock) -> None:
    server = FakeAiArt(polls=1000)
    client = make(server)
    with pytest.raises(GenerationTimeoutError) as info:
        client.img2video(INIT, poll_interval=5.0, poll_timeout=12.0)
    exc = info.value
    assert exc.generation_id == "a1b2c3d4e5f6"
    assert isinstance(exc, TimeoutError)
    assert clock.sleeps == [5.0, 5.0, 2.0]  # the last wait ends at the deadline
    assert exc.polls == 4
    assert exc.elapsed == 12.0
    assert "video_result('a1b2c3d4e5f6')" in str(exc)
    # Resume: the same generation, no new upload.
    server.polls = server.video_polls + 1
    video = client.video_result(exc.generation_id, poll_interval=1.0)
    assert video.generation_id == "a1b2c3d4e5f6"
    assert server.paths().count("/api/img2video") == 1


def test_polling_stops_after_max_polls(clock: FakeClock) -> None:
    server = FakeAiArt(polls=1000)
    with pytest.raises(GenerationTimeoutError, match="after 3 polls") as info:
        make(server).video_result("a1b2c3d4e5f6", poll_interval=0.5, max_polls=3)
    assert info.value.polls == 3
    assert clock.sleeps == [0.5, 0.5]


def test_a_zero_timeout_polls_once(clock: FakeClock) -> None:
    server = FakeAiArt(polls=1000)
    with pytest.raises(GenerationTimeoutError):
        make(server).video_result("a1b2c3d4e5f6", poll_timeout=0)
    assert server.video_polls == 1
    assert clock.sleeps == []


def test_polling_honours_retry_after_on_202(clock: FakeClock) -> None:
    server = FakeAiArt(polls=0)
    calls = {"n": 0}
    original = server.__call__

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/img2video/result/") and calls["n"] == 0:
            calls["n"] += 1
            return httpx.Response(202, json={"status": "in-progress"}, headers={"Retry-After": "2"})
        return original(request)

    client = AiArtClient(
        base_url=BASE, http_client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    client.video_result("a1b2c3d4e5f6", poll_interval=9.0)
    assert clock.sleeps == [2.0]


@pytest.mark.parametrize(
    ("status", "cls"), [(404, NotFoundError), (400, BadRequestError), (500, InternalServerError)]
)
def test_an_error_status_while_polling_is_a_typed_error(
    clock: FakeClock, status: int, cls: type[Exception]
) -> None:
    path = "/api/img2video/result/a1b2c3d4e5f6"
    server = FakeAiArt(fail={path: (status, {"error": "Video generation failed"}, {})})
    with pytest.raises(cls, match="Video generation failed"):
        make(server).video_result("a1b2c3d4e5f6")
    assert clock.sleeps == []


def test_a_complete_answer_without_a_video_is_a_response_error(clock: FakeClock) -> None:
    path = "/api/img2video/result/a1b2c3d4e5f6"
    server = FakeAiArt(fail={path: (200, {"status": "failed", "finish_reason": "ERROR"}, {})})
    with pytest.raises(ArliResponseError, match="without a video"):
        make(server).video_result("a1b2c3d4e5f6")


def test_check_video_polls_once_without_downloading() -> None:
    server = FakeAiArt(polls=1)
    client = make(server)
    first = client.check_video("a1b2c3d4e5f6")
    assert (first.status, first.done, first.message) == ("in-progress", False, "wait")
    second = client.check_video("a1b2c3d4e5f6")
    assert second.done
    assert second.video_url == "http://aiart.test/processed_videos/video_a1b2c3d4_12345.mp4"
    assert second.seed == 12345
    assert all("/processed_videos/" not in p for p in server.paths())


@pytest.mark.parametrize("bad", ["", "../../etc", "a/b", "x" * 300, "id with space"])
def test_generation_ids_are_checked_before_they_go_into_a_url(bad: str) -> None:
    server = FakeAiArt()
    with pytest.raises(ArliValidationError) as info:
        make(server).check_video(bad)
    assert info.value.field == "generation_id"
    assert server.requests == []


def test_start_answer_without_an_id_is_a_response_error() -> None:
    server = FakeAiArt(fail={"/api/img2video": (200, {"success": True}, {})})
    with pytest.raises(ArliResponseError, match="no usable id"):
        make(server).start_img2video(INIT)


def test_a_download_that_is_not_a_video_is_a_response_error(clock: FakeClock) -> None:
    server = FakeAiArt(polls=0)
    server.fail["/processed_videos/video_a1b2c3d4_12345.mp4"] = (200, {"not": "video"}, {})
    with pytest.raises(ArliResponseError, match="is not a video"):
        make(server).video_result("a1b2c3d4e5f6")


async def test_async_polling_and_every_async_method(clock: FakeClock) -> None:
    server = FakeAiArt(polls=2)
    client = make(server)
    image = await client.agenerate("p", seed=3)
    edited = await client.aimg2img(INIT, "q")
    video = await client.aimg2video(INIT, poll_interval=1.5)
    assert image.seeds == [3]
    assert edited.seeds == [123456]
    assert video.seed == 12345
    assert clock.sleeps == [1.5, 1.5]
    status = await client.acheck_video("a1b2c3d4e5f6")
    assert status.done
    await client.aclose()


async def test_async_timeout_does_not_block_the_loop(clock: FakeClock) -> None:
    server = FakeAiArt(polls=1000)
    client = make(server)
    gid = await client.astart_img2video(INIT)
    with pytest.raises(GenerationTimeoutError) as info:
        await client.avideo_result(gid, poll_interval=1.0, poll_timeout=3.0)
    assert info.value.generation_id == gid
    assert clock.sleeps == [1.0, 1.0, 1.0]


async def test_real_sleeps_are_short_with_tiny_intervals() -> None:
    server = FakeAiArt(polls=3)
    client = make(server)
    loop = asyncio.get_running_loop()
    started = loop.time()
    video = await client.avideo_result("a1b2c3d4e5f6", poll_interval=0.01)
    assert video.data == fake_mp4(12345)
    assert loop.time() - started < 5


# -- small helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "ratio"),
    [
        ((96, 64), "4:3"),
        ((1920, 1080), "16:9"),
        ((1080, 1920), "9:16"),
        ((500, 510), "1:1"),
        ((600, 800), "3:4"),
        ((3000, 1000), "16:9"),
        ((0, 10), "1:1"),
    ],
)
def test_nearest_aspect_ratio(size: tuple[int, int], ratio: str) -> None:
    assert nearest_aspect_ratio(*size) == ratio


def test_video_result_saves_safely(tmp_path: Path) -> None:
    video = VideoResult(data=fake_mp4(1), mime_type="video/mp4", url="u", generation_id="g", seed=9)
    path = video.save(tmp_path)
    assert path.parent == tmp_path.resolve()
    assert path.name.startswith("arli-video-9-")
    assert path.suffix == ".mp4"
    assert video.save(tmp_path) == path  # the same bytes are not written twice
    named = video.save(tmp_path, name="clip.mov")
    assert named.name == "clip.mp4"
    for bad in ("../x.mp4", "/tmp/x.mp4", "a/b.mp4"):
        with pytest.raises(ArliValidationError):
            video.save(tmp_path, name=bad)
    text = str(video)
    assert "mp4" in text
    assert "seed 9" in text
    assert "generation id g" in text
    assert text.endswith(f"Saved to: {named}")


def test_sniff_video() -> None:
    assert sniff_video(fake_mp4(1)) == "video/mp4"
    assert sniff_video(b"\x00\x00\x00\x14ftypqt  ") == "video/quicktime"
    assert sniff_video(b"\x1a\x45\xdf\xa3rest") == "video/webm"
    assert sniff_video(b"GIF89a...") == "image/gif"
    assert sniff_video(b"<html>") is None


def test_exports() -> None:
    for name in ("AiArtClient", "VideoResult", "VideoStatus", "GenerationTimeoutError"):
        assert name in arli.__all__
        assert getattr(arli, name) is getattr(aiart, name)

"""AiArtClient replayed from cassettes: every AiArt endpoint, the polling loop, errors.

Recorded against tests/reference_server extended with AiArt's routes
(``python -m tests.reference_server --provider aiart``: tiny PNG/JPEG/WEBP images, a
56-byte fake MP4, two "in progress" polls per video). Re-record with
``scripts/record.sh aiart``.

The polls of one video are the same request answered differently (202, 202, 200), so these
cassettes replay each exchange once, in order (``allow_playback_repeats=False``). The
recorded ``image_url``\\ s point at the recording server (``127.0.0.1:<port>``); replaying,
the client is told to trust that host for downloads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from arli import (
    AiArtClient,
    BadRequestError,
    GenerationTimeoutError,
    NotFoundError,
    VideoResult,
)
from tests.conftest import CASSETTES, Target
from tests.helpers import FIXTURES
from tests.reference_server.aiart import ASPECT_SIZES

pytestmark = [
    pytest.mark.vcr(allow_playback_repeats=False),
    pytest.mark.recorded_against("aiart"),
]

INIT = FIXTURES / "image_api" / "init_96x64.png"
POLL = {"poll_interval": 0.01}
_DIR = CASSETTES / Path(__file__).stem


def make(target: Target) -> AiArtClient:
    hosts = None if target.recording else ["127.0.0.1", "replay.invalid"]
    return AiArtClient(base_url=target.base_url, download_hosts=hosts, max_retries=0)


def recorded(name: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((_DIR / f"{name}.yaml").read_text())
    return [item["request"] for item in data["interactions"]]


def test_generate_every_option(cassette_target: Target, tmp_path: Path) -> None:
    result = make(cassette_target).generate(
        "a lighthouse at dusk",
        negative_prompt="blurry",
        style_preset="cinematic",
        aspect_ratio="4:3",
        output_format="webp",
        seed=7,
    )
    assert result.mime_type == "image/webp"
    assert (result.image.width, result.image.height) == ASPECT_SIZES["4:3"]
    assert result.seeds == [7]
    assert result.info.raw["message"] == "Image generated successfully"
    assert result.to_pil().size == ASPECT_SIZES["4:3"]
    (path,) = result.save(tmp_path)
    assert path.name.startswith("arli-7-0-")


def test_generate_defaults(cassette_target: Target) -> None:
    result = make(cassette_target).generate("a red fox")
    assert result.mime_type == "image/png"  # the server's default format
    assert (result.image.width, result.image.height) == ASPECT_SIZES["16:9"]  # its default
    assert result.seeds == [None]


def test_img2img(cassette_target: Target) -> None:
    result = make(cassette_target).img2img(
        INIT, "a watercolor", negative_prompt="dark", strength=0.6, output_format="jpg", seed=3
    )
    assert result.operation == "img2img"
    assert result.mime_type == "image/jpeg"
    assert (result.image.width, result.image.height) == ASPECT_SIZES["1:1"]
    assert result.seeds == [3]


def test_img2video_polls_in_progress_then_complete(cassette_target: Target) -> None:
    video = make(cassette_target).img2video(
        INIT, seed=42, cfg_scale=2.5, motion_bucket_id=90, **POLL
    )
    assert isinstance(video, VideoResult)
    assert (video.mime_type, video.seed, video.finish_reason) == ("video/mp4", 42, "SUCCESS")
    assert video.data[4:8] == b"ftyp"
    assert video.url.endswith(f"/processed_videos/video_{video.generation_id[:8]}_42.mp4")
    if cassette_target.recording:
        return  # the cassette is written when the test ends
    requests = recorded("test_img2video_polls_in_progress_then_complete")
    paths = [r["uri"].split("//", 1)[1].split("/", 1)[1] for r in requests]
    assert paths[0] == "api/img2video"
    assert paths[1:4] == [f"api/img2video/result/{video.generation_id}"] * 3
    assert paths[4].startswith("processed_videos/")


def test_manual_control_and_resume_after_a_time_out(cassette_target: Target) -> None:
    client = make(cassette_target)
    gid = client.start_img2video(INIT, seed=5)
    with pytest.raises(GenerationTimeoutError) as info:
        client.video_result(gid, max_polls=1, **POLL)
    assert info.value.generation_id == gid
    status = client.check_video(gid)
    assert status.status == "in-progress"
    video = client.video_result(gid, **POLL)
    assert video.seed == 5


def test_unknown_generation_is_a_404(cassette_target: Target) -> None:
    with pytest.raises(NotFoundError) as info:
        make(cassette_target).check_video("0123456789abcdef")
    assert info.value.message == "Generation not found: 0123456789abcdef"


def test_an_image_the_server_cannot_read_is_a_400(cassette_target: Target) -> None:
    broken = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    with pytest.raises(BadRequestError) as info:
        make(cassette_target).img2img(broken, "p")
    assert info.value.message == "Invalid image file"


async def test_async_endpoints(cassette_target: Target) -> None:
    client = make(cassette_target)
    image = await client.agenerate("a blue circle", aspect_ratio="1:1", seed=9)
    assert image.seeds == [9]
    edited = await client.aimg2img(image.data, "the same in red", seed=10)
    assert edited.seeds == [10]
    video = await client.aimg2video(edited.data, seed=11, **POLL)
    assert video.seed == 11
    await client.aclose()


def test_no_request_carried_a_key() -> None:
    for cassette in sorted(_DIR.glob("*.yaml")):
        for request in yaml.safe_load(cassette.read_text())["interactions"]:
            headers = {k.lower() for k in request["request"]["headers"]}
            assert "authorization" not in headers, cassette.name

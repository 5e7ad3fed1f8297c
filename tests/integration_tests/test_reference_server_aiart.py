"""The reference server in AiArt mode, spoken to with plain httpx (no client code).

Checks the wire format of every route against AiArt's documentation: JSON and multipart
bodies, the answers' shapes, absolute and relative URLs, the files behind them, the error
envelope and statuses (400, 404, 413, 415), and the video polling states.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.helpers import FIXTURES
from tests.reference_server import Fault, ReferenceServer
from tests.reference_server.aiart import (
    ASPECT_SIZES,
    MAX_UPLOAD_BYTES,
    fake_mp4,
    parse_multipart,
)

INIT = FIXTURES / "image_api" / "init_96x64.png"


@pytest.fixture
def srv() -> Iterator[ReferenceServer]:
    with ReferenceServer(provider="aiart", aiart_video_polls=2) as server:
        yield server


@pytest.fixture
def http(srv: ReferenceServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.url) as client:
        yield client


def image_files(data: bytes | None = None, name: str = "in.png", mime: str = "image/png") -> Any:
    return {"image": (name, INIT.read_bytes() if data is None else data, mime)}


def fetch_image(http: httpx.Client, url: str) -> Image.Image:
    response = http.get(url)
    assert response.status_code == 200
    return Image.open(io.BytesIO(response.content))


# -- generate ----------------------------------------------------------------------------------


def test_generate_answers_with_an_absolute_url_to_a_real_image(
    srv: ReferenceServer, http: httpx.Client
) -> None:
    response = http.post(
        "/api/generate",
        json={
            "video_description": "a city at night",
            "negative_prompt": "blurry",
            "style_preset": "neon-punk",
            "aspect_ratio": "16:9",
            "output_format": "png",
            "seed": 0,
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["message"] == "Image generated successfully"
    assert body["image_url"].startswith(f"{srv.url}/images/generated_image_")
    assert body["image_url"].endswith(".png")
    img = fetch_image(http, body["image_url"])
    assert img.format == "PNG"
    assert img.size == ASPECT_SIZES["16:9"]


@pytest.mark.parametrize(("fmt", "pil"), [("png", "PNG"), ("jpg", "JPEG"), ("webp", "WEBP")])
@pytest.mark.parametrize("ratio", list(ASPECT_SIZES))
def test_generate_respects_format_and_aspect_ratio(
    http: httpx.Client, fmt: str, pil: str, ratio: str
) -> None:
    body = http.post(
        "/api/generate",
        json={"video_description": "x", "aspect_ratio": ratio, "output_format": fmt},
    ).json()
    assert body["image_url"].endswith(f".{fmt}")
    img = fetch_image(http, body["image_url"])
    assert (img.format, img.size) == (pil, ASPECT_SIZES[ratio])


def test_generate_defaults_16_9_png(http: httpx.Client) -> None:
    body = http.post("/api/generate", json={"video_description": "x"}).json()
    img = fetch_image(http, body["image_url"])
    assert (img.format, img.size) == ("PNG", ASPECT_SIZES["16:9"])


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "video_description is required"),
        ({"video_description": "  "}, "video_description is required"),
        ({"video_description": "x", "style_preset": "vaporwave"}, "Invalid style_preset"),
        ({"video_description": "x", "aspect_ratio": "3:2"}, "Invalid aspect_ratio"),
        ({"video_description": "x", "output_format": "gif"}, "Invalid output_format"),
        ({"video_description": "x", "seed": -1}, "Invalid seed"),
        ({"video_description": "x", "seed": "abc"}, "Invalid seed"),
        ({"video_description": "x", "negative_prompt": 3}, "Invalid negative_prompt"),
    ],
)
def test_generate_rejects_bad_values_with_400(
    http: httpx.Client, payload: dict[str, Any], message: str
) -> None:
    response = http.post("/api/generate", json=payload)
    assert response.status_code == 400
    assert set(response.json()) == {"error"}
    assert message in response.json()["error"]


def test_generate_rejects_a_body_that_is_not_json(http: httpx.Client) -> None:
    response = http.post("/api/generate", content=b"{nope", headers={"content-type": "text/plain"})
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid JSON body"}


# -- img2img -----------------------------------------------------------------------------------


def test_img2img_transforms_an_upload(srv: ReferenceServer, http: httpx.Client) -> None:
    response = http.post(
        "/api/img2img",
        files=image_files(),
        data={
            "prompt": "watercolor",
            "negative_prompt": "blurry",
            "strength": "0.8",
            "style_preset": "cinematic",
            "aspect_ratio": "4:3",
            "output_format": "webp",
            "seed": "77",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["message"] == "Image transformed successfully"
    assert body["seed"] == 77
    assert body["image_url"].startswith(f"{srv.url}/processed_images/img2img_transform_")
    img = fetch_image(http, body["image_url"])
    assert (img.format, img.size) == ("WEBP", ASPECT_SIZES["4:3"])


def test_img2img_defaults_to_square_png_and_a_random_seed(http: httpx.Client) -> None:
    body = http.post("/api/img2img", files=image_files(), data={"prompt": "p"}).json()
    assert isinstance(body["seed"], int)
    assert body["seed"] > 0
    img = fetch_image(http, body["image_url"])
    assert (img.format, img.size) == ("PNG", ASPECT_SIZES["1:1"])


def _webp() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="WEBP")
    return buf.getvalue()


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="JPEG")
    return buf.getvalue()


@pytest.mark.parametrize("data", [_webp(), _jpeg()])
def test_img2img_accepts_jpg_and_webp(http: httpx.Client, data: bytes) -> None:
    response = http.post("/api/img2img", files=image_files(data), data={"prompt": "p"})
    assert response.status_code == 200


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="GIF")
    return buf.getvalue()


@pytest.mark.parametrize("route", ["/api/img2img", "/api/img2video"])
@pytest.mark.parametrize(
    ("files", "data", "status", "message"),
    [
        (None, {"prompt": "p"}, 400, "No image file provided"),
        (image_files(b""), {"prompt": "p"}, 400, "No image file provided"),
        (
            image_files(b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_UPLOAD_BYTES),
            {"prompt": "p"},
            413,
            "File too large. Maximum size is 10MB",
        ),
        (image_files(_gif(), "a.gif", "image/gif"), {"prompt": "p"}, 415, "JPG, PNG or WEBP"),
        (image_files(b"hello", "a.txt", "text/plain"), {"prompt": "p"}, 415, "Unsupported"),
        (image_files(b"\x89PNG\r\n\x1a\nbroken"), {"prompt": "p"}, 400, "Invalid image file"),
    ],
)
def test_uploads_are_checked_in_the_documented_envelope(
    http: httpx.Client, route: str, files: Any, data: dict[str, str], status: int, message: str
) -> None:
    if files is None:
        response = http.post(route, files={"other": ("x", b"x")}, data=data)
    else:
        response = http.post(route, files=files, data=data)
    assert response.status_code == status
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Prompt is required"),
        ({"prompt": " "}, "Prompt is required"),
        ({"prompt": "p", "strength": "1.5"}, "Invalid strength: must be between 0 and 1"),
        ({"prompt": "p", "strength": "x"}, "Invalid strength: must be a number"),
        ({"prompt": "p", "style_preset": "vaporwave"}, "Invalid style_preset"),
        ({"prompt": "p", "aspect_ratio": "2:1"}, "Invalid aspect_ratio"),
        ({"prompt": "p", "output_format": "bmp"}, "Invalid output_format"),
        ({"prompt": "p", "seed": "1.5"}, "Invalid seed: must be an integer"),
    ],
)
def test_img2img_fields_are_validated(
    http: httpx.Client, data: dict[str, str], message: str
) -> None:
    response = http.post("/api/img2img", files=image_files(), data=data)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_a_body_that_is_not_multipart_is_a_400(http: httpx.Client) -> None:
    response = http.post("/api/img2img", json={"prompt": "p"})
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["error"]


# -- img2video ---------------------------------------------------------------------------------


def test_img2video_polls_in_progress_then_complete(
    srv: ReferenceServer, http: httpx.Client
) -> None:
    start = http.post(
        "/api/img2video",
        files=image_files(),
        data={"seed": "12345", "cfg_scale": "1.5", "motion_bucket_id": "127"},
    )
    assert start.status_code == 200
    body = start.json()
    assert body["success"] is True
    assert "Poll for results" in body["message"]
    gid = body["id"]
    assert len(gid) == 32
    assert int(gid, 16) >= 0
    for _ in range(2):
        poll = http.get(f"/api/img2video/result/{gid}")
        assert poll.status_code == 202
        assert poll.json()["status"] == "in-progress"
        assert "still in progress" in poll.json()["message"]
    done = http.get(f"/api/img2video/result/{gid}")
    assert done.status_code == 200
    assert done.json() == {
        "status": "complete",
        "video_url": f"/processed_videos/video_{gid[:8]}_12345.mp4",
        "finish_reason": "SUCCESS",
        "seed": "12345",
    }
    video = http.get(done.json()["video_url"])
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert video.content == fake_mp4(12345)
    assert video.content[4:8] == b"ftyp"
    assert len(video.content) < 100
    # Complete stays complete.
    assert http.get(f"/api/img2video/result/{gid}").status_code == 200


def test_polls_are_configurable(srv: ReferenceServer, http: httpx.Client) -> None:
    srv.settings.aiart_video_polls = 0
    gid = http.post("/api/img2video", files=image_files()).json()["id"]
    assert http.get(f"/api/img2video/result/{gid}").status_code == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"cfg_scale": "11"}, "Invalid cfg_scale: must be between 0 and 10"),
        ({"cfg_scale": "-0.5"}, "Invalid cfg_scale"),
        ({"motion_bucket_id": "0"}, "Invalid motion_bucket_id: must be between 1 and 255"),
        ({"motion_bucket_id": "256"}, "Invalid motion_bucket_id"),
        ({"motion_bucket_id": "1.5"}, "Invalid motion_bucket_id: must be an integer"),
        ({"seed": "-3"}, "Invalid seed"),
    ],
)
def test_img2video_fields_are_validated(
    http: httpx.Client, data: dict[str, str], message: str
) -> None:
    response = http.post("/api/img2video", files=image_files(), data=data)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_unknown_ids_are_404(http: httpx.Client) -> None:
    response = http.get("/api/img2video/result/deadbeef")
    assert response.status_code == 404
    assert response.json() == {"error": "Generation not found: deadbeef"}


def test_a_job_can_be_made_to_fail(srv: ReferenceServer, http: httpx.Client) -> None:
    gid = http.post("/api/img2video", files=image_files()).json()["id"]
    srv.aiart.fail_video(gid, 500, "Video generation failed")
    failed = http.get(f"/api/img2video/result/{gid}")
    assert failed.status_code == 500
    assert failed.json() == {"error": "Video generation failed"}
    srv.aiart.fail_next_video = (400, "Image dimensions are not supported")
    other = http.post("/api/img2video", files=image_files()).json()["id"]
    response = http.get(f"/api/img2video/result/{other}")
    assert response.status_code == 400
    assert response.json() == {"error": "Image dimensions are not supported"}
    assert srv.aiart.fail_next_video is None  # used once


# -- routing, faults, no auth ------------------------------------------------------------------


def test_unknown_routes_methods_and_files(http: httpx.Client) -> None:
    assert http.get("/v1/models").status_code == 404
    assert http.get("/v1/models").json() == {"error": "Not found"}
    assert http.get("/api/generate").status_code == 405
    assert http.post("/api/img2video/result/x").status_code == 405
    assert http.get("/images/generated_image_999.png").json() == {"error": "File not found"}


def test_no_auth_is_needed_and_a_429_fault_uses_the_envelope(
    srv: ReferenceServer, http: httpx.Client
) -> None:
    srv.add_fault(
        Fault(path="/api/generate", kind="status", status=429, headers={"Retry-After": "1"})
    )
    limited = http.post("/api/generate", json={"video_description": "x"})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "1"
    assert limited.json() == {"error": "Too Many Requests"}
    ok = http.post(
        "/api/generate", json={"video_description": "x"}, headers={"Authorization": "Bearer x"}
    )
    assert ok.status_code == 200


def test_parse_multipart_reads_fields_and_files() -> None:
    request = httpx.Request(
        "POST", "http://x/", data={"a": "1", "b": "two words"}, files={"image": ("i.png", b"PNG")}
    )
    body = request.read()
    parts = parse_multipart(body, request.headers["content-type"])
    assert parts["a"].data == b"1"
    assert parts["b"].data == b"two words"
    assert (parts["image"].filename, parts["image"].data) == ("i.png", b"PNG")
    with pytest.raises(ValueError, match="multipart/form-data"):
        parse_multipart(body, "application/json")


def test_cli_accepts_provider_aiart() -> None:
    from tests.reference_server.__main__ import build_parser

    args = build_parser().parse_args(["--provider", "aiart", "--aiart-video-polls", "3"])
    assert (args.provider, args.aiart_video_polls) == ("aiart", 3)
    out = subprocess.run(
        [sys.executable, "-m", "tests.reference_server", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "aiart" in out

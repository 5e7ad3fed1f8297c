"""AiArtClient and the AiArt-backed tools against the reference server in AiArt mode.

Every endpoint, sync and async; a 429 with Retry-After retried by the transport; the
polling loop through in-progress to complete, a failed job, an unknown id and a time-out;
the LangChain tools and the LlamaIndex spec on ``backend="aiart"``, like an agent would
call them. No request carries an Authorization header.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import BaseTool
from PIL import Image

from arli import (
    AiArtClient,
    ArliValidationError,
    BadRequestError,
    GenerationTimeoutError,
    ImageResult,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    VideoResult,
)
from langchain_arli import ArliImageToolkit
from llama_index_arli import ArliImageToolSpec
from tests.helpers import FIXTURES
from tests.reference_server import Fault, ReferenceServer
from tests.reference_server.aiart import ASPECT_SIZES, fake_mp4

INIT = FIXTURES / "image_api" / "init_96x64.png"


@pytest.fixture
def srv() -> Iterator[ReferenceServer]:
    with ReferenceServer(provider="aiart", aiart_video_polls=2) as server:
        yield server


@pytest.fixture
def client(srv: ReferenceServer) -> AiArtClient:
    return AiArtClient(base_url=srv.url, max_retries=0)


def no_auth(srv: ReferenceServer) -> None:
    assert srv.requests
    assert all("authorization" not in r.headers for r in srv.requests)


def test_generate(srv: ReferenceServer, client: AiArtClient, tmp_path: Path) -> None:
    result = client.generate(
        "a lighthouse",
        negative_prompt="blurry",
        style_preset="analog-film",
        aspect_ratio="9:16",
        output_format="jpg",
        seed=11,
    )
    assert isinstance(result, ImageResult)
    assert result.mime_type == "image/jpeg"
    assert (result.image.width, result.image.height) == ASPECT_SIZES["9:16"]
    assert result.seeds == [11]
    assert srv.requests[0].json == {
        "video_description": "a lighthouse",
        "negative_prompt": "blurry",
        "style_preset": "analog-film",
        "aspect_ratio": "9:16",
        "output_format": "jpg",
        "seed": 11,
    }
    (path,) = result.save(tmp_path)
    assert Image.open(path).size == ASPECT_SIZES["9:16"]
    no_auth(srv)


def test_img2img(srv: ReferenceServer, client: AiArtClient) -> None:
    result = client.img2img(INIT, "a watercolor", strength=0.3, aspect_ratio="4:3", seed=5)
    assert result.operation == "img2img"
    assert result.mime_type == "image/png"
    assert result.seeds == [5]
    assert result.to_pil().size == ASPECT_SIZES["4:3"]
    upload = srv.requests_for("/api/img2img")[0]
    assert upload.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert INIT.read_bytes() in upload.body
    no_auth(srv)


def test_img2video_polls_until_complete(srv: ReferenceServer, client: AiArtClient) -> None:
    video = client.img2video(INIT, seed=42, cfg_scale=2, motion_bucket_id=64, poll_interval=0.01)
    assert isinstance(video, VideoResult)
    assert video.seed == 42
    assert video.finish_reason == "SUCCESS"
    assert video.data == fake_mp4(42)
    assert video.url == f"{srv.url}/processed_videos/video_{video.generation_id[:8]}_42.mp4"
    polls = srv.requests_for(f"/api/img2video/result/{video.generation_id}")
    assert len(polls) == 3  # 202, 202, 200
    no_auth(srv)


def test_manual_control(srv: ReferenceServer, client: AiArtClient) -> None:
    gid = client.start_img2video(INIT)
    assert not client.check_video(gid).done
    assert not client.check_video(gid).done
    status = client.check_video(gid)
    assert status.done
    assert status.video_url is not None
    video = client.video_result(gid, poll_interval=0.01)
    assert video.generation_id == gid


def test_time_out_then_resume(srv: ReferenceServer, client: AiArtClient) -> None:
    srv.settings.aiart_video_polls = 5
    with pytest.raises(GenerationTimeoutError) as info:
        client.img2video(INIT, poll_interval=0.01, max_polls=2)
    gid = info.value.generation_id
    with pytest.raises(GenerationTimeoutError):
        client.video_result(gid, poll_interval=0.01, poll_timeout=0.0)
    video = client.video_result(gid, poll_interval=0.01)
    assert video.generation_id == gid
    assert len(srv.requests_for("/api/img2video")) == 1


def test_a_failed_job_and_an_unknown_id_are_typed_errors(
    srv: ReferenceServer, client: AiArtClient
) -> None:
    srv.aiart.fail_next_video = (500, "Video generation failed")
    with pytest.raises(InternalServerError, match="Video generation failed"):
        client.img2video(INIT, poll_interval=0.01)
    srv.aiart.fail_next_video = (400, "Unsupported image dimensions")
    with pytest.raises(BadRequestError, match="Unsupported image dimensions"):
        client.img2video(INIT, poll_interval=0.01)
    with pytest.raises(NotFoundError, match="Generation not found"):
        client.video_result("0123abcd")


def test_a_429_with_retry_after_is_retried(srv: ReferenceServer) -> None:
    client = AiArtClient(base_url=srv.url, max_retries=2)
    srv.add_fault(
        Fault(path="/api/generate", kind="status", status=429, headers={"Retry-After": "0.2"})
    )
    srv.add_fault(
        Fault(path="/api/img2video", kind="status", status=429, headers={"Retry-After": "0"})
    )
    assert client.generate("p").mime_type == "image/png"
    assert len(srv.requests_for("/api/generate")) == 2
    video = client.img2video(INIT, poll_interval=0.01)
    assert video.mime_type == "video/mp4"
    uploads = srv.requests_for("/api/img2video")
    assert len(uploads) == 2
    assert uploads[0].body == uploads[1].body  # the multipart body is sent again, unchanged
    srv.add_fault(
        Fault(
            path="/api/generate", kind="status", status=429, headers={"Retry-After": "0"}, times=3
        )
    )
    with pytest.raises(RateLimitError) as info:
        client.generate("p")
    assert info.value.retry_after == 0


def test_server_side_checks_match_the_client_side_ones(
    srv: ReferenceServer, client: AiArtClient, tmp_path: Path
) -> None:
    gif = tmp_path / "a.gif"
    Image.new("RGB", (8, 8)).save(gif, format="GIF")
    with pytest.raises(ArliValidationError, match="415"):
        client.img2img(gif, "p")
    assert srv.requests == []


async def test_async_every_endpoint(srv: ReferenceServer) -> None:
    client = AiArtClient(base_url=srv.url)
    image = await client.agenerate("p", aspect_ratio="1:1", output_format="webp")
    assert image.mime_type == "image/webp"
    edited = await client.aimg2img(INIT, "q", output_format="jpg")
    assert edited.mime_type == "image/jpeg"
    video = await client.aimg2video(INIT, seed=9, poll_interval=0.01)
    assert video.data == fake_mp4(9)
    gid = await client.astart_img2video(INIT)
    assert not (await client.acheck_video(gid)).done
    assert (await client.avideo_result(gid, poll_interval=0.01)).generation_id == gid
    with pytest.raises(NotFoundError):
        await client.acheck_video("0123abcd")
    await client.aclose()
    no_auth(srv)


# -- tools on the AiArt backend ----------------------------------------------------------------


def run(tools: list[BaseTool], message: AIMessage) -> list[ToolMessage]:
    by_name = {t.name: t for t in tools}
    return [by_name[call["name"]].invoke(call) for call in message.tool_calls]


def calls(*items: tuple[str, dict[str, Any]]) -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[
            {"name": name, "args": args, "id": f"call_{i}", "type": "tool_call"}
            for i, (name, args) in enumerate(items)
        ],
    )


def test_langchain_agent_style_chain(srv: ReferenceServer, tmp_path: Path) -> None:
    out = tmp_path / "media"
    tools = ArliImageToolkit(
        backend="aiart", base_url=srv.url, output_dir=out, video_poll_interval=0.01
    ).get_tools()
    (generated,) = run(tools, calls(("arli_generate_image", {"prompt": "a fox", "seed": 8})))
    assert generated.status == "success"
    path = generated.artifact.paths[0]
    assert path.parent == out.resolve()
    assert Image.open(path).size == ASPECT_SIZES["1:1"]
    edited, video = run(
        tools,
        calls(
            ("arli_edit_image", {"image": str(path), "prompt": "the fox at night"}),
            ("arli_image_to_video", {"image": str(path), "motion_bucket_id": 50}),
        ),
    )
    assert edited.status == "success"
    assert video.status == "success"
    assert isinstance(video.artifact, VideoResult)
    assert video.artifact.path is not None
    assert video.artifact.path.parent == out.resolve()
    assert video.artifact.path.suffix == ".mp4"
    no_auth(srv)


async def test_llama_index_spec_on_aiart(srv: ReferenceServer, tmp_path: Path) -> None:
    spec = ArliImageToolSpec(
        backend="aiart",
        base_url=srv.url,
        output_dir=tmp_path,
        input_dirs=[INIT.parent],
        video_poll_interval=0.01,
    )
    tools = {t.metadata.name: t for t in spec.to_tool_list()}
    out = await tools["generate_image"].acall(prompt="a fox", aspect_ratio="16:9")
    assert "Saved to:" in out.content
    assert out.raw_output.to_pil().size == ASPECT_SIZES["16:9"]
    edited = tools["edit_image"].call(image=str(INIT), prompt="night")
    assert edited.raw_output.to_pil().size == ASPECT_SIZES["4:3"]  # nearest to 96x64
    video = await tools["image_to_video"].acall(image=str(INIT))
    assert isinstance(video.raw_output, VideoResult)
    assert video.raw_output.path is not None
    srv.settings.aiart_video_polls = 100
    spec.toolbox.video_max_polls = 1
    with pytest.raises(GenerationTimeoutError) as info:
        spec.image_to_video(image=str(INIT))
    assert f"generation_id='{info.value.generation_id}'" in str(info.value)

"""A fake AiArt for unit tests (``httpx.MockTransport``) and a fake clock for polling."""

from __future__ import annotations

import io
from typing import Any

import httpx
from PIL import Image

from arli import AiArtClient
from tests.helpers import FIXTURES
from tests.reference_server.aiart import fake_mp4, parse_multipart

BASE = "http://aiart.test"
INIT = FIXTURES / "image_api" / "init_96x64.png"


def png(width: int = 64, height: int = 36, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 60)).save(buf, format=fmt)
    return buf.getvalue()


class FakeAiArt:
    """Answers like AiArt; ``polls`` 202s before a video completes; ``fail`` overrides paths."""

    def __init__(
        self, polls: int = 2, fail: dict[str, tuple[int, Any, dict[str, str]]] | None = None
    ):
        self.polls = polls
        self.fail = dict(fail or {})
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []
        self.video_polls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(request.read())
        path = request.url.path
        if path in self.fail:
            status, body, headers = self.fail[path]
            return httpx.Response(status, json=body, headers=headers)
        if path == "/api/generate":
            return httpx.Response(
                200,
                json={
                    "success": True,
                    "message": "Image generated successfully",
                    "image_url": f"{BASE}/images/generated_image_1.png",
                },
            )
        if path == "/api/img2img":
            return httpx.Response(
                200,
                json={
                    "success": True,
                    "message": "Image transformed successfully",
                    "image_url": f"{BASE}/processed_images/img2img_transform_2.webp",
                    "seed": 123456,
                },
            )
        if path == "/api/img2video":
            return httpx.Response(
                200, json={"success": True, "id": "a1b2c3d4e5f6", "message": "ok"}
            )
        if path.startswith("/api/img2video/result/"):
            self.video_polls += 1
            if self.video_polls <= self.polls:
                return httpx.Response(202, json={"status": "in-progress", "message": "wait"})
            return httpx.Response(
                200,
                json={
                    "status": "complete",
                    "video_url": "/processed_videos/video_a1b2c3d4_12345.mp4",
                    "finish_reason": "SUCCESS",
                    "seed": "12345",
                },
            )
        if path == "/images/generated_image_1.png":
            return httpx.Response(200, content=png(64, 36), headers={"content-type": "image/png"})
        if path.startswith("/processed_images/"):
            return httpx.Response(200, content=png(48, 48, "WEBP"))
        if path.startswith("/processed_videos/"):
            return httpx.Response(
                200, content=fake_mp4(12345), headers={"content-type": "video/mp4"}
            )
        return httpx.Response(404, json={"error": "Not found"})

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]

    def form(self, index: int) -> dict[str, Any]:
        request = self.requests[index]
        parts = parse_multipart(self.bodies[index], request.headers["content-type"])
        return {name: (p.filename, p.content_type, p.data) for name, p in parts.items()}


def make(server: FakeAiArt, **options: Any) -> AiArtClient:
    return AiArtClient(
        base_url=BASE,
        http_client=httpx.Client(transport=httpx.MockTransport(server)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
        max_retries=options.pop("max_retries", 0),
        **options,
    )


class FakeClock:
    """Stands in for the AiArt client's clock and sleeps: polling waits take no time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)

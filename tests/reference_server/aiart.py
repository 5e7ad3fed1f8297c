"""The AiArt image API (``--provider aiart``): keyless generation, img2img and img2video.

Wire format from AiArt's API documentation (base URL ``https://aiart-zroo.onrender.com``):

* ``POST /api/generate`` — JSON (``video_description`` is the prompt, ``negative_prompt``,
  ``style_preset``, ``aspect_ratio`` default ``16:9``, ``output_format`` default ``png``,
  ``seed`` 0 = random) → ``{"success": true, "message": "Image generated successfully",
  "image_url": "<absolute URL>/images/generated_image_<n>.<fmt>"}``.
* ``POST /api/img2img`` — ``multipart/form-data`` (``image`` file, ``prompt``,
  ``negative_prompt``, ``strength`` 0..1 default 0.7, ``style_preset``, ``aspect_ratio``
  default ``1:1``, ``output_format``, ``seed``) → ``{"success": true, "message": "Image
  transformed successfully", "image_url": ".../processed_images/img2img_transform_<n>.<fmt>",
  "seed": <int>}``.
* ``POST /api/img2video`` — multipart (``image``, ``seed``, ``cfg_scale`` 0..10 default 1.5,
  ``motion_bucket_id`` 1..255 default 127) → ``{"success": true, "id": "<hex>", "message":
  ...}``.
* ``GET /api/img2video/result/<id>`` — 202 ``{"status": "in-progress", "message": ...}``
  for the first ``aiart_video_polls`` polls of a job, then 200 ``{"status": "complete",
  "video_url": "/processed_videos/video_<id[:8]>_<seed>.mp4", "finish_reason": "SUCCESS",
  "seed": "<seed>"}`` (a relative URL, as documented). Unknown ids are 404; a job marked
  with :meth:`AiArtAPI.fail_video` (or started while ``fail_next_video`` is set) answers
  with that status.
* The files behind the returned URLs (``/images/...``, ``/processed_images/...``,
  ``/processed_videos/...``): real PNG/JPEG/WEBP images (Pillow) of the requested aspect
  ratio, tiny (at most 64 pixels a side) to keep cassettes small, and a tiny fake MP4 (an
  ``ftyp`` box, a ``free`` box and an ``mdat`` box).

Errors use AiArt's envelope ``{"error": "..."}``: 400 for a missing or invalid parameter,
413 for an upload over 10 MB, 415 for an upload that is not JPG/PNG/WEBP, 404 for unknown
routes and ids. There is no authentication. Absolute URLs are built from the request's
``Host`` header, as a web framework's ``request.host_url`` would.

Choices where the documentation leaves room: the checks run in the order image present →
size (413) → type (415) → prompt → other fields; unknown form fields and JSON keys are
ignored; a seed of 0 (or none) draws a random seed, reported by img2img and img2video.
"""

from __future__ import annotations

import io
import random
import re
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from tests.reference_server.wire import Request, Response, Settings, json_response

__all__ = [
    "ASPECT_SIZES",
    "MAX_UPLOAD_BYTES",
    "STYLE_PRESETS",
    "AiArtAPI",
    "fake_mp4",
    "parse_multipart",
]

STYLE_PRESETS = (
    "3d-model",
    "analog-film",
    "anime",
    "cinematic",
    "digital-art",
    "enhance",
    "fantasy-art",
    "isometric",
    "line-art",
    "low-poly",
    "modeling-compound",
    "neon-punk",
    "origami",
    "photographic",
    "pixel-art",
    "tile-texture",
)
"""The documented ``style_preset`` values."""

#: Pixel sizes of the documented aspect ratios (tiny on purpose).
ASPECT_SIZES: dict[str, tuple[int, int]] = {
    "1:1": (48, 48),
    "4:3": (64, 48),
    "16:9": (64, 36),
    "9:16": (36, 64),
    "3:4": (48, 64),
}
OUTPUT_FORMATS = ("png", "jpg", "webp")
#: The documented upload limit ("Maximum file size: 10MB").
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
_MAX_SEED = 4294967294
_CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
_FILE_ROUTES = ("/images/", "/processed_images/", "/processed_videos/")
_RESULT_ROUTE = re.compile(r"^/api/img2video/result/(?P<id>[^/]+)$")
_IN_PROGRESS = "Video generation is still in progress. Try again in a few seconds."


class _FailError(Exception):
    """An error answer in AiArt's envelope."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = json_response(status, {"error": message})


@dataclass
class _Part:
    """One part of a multipart body."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None


def parse_multipart(body: bytes, content_type: str) -> dict[str, _Part]:
    """Parse a ``multipart/form-data`` body (the last part of each name wins).

    Args:
        body: the raw request body.
        content_type: the request's ``Content-Type`` header (with its ``boundary``).

    Returns:
        The parts by field name.

    Raises:
        ValueError: the body is not well-formed multipart/form-data.
    """
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.lower().startswith("multipart/form-data") or match is None:
        raise ValueError("expected multipart/form-data with a boundary")
    delimiter = b"--" + match.group(1).encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        raise ValueError("no multipart parts found")
    parts: dict[str, _Part] = {}
    for raw in chunks[1:]:
        if raw.startswith(b"--"):
            break
        head, sep, data = raw.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("a multipart part has no header block")
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = re.search(r'\bname="([^"]*)"', disposition)
        if name is None:
            raise ValueError("a multipart part has no name")
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        parts[name.group(1)] = _Part(
            name=name.group(1),
            data=data.removesuffix(b"\r\n"),
            filename=filename.group(1) if filename else None,
            content_type=headers.get("content-type"),
        )
    return parts


def fake_mp4(seed: int) -> bytes:
    """A tiny file that starts like an MP4 (``ftyp`` box), different for each seed."""
    ftyp = b"ftyp" + b"isom" + (512).to_bytes(4, "big") + b"isomiso2avc1mp41"
    free = b"free"
    mdat = b"mdat" + seed.to_bytes(8, "big")
    return b"".join(len(box).to_bytes(4, "big") + box for box in (ftyp, free, mdat))


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _image(ratio: str, fmt: str, seed: int) -> bytes:
    width, height = ASPECT_SIZES[ratio]
    rng = random.Random(seed)
    base = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    img = Image.new("RGB", (width, height), base)
    ImageDraw.Draw(img).ellipse(
        (width // 4, height // 4, (3 * width) // 4, (3 * height) // 4),
        fill=tuple(255 - c for c in base),
    )
    buf = io.BytesIO()
    img.save(buf, format={"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}[fmt])
    return buf.getvalue()


@dataclass
class _VideoJob:
    seed: int
    polls: int = 0
    failure: tuple[int, str] | None = None


class AiArtAPI:
    """Handlers for AiArt's routes (see the module docstring).

    Args:
        settings: shared server settings (``aiart_video_polls``).

    Attributes:
        fail_next_video: when set, the next video job started fails with this
            ``(status, message)`` when polled.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.fail_next_video: tuple[int, str] | None = None
        self._lock = threading.Lock()
        self._files: dict[str, tuple[bytes, str]] = {}
        self._jobs: dict[str, _VideoJob] = {}
        self._counter = 0

    # ---- control ---------------------------------------------------------------------

    def fail_video(self, generation_id: str, status: int = 500, message: str = "") -> None:
        """Make polls of ``generation_id`` answer ``status`` with ``{"error": message}``."""
        with self._lock:
            job = self._jobs[generation_id]
            job.failure = (status, message or "Video generation failed")

    @property
    def files(self) -> list[str]:
        """Paths of the files served so far."""
        with self._lock:
            return sorted(self._files)

    # ---- dispatch --------------------------------------------------------------------

    async def handle(self, req: Request) -> Response:
        """Answer one request (every path: unknown ones get a 404 in the envelope)."""
        try:
            return self._route(req)
        except _FailError as exc:
            return exc.response

    def _route(self, req: Request) -> Response:
        path = req.path
        posts = {
            "/api/generate": self.generate,
            "/api/img2img": self.img2img,
            "/api/img2video": self.img2video,
        }
        if path in posts:
            if req.method != "POST":
                raise _FailError(405, "Method not allowed")
            return posts[path](req)
        match = _RESULT_ROUTE.match(path)
        if match is not None:
            if req.method != "GET":
                raise _FailError(405, "Method not allowed")
            return self.video_result(match.group("id"))
        if path.startswith(_FILE_ROUTES) and req.method == "GET":
            with self._lock:
                found = self._files.get(path)
            if found is None:
                raise _FailError(404, "File not found")
            return Response(status=200, headers=[("content-type", found[1])], body=found[0])
        raise _FailError(404, "Not found")

    # ---- helpers ---------------------------------------------------------------------

    def _next(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def _store(self, path: str, data: bytes, content_type: str) -> None:
        with self._lock:
            self._files[path] = (data, content_type)

    @staticmethod
    def _absolute(req: Request, path: str) -> str:
        host = req.headers.get("host", "127.0.0.1")
        return f"http://{host}{path}"

    @staticmethod
    def _choice(values: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
        value = values.get(name)
        if value in (None, ""):
            return default
        if value not in allowed:
            msg = f"Invalid {name}: {value!r}. Allowed values: {', '.join(allowed)}"
            raise _FailError(400, msg)
        return str(value)

    @staticmethod
    def _number(
        values: dict[str, Any],
        name: str,
        lo: float,
        hi: float,
        default: float,
        *,
        integer: bool = False,
    ) -> float:
        raw = values.get(name)
        if raw in (None, ""):
            return default
        try:
            if isinstance(raw, bool):
                raise ValueError
            value = float(raw)
            if integer and not value.is_integer():
                raise ValueError
        except (TypeError, ValueError):
            kind = "an integer" if integer else "a number"
            raise _FailError(400, f"Invalid {name}: must be {kind}") from None
        if not lo <= value <= hi:
            raise _FailError(400, f"Invalid {name}: must be between {lo:g} and {hi:g}")
        return value

    def _seed(self, values: dict[str, Any]) -> int:
        seed = int(self._number(values, "seed", 0, _MAX_SEED, 0, integer=True))
        return seed or random.randrange(1, 2**31)

    def _form(self, req: Request) -> tuple[dict[str, str], bytes]:
        """The text fields and the checked upload of a multipart request."""
        try:
            parts = parse_multipart(req.body, req.headers.get("content-type", ""))
        except ValueError as exc:
            raise _FailError(400, f"Invalid form data: {exc}") from None
        image = parts.get("image")
        if image is None or not image.data:
            raise _FailError(400, "No image file provided")
        if len(image.data) > MAX_UPLOAD_BYTES:
            raise _FailError(413, "File too large. Maximum size is 10MB")
        if _sniff(image.data) is None:
            raise _FailError(415, "Unsupported file type. Please upload a JPG, PNG or WEBP image")
        try:
            Image.open(io.BytesIO(image.data)).load()
        except OSError:
            raise _FailError(400, "Invalid image file") from None
        fields = {
            name: part.data.decode("utf-8", errors="replace")
            for name, part in parts.items()
            if name != "image"
        }
        return fields, image.data

    # ---- routes ----------------------------------------------------------------------

    def generate(self, req: Request) -> Response:
        """``POST /api/generate``."""
        if req.json_error is not None or not isinstance(req.json, dict):
            raise _FailError(400, "Invalid JSON body")
        body: dict[str, Any] = req.json
        prompt = body.get("video_description")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _FailError(400, "video_description is required")
        if body.get("negative_prompt") is not None and not isinstance(body["negative_prompt"], str):
            raise _FailError(400, "Invalid negative_prompt: must be a string")
        self._choice(body, "style_preset", STYLE_PRESETS, "")
        ratio = self._choice(body, "aspect_ratio", tuple(ASPECT_SIZES), "16:9")
        fmt = self._choice(body, "output_format", OUTPUT_FORMATS, "png")
        seed = self._seed(body)
        path = f"/images/generated_image_{self._next()}.{fmt}"
        self._store(path, _image(ratio, fmt, seed), _CONTENT_TYPES[fmt])
        return json_response(
            200,
            {
                "success": True,
                "message": "Image generated successfully",
                "image_url": self._absolute(req, path),
            },
        )

    def img2img(self, req: Request) -> Response:
        """``POST /api/img2img``."""
        fields, _ = self._form(req)
        if not fields.get("prompt", "").strip():
            raise _FailError(400, "Prompt is required")
        self._number(fields, "strength", 0, 1, 0.7)
        self._choice(fields, "style_preset", STYLE_PRESETS, "")
        ratio = self._choice(fields, "aspect_ratio", tuple(ASPECT_SIZES), "1:1")
        fmt = self._choice(fields, "output_format", OUTPUT_FORMATS, "png")
        seed = self._seed(fields)
        path = f"/processed_images/img2img_transform_{self._next()}.{fmt}"
        self._store(path, _image(ratio, fmt, seed), _CONTENT_TYPES[fmt])
        return json_response(
            200,
            {
                "success": True,
                "message": "Image transformed successfully",
                "image_url": self._absolute(req, path),
                "seed": seed,
            },
        )

    def img2video(self, req: Request) -> Response:
        """``POST /api/img2video``."""
        fields, _ = self._form(req)
        seed = self._seed(fields)
        self._number(fields, "cfg_scale", 0, 10, 1.5)
        self._number(fields, "motion_bucket_id", 1, 255, 127, integer=True)
        generation_id = secrets.token_hex(16)
        with self._lock:
            failure, self.fail_next_video = self.fail_next_video, None
            self._jobs[generation_id] = _VideoJob(seed=seed, failure=failure)
        return json_response(
            200,
            {
                "success": True,
                "id": generation_id,
                "message": "Video generation started. Poll for results using the returned ID.",
            },
        )

    def video_result(self, generation_id: str) -> Response:
        """``GET /api/img2video/result/<id>``."""
        with self._lock:
            job = self._jobs.get(generation_id)
            if job is not None:
                job.polls += 1
        if job is None:
            raise _FailError(404, f"Generation not found: {generation_id}")
        if job.failure is not None:
            raise _FailError(*job.failure)
        if job.polls <= self.settings.aiart_video_polls:
            return json_response(202, {"status": "in-progress", "message": _IN_PROGRESS})
        path = f"/processed_videos/video_{generation_id[:8]}_{job.seed}.mp4"
        self._store(path, fake_mp4(job.seed), "video/mp4")
        return json_response(
            200,
            {
                "status": "complete",
                "video_url": path,
                "finish_reason": "SUCCESS",
                "seed": str(job.seed),
            },
        )

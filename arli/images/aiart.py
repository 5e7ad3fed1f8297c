"""AiArt: a keyless image backend (text to image, image to image, image to video).

AiArt (``https://aiart-zroo.onrender.com``) has its own small REST API, documented on its
site, which :class:`AiArtClient` speaks (sync and async):

* ``POST /api/generate`` (JSON; the prompt goes in ``video_description``) and
  ``POST /api/img2img`` (``multipart/form-data`` upload) answer with an ``image_url`` that
  the client downloads, so results are :class:`~arli.images.ImageResult` objects exactly
  like Arli's (bytes, detected format, size, seed, ``save()``, ``to_pil()``).
* ``POST /api/img2video`` starts a video and ``GET /api/img2video/result/<id>`` is polled:
  202 while it runs, 200 with a (relative) ``video_url`` when complete. Polling is bounded
  by a timeout and an optional number of polls; when they run out a
  :class:`GenerationTimeoutError` carries the generation id, so the caller can resume with
  :meth:`AiArtClient.video_result`.

Every value is checked before anything is sent, naming the field and what is allowed
(``style_preset='vaporwave' is not allowed: allowed 3d-model, analog-film, ...``); uploads
must be JPG, PNG or WEBP and at most 10 MB (what the server would refuse with 415 or 413).
All requests go through the shared :class:`~arli.Transport` (retries, ``Retry-After`` on
429, typed errors from AiArt's ``{"error": "..."}`` envelope). No key is ever sent: AiArt
has no authentication. Downloads are plain http(s) GETs with a size cap, to the AiArt host
only unless ``download_hosts`` says otherwise.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from arli._errors import (
    ArliConfigError,
    ArliResponseError,
    ArliValidationError,
    GenerationTimeoutError,
)
from arli._kwargs import checks_arguments
from arli._settings import SETTINGS_ARGUMENTS, ArliSettings
from arli._transport import HTTPResult, Multipart, PooledClient, Transport, get_transport
from arli.images._pixels import DEFAULT_MAX_PIXELS, image_size
from arli.images.models import (
    GeneratedImage,
    GenerationInfo,
    ImageResult,
    Operation,
    _write_new,
    safe_filename,
)
from arli.media import ImageData, afetch_url, aload_image, fetch_url, load_image, sniff_mime

__all__ = [
    "AIART_ASPECT_RATIOS",
    "AIART_BASE_URL",
    "AIART_MAX_UPLOAD_BYTES",
    "AIART_OUTPUT_FORMATS",
    "AIART_STYLE_PRESETS",
    "AiArtAspectRatio",
    "AiArtClient",
    "AiArtGenerateRequest",
    "AiArtImg2ImgRequest",
    "AiArtImg2VideoRequest",
    "AiArtOutputFormat",
    "AiArtStylePreset",
    "GenerationTimeoutError",
    "VideoResult",
    "VideoStatus",
    "nearest_aspect_ratio",
    "sniff_video",
]

logger = logging.getLogger("arli")

AIART_BASE_URL = "https://aiart-zroo.onrender.com"

AiArtStylePreset = Literal[
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
]
"""The documented ``style_preset`` values."""

AiArtAspectRatio = Literal["1:1", "4:3", "16:9", "9:16", "3:4"]
"""The aspect ratios AiArt supports (``16:9`` is the default of generate, ``1:1`` of img2img)."""

AiArtOutputFormat = Literal["png", "jpg", "webp"]
"""The output formats AiArt supports (default ``png``)."""

AIART_STYLE_PRESETS: tuple[str, ...] = get_args(AiArtStylePreset)
AIART_ASPECT_RATIOS: tuple[str, ...] = get_args(AiArtAspectRatio)
AIART_OUTPUT_FORMATS: tuple[str, ...] = get_args(AiArtOutputFormat)

#: The documented upload limit ("Maximum file size: 10MB").
AIART_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: The largest seed (Stability AI's limit; AiArt forwards seeds to Stability's models).
AIART_MAX_SEED = 4294967294
_UPLOAD_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
_UPLOAD_ALLOWED = "JPG, PNG, WEBP"
_READ_CAP = 64 * 2**20  # read at most this much of an upload before refusing it
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,200}$")

_CHOICES: dict[str, tuple[str, ...]] = {
    "style_preset": AIART_STYLE_PRESETS,
    "aspect_ratio": AIART_ASPECT_RATIOS,
    "output_format": AIART_OUTPUT_FORMATS,
}
_RANGES: dict[str, str] = {
    "strength": "0..1",
    "cfg_scale": "0..10",
    "motion_bucket_id": "1..255",
    "seed": f"0 (random) .. {AIART_MAX_SEED}",
}
_RANGE_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})

# Indirections so tests can drive the polling loop with a fake clock.
_clock = time.monotonic
_sleep = time.sleep
_asleep = asyncio.sleep


def nearest_aspect_ratio(width: int, height: int) -> str:
    """The AiArt aspect ratio closest to ``width`` x ``height`` (``"1:1"`` for a bad size)."""
    if width <= 0 or height <= 0:
        return "1:1"
    target = math.log(width / height)

    def distance(ratio: str) -> float:
        a, _, b = ratio.partition(":")
        return abs(math.log(float(a) / float(b)) - target)

    return min(AIART_ASPECT_RATIOS, key=distance)


# -- errors ----------------------------------------------------------------------------------


# -- requests ---------------------------------------------------------------------------------


def _describe(exc: ValidationError, model: type[BaseModel]) -> ArliValidationError:
    """An :class:`ArliValidationError` naming the field and what AiArt allows."""
    parts: list[str] = []
    first: tuple[str, str | None] | None = None
    names = ", ".join(model.model_fields)
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err.get("loc", ())]
        name = loc[0] if loc else "request"
        value = err.get("input")
        kind = err.get("type", "")
        allowed: str | None = None
        if kind == "literal_error" and name in _CHOICES:
            allowed = ", ".join(_CHOICES[name])
            text = f"{name}={value!r} is not allowed: allowed {allowed}"
        elif kind in _RANGE_ERRORS and name in _RANGES:
            allowed = _RANGES[name]
            text = f"{name}={value!r} is out of range: allowed {allowed}"
        elif kind == "missing":
            text = f"{name} is required"
        elif kind == "extra_forbidden":
            allowed = names
            text = f"{name} is not a parameter of this AiArt request: allowed {names}"
        elif kind == "string_too_short":
            text = f"{name} is empty"
        else:
            shown = repr(value)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            allowed = _RANGES.get(name) or (", ".join(_CHOICES[name]) if name in _CHOICES else None)
            text = f"{name}={shown} is not valid: {err.get('msg', 'invalid value')}"
            if allowed:
                text += f" (allowed {allowed})"
        parts.append(text)
        if first is None:
            first = (name, allowed)
    name, allowed = first or ("request", None)
    return ArliValidationError("; ".join(parts), field=name, allowed=allowed)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class _AiArtRequest(BaseModel):
    """Validation errors as :class:`ArliValidationError`; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _describe(exc, type(self)) from None

    def form_fields(self) -> dict[str, str]:
        """The fields that are set, as ``multipart/form-data`` text values."""
        out: dict[str, str] = {}
        for name, value in self.model_dump(exclude_none=True).items():
            out[name] = _num(value) if isinstance(value, (int, float)) else str(value)
        return out


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        msg = "a number is expected, not a boolean"
        raise ValueError(msg)
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        msg = "the prompt is blank"
        raise ValueError(msg)
    return value


class AiArtGenerateRequest(_AiArtRequest):
    """``POST /api/generate`` (the prompt is sent as ``video_description``).

    Attributes:
        prompt: what the image shows (required, not empty).
        negative_prompt: what it must not show.
        style_preset: one of :data:`AIART_STYLE_PRESETS`.
        aspect_ratio: one of :data:`AIART_ASPECT_RATIOS` (server default ``16:9``).
        output_format: ``png`` (server default), ``jpg`` or ``webp``.
        seed: ``0`` for random (the server default), else 1..4294967294.
    """

    prompt: str = Field(min_length=1)
    negative_prompt: str | None = None
    style_preset: AiArtStylePreset | None = None
    aspect_ratio: AiArtAspectRatio | None = None
    output_format: AiArtOutputFormat | None = None
    seed: int | None = Field(default=None, ge=0, le=AIART_MAX_SEED)

    _checks = field_validator("seed", mode="before")(_no_bool)
    _not_blank = field_validator("prompt")(_not_blank)

    def wire(self) -> dict[str, Any]:
        """The JSON body: ``video_description`` plus every other field that is set."""
        body = self.model_dump(exclude_none=True)
        return {"video_description": body.pop("prompt"), **body}


class AiArtImg2ImgRequest(_AiArtRequest):
    """The text fields of ``POST /api/img2img`` (the image is uploaded beside them).

    Attributes:
        prompt: how to transform the image (required, not empty).
        negative_prompt: what the result must not show.
        strength: how much to change, 0..1 (server default 0.7).
        style_preset: one of :data:`AIART_STYLE_PRESETS`.
        aspect_ratio: one of :data:`AIART_ASPECT_RATIOS` (server default ``1:1``).
        output_format: ``png`` (server default), ``jpg`` or ``webp``.
        seed: ``0`` for random (the server default), else 1..4294967294.
    """

    prompt: str = Field(min_length=1)
    negative_prompt: str | None = None
    strength: float | None = Field(default=None, ge=0, le=1)
    style_preset: AiArtStylePreset | None = None
    aspect_ratio: AiArtAspectRatio | None = None
    output_format: AiArtOutputFormat | None = None
    seed: int | None = Field(default=None, ge=0, le=AIART_MAX_SEED)

    _checks = field_validator("seed", "strength", mode="before")(_no_bool)
    _not_blank = field_validator("prompt")(_not_blank)


class AiArtImg2VideoRequest(_AiArtRequest):
    """The text fields of ``POST /api/img2video`` (the image is uploaded beside them).

    Attributes:
        seed: ``0`` for random (the server default), else 1..4294967294.
        cfg_scale: how closely the video follows the image, 0..10 (server default 1.5).
        motion_bucket_id: amount of motion, 1..255 (server default 127).
    """

    seed: int | None = Field(default=None, ge=0, le=AIART_MAX_SEED)
    cfg_scale: float | None = Field(default=None, ge=0, le=10)
    motion_bucket_id: int | None = Field(default=None, ge=1, le=255)

    _checks = field_validator("seed", "cfg_scale", "motion_bucket_id", mode="before")(_no_bool)


# -- results ----------------------------------------------------------------------------------

_VIDEO_EXTENSIONS = {"video/mp4": "mp4", "video/webm": "webm", "video/quicktime": "mov"}


def sniff_video(data: bytes) -> str | None:
    """Detect MP4, QuickTime, WebM or GIF from the first bytes; ``None`` when unknown."""
    if data[4:8] == b"ftyp":
        return "video/quicktime" if data[8:12] == b"qt  " else "video/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


@dataclass(frozen=True)
class VideoStatus:
    """One poll of a video generation.

    Attributes:
        generation_id: the id returned when the generation started.
        status: ``"in-progress"`` or ``"complete"``.
        message: the server's message, when it sent one.
        video_url: the absolute URL of the video (when complete).
        seed: the seed used (when complete).
        finish_reason: ``"SUCCESS"`` or the reason the model stopped (when complete).
        retry_after: seconds the server asked to wait before the next poll, if any.
        raw: the JSON body as received.
    """

    generation_id: str
    status: str
    message: str | None = None
    video_url: str | None = None
    seed: int | None = None
    finish_reason: str | None = None
    retry_after: float | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def done(self) -> bool:
        """True when the video is ready to download."""
        return self.status == "complete"


@dataclass(eq=False)
class VideoResult:
    """A generated video: its bytes, format and what the server reported.

    Attributes:
        data: the video file, as downloaded.
        mime_type: detected from the bytes (``video/mp4`` for AiArt).
        url: where it was downloaded from.
        generation_id: the generation id.
        seed: the seed used, when reported.
        finish_reason: ``"SUCCESS"``, or why the model stopped (e.g. ``CONTENT_FILTERED``).
        path: where :meth:`save` wrote it (``None`` until saved).
    """

    data: bytes = field(repr=False)
    mime_type: str
    url: str
    generation_id: str
    seed: int | None = None
    finish_reason: str | None = None
    path: Path | None = None

    def __str__(self) -> str:
        return self.summary()

    @property
    def extension(self) -> str:
        """The file extension of the detected format (``mp4``...)."""
        return _VIDEO_EXTENSIONS.get(self.mime_type, self.mime_type.split("/")[-1])

    @property
    def sha256(self) -> str:
        """The SHA-256 of the bytes (hex)."""
        return hashlib.sha256(self.data).hexdigest()

    def default_name(self, prefix: str = "arli-video") -> str:
        """``<prefix>-<seed>-<hash>.<ext>`` (no seed part when unknown)."""
        seed = [str(self.seed)] if self.seed is not None else []
        return "-".join([prefix, *seed, self.sha256[:10]]) + f".{self.extension}"

    def save(
        self,
        directory: str | os.PathLike[str],
        *,
        name: str | None = None,
        prefix: str = "arli-video",
        overwrite: bool = False,
    ) -> Path:
        """Write the video into ``directory`` (created if needed) and return its path.

        The same rules as :meth:`GeneratedImage.save`: a plain file name only (no
        directories, ``..`` or absolute paths), the extension of the detected format, an
        existing file or symlink never overwritten (a ``-1``... suffix is added) unless
        ``overwrite`` is set, symlinks never followed.

        Raises:
            ArliValidationError: for a file name that would leave ``directory``.
        """
        target = Path(directory).expanduser()
        target.mkdir(parents=True, exist_ok=True)
        safe_prefix = re.sub(r"[^A-Za-z0-9._-]+", "-", prefix).strip(".-") or "arli-video"
        filename = safe_filename(name, self.extension) if name else self.default_name(safe_prefix)
        self.path = _write_new(target, filename, self.data, overwrite)
        return self.path

    def summary(self) -> str:
        """A short text: format, size, seed, generation id, finish reason and saved path."""
        details = [self.extension, _size_text(len(self.data))]
        if self.seed is not None:
            details.append(f"seed {self.seed}")
        details.append(f"generation id {self.generation_id}")
        if self.finish_reason and self.finish_reason != "SUCCESS":
            details.append(f"finish reason {self.finish_reason}")
        text = f"Generated a video ({', '.join(details)})."
        if self.path is not None:
            text += f"\nSaved to: {self.path}"
        return text


def _size_text(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _seed(value: Any) -> int | None:
    """A seed from a response (AiArt sends an int for img2img and a string for videos)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _as_object(result: HTTPResult, what: str) -> dict[str, Any]:
    data = result.json()
    if not isinstance(data, dict):
        msg = f"the AiArt {what} answer is not a JSON object: {result.text[:200]!r}"
        raise ArliResponseError(msg, body=result.text[:300])
    if data.get("success") is False or (isinstance(data.get("error"), str) and data["error"]):
        detail = data.get("error") or data.get("message") or "no reason given"
        msg = f"AiArt could not complete the {what}: {detail}"
        raise ArliResponseError(msg, body=result.text[:300])
    return data


# -- the client -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Call:
    timeout: float | None = None
    max_retries: int | None = None

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.timeout is not None:
            out["timeout_seconds"] = self.timeout
        if self.max_retries is not None:
            out["max_retries"] = self.max_retries
        return out


@checks_arguments(passes_to=SETTINGS_ARGUMENTS)
class AiArtClient(PooledClient):
    """A client for AiArt's keyless image API: generate, img2img and img2video (sync + async).

    Args:
        base_url: the base URL (else ``AIART_BASE_URL``, else ``https://aiart-zroo.onrender.com``).
        settings: complete settings (any key in them is dropped: AiArt takes none).
        http_client: an httpx client for the API calls and downloads (not closed by us).
        http_async_client: an httpx async client for them (not closed by us).
        download_hosts: host names the returned ``image_url``/``video_url`` may point to
            (default: the base URL's host only; ``["*"]`` allows any host).
        max_download_bytes: the largest image or video downloaded.
        download_timeout: seconds allowed for one download.
        max_pixels: decompression-bomb cap for :meth:`GeneratedImage.to_pil`.
        **options: other :class:`~arli.ArliSettings` fields (``max_retries``,
            ``image_timeout``, ``connect_timeout``, ``image_max_concurrency``...).

    Raises:
        ArliConfigError: an API key was passed (AiArt has no authentication), or a setting
            is invalid.

    Example:
        .. code-block:: python

            from arli import AiArtClient

            client = AiArtClient()
            image = client.generate("a lighthouse at dusk", style_preset="cinematic",
                                    aspect_ratio="16:9", seed=7)
            image.save("out/")  # out/arli-7-0-<hash>.png, like Arli's images
            edited = client.img2img("out/photo.jpg", "the same scene in winter", strength=0.6)
            video = client.img2video("out/photo.jpg", motion_bucket_id=100)
            video.save("out/")  # out/arli-video-<seed>-<hash>.mp4
    """

    #: Route paths relative to the base URL.
    routes: ClassVar[dict[str, str]] = {
        "generate": "/api/generate",
        "img2img": "/api/img2img",
        "img2video": "/api/img2video",
        "video_result": "/api/img2video/result/{id}",
    }

    def __init__(
        self,
        *,
        base_url: str | None = None,
        settings: ArliSettings | None = None,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        download_hosts: Sequence[str] | None = None,
        max_download_bytes: int = 200 * 2**20,
        download_timeout: float = 120.0,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        **options: Any,
    ):
        keys = sorted({"api_key", "text_api_key", "image_api_key"} & set(options))
        if keys:
            msg = f"AiArt takes no API key (it has no authentication); remove {', '.join(keys)}"
            raise ArliConfigError(msg)
        resolved = settings or ArliSettings.resolve(provider="aiart", base_url=base_url, **options)
        if resolved.text_api_key or resolved.image_api_key or resolved.require_key:
            resolved = resolved.model_copy(
                update={"text_api_key": None, "image_api_key": None, "require_key": False}
            )
        self.settings = resolved
        self._http_client = http_client
        self._http_async_client = http_async_client
        self._transport: Transport = get_transport(
            resolved, "image", http_client=http_client, http_async_client=http_async_client
        )
        host = httpx.URL(self._transport.base_url).host.lower()
        self.download_hosts: tuple[str, ...] = (
            tuple(h.strip().lower() for h in download_hosts)
            if download_hosts is not None
            else (host,)
        )
        self.max_download_bytes = max_download_bytes
        self.download_timeout = download_timeout
        self.max_pixels = max_pixels

    def __repr__(self) -> str:
        return f"AiArtClient(base_url={self.base_url!r})"

    @property
    def base_url(self) -> str:
        """The base URL requests go to."""
        return self._transport.base_url

    # -- uploads -----------------------------------------------------------------------

    @staticmethod
    def check_upload(image: ImageData) -> ImageData:
        """Check an upload as AiArt would: JPG, PNG or WEBP, at most 10 MB.

        Raises:
            ArliValidationError: naming the allowed types (the server's 415) or the size
                limit (the server's 413).
        """
        if image.mime_type not in _UPLOAD_TYPES:
            got = image.mime_type.split("/")[-1].upper()
            msg = (
                f"image: {image.source} is {got}; AiArt accepts JPG, PNG and WEBP images only "
                "(the server answers 415 Unsupported Media Type): convert it first"
            )
            raise ArliValidationError(msg, field="image", allowed=_UPLOAD_ALLOWED)
        if len(image.data) > AIART_MAX_UPLOAD_BYTES:
            msg = (
                f"image: {image.source} is {len(image.data)} bytes, more than AiArt's 10 MB "
                f"limit ({AIART_MAX_UPLOAD_BYTES} bytes; the server answers 413 Payload Too "
                "Large): downscale or recompress it"
            )
            raise ArliValidationError(msg, field="image", allowed="<= 10 MB")
        return image

    @staticmethod
    def _relabel(exc: ArliValidationError) -> ArliValidationError:
        """Restate a loading error in AiArt's terms (its types, its size limit)."""
        text = str(exc)
        if exc.allowed and exc.allowed.startswith("<="):
            msg = f"{text.split(';', maxsplit=1)[0]}; AiArt accepts uploads of at most 10 MB"
            return ArliValidationError(msg, field="image", allowed="<= 10 MB")
        if exc.allowed == "PNG, JPEG, WEBP, GIF, BMP, TIFF":
            msg = (
                text.split("; supported formats", maxsplit=1)[0]
                + "; AiArt accepts JPG, PNG and WEBP"
            )
            return ArliValidationError(msg, field="image", allowed=_UPLOAD_ALLOWED)
        return exc

    def _load(self, source: Any) -> ImageData:
        try:
            image = load_image(source, max_bytes=_READ_CAP)
        except ArliValidationError as exc:
            raise self._relabel(exc) from None
        return self.check_upload(image)

    async def _aload(self, source: Any) -> ImageData:
        try:
            image = await aload_image(source, max_bytes=_READ_CAP)
        except ArliValidationError as exc:
            raise self._relabel(exc) from None
        return self.check_upload(image)

    @staticmethod
    def multipart(fields: Mapping[str, str], image: ImageData) -> tuple[Multipart, dict[str, str]]:
        """The multipart body and its ``Content-Type`` header.

        The boundary is derived from the content, so the same request always has the same
        bytes (recorded cassettes replay; a retry sends the same body).
        """
        digest = hashlib.sha256()
        for name, value in sorted(fields.items()):
            digest.update(f"{name}={value}\n".encode())
        digest.update(image.data)
        boundary = f"arli-{digest.hexdigest()[:32]}"
        ext = _UPLOAD_TYPES[image.mime_type]
        body = Multipart(
            data=dict(fields), files={"image": (f"image.{ext}", image.data, image.mime_type)}
        )
        return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}

    # -- downloads ---------------------------------------------------------------------

    def resolve_url(self, url: str) -> str:
        """The absolute URL of a returned ``image_url``/``video_url``, checked.

        Relative URLs (``/processed_videos/...``) are joined with the base URL.

        Raises:
            ArliResponseError: not http(s), or on a host not in ``download_hosts``.
        """
        try:
            absolute = httpx.URL(self.base_url + "/").join(url.strip())
        except (httpx.InvalidURL, TypeError) as exc:
            msg = f"AiArt returned an invalid download URL {url[:200]!r}: {exc}"
            raise ArliResponseError(msg, body=url[:300]) from None
        if absolute.scheme not in ("http", "https"):
            msg = f"AiArt returned a download URL that is not http(s): {url[:200]!r}"
            raise ArliResponseError(msg, body=url[:300])
        host = absolute.host.lower()
        if "*" not in self.download_hosts and host not in self.download_hosts:
            msg = (
                f"AiArt returned a download URL on another host ({host}); only "
                f"{', '.join(self.download_hosts)} is trusted: pass download_hosts=[...] to "
                "allow it"
            )
            raise ArliResponseError(msg, body=url[:300])
        return str(absolute)

    def _download(self, url: str) -> bytes:
        try:
            data, _ = fetch_url(
                url,
                max_bytes=self.max_download_bytes,
                timeout=self.download_timeout,
                http_client=self._http_client,
            )
        except ArliValidationError as exc:  # too large, or a refused redirect
            msg = f"could not download the result from AiArt: {exc}"
            raise ArliResponseError(msg) from None
        return data

    async def _adownload(self, url: str) -> bytes:
        try:
            data, _ = await afetch_url(
                url,
                max_bytes=self.max_download_bytes,
                timeout=self.download_timeout,
                http_client=self._http_async_client,
            )
        except ArliValidationError as exc:  # too large, or a refused redirect
            msg = f"could not download the result from AiArt: {exc}"
            raise ArliResponseError(msg) from None
        return data

    # -- images ------------------------------------------------------------------------

    def _image_url(self, data: dict[str, Any], what: str) -> str:
        url = data.get("image_url")
        if not isinstance(url, str) or not url.strip():
            msg = f"the AiArt {what} answer has no image_url: {str(data)[:200]}"
            raise ArliResponseError(msg, body=str(data)[:300])
        return self.resolve_url(url)

    def _image_result(
        self,
        raw: bytes,
        url: str,
        data: dict[str, Any],
        request: AiArtGenerateRequest | AiArtImg2ImgRequest,
        operation: Operation,
    ) -> ImageResult:
        mime = sniff_mime(raw[:16])
        if mime is None or not mime.startswith("image/"):
            msg = f"the file at {url} is not an image (it starts with {raw[:8]!r})"
            raise ArliResponseError(msg)
        seed = _seed(data.get("seed"))
        if seed is None and request.seed:
            seed = request.seed
        size = image_size(raw)
        width, height = size if size else (None, None)
        info = GenerationInfo.model_validate(
            {
                "prompt": request.prompt,
                "negative_prompt": request.negative_prompt,
                "seed": seed,
                "all_seeds": [seed] if seed is not None else [],
                "width": width,
                "height": height,
                "styles": [request.style_preset] if request.style_preset else [],
                "denoising_strength": getattr(request, "strength", None),
                "text": data.get("message") if isinstance(data.get("message"), str) else None,
                "raw": data,
                "image_url": url,
                "aspect_ratio": request.aspect_ratio,
            }
        )
        image = GeneratedImage(
            data=raw,
            mime_type=mime,
            index=0,
            seed=seed,
            width=width,
            height=height,
            max_pixels=self.max_pixels,
        )
        params = request.model_dump(exclude_none=True)
        return ImageResult(images=[image], info=info, operation=operation, parameters=params)

    def generate(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        style_preset: str | None = None,
        aspect_ratio: str | None = None,
        output_format: str | None = None,
        seed: int | None = None,
        *,
        request_timeout: float | None = None,
        max_retries: int | None = None,
    ) -> ImageResult:
        """Generate an image from a prompt (``POST /api/generate``) and download it.

        Args:
            prompt: what the image shows (sent as ``video_description``).
            negative_prompt: what it must not show.
            style_preset: one of :data:`AIART_STYLE_PRESETS` (``"cinematic"``...).
            aspect_ratio: ``1:1``, ``4:3``, ``16:9`` (server default), ``9:16`` or ``3:4``.
            output_format: ``png`` (server default), ``jpg`` or ``webp``.
            seed: ``0`` or unset for random; the same seed and parameters give similar images.
            request_timeout: read timeout in seconds for the generation call.
            max_retries: retries for the generation call (default from the settings).

        Returns:
            An :class:`~arli.images.ImageResult` with one image (its format detected from
            the bytes; the seed when one was given).

        Raises:
            ArliValidationError: a value AiArt does not accept (nothing is sent).
            ArliStatusError: the server's error (400, 429 after retries, 5xx...).
            ArliResponseError: no usable image came back or the download failed.
        """
        req = AiArtGenerateRequest(
            prompt=prompt,
            negative_prompt=negative_prompt,
            style_preset=style_preset,
            aspect_ratio=aspect_ratio,
            output_format=output_format,
            seed=seed,
        )
        call = _Call(request_timeout, max_retries)
        result = self._transport.request(
            "POST", self.routes["generate"], json_body=req.wire(), timeout="image", **call.kwargs()
        )
        data = _as_object(result, "generation")
        url = self._image_url(data, "generation")
        return self._image_result(self._download(url), url, data, req, "txt2img")

    async def agenerate(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        style_preset: str | None = None,
        aspect_ratio: str | None = None,
        output_format: str | None = None,
        seed: int | None = None,
        *,
        request_timeout: float | None = None,
        max_retries: int | None = None,
    ) -> ImageResult:
        """Async :meth:`generate`."""
        req = AiArtGenerateRequest(
            prompt=prompt,
            negative_prompt=negative_prompt,
            style_preset=style_preset,
            aspect_ratio=aspect_ratio,
            output_format=output_format,
            seed=seed,
        )
        call = _Call(request_timeout, max_retries)
        result = await self._transport.arequest(
            "POST", self.routes["generate"], json_body=req.wire(), timeout="image", **call.kwargs()
        )
        data = _as_object(result, "generation")
        url = self._image_url(data, "generation")
        return self._image_result(await self._adownload(url), url, data, req, "txt2img")

    def img2img(
        self,
        image: Any,
        prompt: str,
        negative_prompt: str | None = None,
        strength: float | None = None,
        style_preset: str | None = None,
        aspect_ratio: str | None = None,
        output_format: str | None = None,
        seed: int | None = None,
        *,
        request_timeout: float | None = None,
        max_retries: int | None = None,
    ) -> ImageResult:
        """Transform an image guided by a prompt (``POST /api/img2img``) and download it.

        Args:
            image: a path, bytes, base64, ``data:`` URI, PIL image, binary file or http(s)
                URL; it must be JPG, PNG or WEBP and at most 10 MB.
            prompt: how to transform it.
            negative_prompt: what the result must not show.
            strength: how much to change, 0..1 (server default 0.7).
            style_preset: one of :data:`AIART_STYLE_PRESETS`.
            aspect_ratio: of the output: ``1:1`` (server default), ``4:3``, ``16:9``,
                ``9:16`` or ``3:4`` (see :func:`nearest_aspect_ratio` to keep the input's).
            output_format: ``png`` (server default), ``jpg`` or ``webp``.
            seed: ``0`` or unset for random.
            request_timeout: read timeout in seconds for the call.
            max_retries: retries for the call.

        Raises:
            ArliValidationError: a bad value, or an image AiArt would refuse (wrong type:
                415; over 10 MB: 413); nothing is sent.
            ArliStatusError: the server's error.
            ArliResponseError: no usable image came back or the download failed.
        """
        req = AiArtImg2ImgRequest(
            prompt=prompt,
            negative_prompt=negative_prompt,
            strength=strength,
            style_preset=style_preset,
            aspect_ratio=aspect_ratio,
            output_format=output_format,
            seed=seed,
        )
        body, headers = self.multipart(req.form_fields(), self._load(image))
        call = _Call(request_timeout, max_retries)
        result = self._transport.request(
            "POST",
            self.routes["img2img"],
            multipart=body,
            headers=headers,
            timeout="image",
            **call.kwargs(),
        )
        data = _as_object(result, "img2img")
        url = self._image_url(data, "img2img")
        return self._image_result(self._download(url), url, data, req, "img2img")

    async def aimg2img(
        self,
        image: Any,
        prompt: str,
        negative_prompt: str | None = None,
        strength: float | None = None,
        style_preset: str | None = None,
        aspect_ratio: str | None = None,
        output_format: str | None = None,
        seed: int | None = None,
        *,
        request_timeout: float | None = None,
        max_retries: int | None = None,
    ) -> ImageResult:
        """Async :meth:`img2img`."""
        req = AiArtImg2ImgRequest(
            prompt=prompt,
            negative_prompt=negative_prompt,
            strength=strength,
            style_preset=style_preset,
            aspect_ratio=aspect_ratio,
            output_format=output_format,
            seed=seed,
        )
        body, headers = self.multipart(req.form_fields(), await self._aload(image))
        call = _Call(request_timeout, max_retries)
        result = await self._transport.arequest(
            "POST",
            self.routes["img2img"],
            multipart=body,
            headers=headers,
            timeout="image",
            **call.kwargs(),
        )
        data = _as_object(result, "img2img")
        url = self._image_url(data, "img2img")
        return self._image_result(await self._adownload(url), url, data, req, "img2img")

    # -- videos ------------------------------------------------------------------------

    @staticmethod
    def _generation_id(data: dict[str, Any]) -> str:
        gid = data.get("id")
        if not isinstance(gid, str) or not _ID_RE.match(gid):
            msg = f"the AiArt img2video answer has no usable id: {str(data)[:200]}"
            raise ArliResponseError(msg, body=str(data)[:300])
        return gid

    def start_img2video(
        self,
        image: Any,
        seed: int | None = None,
        cfg_scale: float | None = None,
        motion_bucket_id: int | None = None,
        *,
        request_timeout: float | None = None,
        max_retries: int | None = None,
    ) -> str:
        """Start a video from an image (``POST /api/img2video``); return the generation id.

        Poll it with :meth:`check_video`, or wait for it with :meth:`video_result`.

        Args:
            image: any image input (JPG, PNG or WEBP, at most 10 MB).
            seed: ``0`` or unset for random.
            cfg_scale: how closely the video follows the image, 0..10 (server default 1.5).
            motion_bucket_id: amount of motion, 1..255 (server default 127).
            request_timeout: read timeout in seconds for the call.
            max_retries: retries for the call.

        Raises:
            ArliValidationError: a bad value or an image AiArt would refuse; nothing sent.
            ArliStatusError: the server's error.
            ArliResponseError: the answer has no generation id.
        """
        req = AiArtImg2VideoRequest(
            seed=seed, cfg_scale=cfg_scale, motion_bucket_id=motion_bucket_id
        )
        body, headers = self.multipart(req.form_fields(), self._load(image))
        call = _Call(request_timeout, max_retries)
        result = self._transport.request(
            "POST",
            self.routes["img2video"],
            multipart=body,
            headers=headers,
            timeout="image",
            **call.kwargs(),
        )
        return self._generation_id(_as_object(result, "img2video"))

    async def astart_img2video(
        self,
        image: Any,
        seed: int | None = None,
        cfg_scale: float | None = None,
        motion_bucket_id: int | None = None,
        *,
        request_timeout: float | None = None,
        max_retries: int | None = None,
    ) -> str:
        """Async :meth:`start_img2video`."""
        req = AiArtImg2VideoRequest(
            seed=seed, cfg_scale=cfg_scale, motion_bucket_id=motion_bucket_id
        )
        body, headers = self.multipart(req.form_fields(), await self._aload(image))
        call = _Call(request_timeout, max_retries)
        result = await self._transport.arequest(
            "POST",
            self.routes["img2video"],
            multipart=body,
            headers=headers,
            timeout="image",
            **call.kwargs(),
        )
        return self._generation_id(_as_object(result, "img2video"))

    def _result_path(self, generation_id: str) -> str:
        if not isinstance(generation_id, str) or not _ID_RE.match(generation_id):
            msg = (
                f"generation_id={str(generation_id)[:80]!r} is not valid: use the id returned "
                "when the video was started (letters, digits, '-' and '_')"
            )
            raise ArliValidationError(msg, field="generation_id", allowed="an id from img2video")
        return self.routes["video_result"].format(id=generation_id)

    def _status(self, generation_id: str, result: HTTPResult) -> VideoStatus:
        retry_after = None
        raw_retry = result.headers.get("retry-after")
        if raw_retry and raw_retry.strip().replace(".", "", 1).isdigit():
            try:
                retry_after = float(raw_retry)
            except ValueError:  # str.isdigit() accepts "²", float() does not
                retry_after = None
        try:
            data = result.json() if result.content.strip() else {}
        except ArliResponseError:
            if result.status_code == 202:
                data = {}
            else:
                raise
        if not isinstance(data, dict):
            data = {}
        message = data.get("message") if isinstance(data.get("message"), str) else None
        status = data.get("status")
        if result.status_code == 202 or status == "in-progress":
            return VideoStatus(
                generation_id, "in-progress", message, retry_after=retry_after, raw=data
            )
        url = data.get("video_url")
        if result.status_code == 200 and status == "complete" and isinstance(url, str) and url:
            reason = data.get("finish_reason")
            return VideoStatus(
                generation_id,
                "complete",
                message,
                video_url=self.resolve_url(url),
                seed=_seed(data.get("seed")),
                finish_reason=reason if isinstance(reason, str) else None,
                raw=data,
            )
        msg = (
            f"the AiArt video {generation_id} answered HTTP {result.status_code} without a "
            f"video: {result.text[:200]!r}"
        )
        raise ArliResponseError(msg, body=result.text[:300])

    def check_video(self, generation_id: str) -> VideoStatus:
        """Poll a video once (``GET /api/img2video/result/<id>``), without downloading it.

        Raises:
            ArliValidationError: the id is not valid.
            ArliStatusError: the server's error (404 unknown id, 5xx failed generation...).
            ArliResponseError: a 200 answer without a video.
        """
        path = self._result_path(generation_id)
        result = self._transport.request("GET", path, timeout="listing")
        return self._status(generation_id, result)

    async def acheck_video(self, generation_id: str) -> VideoStatus:
        """Async :meth:`check_video`."""
        path = self._result_path(generation_id)
        result = await self._transport.arequest("GET", path, timeout="listing")
        return self._status(generation_id, result)

    def _video(self, status: VideoStatus, data: bytes) -> VideoResult:
        assert status.video_url is not None
        mime = sniff_video(data[:16])
        if mime is None:
            msg = f"the file at {status.video_url} is not a video (it starts with {data[:8]!r})"
            raise ArliResponseError(msg)
        if status.finish_reason and status.finish_reason != "SUCCESS":
            logger.warning(
                "AiArt video %s finished with %s", status.generation_id, status.finish_reason
            )
        return VideoResult(
            data=data,
            mime_type=mime,
            url=status.video_url,
            generation_id=status.generation_id,
            seed=status.seed,
            finish_reason=status.finish_reason,
        )

    @staticmethod
    def _check_polling(poll_interval: float, timeout: float, max_polls: int | None) -> None:
        if not poll_interval >= 0:
            msg = f"poll_interval={poll_interval!r} must be >= 0 seconds"
            raise ArliValidationError(msg, field="poll_interval", allowed=">= 0")
        if not timeout >= 0:
            msg = f"timeout={timeout!r} must be >= 0 seconds"
            raise ArliValidationError(msg, field="timeout", allowed=">= 0")
        if max_polls is not None and max_polls < 1:
            msg = f"max_polls={max_polls!r} must be at least 1 (or None for no limit)"
            raise ArliValidationError(msg, field="max_polls", allowed=">= 1")

    def _timed_out(
        self, generation_id: str, polls: int, started: float, timeout: float, limit: int | None
    ) -> GenerationTimeoutError | None:
        elapsed = _clock() - started
        if limit is not None and polls >= limit:
            why = f"after {polls} poll{'s' if polls != 1 else ''}"
        elif elapsed >= timeout:
            why = f"within {timeout:g} s ({polls} poll{'s' if polls != 1 else ''})"
        else:
            return None
        msg = (
            f"the AiArt video {generation_id} was not ready {why}; it may still be generated: "
            f"call video_result({generation_id!r}) to keep waiting"
        )
        return GenerationTimeoutError(
            msg,
            generation_id=generation_id,
            polls=polls,
            elapsed=elapsed,
            url=self._transport.url(self._result_path(generation_id)),
        )

    @staticmethod
    def _wait(status: VideoStatus, poll_interval: float, remaining: float) -> float:
        wait = status.retry_after if status.retry_after is not None else poll_interval
        return max(0.0, min(wait, remaining))

    def video_result(
        self,
        generation_id: str,
        *,
        poll_interval: float = 5.0,
        timeout: float = 600.0,
        max_polls: int | None = None,
    ) -> VideoResult:
        """Poll a video until it is complete, then download it.

        The first poll is immediate; then one every ``poll_interval`` seconds (or the
        server's ``Retry-After``), until the video is complete, ``timeout`` seconds have
        passed or ``max_polls`` polls were made.

        Args:
            generation_id: the id from :meth:`start_img2video`.
            poll_interval: seconds between polls (AiArt's examples use 5).
            timeout: seconds to keep polling (AiArt's examples give up after 10 minutes).
            max_polls: the most polls to make (``None``: bounded by ``timeout`` only).

        Raises:
            GenerationTimeoutError: not ready in time (carries ``generation_id``; call
                this method again to keep waiting).
            ArliStatusError: the server's error (404 unknown id, 4xx/5xx failed generation).
            ArliResponseError: a 200 answer without a video, or the download failed.
        """
        self._check_polling(poll_interval, timeout, max_polls)
        started = _clock()
        polls = 0
        while True:
            status = self.check_video(generation_id)
            polls += 1
            if status.done:
                assert status.video_url is not None
                return self._video(status, self._download(status.video_url))
            late = self._timed_out(generation_id, polls, started, timeout, max_polls)
            if late is not None:
                raise late
            _sleep(self._wait(status, poll_interval, timeout - (_clock() - started)))

    async def avideo_result(
        self,
        generation_id: str,
        *,
        poll_interval: float = 5.0,
        timeout: float = 600.0,
        max_polls: int | None = None,
    ) -> VideoResult:
        """Async :meth:`video_result` (waiting does not block the event loop)."""
        self._check_polling(poll_interval, timeout, max_polls)
        started = _clock()
        polls = 0
        while True:
            status = await self.acheck_video(generation_id)
            polls += 1
            if status.done:
                assert status.video_url is not None
                return self._video(status, await self._adownload(status.video_url))
            late = self._timed_out(generation_id, polls, started, timeout, max_polls)
            if late is not None:
                raise late
            await _asleep(self._wait(status, poll_interval, timeout - (_clock() - started)))

    def img2video(
        self,
        image: Any,
        seed: int | None = None,
        cfg_scale: float | None = None,
        motion_bucket_id: int | None = None,
        *,
        poll_interval: float = 5.0,
        timeout: float = 600.0,
        max_polls: int | None = None,
    ) -> VideoResult:
        """Make a short video from an image: start it, poll until complete, download it.

        Args:
            image: any image input (JPG, PNG or WEBP, at most 10 MB).
            seed: ``0`` or unset for random.
            cfg_scale: how closely the video follows the image, 0..10 (server default 1.5).
            motion_bucket_id: amount of motion, 1..255 (server default 127).
            poll_interval: seconds between polls.
            timeout: seconds to keep polling once started.
            max_polls: the most polls to make.

        Raises:
            ArliValidationError: a bad value or image (nothing is sent).
            GenerationTimeoutError: not ready in time; resume with
                ``video_result(exc.generation_id)``.
            ArliStatusError: the server's error.
            ArliResponseError: an unusable answer or a failed download.
        """
        self._check_polling(poll_interval, timeout, max_polls)
        generation_id = self.start_img2video(image, seed, cfg_scale, motion_bucket_id)
        return self.video_result(
            generation_id, poll_interval=poll_interval, timeout=timeout, max_polls=max_polls
        )

    async def aimg2video(
        self,
        image: Any,
        seed: int | None = None,
        cfg_scale: float | None = None,
        motion_bucket_id: int | None = None,
        *,
        poll_interval: float = 5.0,
        timeout: float = 600.0,
        max_polls: int | None = None,
    ) -> VideoResult:
        """Async :meth:`img2video`."""
        self._check_polling(poll_interval, timeout, max_polls)
        generation_id = await self.astart_img2video(image, seed, cfg_scale, motion_bucket_id)
        return await self.avideo_result(
            generation_id, poll_interval=poll_interval, timeout=timeout, max_polls=max_polls
        )

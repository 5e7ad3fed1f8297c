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

This module holds the client; the request models, documented values and upload checks are
in :mod:`arli.images.aiart_requests`, the video results and the polling bounds in
:mod:`arli.images.aiart_video` (every name stays importable from here).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import httpx

from arli._errors import (
    ArliConfigError,
    ArliResponseError,
    ArliValidationError,
    GenerationTimeoutError,
)
from arli._kwargs import checks_arguments
from arli._settings import SETTINGS_ARGUMENTS, ArliSettings, check_count, check_seconds
from arli._steps import Steps, arun, run, transport_options
from arli._transport import HTTPResult, PooledClient, Transport, get_transport
from arli.images._pixels import DEFAULT_MAX_PIXELS
from arli.images.aiart_answers import as_object, download_errors, image_result, image_url_of
from arli.images.aiart_requests import (
    _ID_RE,
    _READ_CAP,
    AIART_ASPECT_RATIOS,
    AIART_BASE_URL,
    AIART_MAX_SEED,
    AIART_MAX_UPLOAD_BYTES,
    AIART_OUTPUT_FORMATS,
    AIART_STYLE_PRESETS,
    AiArtAspectRatio,
    AiArtGenerateRequest,
    AiArtImg2ImgRequest,
    AiArtImg2VideoRequest,
    AiArtOutputFormat,
    AiArtStylePreset,
    check_upload,
    generate_request,
    img2img_request,
    multipart,
    nearest_aspect_ratio,
    relabelled_load_errors,
)
from arli.images.aiart_video import (
    Polling,
    VideoResult,
    VideoStatus,
    check_polling,
    parse_video_status,
    sniff_video,
    video_from_download,
)
from arli.images.results import ImageResult, Operation
from arli.media import ImageData, afetch_url, aload_image, fetch_url, load_image

__all__ = [
    "AIART_ASPECT_RATIOS",
    "AIART_BASE_URL",
    "AIART_MAX_SEED",
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

# Indirections so tests can drive the polling loop with a fake clock.
_clock = time.monotonic
_sleep = time.sleep
_asleep = asyncio.sleep


# -- the client -------------------------------------------------------------------------------


@checks_arguments(
    passes_to=SETTINGS_ARGUMENTS,
    sets={
        "provider": "AiArtClient always talks to AiArt (ImageClient(provider=...) serves the "
        "other image providers)",
    },
)
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
        check_seconds(download_timeout, "download_timeout", label="AiArtClient")
        check_count(max_download_bytes, "max_download_bytes", low=1, label="AiArtClient")
        check_count(max_pixels, "max_pixels", low=1, label="AiArtClient")
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

    check_upload = staticmethod(check_upload)
    _check_polling = staticmethod(check_polling)
    multipart = staticmethod(multipart)

    def _load(self, source: Any) -> ImageData:
        with relabelled_load_errors():
            image = load_image(source, max_bytes=_READ_CAP, max_pixels=self.max_pixels)
        return check_upload(image)

    async def _aload(self, source: Any) -> ImageData:
        with relabelled_load_errors():
            image = await aload_image(source, max_bytes=_READ_CAP, max_pixels=self.max_pixels)
        return check_upload(image)

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
        with download_errors():
            data, _ = fetch_url(
                url,
                max_bytes=self.max_download_bytes,
                timeout=self.download_timeout,
                http_client=self._http_client,
            )
        return data

    async def _adownload(self, url: str) -> bytes:
        with download_errors():
            data, _ = await afetch_url(
                url,
                max_bytes=self.max_download_bytes,
                timeout=self.download_timeout,
                http_client=self._http_async_client,
            )
        return data

    # -- the logic of every call, as I/O steps (arli._steps) ----------------------------

    def _ops(self) -> dict[str, Callable[..., Any]]:
        """The blocking I/O of the steps."""
        return {"send": self._send, "load": self._load, "download": self._download, "sleep": _sleep}

    def _aops(self) -> dict[str, Callable[..., Any]]:
        """The awaited I/O of the steps."""
        return {
            "send": self._asend,
            "load": self._aload,
            "download": self._adownload,
            "sleep": _asleep,
        }

    def _send(self, method: str, path: str, options: dict[str, Any]) -> HTTPResult:
        return self._transport.request(method, path, **options)

    async def _asend(self, method: str, path: str, options: dict[str, Any]) -> HTTPResult:
        return await self._transport.arequest(method, path, **options)

    def _post_steps(
        self,
        req: AiArtGenerateRequest | AiArtImg2ImgRequest | AiArtImg2VideoRequest,
        image: Any,
        request_timeout: float | None,
        max_retries: int | None,
    ) -> Steps[HTTPResult]:
        """Send a generation: JSON for ``generate``, else a multipart upload of ``image``."""
        options = transport_options("image", request_timeout, max_retries)
        if isinstance(req, AiArtGenerateRequest):
            route = "generate"
            options["json_body"] = req.wire()
        else:
            route = "img2img" if isinstance(req, AiArtImg2ImgRequest) else "img2video"
            loaded: ImageData = yield "load", image
            body, headers = multipart(req.form_fields(), loaded)
            options = {"multipart": body, "headers": headers, **options}
        result: HTTPResult = yield "send", "POST", self.routes[route], options
        return result

    def _image_steps(
        self,
        req: AiArtGenerateRequest | AiArtImg2ImgRequest,
        image: Any,
        request_timeout: float | None,
        max_retries: int | None,
    ) -> Steps[ImageResult]:
        """Send generate or img2img, check the answer, download the image."""
        result = yield from self._post_steps(req, image, request_timeout, max_retries)
        txt2img = isinstance(req, AiArtGenerateRequest)
        data, url = self._image_answer(result, "generation" if txt2img else "img2img")
        raw: bytes = yield "download", url
        operation: Operation = "txt2img" if txt2img else "img2img"
        return image_result(raw, url, data, req, operation, self.max_pixels)

    def _start_steps(
        self,
        req: AiArtImg2VideoRequest,
        image: Any,
        request_timeout: float | None,
        max_retries: int | None,
    ) -> Steps[str]:
        """Start a video: upload, then the generation id of the answer."""
        result = yield from self._post_steps(req, image, request_timeout, max_retries)
        return self._generation_id(as_object(result, "img2video"))

    def _check_steps(self, generation_id: str) -> Steps[VideoStatus]:
        """One poll of a video."""
        path = self._result_path(generation_id)
        result: HTTPResult = yield "send", "GET", path, transport_options("listing")
        return parse_video_status(generation_id, result, self.resolve_url)

    def _video_steps(
        self, generation_id: str, poll_interval: float, timeout: float, max_polls: int | None
    ) -> Steps[VideoResult]:
        """Poll a video until complete (bounded by :class:`Polling`), then download it."""
        polling = Polling(
            self._result_url, generation_id, poll_interval, timeout, max_polls, _clock
        )
        while True:
            status = yield from self._check_steps(generation_id)
            if status.done:
                assert status.video_url is not None
                raw: bytes = yield "download", status.video_url
                return video_from_download(status, raw)
            yield "sleep", polling.pause_after(status)

    def _img2video_steps(
        self,
        image: Any,
        seed: int | None,
        cfg_scale: float | None,
        motion_bucket_id: int | None,
        poll_interval: float,
        timeout: float,
        max_polls: int | None,
    ) -> Steps[VideoResult]:
        """Start a video, poll it until complete, download it."""
        check_polling(poll_interval, timeout, max_polls)
        req = AiArtImg2VideoRequest(
            seed=seed, cfg_scale=cfg_scale, motion_bucket_id=motion_bucket_id
        )
        generation_id = yield from self._start_steps(req, image, None, None)
        return (yield from self._video_steps(generation_id, poll_interval, timeout, max_polls))

    # -- images ------------------------------------------------------------------------

    def _image_answer(self, result: HTTPResult, what: str) -> tuple[dict[str, Any], str]:
        """The answer of generate or img2img, and the checked URL of its image."""
        data = as_object(result, what)
        return data, self.resolve_url(image_url_of(data, what))

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
        req = generate_request(
            prompt, negative_prompt, style_preset, aspect_ratio, output_format, seed
        )
        return run(self._image_steps(req, None, request_timeout, max_retries), self._ops())

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
        req = generate_request(
            prompt, negative_prompt, style_preset, aspect_ratio, output_format, seed
        )
        return await arun(self._image_steps(req, None, request_timeout, max_retries), self._aops())

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
        req = img2img_request(
            prompt, negative_prompt, strength, style_preset, aspect_ratio, output_format, seed
        )
        return run(self._image_steps(req, image, request_timeout, max_retries), self._ops())

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
        req = img2img_request(
            prompt, negative_prompt, strength, style_preset, aspect_ratio, output_format, seed
        )
        return await arun(self._image_steps(req, image, request_timeout, max_retries), self._aops())

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
        return run(self._start_steps(req, image, request_timeout, max_retries), self._ops())

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
        return await arun(self._start_steps(req, image, request_timeout, max_retries), self._aops())

    def _result_path(self, generation_id: str) -> str:
        if not isinstance(generation_id, str) or not _ID_RE.match(generation_id):
            msg = (
                f"generation_id={str(generation_id)[:80]!r} is not valid: use the id returned "
                "when the video was started (letters, digits, '-' and '_')"
            )
            raise ArliValidationError(msg, field="generation_id", allowed="an id from img2video")
        return self.routes["video_result"].format(id=generation_id)

    def _result_url(self, generation_id: str) -> str:
        return self._transport.url(self._result_path(generation_id))

    def check_video(self, generation_id: str) -> VideoStatus:
        """Poll a video once (``GET /api/img2video/result/<id>``), without downloading it.

        Raises:
            ArliValidationError: the id is not valid.
            ArliStatusError: the server's error (404 unknown id, 5xx failed generation...).
            ArliResponseError: a 200 answer without a video.
        """
        return run(self._check_steps(generation_id), self._ops())

    async def acheck_video(self, generation_id: str) -> VideoStatus:
        """Async :meth:`check_video`."""
        return await arun(self._check_steps(generation_id), self._aops())

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
        steps = self._video_steps(generation_id, poll_interval, timeout, max_polls)
        return run(steps, self._ops())

    async def avideo_result(
        self,
        generation_id: str,
        *,
        poll_interval: float = 5.0,
        timeout: float = 600.0,
        max_polls: int | None = None,
    ) -> VideoResult:
        """Async :meth:`video_result` (waiting does not block the event loop)."""
        steps = self._video_steps(generation_id, poll_interval, timeout, max_polls)
        return await arun(steps, self._aops())

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
        steps = self._img2video_steps(
            image, seed, cfg_scale, motion_bucket_id, poll_interval, timeout, max_polls
        )
        return run(steps, self._ops())

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
        steps = self._img2video_steps(
            image, seed, cfg_scale, motion_bucket_id, poll_interval, timeout, max_polls
        )
        return await arun(steps, self._aops())

"""AiArt's videos: one poll's :class:`VideoStatus` and the downloaded :class:`VideoResult`.

``GET /api/img2video/result/<id>`` answers 202 while the video runs and 200 with a
(relative) ``video_url`` when it is complete; :func:`parse_video_status` reads both.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arli._errors import ArliResponseError, ArliValidationError, GenerationTimeoutError
from arli._transport import HTTPResult
from arli.images.results import _save_bytes

__all__ = [
    "Polling",
    "VideoResult",
    "VideoStatus",
    "check_polling",
    "parse_video_status",
    "sniff_video",
    "video_from_download",
]

logger = logging.getLogger("arli")

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
        fallback = "arli-video"
        self.path = _save_bytes(
            target, self.data, self.extension, self.default_name, name, prefix, fallback, overwrite
        )
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


def parse_video_status(
    generation_id: str, result: HTTPResult, resolve_url: Callable[[str], str]
) -> VideoStatus:
    """One poll's answer as a :class:`VideoStatus` (202 or ``in-progress``; 200 ``complete``).

    Args:
        generation_id: the id that was polled.
        result: the HTTP answer of ``GET /api/img2video/result/<id>``.
        resolve_url: turns the (relative) ``video_url`` into a checked absolute URL.

    Raises:
        ArliResponseError: a 200 answer without a video, or a body that is not JSON.
    """
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
        return VideoStatus(generation_id, "in-progress", message, retry_after=retry_after, raw=data)
    url = data.get("video_url")
    if result.status_code == 200 and status == "complete" and isinstance(url, str) and url:
        reason = data.get("finish_reason")
        return VideoStatus(
            generation_id,
            "complete",
            message,
            video_url=resolve_url(url),
            seed=_seed(data.get("seed")),
            finish_reason=reason if isinstance(reason, str) else None,
            raw=data,
        )
    msg = (
        f"the AiArt video {generation_id} answered HTTP {result.status_code} without a "
        f"video: {result.text[:200]!r}"
    )
    raise ArliResponseError(msg, body=result.text[:300])


def video_from_download(status: VideoStatus, data: bytes) -> VideoResult:
    """The :class:`VideoResult` of a complete ``status`` whose file downloaded as ``data``.

    Raises:
        ArliResponseError: the file is not a video.
    """
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


# -- polling --------------------------------------------------------------------------------


def check_polling(poll_interval: float, poll_timeout: float, max_polls: int | None) -> None:
    """Refuse polling bounds that make no sense (negative times, ``max_polls`` below 1)."""
    if not poll_interval >= 0:
        msg = f"poll_interval={poll_interval!r} must be >= 0 seconds"
        raise ArliValidationError(msg, field="poll_interval", allowed=">= 0")
    if not poll_timeout >= 0:
        msg = f"poll_timeout={poll_timeout!r} must be >= 0 seconds"
        raise ArliValidationError(msg, field="poll_timeout", allowed=">= 0")
    if max_polls is not None and max_polls < 1:
        msg = f"max_polls={max_polls!r} must be at least 1 (or None for no limit)"
        raise ArliValidationError(msg, field="max_polls", allowed=">= 1")


class Polling:
    """The bounds of one wait for a video, shared by the sync and async polling loops.

    The loops only poll, download and sleep; this counts the polls, watches the clock and
    says how long to pause, or raises :class:`GenerationTimeoutError` when the bounds ran out.

    Args:
        resume_url: the URL of a generation id's result (named in the timeout error).
        generation_id: the video waited for.
        poll_interval: seconds between polls, unless the server sends ``Retry-After``.
        timeout: seconds to keep polling.
        max_polls: the most polls to make (``None``: bounded by ``timeout`` only).
        clock: a monotonic clock in seconds.

    Raises:
        ArliValidationError: a negative interval or timeout, or ``max_polls`` below 1.
    """

    def __init__(
        self,
        resume_url: Callable[[str], str],
        generation_id: str,
        poll_interval: float,
        timeout: float,
        max_polls: int | None,
        clock: Callable[[], float],
    ) -> None:
        check_polling(poll_interval, timeout, max_polls)
        self.clock = clock
        self.resume_url = resume_url
        self.generation_id = generation_id
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.max_polls = max_polls
        self.started = clock()
        self.polls = 0

    def pause_after(self, status: VideoStatus) -> float:
        """Count a poll that found the video not ready; the seconds to wait before the next.

        Raises:
            GenerationTimeoutError: ``max_polls`` polls were made or ``timeout`` passed.
        """
        self.polls += 1
        polls, generation_id = self.polls, self.generation_id
        elapsed = self.clock() - self.started
        if self.max_polls is not None and polls >= self.max_polls:
            why = f"after {polls} poll{'s' if polls != 1 else ''}"
        elif elapsed >= self.timeout:
            why = f"within {self.timeout:g} s ({polls} poll{'s' if polls != 1 else ''})"
        else:
            wait = status.retry_after if status.retry_after is not None else self.poll_interval
            remaining = self.timeout - (self.clock() - self.started)
            return max(0.0, min(wait, remaining))
        msg = (
            f"the AiArt video {generation_id} was not ready {why}; it may still be generated: "
            f"call video_result({generation_id!r}) to keep waiting"
        )
        raise GenerationTimeoutError(
            msg,
            generation_id=generation_id,
            polls=polls,
            elapsed=elapsed,
            url=self.resume_url(generation_id),
        )

"""AiArt's answers read into results: the JSON envelope, the image URL, the image result.

Used by :class:`arli.images.aiart.AiArtClient` (sync and async alike): everything it does
with an answer once the I/O is done.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from arli._errors import ArliResponseError, ArliValidationError
from arli._transport import HTTPResult
from arli.images._pixels import image_size
from arli.images.aiart_requests import AiArtGenerateRequest, AiArtImg2ImgRequest
from arli.images.aiart_video import _seed
from arli.images.info import GenerationInfo
from arli.images.results import GeneratedImage, ImageResult, Operation
from arli.media import sniff_mime

__all__ = ["as_object", "download_errors", "image_result", "image_url_of"]


@contextmanager
def download_errors() -> Iterator[None]:
    """A refused download (too large, a refused redirect) as an :class:`ArliResponseError`."""
    try:
        yield
    except ArliValidationError as exc:
        msg = f"could not download the result from AiArt: {exc}"
        raise ArliResponseError(msg) from None


def as_object(result: HTTPResult, what: str) -> dict[str, Any]:
    """The JSON object of an AiArt answer (``what`` names the call in errors).

    Raises:
        ArliResponseError: not a JSON object, or AiArt's ``{"success": false}`` or
            ``{"error": "..."}`` envelope.
    """
    data = result.json()
    if not isinstance(data, dict):
        msg = f"the AiArt {what} answer is not a JSON object: {result.text[:200]!r}"
        raise ArliResponseError(msg, body=result.text[:300])
    if data.get("success") is False or (isinstance(data.get("error"), str) and data["error"]):
        detail = data.get("error") or data.get("message") or "no reason given"
        msg = f"AiArt could not complete the {what}: {detail}"
        raise ArliResponseError(msg, body=result.text[:300])
    return data


def image_url_of(data: dict[str, Any], what: str) -> str:
    """The ``image_url`` of a generate or img2img answer (not yet resolved or checked).

    Raises:
        ArliResponseError: the answer has none.
    """
    url = data.get("image_url")
    if not isinstance(url, str) or not url.strip():
        msg = f"the AiArt {what} answer has no image_url: {str(data)[:200]}"
        raise ArliResponseError(msg, body=str(data)[:300])
    return url


def image_result(
    raw: bytes,
    url: str,
    data: dict[str, Any],
    request: AiArtGenerateRequest | AiArtImg2ImgRequest,
    operation: Operation,
    max_pixels: int,
) -> ImageResult:
    """The :class:`ImageResult` of a downloaded AiArt image.

    Args:
        raw: the downloaded bytes.
        url: where they came from.
        data: the generation's answer.
        request: the request sent.
        operation: ``"txt2img"`` (generate) or ``"img2img"``.
        max_pixels: decompression-bomb cap of the image.

    Raises:
        ArliResponseError: the bytes are not an image.
    """
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
        max_pixels=max_pixels,
    )
    params = request.model_dump(exclude_none=True)
    return ImageResult(images=[image], info=info, operation=operation, parameters=params)

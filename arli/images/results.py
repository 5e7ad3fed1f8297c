"""Image results: :class:`ImageResult` and :class:`GeneratedImage`, parsed and saved safely.

:func:`parse_image_response` reads every shape the servers emit: ``images`` (a list) or a
single ``image``. Image bytes are decoded once and their format detected from magic bytes
(SDNext answers with JPEG by default). Saving never writes outside the target directory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from arli._errors import ArliResponseError, ArliValidationError
from arli.images._pixels import DEFAULT_MAX_PIXELS, image_size, open_image
from arli.images.info import GenerationInfo
from arli.images.request_models import _fmt_num
from arli.media import sniff_mime

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "check_destination",
    "parse_image_response",
    "safe_filename",
    "GeneratedImage",
    "ImageResult",
    "Operation",
]

Operation = Literal["txt2img", "img2img", "upscale"]
"""What produced an :class:`ImageResult`."""

_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
}
#: Suffixes that make a save destination a file name rather than a directory.
_IMAGE_SUFFIXES = frozenset({f".{e}" for e in _EXTENSIONS.values()} | {".jpeg", ".tif"})
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str, extension: str) -> str:
    """Validate a file name chosen by a caller (or a model) and give it ``extension``.

    The name must be a plain file name: no directory part, no ``..``, no absolute path or
    drive, no control characters. Other unusual characters become ``-``; any extension
    given is replaced by the one of the detected format.

    Raises:
        ArliValidationError: for a name that points anywhere but into the target directory.
    """
    raw = name.strip()
    if (
        not raw
        or "\x00" in raw
        or "/" in raw
        or "\\" in raw
        or raw in (".", "..")
        or ".." in raw
        or os.path.isabs(raw)
        or re.match(r"^[A-Za-z]:", raw)
        or any(ord(c) < 32 for c in raw)
    ):
        msg = (
            f"file name {name[:80]!r} is not allowed: give a plain name without directories, "
            "'..' or an absolute path"
        )
        raise ArliValidationError(msg, field="name", allowed="a plain file name")
    stem = raw.rsplit(".", 1)[0] if "." in raw.lstrip(".") else raw
    stem = _SAFE_NAME.sub("-", stem).strip(".-")[:120] or "image"
    return f"{stem}.{extension}"


def _save_target(target: Path, name: str | None) -> tuple[Path, str | None]:
    """(directory, name): a path with an image suffix that is not a directory names the file."""
    if name is None and target.suffix.lower() in _IMAGE_SUFFIXES and not target.is_dir():
        return target.parent, target.name
    return target, name


def check_destination(destination: str | os.PathLike[str], *, option: str = "directory") -> Path:
    """Refuse a save destination that cannot be written, before anything is generated.

    ``destination`` is what :meth:`ImageResult.save` takes: a directory (created when
    needed) or a path with an image suffix (``out/fox.png``), which names the file. It is
    usable when it is (or will be created under) a writable directory; nothing is created.
    Generating first and failing at the save would pay for images that are thrown away.

    Args:
        destination: the directory or file name.
        option: how the caller names it in the message (``output_dir``, ``-o/--output``).

    Returns:
        The destination as a :class:`~pathlib.Path` (``~`` expanded).

    Raises:
        ArliValidationError: it is an existing file (without an image suffix), something
            on its way is a file, or the directory it would be written to is not writable.
    """
    target = Path(destination).expanduser()
    directory, _ = _save_target(target, None)
    allowed = "a writable directory (created when needed) or a file name such as out/fox.png"
    probe = directory
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        what = "is an existing file" if probe == target else f"is inside {str(probe)!r}, a file"
        msg = (
            f"{option} {str(target)!r} {what}, not a directory: pass a directory, or a file "
            "name ending in .png, .jpg or .webp"
        )
        raise ArliValidationError(msg, field=option, allowed=allowed)
    if not os.access(probe, os.W_OK | os.X_OK):
        msg = f"{option} {str(target)!r} cannot be written: {str(probe)!r} is not writable"
        raise ArliValidationError(msg, field=option, allowed=allowed)
    return target


def _write_new(directory: Path, name: str, data: bytes, overwrite: bool) -> Path:
    """Write ``data`` to ``directory/name`` without following symlinks; a unique name if taken."""
    base = directory.resolve()
    stem, dot, ext = name.rpartition(".")
    for attempt in range(1000):
        candidate = name if attempt == 0 else f"{stem}-{attempt}{dot}{ext}"
        path = base / candidate
        if path.parent != base:  # pragma: no cover - names are plain, checked above
            msg = f"refusing to write outside {base}"
            raise ArliValidationError(msg, field="name")
        if os.path.islink(path):
            continue  # never write through a symlink, whatever it points to
        flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        flags |= os.O_TRUNC if overwrite else os.O_EXCL
        try:
            fd = os.open(path, flags, 0o644)
        except FileExistsError:
            try:
                if path.is_file() and not path.is_symlink() and path.read_bytes() == data:
                    return path  # the same image was saved before
            except OSError:
                pass
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return path
    msg = f"could not find a free file name for {name!r} in {base}"
    raise ArliValidationError(msg, field="name")


def _save_bytes(
    directory: Path,
    data: bytes,
    extension: str,
    default_name: Callable[[str], str],
    name: str | None,
    prefix: str,
    fallback_prefix: str,
    overwrite: bool,
) -> Path:
    """Write ``data`` into ``directory`` (created) under ``name`` or a default name.

    ``name`` is checked by :func:`safe_filename` and given ``extension``; without it the
    file is called ``default_name(prefix)``, with the prefix's unusual characters replaced
    (``fallback_prefix`` if nothing is left). The file is written by :func:`_write_new`.
    """
    directory.mkdir(parents=True, exist_ok=True)
    safe_prefix = _SAFE_NAME.sub("-", prefix).strip(".-") or fallback_prefix
    filename = safe_filename(name, extension) if name else default_name(safe_prefix)
    return _write_new(directory, filename, data, overwrite)


@dataclass(eq=False)
class GeneratedImage:
    """One image of a result: its bytes, detected format, size and seed.

    Attributes:
        data: the encoded image, exactly as the server sent it (JPEG by default on SDNext).
        mime_type: detected from the bytes (``image/jpeg``, ``image/png``, ``image/webp``...).
        index: its position in the response.
        seed: the seed that produced it, when known.
        width: width in pixels (read from the header), when known.
        height: height in pixels, when known.
        infotext: the A1111-style parameter text for this image, when sent.
        path: where :meth:`save` wrote it (``None`` until saved).
    """

    data: bytes = field(repr=False)
    mime_type: str
    index: int = 0
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    infotext: str | None = field(default=None, repr=False)
    path: Path | None = None
    max_pixels: int = field(default=DEFAULT_MAX_PIXELS, repr=False)

    def __repr__(self) -> str:
        size = f"{self.width}x{self.height}" if self.width and self.height else "?"
        saved = f", path={str(self.path)!r}" if self.path else ""
        return (
            f"GeneratedImage({self.mime_type}, {size}, {len(self.data)} bytes, "
            f"seed={self.seed}{saved})"
        )

    @property
    def extension(self) -> str:
        """The file extension of the detected format (``jpg``, ``png``, ``webp``...)."""
        return _EXTENSIONS.get(self.mime_type, self.mime_type.split("/")[-1])

    @property
    def sha256(self) -> str:
        """The SHA-256 of the bytes (hex)."""
        return hashlib.sha256(self.data).hexdigest()

    def b64(self) -> str:
        """The bytes as base64 (no ``data:`` prefix)."""
        return base64.b64encode(self.data).decode("ascii")

    def data_uri(self) -> str:
        """The bytes as a ``data:<mime>;base64,...`` URI (for vision chat models)."""
        return f"data:{self.mime_type};base64,{self.b64()}"

    def to_pil(self) -> Image.Image:
        """Decode with Pillow (imported now; install the ``ocr`` extra or ``pillow``).

        Images above ``max_pixels`` are refused before decoding (decompression-bomb guard).

        Raises:
            ImportError: Pillow is not installed.
            ArliResponseError: the image is too large or cannot be decoded.
        """
        return open_image(self.data, max_pixels=self.max_pixels, what=f"image {self.index}")

    def default_name(self, prefix: str = "arli") -> str:
        """``<prefix>-<seed>-<index>-<hash>.<ext>`` (no seed part when unknown): unique, safe."""
        seed = [str(self.seed)] if self.seed is not None else []
        stem = "-".join([prefix, *seed, str(self.index), self.sha256[:10]])
        return f"{stem}.{self.extension}"

    def save(
        self,
        directory: str | os.PathLike[str],
        *,
        name: str | None = None,
        prefix: str = "arli",
        overwrite: bool = False,
    ) -> Path:
        """Write the image into ``directory`` (created if needed) and return its path.

        The file name is ``<prefix>-<seed>-<index>-<hash>.<ext>`` unless ``name`` is given;
        the extension always comes from the detected format. A ``directory`` that ends in
        an image suffix (``out/fox.jpg``) and is not an existing directory is a file name:
        the image goes to ``out/fox.<ext>``. Nothing is ever written
        outside ``directory``: names with ``..``, directories or absolute paths are
        refused, and an existing file or symlink is never overwritten (a ``-1``, ``-2``...
        suffix is added) unless ``overwrite`` is set (symlinks are still never followed).

        Raises:
            ArliValidationError: for a file name that would leave ``directory``.
        """
        target, name = _save_target(Path(directory).expanduser(), name)
        self.path = _save_bytes(
            target, self.data, self.extension, self.default_name, name, prefix, "arli", overwrite
        )
        return self.path


@dataclass(eq=False)
class ImageResult:
    """The images of one txt2img, img2img or upscale call, with what the server reported.

    Iterate it for the images; ``result.image`` is the first. ``result.data`` /
    ``result.mime_type`` / ``result.to_pil()`` are those of its only image: on a result with
    several images they raise rather than quietly give the first one's (use
    ``result.images[i]``, or iterate). ``str(result)`` is a short summary (saved paths, seeds,
    size, model) suitable for an agent.

    Attributes:
        images: the images, in response order.
        info: the parsed generation info.
        operation: ``"txt2img"``, ``"img2img"`` or ``"upscale"``.
        model: the model used (from the server's info, else the one requested).
        parameters: SDNext's ``parameters`` echo of the request (not the effective values).
    """

    images: list[GeneratedImage]
    info: GenerationInfo
    operation: Operation = "txt2img"
    model: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict, repr=False)

    def __iter__(self) -> Iterator[GeneratedImage]:
        return iter(self.images)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> GeneratedImage:
        return self.images[index]

    def __str__(self) -> str:
        return self.summary()

    @property
    def image(self) -> GeneratedImage:
        """The first image."""
        if not self.images:
            msg = "the result holds no image"
            raise ArliResponseError(msg)
        return self.images[0]

    def _only(self, what: str) -> GeneratedImage:
        """The one image, for a property that would otherwise hide the others."""
        if len(self.images) > 1:
            msg = (
                f"the result holds {len(self.images)} images, so result.{what} is ambiguous: "
                f"use result.images[i].{what} (or iterate the result; result.image is the first)"
            )
            raise ArliValidationError(msg, field=what, allowed="a result with one image")
        return self.image

    @property
    def data(self) -> bytes:
        """The bytes of the image (raises for a result with several images)."""
        return self._only("data").data

    @property
    def mime_type(self) -> str:
        """The format of the image (raises for a result with several images)."""
        return self._only("mime_type").mime_type

    @property
    def seeds(self) -> list[int | None]:
        """The seed of every image."""
        return [img.seed for img in self.images]

    @property
    def paths(self) -> list[Path]:
        """Where the images were saved (empty until :meth:`save`)."""
        return [img.path for img in self.images if img.path is not None]

    def to_pil(self) -> Image.Image:
        """The image decoded with Pillow (see :meth:`GeneratedImage.to_pil`).

        Raises:
            ArliValidationError: the result holds several images (decode each of them).
        """
        return self._only("to_pil()").to_pil()

    def save(self, directory: str | os.PathLike[str], *, prefix: str | None = None) -> list[Path]:
        """Save every image into ``directory`` under unique, safe names; return the paths.

        A ``directory`` ending in an image suffix names the file (see
        :meth:`GeneratedImage.save`); further images get ``-1``, ``-2``... after its stem.
        """
        pre = prefix or ("arli-upscaled" if self.operation == "upscale" else "arli")
        return [img.save(directory, prefix=pre) for img in self.images]

    def summary(self) -> str:
        """A short text: what was made, size, seed(s), model, and the saved paths."""
        n = len(self.images)
        noun = "image" if n == 1 else "images"
        first = self.images[0] if self.images else None
        size = ""
        if first is not None and first.width and first.height:
            size = f"{first.width}x{first.height}"
        elif self.info.width and self.info.height:
            size = f"{self.info.width}x{self.info.height}"
        details: list[str] = []
        if self.operation == "upscale":
            verb = f"Upscaled {n} {noun}"
            if self.info.upscaler:
                details.append(f"upscaler {self.info.upscaler}")
            if self.info.scale_factor:
                details.append(f"x{_fmt_num(self.info.scale_factor)}")
            if size:
                details.append(f"now {size}")
        else:
            verb = f"{'Generated' if self.operation == 'txt2img' else 'Edited'} {n} {noun}"
            if size:
                details.append(size)
            seeds = [s for s in self.seeds if s is not None]
            if seeds:
                label = "seed" if len(seeds) == 1 else "seeds"
                details.append(f"{label} {', '.join(str(s) for s in seeds)}")
            if self.model:
                details.append(f"model {self.model}")
            if self.info.sampler_name:
                details.append(f"sampler {self.info.sampler_name}")
            if self.info.steps:
                details.append(f"{self.info.steps} steps")
        text = verb + (f" ({', '.join(details)})" if details else "") + "."
        paths = self.paths
        if len(paths) == 1:
            text += f"\nSaved to: {paths[0]}"
        elif paths:
            text += "\nSaved to:\n" + "\n".join(f"- {p}" for p in paths)
        return text


def _decode_b64_image(item: Any, index: int) -> bytes:
    if not isinstance(item, str) or not item:
        msg = f"image {index} of the response is not a base64 string"
        raise ArliResponseError(msg, body=repr(item)[:200])
    text = item
    if text.startswith("data:"):
        text = text.split(",", 1)[-1]
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=False)
    except (binascii.Error, ValueError):
        msg = f"image {index} of the response is not valid base64"
        raise ArliResponseError(msg, body=text[:200]) from None


def parse_image_response(
    data: Any,
    *,
    operation: Operation = "txt2img",
    requested_model: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    allow_empty: bool = False,
) -> ImageResult:
    """Parse a txt2img, img2img or upscale response, whatever its shape.

    Accepts ``{"images": [...], "parameters": {...}, "info": "<json>"}`` (SDNext
    txt2img/img2img), ``{"images": [...], "info": {...}}`` (Arli's upscale-img) and
    ``{"image": "...", "html_info": "..."}`` (SDNext extra-single-image). Images may carry a
    ``data:`` prefix; their format is detected from their bytes.

    Args:
        data: the parsed JSON body.
        operation: what was asked (kept on the result).
        requested_model: the model asked for, used when the info does not name one.
        max_pixels: the decompression-bomb cap for :meth:`GeneratedImage.to_pil`.
        allow_empty: accept a response without images (``send_images: false``).

    Raises:
        ArliResponseError: the body is not an object, an image is not valid base64 or not
            an image, or no image came back (unless ``allow_empty``).
    """
    if not isinstance(data, dict):
        msg = f"the {operation} response is not a JSON object: {json.dumps(data)[:200]}"
        raise ArliResponseError(msg, body=json.dumps(data)[:300])
    items: Sequence[Any]
    if isinstance(data.get("images"), list):
        items = data["images"]
    elif data.get("image") is not None:
        items = [data["image"]]
    else:
        items = []
    info_text = data.get("html_info") if isinstance(data.get("html_info"), str) else None
    info = GenerationInfo.from_raw(data.get("info"), text=info_text)
    images: list[GeneratedImage] = []
    for index, item in enumerate(items):
        raw = _decode_b64_image(item, index)
        mime = sniff_mime(raw[:16])
        if mime is None or not mime.startswith("image/"):
            msg = (
                f"image {index} of the {operation} response is not a recognized image format "
                f"(starts with {raw[:8]!r})"
            )
            raise ArliResponseError(msg)
        size = image_size(raw)
        images.append(
            GeneratedImage(
                data=raw,
                mime_type=mime,
                index=index,
                seed=info.seed_of(index),
                width=size[0] if size else None,
                height=size[1] if size else None,
                infotext=info.infotext_of(index),
                max_pixels=max_pixels,
            )
        )
    if not images and not allow_empty:
        detail = info.text or (json.dumps(data)[:200] if data else "an empty object")
        msg = f"the {operation} response holds no image: {detail}"
        raise ArliResponseError(msg, body=json.dumps(data)[:300])
    params = data.get("parameters")
    return ImageResult(
        images=images,
        info=info,
        operation=operation,
        model=info.model or requested_model,
        parameters=params if isinstance(params, dict) else {},
    )

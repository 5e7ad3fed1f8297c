"""Server listings of the image API: models, samplers, upscalers and the parallel limit.

Every parser accepts the objects SDNext sends and the bare names Arli's gateway sends;
an entry field of an unexpected type is dropped rather than failing the listing.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from arli._errors import ArliResponseError
from arli.images.info import _validate_dropping

__all__ = [
    "parse_models",
    "parse_parallel_requests",
    "parse_samplers",
    "parse_upscalers",
    "ImageModel",
    "ParallelRequests",
    "Sampler",
    "Upscaler",
]


class _Listed(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=(), frozen=True)


class ImageModel(_Listed):
    """An image model (checkpoint) from ``sd-models``.

    The server answers with objects (``{title, model_name, hash, ...}``) or, on Arli's
    gateway, with bare names; both become this type.

    Attributes:
        title: the SDNext title (``"sdxl/sdxl-base [31e35c80fc]"``) or the name.
        model_name: the short name (use it as ``model``).
        hash: the short hash, when known.
        sha256: the full hash, when known.
        filename: the server-side file, when given.
        type: ``safetensors``, ``diffusers``..., when given.
    """

    title: str
    model_name: str
    hash: str | None = None
    sha256: str | None = None
    filename: str | None = None
    type: str | None = None

    @property
    def name(self) -> str:
        """The name to pass as ``model`` (``model_name``)."""
        return self.model_name or self.title


class Sampler(_Listed):
    """A sampler from ``samplers`` (SDNext: ``{name, options}``; A1111 adds ``aliases``)."""

    name: str
    aliases: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)


class Upscaler(_Listed):
    """An upscaler from ``upscalers`` (``{name, model_name, model_path, model_url, scale}``)."""

    name: str
    model_name: str | None = None
    model_path: str | None = None
    model_url: str | None = None
    scale: float | None = None


class ParallelRequests(_Listed):
    """Arli's ``/v1/parallel-requests``: the key's parallel limit and what is free now.

    Attributes:
        parallel_requests: how many image requests may run at once.
        remaining: how many more may start now (at the time of the call).
        message: the server's text.
    """

    parallel_requests: int = Field(ge=1)
    remaining: int | None = None
    message: str | None = None


def _as_list(data: Any, what: str) -> list[Any]:
    if isinstance(data, dict):
        for key in ("data", "models", "items", what):
            if isinstance(data.get(key), list):
                return list(data[key])
    if isinstance(data, list):
        return data
    msg = f"the {what} listing is not a list: {json.dumps(data)[:200]}"
    raise ArliResponseError(msg, body=json.dumps(data)[:300])


def parse_models(data: Any) -> list[ImageModel]:
    """Parse ``sd-models``: objects (``title``/``model_name``) or bare name strings."""
    out: list[ImageModel] = []
    for item in _as_list(data, "sd-models"):
        if isinstance(item, str):
            out.append(ImageModel(title=item, model_name=item))
        elif isinstance(item, dict):
            title = item.get("title") or item.get("model_name") or item.get("name")
            if not title:
                continue
            name = item.get("model_name") or str(title).split(" [", 1)[0]
            entry = _validate_dropping(
                ImageModel, {**item, "title": str(title), "model_name": str(name)}, "title"
            )
            if entry is not None:
                out.append(entry)
    return out


def parse_samplers(data: Any) -> list[Sampler]:
    """Parse ``samplers``: ``{name, options[, aliases]}`` objects or names."""
    out: list[Sampler] = []
    for item in _as_list(data, "samplers"):
        if isinstance(item, str):
            out.append(Sampler(name=item))
        elif isinstance(item, dict) and item.get("name"):
            aliases = item.get("aliases") or []
            options = item.get("options") or {}
            entry = _validate_dropping(
                Sampler,
                {
                    **item,
                    "name": str(item["name"]),
                    "aliases": [str(a) for a in aliases] if isinstance(aliases, list) else [],
                    "options": options if isinstance(options, dict) else {},
                },
                "name",
            )
            if entry is not None:
                out.append(entry)
    return out


def parse_upscalers(data: Any) -> list[Upscaler]:
    """Parse ``upscalers``: ``{name, scale, ...}`` objects or names."""
    out: list[Upscaler] = []
    for item in _as_list(data, "upscalers"):
        if isinstance(item, str):
            out.append(Upscaler(name=item))
        elif isinstance(item, dict) and item.get("name"):
            scale = item.get("scale")
            clean = {
                **item,
                "name": str(item["name"]),
                "scale": scale if isinstance(scale, (int, float)) else None,
            }
            entry = _validate_dropping(Upscaler, clean, "name")
            if entry is not None:
                out.append(entry)
    return out


def parse_parallel_requests(data: Any) -> ParallelRequests:
    """Parse ``/v1/parallel-requests``."""
    entry = None
    if isinstance(data, dict) and isinstance(data.get("parallel_requests"), int):
        entry = _validate_dropping(ParallelRequests, data, "parallel_requests")
    if entry is None:
        msg = f"unexpected /v1/parallel-requests answer: {json.dumps(data)[:200]}"
        raise ArliResponseError(msg, body=json.dumps(data)[:300])
    return entry

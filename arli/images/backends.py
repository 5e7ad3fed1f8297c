"""Image backends for the tools: Arli, the keyless Arli proxy, or AiArt — one tool interface.

The LangChain tools and the LlamaIndex tool spec take ``backend=``: a name or a client.
This module turns it into a client (:func:`make_image_backend`), says what each backend
can do (:func:`backend_supports`) and narrows an argument schema to what a backend accepts
(:func:`schema_for_backend`), so the two framework skins share one implementation.

* ``"arli"`` (default): :class:`~arli.ImageClient` with the key (``ARLI_IMAGE_KEY`` /
  ``ARLIAI_API_KEY``), Arli's ``/v1/...`` routes.
* ``"arli-proxy"``: :class:`~arli.ImageClient` for the keyless proxy
  (``ImageClient(provider="arli-proxy")``, base URL from ``base_url=`` or
  ``ARLI_PROXY_BASE_URL``); no key is ever sent to it.
* ``"aiart"``: :class:`~arli.AiArtClient` (keyless; ``AIART_BASE_URL``). It generates and
  edits (whole image, no mask) and makes videos; it has no upscaler, no model choice and no
  listings, takes only its five aspect ratios and no pixel size or step count.
"""

from __future__ import annotations

import copy
from typing import Any, Literal, TypeAlias, get_args

from pydantic import BaseModel, Field, create_model
from pydantic.json_schema import SkipJsonSchema

from arli._errors import ArliConfigError
from arli.images.aiart import AIART_ASPECT_RATIOS, AiArtAspectRatio, AiArtClient
from arli.images.client import ImageClient

__all__ = [
    "AIART_HIDDEN_ARGS",
    "BACKENDS",
    "BackendName",
    "ImageBackend",
    "backend_name",
    "backend_supports",
    "make_image_backend",
    "schema_for_backend",
    "unsupported_message",
]

BackendName = Literal["arli", "arli-proxy", "aiart"]
"""The image backends the tools can use by name."""

BACKENDS: tuple[str, ...] = get_args(BackendName)

ImageBackend: TypeAlias = ImageClient | AiArtClient
"""A client the image tools can drive."""

_Hidden: TypeAlias = SkipJsonSchema[Any]
"""An argument accepted (so that the toolbox can say why it is refused) but not shown."""

Capability = Literal["generate", "edit", "upscale", "listings", "video"]
"""What a tool needs from its backend."""

_CAPABILITIES: dict[str, frozenset[str]] = {
    "arli": frozenset({"generate", "edit", "upscale", "listings"}),
    "arli-proxy": frozenset({"generate", "edit", "upscale", "listings"}),
    "aiart": frozenset({"generate", "edit", "video"}),
}

#: Tool arguments that do not apply to AiArt, per operation, with the reason given to the
#: model when one is passed anyway (the schemas hide them).
AIART_HIDDEN_ARGS: dict[str, dict[str, str]] = {
    "generate": {
        "width": "it takes no pixel size, only an aspect_ratio (1:1, 4:3, 16:9, 9:16, 3:4)",
        "height": "it takes no pixel size, only an aspect_ratio (1:1, 4:3, 16:9, 9:16, 3:4)",
        "steps": "it chooses the number of steps itself",
        "model": "it has no model choice (set a style_preset in the tool's params instead)",
    },
    "edit": {
        "mask": "it has no inpainting: it reworks the whole image, so leave mask unset",
        "steps": "it chooses the number of steps itself",
        "model": "it has no model choice (set a style_preset in the tool's params instead)",
    },
}


def make_image_backend(
    backend: str | ImageClient | AiArtClient = "arli",
    *,
    api_key: Any = None,
    base_url: str | None = None,
    **options: Any,
) -> ImageClient | AiArtClient:
    """Build the client for ``backend`` (a client is returned as it is).

    Args:
        backend: ``"arli"``, ``"arli-proxy"``, ``"aiart"``, or an :class:`~arli.ImageClient`
            / :class:`~arli.AiArtClient` to use.
        api_key: the Arli image key; used by ``"arli"`` only (the proxy and AiArt are
            keyless, so no key is ever sent to them).
        base_url: the backend's base URL (each has its own default and environment
            variable: ``ARLI_IMAGE_BASE_URL``/``ARLI_BASE_URL``, ``ARLI_PROXY_BASE_URL``,
            ``AIART_BASE_URL``).
        **options: other client options (:class:`~arli.ArliSettings` fields, ``routes``
            for Arli, ``download_hosts`` for AiArt...).

    Raises:
        ArliConfigError: an unknown backend name, or a configuration the client refuses.
    """
    if isinstance(backend, (ImageClient, AiArtClient)):
        return backend
    if backend == "arli":
        return ImageClient(api_key=api_key, base_url=base_url, **options)
    if backend == "arli-proxy":
        return ImageClient(base_url=base_url, **{"provider": "arli-proxy", **options})
    if backend == "aiart":
        return AiArtClient(base_url=base_url, **options)
    msg = (
        f"unknown image backend {backend!r}: use one of {', '.join(BACKENDS)}, or pass an "
        "ImageClient or AiArtClient"
    )
    raise ArliConfigError(msg)


def backend_name(client: ImageClient | AiArtClient) -> str:
    """``"aiart"`` for an :class:`~arli.AiArtClient`, else the client's provider preset."""
    if isinstance(client, AiArtClient):
        return "aiart"
    return client.settings.provider


def backend_supports(client: ImageClient | AiArtClient, capability: str) -> bool:
    """Whether the backend of ``client`` can do ``capability`` (``"upscale"``, ``"video"``...)."""
    name = backend_name(client)
    return capability in _CAPABILITIES.get(name, _CAPABILITIES["arli"])


def unsupported_message(client: ImageClient | AiArtClient, capability: str) -> str:
    """Why ``capability`` is not available with the backend of ``client`` (for errors)."""
    name = backend_name(client)
    if capability == "video":
        return (
            f"image-to-video needs the AiArt backend (backend='aiart'); the {name!r} backend "
            "has no video API"
        )
    what = {"upscale": "upscaling", "listings": "model, sampler and upscaler listings"}.get(
        capability, capability
    )
    return (
        f"{what} is not available with the {name!r} backend: AiArt has no equivalent. Use "
        "backend='arli' or 'arli-proxy' for it"
    )


def schema_for_backend(
    schema: type[BaseModel], operation: str, client: ImageClient | AiArtClient
) -> type[BaseModel]:
    """``schema`` narrowed to what the backend of ``client`` accepts for ``operation``.

    For AiArt, the arguments it cannot use (:data:`AIART_HIDDEN_ARGS`) are left out of the
    JSON schema the model sees (still accepted, so that a model passing one anyway gets the
    toolbox's error saying why) and ``aspect_ratio`` becomes one of its five ratios; every
    other argument keeps its type, constraints and description. Other backends get
    ``schema`` unchanged.

    Args:
        schema: the tool's argument model.
        operation: ``"generate"`` or ``"edit"`` (others are returned unchanged).
        client: the backend's client.
    """
    hidden = AIART_HIDDEN_ARGS.get(operation)
    if backend_name(client) != "aiart" or hidden is None:
        return schema
    fields: dict[str, Any] = {}
    for name, info in schema.model_fields.items():
        if name in hidden:
            fields[name] = (_Hidden, Field(default=None))
            continue
        if name == "aspect_ratio":
            description = (
                f"Shape of the image (width:height), one of {', '.join(AIART_ASPECT_RATIOS)}."
            )
            fields[name] = (AiArtAspectRatio | None, Field(default=None, description=description))
        else:
            fields[name] = (info.annotation, copy.copy(info))
    narrowed: type[BaseModel] = create_model(schema.__name__, __doc__=schema.__doc__, **fields)
    return narrowed

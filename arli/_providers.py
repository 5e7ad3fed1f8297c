"""Provider presets: the systems the core can talk to, and what differs between them.

One core serves them all; a preset only changes defaults and checks:

* ``"arli"``: api.arliai.com — text (vLLM/Aphrodite, every sampler extra, guided
  decoding, vision by base64 only) and images (SDNext); keys ``ARLI_TEXT_KEY`` /
  ``ARLI_IMAGE_KEY`` / ``ARLIAI_API_KEY``; 6 parallel image requests.
* ``"featherless"``: api.featherless.ai — OpenAI-compatible text only, with the
  parameters Featherless documents (anything else is rejected before sending), vision by
  URL or base64 (URLs pass through); key ``FEATHERLESS_API_KEY``; ``/v1/models`` takes
  ``available_on_current_plan``.
* ``"arli-proxy"``: the keyless proxy in front of Arli (generate.kim8.s4s.host/api); text
  at ``/v1/...``, images at ``/<endpoint>/sdapi/v1/<endpoint>``; at most 6 requests in
  parallel in all (text and images share the one limit its document gives: a 7th gets a
  429), 300 s for images, 30 s for listings, 502 for upstream errors; no key is ever sent
  to it.
* ``"aiart"``: AiArt (aiart-zroo.onrender.com), a keyless image service with its own API
  (``/api/generate``, ``/api/img2img``, ``/api/img2video``), served by
  :class:`arli.images.aiart.AiArtClient`; no text API, no SDNext routes; base URL from
  ``AIART_BASE_URL``; no documented parallel limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from arli._errors import ArliConfigError

__all__ = [
    "FEATHERLESS_PARAMS",
    "PROVIDERS",
    "Provider",
    "ProviderParams",
    "TextProvider",
    "check_text_provider",
    "get_provider",
]

TextProvider = Literal["arli", "arli-proxy", "featherless"]
"""The presets with a text API (what the text adapters' ``provider`` field takes)."""


class ProviderParams(frozenset[str]):
    """The parameter names a provider documents, with the ranges it documents for them.

    A plain ``frozenset`` of names (``name in params`` works as before) plus ``ranges``:
    the provider's own bounds, checked on top of the general ones of
    :class:`~arli.text.params.SamplingParams` (a provider may only be stricter).
    """

    #: name -> ``(low, high, low_open)``; both ends included unless ``low_open``.
    ranges: Mapping[str, tuple[float, float, bool]]

    def __new__(
        cls, names: Iterable[str], ranges: Mapping[str, tuple[float, float, bool]] | None = None
    ) -> ProviderParams:
        """Build the set from ``names`` and the per-name ``ranges``."""
        self = super().__new__(cls, names)
        self.ranges = MappingProxyType(dict(ranges or {}))
        return self


#: The sampling parameters Featherless documents (seed 002 of our sources), with the ranges
#: it gives: temperature 0-2, top_p 0-1 (the engine also refuses 0), penalties 0-2.
FEATHERLESS_PARAMS = ProviderParams(
    {
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "repetition_penalty",
        "presence_penalty",
        "frequency_penalty",
        "stop",
        "seed",
        "max_tokens",
    },
    {
        "temperature": (0, 2, False),
        "top_p": (0, 1, True),
        "presence_penalty": (0, 2, False),
        "frequency_penalty": (0, 2, False),
    },
)


@dataclass(frozen=True)
class Provider:
    """What a system needs from the core.

    Attributes:
        name: the preset name.
        label: a human name for messages ("Featherless AI").
        base_url: the default base URL (routes add ``/v1/...`` themselves).
        base_url_env: environment variables for the base URL, in order.
        text_key_env: environment variables for the text key, in order.
        image_key_env: environment variables for the image key, in order.
        require_key: whether calls need a key.
        has_text: the provider serves the text API.
        has_images: the provider serves the SDNext image API.
        text_params: the parameters it accepts (``None``: every Arli parameter).
        inline_image_urls: download image URLs and send base64 (the provider does not
            take URLs) — ``False`` when it does.
        image_routes: the image route preset (``"arli"``, ``"sdapi"`` or ``"proxy"``).
        image_model_required: txt2img/img2img need ``sd_model_checkpoint`` (Arli's image
            API references, seeds 001 and 002; the proxy's reference, seed 000, makes it
            optional).
        image_max_concurrency: image requests in flight at most.
        text_max_concurrency: text requests in flight at most by default (``None``: no
            limit unless one is set; Arli's and Featherless's depend on the plan).
        max_parallel: the most parallel requests the service allows at all (``None``: not
            documented); a larger limit is refused.
        shared_limit: text and image requests count against one limit (the proxy's 6).
        sends_key: keys are sent; ``False`` drops them (a keyless third-party proxy must
            never see an Arli key, even one found in the environment).
        plan_filter: ``GET /v1/models`` takes ``available_on_current_plan`` (0 = every
            model, 1 = the models of the key's plan).
        image_timeout: read timeout of image generation.
        listing_timeout: read timeout of listings.
    """

    name: str
    label: str
    base_url: str
    base_url_env: tuple[str, ...] = ()
    text_key_env: tuple[str, ...] = ()
    image_key_env: tuple[str, ...] = ()
    require_key: bool = True
    has_text: bool = True
    has_images: bool = True
    text_params: frozenset[str] | None = None
    inline_image_urls: bool = True
    image_routes: str = "arli"
    image_model_required: bool = True
    image_max_concurrency: int | None = 6
    text_max_concurrency: int | None = None
    max_parallel: int | None = None
    shared_limit: bool = False
    sends_key: bool = True
    plan_filter: bool = False
    image_timeout: float = 300.0
    listing_timeout: float = 30.0


PROVIDERS: dict[str, Provider] = {
    "arli": Provider(
        name="arli",
        label="Arli",
        base_url="https://api.arliai.com",
        base_url_env=("ARLI_BASE_URL",),
        text_key_env=("ARLI_TEXT_KEY", "ARLIAI_API_KEY"),
        image_key_env=("ARLI_IMAGE_KEY", "ARLIAI_API_KEY"),
    ),
    "featherless": Provider(
        name="featherless",
        label="Featherless AI",
        base_url="https://api.featherless.ai",
        base_url_env=("FEATHERLESS_BASE_URL",),
        text_key_env=("FEATHERLESS_API_KEY",),
        has_images=False,
        text_params=FEATHERLESS_PARAMS,
        inline_image_urls=False,
        image_max_concurrency=None,
        plan_filter=True,
    ),
    "arli-proxy": Provider(
        name="arli-proxy",
        label="the keyless Arli proxy",
        base_url="https://generate.kim8.s4s.host/api",
        base_url_env=("ARLI_PROXY_BASE_URL",),
        require_key=False,
        image_routes="proxy",
        image_model_required=False,
        text_max_concurrency=6,
        max_parallel=6,
        shared_limit=True,
        sends_key=False,
    ),
    "aiart": Provider(
        name="aiart",
        label="AiArt",
        base_url="https://aiart-zroo.onrender.com",
        base_url_env=("AIART_BASE_URL",),
        require_key=False,
        has_text=False,
        has_images=False,  # not the SDNext API: AiArtClient speaks AiArt's own routes
        image_max_concurrency=None,
    ),
}


def get_provider(name: str) -> Provider:
    """The preset called ``name``.

    Raises:
        ValueError: for an unknown name (listing the known ones).
    """
    try:
        return PROVIDERS[name]
    except KeyError:
        msg = f"unknown provider {name!r}; known providers: {', '.join(sorted(PROVIDERS))}"
        raise ValueError(msg) from None


def check_text_provider(name: str, *, allowed: tuple[str, ...], owner: str) -> Provider:
    """The preset ``name`` for the text adapter ``owner``, which serves the ``allowed`` ones.

    Raises:
        ArliConfigError: naming the adapter's providers (and the classes for the others).
    """
    if name not in allowed:
        choices = " or ".join(repr(a) for a in allowed)
        msg = (
            f"{owner} takes provider={choices}, not {name!r}; Featherless AI has its own "
            "classes (ChatFeatherless, FeatherlessLLM, llama_index_arli.Featherless) and "
            "Arli and its keyless proxy theirs (ChatArli, ArliLLM, llama_index_arli.Arli)"
        )
        raise ArliConfigError(msg)
    return get_provider(name)

"""What a server says about its models: their context windows (``max_model_len``).

``GET /v1/models`` is read at most once per base URL in the process (:func:`server_max_model_len`):
its answer, or its failure, is remembered, so metadata and profiles never make a second
request and never fail. A skin that reports a context window (LlamaIndex ``LLMMetadata``,
LangChain's ``profile["max_input_tokens"]``) holds a :class:`ContextWindow` per model, which
reads that shared listing. What the documents say of each model is in :mod:`arli.text.catalog`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from arli.text.client import TextClient
from arli.text.parse import ModelInfo

__all__ = [
    "ContextWindow",
    "aserver_max_model_len",
    "forget_listings",
    "server_max_model_len",
]

logger = logging.getLogger(__name__)

_UNKNOWN = -1  # looked up: the server did not say (or the lookup failed)


# base URL -> {model id: max_model_len (0: not given)}; an empty dict: the lookup failed.
_LISTINGS: dict[str, dict[str, int]] = {}
_LOCK = threading.Lock()


def _base_url(client: TextClient) -> str:
    return str(client.transport.base_url)


def _listing(models: list[ModelInfo] | None) -> dict[str, int]:
    return {m.id: m.max_model_len or 0 for m in models or ()}


def _known(url: str, model: str) -> int | None:
    listing = _LISTINGS.get(url)
    if listing is None:
        return None
    return listing.get(model) or _UNKNOWN


def server_max_model_len(client: TextClient, model: str, *, lookup: bool = True) -> int | None:
    """The server's ``max_model_len`` for ``model`` (``-1``: it does not say).

    ``None`` when the listing has not been read yet and ``lookup`` is False.

    The first call per base URL reads ``GET /v1/models`` (a failure is logged at debug level
    and remembered as "does not say"); every later call answers from memory.
    """
    url = _base_url(client)
    found = _known(url, model)
    if found is not None or not lookup:
        return found
    with _LOCK:  # one lookup per base URL, also when threads ask at once
        found = _known(url, model)
        if found is not None:
            return found
        try:
            models: list[ModelInfo] | None = client.list_models()
        except Exception as exc:  # noqa: BLE001 - metadata must not fail; fall back
            logger.debug("model listing failed: %s: %s", type(exc).__name__, exc)
            models = None
        _LISTINGS[url] = _listing(models)
    return _known(url, model)


async def aserver_max_model_len(client: TextClient, model: str) -> int:
    """Async :func:`server_max_model_len` (the lookup runs on the event loop)."""
    url = _base_url(client)
    found = _known(url, model)
    if found is not None:
        return found
    try:
        models: list[ModelInfo] | None = await client.alist_models()
    except Exception as exc:  # noqa: BLE001 - metadata must not fail; fall back
        logger.debug("model listing failed: %s: %s", type(exc).__name__, exc)
        models = None
    _LISTINGS.setdefault(url, _listing(models))
    return _known(url, model) or _UNKNOWN


@dataclass(slots=True)
class ContextWindow:
    """The context window of one model on one server, looked up at most once.

    Attributes:
        looked_up: ``None`` before the lookup; then the server's ``max_model_len``, or
            ``-1`` when the lookup failed or the server did not give one.
    """

    looked_up: int | None = None

    def known(self, fallback: int) -> int:
        """The looked-up context window, else ``fallback`` (never makes a request)."""
        found = self.looked_up
        return found if found is not None and found > 0 else fallback

    def get(self, client: TextClient, model: str, fallback: int) -> int:
        """The context window, looking it up the first time (a failure falls back)."""
        if self.looked_up is None:
            self.looked_up = server_max_model_len(client, model) or _UNKNOWN
        return self.known(fallback)

    async def aget(self, client: TextClient, model: str, fallback: int) -> int:
        """Async :meth:`get` (the lookup runs on the event loop)."""
        if self.looked_up is None:
            self.looked_up = await aserver_max_model_len(client, model)
        return self.known(fallback)


def forget_listings() -> None:
    """Forget every remembered listing (the next lookup per base URL reads it again)."""
    with _LOCK:
        _LISTINGS.clear()

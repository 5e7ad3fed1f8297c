"""What a server says about a model: its context window (``max_model_len``), looked up once.

A skin that must report a context window (LlamaIndex ``LLMMetadata``) holds one
:class:`ContextWindow` per model: the first lookup reads ``GET /v1/models``; its answer, or
its failure, is remembered, so metadata never makes a second request and never fails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from arli.text.client import TextClient
from arli.text.parse import ModelInfo

__all__ = ["ContextWindow", "max_model_len_of"]

logger = logging.getLogger(__name__)

_UNKNOWN = -1  # looked up: the server did not say (or the lookup failed)


def max_model_len_of(models: list[ModelInfo] | None, model: str) -> int | None:
    """The ``max_model_len`` the listing gives ``model`` (``None``: not listed, or not given)."""
    found = next((m.max_model_len for m in models or () if m.id == model), None)
    return found or None


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
            try:
                models: list[ModelInfo] | None = client.list_models()
            except Exception as exc:  # noqa: BLE001 - metadata must not fail; fall back
                logger.debug("context window lookup failed: %s: %s", type(exc).__name__, exc)
                models = None
            self._remember(models, model)
        return self.known(fallback)

    async def aget(self, client: TextClient, model: str, fallback: int) -> int:
        """Async :meth:`get` (the lookup runs on the event loop)."""
        if self.looked_up is None:
            try:
                models: list[ModelInfo] | None = await client.alist_models()
            except Exception as exc:  # noqa: BLE001 - metadata must not fail; fall back
                logger.debug("context window lookup failed: %s: %s", type(exc).__name__, exc)
                models = None
            self._remember(models, model)
        return self.known(fallback)

    def _remember(self, models: list[ModelInfo] | None, model: str) -> None:
        self.looked_up = max_model_len_of(models, model) or _UNKNOWN

"""Sharing: one transport per configuration, one limiter per key, and the clients' lifecycle."""

from __future__ import annotations

import threading
import weakref
from typing import Any, Self

import httpx

from arli._limits import Limiter, get_limiter
from arli._providers import get_provider
from arli._settings import Api, ArliSettings
from arli._transport.policy import RetryPolicy
from arli._transport.transport import Transport

__all__ = ["PooledClient", "get_transport", "limiter_key", "shared_limiter"]


def limiter_key(
    settings: ArliSettings, api: Api, *, base_url: str | None = None
) -> tuple[str, str, str]:
    """``(base URL, key fingerprint, scope)``: what one process-wide limiter is for.

    The scope is the API, or ``"all"`` when the provider has one limit for both (the
    keyless proxy's 6 counts text and image requests together).
    """
    scope = "all" if get_provider(settings.provider).shared_limit else api
    return (base_url or settings.base_url_for(api), settings.key_fingerprint(api), scope)


def shared_limiter(
    settings: ArliSettings, api: Api, *, base_url: str | None = None
) -> Limiter | None:
    """The process-wide in-flight limiter of ``(base URL, key, api)`` (``None``: no limit).

    Every client of the same key and base URL shares it, whatever adapter built it.
    Setting a limit (re)sets it for all of them.
    """
    limit = settings.max_concurrency_for(api)
    if limit is None:
        return None
    return get_limiter(*limiter_key(settings, api, base_url=base_url), limit)


_transports: weakref.WeakValueDictionary[tuple[Any, ...], Transport] = weakref.WeakValueDictionary()
_transports_lock = threading.Lock()


def get_transport(
    settings: ArliSettings,
    api: Api,
    *,
    http_client: httpx.Client | None = None,
    http_async_client: httpx.AsyncClient | None = None,
    base_url: str | None = None,
    limiter: Limiter | None = None,
) -> Transport:
    """Return the shared transport for ``(settings, api)``, creating it when needed.

    Objects built from equal settings share one connection pool. Injected httpx clients,
    and a ``limiter`` of the caller's (one wrapping the process-wide limiter, as OCR's
    attempt counter does), always get a transport of their own. The in-flight limiter is
    shared more widely: by every transport of the same base URL, key and API (and of both
    APIs when the provider has one limit for all, as the keyless proxy does).

    Raises:
        ArliConfigError: when the API needs a key and none is configured.
    """
    authorization = settings.authorization_for(api)
    url = base_url or settings.base_url_for(api)
    fingerprint = settings.key_fingerprint(api)

    def build() -> Transport:
        own = limiter if limiter is not None else shared_limiter(settings, api, base_url=url)
        return Transport(
            base_url=url,
            api=api,
            authorization=authorization,
            connect_timeout=settings.connect_timeout,
            read_timeouts={
                "text": settings.text_timeout,
                "image": settings.image_timeout,
                "listing": settings.listing_timeout,
            },
            retry=RetryPolicy(
                max_retries=settings.max_retries,
                max_retry_after=settings.max_retry_after,
                initial_backoff=settings.retry_initial_backoff,
                max_backoff=settings.retry_max_backoff,
                retry_read_timeouts=settings.retry_read_timeouts,
            ),
            limiter=own,
            limiter_key=limiter_key(settings, api, base_url=url),
            headers=settings.default_headers,
            http_client=http_client,
            http_async_client=http_async_client,
        )

    if http_client is not None or http_async_client is not None or limiter is not None:
        return build()
    key = (
        api,
        url,
        fingerprint,
        settings.model_dump_json(exclude={"text_api_key", "image_api_key"}),
    )
    with _transports_lock:
        transport = _transports.get(key)
        if transport is None:
            transport = build()
            _transports[key] = transport
        return transport


class PooledClient:
    """What every client built on a :class:`Transport` shares: its lifecycle.

    ``close()``/``aclose()`` release the pooled connections (they reopen if the client is
    used again), and the client is a sync and async context manager.
    """

    _transport: Transport

    @property
    def transport(self) -> Transport:
        """The transport (pooled connections, retries, limiter) this client uses."""
        return self._transport

    def close(self) -> None:
        """Close the pooled connections (the client reopens them if used again)."""
        self._transport.close()

    async def aclose(self) -> None:
        """Close the pooled connections, including the running loop's async pool."""
        await self._transport.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

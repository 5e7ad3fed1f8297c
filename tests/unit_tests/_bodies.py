"""A mock response body for ``httpx.MockTransport`` that can break like a reset connection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx


class BreakingBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Yields ``chunks``; raises ``httpx.ReadError`` at index ``breaks_after`` (may be the end)."""

    def __init__(self, chunks: tuple[bytes, ...], breaks_after: int | None = None) -> None:
        self.chunks = chunks
        self.breaks_after = breaks_after

    def _chunks(self) -> Iterator[bytes]:
        for n, chunk in enumerate(self.chunks):
            if n == self.breaks_after:
                raise httpx.ReadError("connection reset")
            yield chunk
        if self.breaks_after == len(self.chunks):
            raise httpx.ReadError("connection reset")

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks():
            yield chunk

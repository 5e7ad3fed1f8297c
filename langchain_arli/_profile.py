"""``ChatArli.profile``: the model's capabilities, with its context window read lazily.

The capabilities come from :func:`arli.text.catalog.capabilities` (what the documents say
of the model, plus what this package does for every model). ``max_input_tokens`` is the
server's ``max_model_len``: :class:`LazyProfile` reads it from ``GET /v1/models`` the first
time any key of the profile is read — once per base URL in the process, never while
building the model and never on a call's path; a failed lookup leaves the key out.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["LazyProfile"]


class LazyProfile(dict[str, Any]):
    """A ``ModelProfile`` dict that adds ``max_input_tokens`` on its first read.

    Args:
        known: the capabilities known without a request.
        max_input_tokens: returns the server's context window (or ``None``); called once.
            ``None`` when there is nothing left to look up.
    """

    __slots__ = ("_pending",)

    def __init__(
        self, known: dict[str, Any], max_input_tokens: Callable[[], int | None] | None
    ) -> None:
        super().__init__(known)
        self._pending: Callable[[], int | None] | None = max_input_tokens

    def known(self) -> dict[str, Any]:
        """The keys known so far, without the lazy lookup."""
        return {key: dict.__getitem__(self, key) for key in dict.keys(self)}

    def _resolve(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            found = pending()
            if found is not None and found > 0:
                super().__setitem__("max_input_tokens", found)

    def __getitem__(self, key: str) -> Any:
        self._resolve()
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        """``dict.get``, after the lazy lookup."""
        self._resolve()
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._resolve()
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self._resolve()
        return super().__iter__()

    def __deepcopy__(self, memo: dict[int, Any]) -> LazyProfile:
        # The lookup is a method of the model: the model's deep copy derives its own.
        return LazyProfile(copy.deepcopy(self.known(), memo), self._pending)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled without the lookup (pickle would read every item, so request the listing).
        return (LazyProfile, (self.known(), self._pending))

    def __bool__(self) -> bool:
        # LangChain's serializer asks bool(field) on every call: answer without the lookup
        return True

    def __len__(self) -> int:
        self._resolve()
        return super().__len__()

    def keys(self) -> Any:
        """``dict.keys``, after the lazy lookup."""
        self._resolve()
        return super().keys()

    def items(self) -> Any:
        """``dict.items``, after the lazy lookup."""
        self._resolve()
        return super().items()

    def values(self) -> Any:
        """``dict.values``, after the lazy lookup."""
        self._resolve()
        return super().values()

    def __eq__(self, other: object) -> bool:
        self._resolve()
        return super().__eq__(other)

    __hash__ = None

    def __repr__(self) -> str:
        self._resolve()
        return super().__repr__()

    def copy(self) -> dict[str, Any]:
        """A plain dict copy, after the lazy lookup."""
        self._resolve()
        return dict(super().items())

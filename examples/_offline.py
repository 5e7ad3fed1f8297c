"""Run an example offline: start the local reference server from the checkout's tests/.

The reference server speaks Arli's wire formats and answers from a small script, so an
example shows the real request and response flow without a key or a network. Without
``--offline`` the examples talk to the real service with your ``ARLIAI_API_KEY``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEY = "offline-example-key"


def _checkout() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def script_entry(**fields: Any) -> Any:
    """A reference-server script entry (``match``, ``reply``, ``tool_call``...)."""
    _checkout()
    from tests.reference_server import ScriptEntry

    return ScriptEntry(**fields)


@contextmanager
def offline_server(script: list[Any] | None = None, **options: Any) -> Iterator[dict[str, str]]:
    """Start the reference server; yield ``{"api_key", "base_url"}`` for it."""
    _checkout()
    from tests.reference_server import ReferenceServer

    with ReferenceServer(api_key=KEY, script=script, **options) as server:
        yield {"api_key": KEY, "base_url": server.url}

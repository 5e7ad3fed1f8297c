"""What every example shares: its command line and its connection, real or offline.

``--offline`` starts the local reference server from the checkout's tests/: it speaks
Arli's wire formats and answers from a small script, so an example shows the real request
and response flow without a key or a network. Without ``--offline`` the examples talk to
the real service with your ``ARLIAI_API_KEY`` (the clients read it from the environment).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEY = "offline-example-key"


def _checkout() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def example_parser(doc: str | None) -> argparse.ArgumentParser:
    """The example's command line: the first line of ``doc`` as description, ``--offline``."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    parser.add_argument("--offline", action="store_true", help="use the local reference server")
    return parser


def script_entry(**fields: Any) -> Any:
    """A reference-server script entry (``match``, ``reply``, ``tool_call``...)."""
    _checkout()
    from tests.reference_server import ScriptEntry

    return ScriptEntry(**fields)


@contextmanager
def connection(
    offline: bool,
    script: Callable[[], list[Any]] | None = None,
    *,
    demo: bool = False,
    **options: Any,
) -> Iterator[dict[str, str]]:
    """The client options for the example: ``{}`` (the real service), or the local server's.

    Args:
        offline: start the reference server and yield ``{"api_key", "base_url"}`` for it.
        script: builds the server's script (called only when ``offline``).
        demo: answer with the script and models of ``arli demo`` instead.
        **options: other reference server options (``models=``...).
    """
    if not offline:
        yield {}
        return
    _checkout()
    from tests.reference_server import ReferenceServer

    entries = script() if script is not None else None
    if demo:
        from tests.demo_script import DEMO_MODELS, DEMO_SCRIPT

        entries, options = list(DEMO_SCRIPT), {"models": DEMO_MODELS, **options}
    with ReferenceServer(api_key=KEY, script=entries, **options) as server:
        yield {"api_key": KEY, "base_url": server.url}

"""Live tier: tests against a real vLLM server started by `make test-live`.

Every test under tests/live is marked `live`, so the default run (`-m 'not live'` in
pyproject's addopts) deselects them and `make test-live` (`pytest -m live tests/live`)
selects them. The server's address comes from the environment that
scripts/live/with_server.sh sets; without it the tests fail instead of skipping, so a
misconfigured live run can never pass silently.
"""

import os
from pathlib import Path

import pytest

LIVE_DIR = Path(__file__).resolve().parent

_HOW = (
    "The live tests need a running vLLM server: start the server with `make test-live` "
    "(or run a command under scripts/live/with_server.sh, or `scripts/live/server.sh start` "
    "and export the variables from build/live/server.env)."
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: add the marker before the -m selection deselects items.
    for item in items:
        if LIVE_DIR in item.path.resolve().parents:
            item.add_marker(pytest.mark.live)


def _require_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        pytest.fail(f"{name} is not set. {_HOW}", pytrace=False)
    return value


@pytest.fixture(scope="session")
def live_base_url() -> str:
    """Base URL of the live vLLM server, e.g. http://127.0.0.1:40123 (no /v1 suffix)."""
    return _require_env("ARLI_LIVE_BASE_URL").rstrip("/")


@pytest.fixture(scope="session")
def live_model() -> str:
    """Served model name of the live vLLM server (`tiny`)."""
    return _require_env("ARLI_LIVE_MODEL")

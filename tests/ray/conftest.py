"""The Ray tier: a local Ray cluster (2 CPUs, no dashboard) shared by the tests of this folder.

Ray is an optional extra (``pip install "arli-integrations[ray]"``). Without it every test
here is skipped, with that reason, and nothing else changes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

try:
    import ray
except ImportError:  # pragma: no cover - depends on the environment
    ray = None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip this folder's tests, saying why, when Ray is not installed."""
    if ray is not None:
        return
    skip = pytest.mark.skip(reason='Ray is not installed: pip install "arli-integrations[ray]"')
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """A local Ray started once for the session: ``ray.init(num_cpus=2)``."""
    assert ray is not None
    pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": pythonpath}},
    )
    try:
        yield ray
    finally:
        ray.shutdown()

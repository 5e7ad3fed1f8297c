"""The bulk OCR job on a local Ray (2 CPUs) against the reference server.

The server answers each page with "An image of WxH pixels." and every page of the corpus
has its own size, so each answer says which page it belongs to. It also counts the text
requests in flight (``max_in_flight_text``) and refuses the ones above its limit with a
429 (``rate_limited``): the cluster-wide cap is checked by the server itself.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from arli.ocr.job import ray_runner
from arli.ocr.job.ray_runner import RayOptions
from arli.ocr.job.runner import run_job
from arli.ocr.job.tasks import JobOptions, PageTask
from tests.ocr_helpers import encode, page_image, pillow_pdf
from tests.reference_server import ReferenceServer

KEY = "test-key"
MODEL = "Mistral-Nemo-12B-Instruct-2407"
CHAT = "/v1/chat/completions"
CAP = 2
FAST_RETRIES = {"retry_initial_backoff": 0.01, "retry_max_backoff": 0.05}


def corpus(root: Path) -> tuple[list[str], int]:
    """Two PDFs (3 and 4 pages) and a PNG in a folder; every page a distinct size."""
    root.mkdir()
    width = iter(range(301, 400))
    (root / "a.pdf").write_bytes(
        pillow_pdf([page_image("A", (next(width), 200)) for _ in range(3)])
    )
    sub = root / "sub"
    sub.mkdir()
    (sub / "b.pdf").write_bytes(pillow_pdf([page_image("B", (next(width), 210)) for _ in range(4)]))
    (root / "c.png").write_bytes(encode(page_image("C", (next(width), 220)), "PNG"))
    return [str(root)], 8


def options(srv: ReferenceServer, **extra: Any) -> JobOptions:
    return JobOptions(
        model=MODEL,
        api_key=SecretStr(KEY),
        base_url=srv.url,
        dpi=72,
        max_in_flight=CAP,
        engine_options=dict(FAST_RETRIES),
        **extra,
    )


def ray_options(tmp_path: Path, **extra: Any) -> RayOptions:
    extra.setdefault("cache", f"file://{tmp_path / 'shared-cache'}")
    return RayOptions(
        actors=2,
        pages_per_actor=3,
        cpus_per_actor=0.5,
        lease_seconds=1.0,
        slot_actor=f"test-{uuid.uuid4().hex}",
        **extra,
    )


def outputs(out: Path, *, without_attempts: bool = False) -> dict[str, str]:
    """Every output file but the report (which has timings) and the cache.

    ``without_attempts``: drop the ``attempts`` of each page record. A page answered from
    the page cache records the requests *this* run sent for it (0), so a run that reuses
    pages transcribed by an earlier (or a killed) worker differs from a fresh run there
    and only there.
    """
    files = {
        p.relative_to(out).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(out.rglob("*"))
        if p.is_file()
        and p.name not in ("report.json", "job.json")
        and "cache" not in p.relative_to(out).parts
    }
    if without_attempts:
        lines = [json.loads(line) for line in files["pages.jsonl"].splitlines()]
        for line in lines:
            line.pop("attempts")
        files["pages.jsonl"] = "\n".join(json.dumps(line, sort_keys=True) for line in lines)
    return files


def without_attempts(files: dict[str, str]) -> dict[str, str]:
    lines = [json.loads(line) for line in files["pages.jsonl"].splitlines()]
    for line in lines:
        line.pop("attempts")
    return {**files, "pages.jsonl": "\n".join(json.dumps(line, sort_keys=True) for line in lines)}


@pytest.fixture
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(api_key=KEY, text_latency=0.3, text_parallel_limit=CAP) as srv:
        yield srv


@pytest.fixture
def local_run(server: ReferenceServer, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """The single-machine job over the corpus: its outputs are the reference."""
    inputs, pages = corpus(tmp_path / "in")
    result = run_job(inputs, tmp_path / "local", options(server), show_progress=False)
    assert result.state == "complete"
    assert result.report["pages"]["ok"] == pages
    server.reset()
    return inputs, outputs(tmp_path / "local")


def test_ray_outputs_equal_the_local_run_and_the_cap_holds(
    ray_cluster: Any, server: ReferenceServer, local_run: Any, tmp_path: Path
) -> None:
    inputs, expected = local_run
    result = ray_runner.run_job(
        inputs,
        tmp_path / "ray",
        options(server),
        ray_options=ray_options(tmp_path),
        show_progress=False,
    )
    assert result.state == "complete"
    assert outputs(tmp_path / "ray") == expected
    assert len(server.requests_for(CHAT)) == 8
    stats = server.stats
    # 2 actors x 3 pages would send 6 at once; the cluster's slots keep it at the cap.
    assert stats["max_in_flight_text"] == CAP
    assert stats["rate_limited"] == 0
    assert result.report["this_run"]["requests"] == 8
    assert result.report["runner"]["name"] == "ray"


def test_a_rerun_with_the_shared_cache_sends_nothing(
    ray_cluster: Any, server: ReferenceServer, local_run: Any, tmp_path: Path
) -> None:
    inputs, expected = local_run
    ropts = ray_options(tmp_path)
    ray_runner.run_job(
        inputs, tmp_path / "first", options(server), ray_options=ropts, show_progress=False
    )
    server.reset()
    # a new output directory: nothing to resume from but the shared page cache
    result = ray_runner.run_job(
        inputs, tmp_path / "second", options(server), ray_options=ropts, show_progress=False
    )
    assert server.requests_for(CHAT) == []
    assert outputs(tmp_path / "second", without_attempts=True) == without_attempts(expected)
    assert result.report["this_run"]["requests"] == 0
    assert result.report["pages"]["ok"] == 8


class CrashOnce:
    """Kill the actor's process once, while its batch's requests are on the wire."""

    def __init__(self, marker: Path, after: float) -> None:
        self.marker = str(marker)
        self.after = after

    def __call__(self, tasks: list[PageTask]) -> None:
        import threading

        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        threading.Timer(self.after, os._exit, (1,)).start()


def test_a_killed_worker_loses_nothing(
    ray_cluster: Any, server: ReferenceServer, local_run: Any, tmp_path: Path
) -> None:
    inputs, expected = local_run
    marker = tmp_path / "crashed"
    ropts = ray_options(tmp_path, on_batch_start=CrashOnce(marker, after=0.15))
    result = ray_runner.run_job(
        inputs, tmp_path / "ray", options(server), ray_options=ropts, show_progress=False
    )
    assert marker.exists(), "the fault never fired"
    assert result.state == "complete"
    assert outputs(tmp_path / "ray", without_attempts=True) == without_attempts(expected)
    sent = len(server.requests_for(CHAT))
    # Only what the dead actor had on the wire (at most the cap) is sent again: its
    # finished pages come from the shared cache when Ray reruns its batch.
    assert 8 <= sent <= 8 + CAP
    stats = server.stats
    assert stats["max_in_flight_text"] <= CAP
    assert stats["rate_limited"] == 0


def test_outputs_to_an_fsspec_url(
    ray_cluster: Any, server: ReferenceServer, local_run: Any, tmp_path: Path
) -> None:
    fsspec = pytest.importorskip("fsspec")
    inputs, expected = local_run
    url = f"memory://ocr-{uuid.uuid4().hex}"
    result = ray_runner.run_job(
        inputs, url, options(server), ray_options=ray_options(tmp_path), show_progress=False
    )
    assert result.report["out_dir"] == url
    fs = fsspec.filesystem("memory")
    root = url[len("memory://") :]
    for name, text in expected.items():
        assert fs.cat_file(f"{root}/{name}").decode("utf-8") == text
    assert fs.exists(f"{root}/report.json")

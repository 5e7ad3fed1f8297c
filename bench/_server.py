"""Start the reference server in its own process for a benchmark (so it never shares our GIL)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def reference_server(*args: str) -> Iterator[str]:
    """Run ``python -m tests.reference_server`` with ``args``; yield its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.reference_server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--api-key",
            "bench-key",
            *args,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                msg = "the reference server did not start"
                raise RuntimeError(msg)
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)

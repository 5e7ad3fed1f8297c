"""Idempotency keys never repeat: across calls, threads, processes and forked children."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

import pytest

from arli._transport.attempts import Attempts, idempotency_key
from arli._transport.policy import RetryPolicy

_KEY = re.compile(r"arli-([0-9a-f]{32})-([1-9][0-9]*)")


def _parts(key: str) -> tuple[str, int]:
    match = _KEY.fullmatch(key)
    assert match is not None, key
    return match.group(1), int(match.group(2))


def test_each_call_gets_a_new_key_of_one_process_prefix() -> None:
    keys = [idempotency_key() for _ in range(10_000)]
    assert len(set(keys)) == len(keys)
    prefixes = {_parts(key)[0] for key in keys}
    assert len(prefixes) == 1


def test_a_post_is_keyed_and_a_get_is_not() -> None:
    policy = RetryPolicy()
    post, again, get = (
        Attempts(policy, "POST", 1.0),
        Attempts(policy, "POST", 1.0),
        Attempts(policy, "GET", 1.0),
    )
    assert post.idempotency_key is not None
    assert again.idempotency_key is not None
    assert post.idempotency_key != again.idempotency_key
    assert get.idempotency_key is None
    assert post.headers(None) == {"Idempotency-Key": post.idempotency_key}


def test_threads_drawing_at_once_never_share_a_key() -> None:
    drawn: list[list[str]] = [[] for _ in range(8)]
    start = threading.Barrier(len(drawn))

    def draw(out: list[str]) -> None:
        start.wait()
        out.extend(idempotency_key() for _ in range(5_000))

    threads = [threading.Thread(target=draw, args=(out,)) for out in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    keys = [key for out in drawn for key in out]
    assert len(set(keys)) == len(keys) == 40_000


def test_another_process_draws_another_prefix() -> None:
    code = "from arli._transport.attempts import idempotency_key; print(idempotency_key())"
    theirs = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert _parts(theirs)[0] != _parts(idempotency_key())[0]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="this platform does not fork")
def test_a_forked_child_does_not_send_its_parents_next_keys() -> None:
    idempotency_key()  # the parent has drawn keys before it forks
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its next keys to the parent and leave at once
        try:
            os.write(write, " ".join(idempotency_key() for _ in range(3)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    parent = [idempotency_key() for _ in range(3)]
    assert len(child) == 3
    assert not set(child) & set(parent)
    assert {_parts(key)[0] for key in child}.isdisjoint({_parts(key)[0] for key in parent})

"""The process-wide limiter: never more than N in flight, from threads and tasks alike."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from arli import Limiter, get_limiter


class Probe:
    """Counts holders inside the critical section independently of the limiter."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.lock = threading.Lock()

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


def test_fifty_threads_never_exceed_limit() -> None:
    limiter, probe = Limiter(6), Probe()

    def work(_: int) -> None:
        with limiter.slot():
            probe.enter()
            time.sleep(0.01)
            probe.leave()

    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(work, range(50)))
    assert probe.peak == 6
    assert limiter.max_in_flight == 6
    assert limiter.in_flight == 0


async def test_fifty_tasks_never_exceed_limit() -> None:
    limiter, probe = Limiter(6), Probe()

    async def work() -> None:
        async with limiter.aslot():
            probe.enter()
            await asyncio.sleep(0.01)
            probe.leave()

    await asyncio.gather(*(work() for _ in range(50)))
    assert probe.peak == 6
    assert limiter.in_flight == 0


def test_threads_and_two_event_loops_share_one_limit() -> None:
    limiter, probe = Limiter(4), Probe()

    def sync_work() -> None:
        with limiter.slot():
            probe.enter()
            time.sleep(0.005)
            probe.leave()

    async def async_work() -> None:
        async with limiter.aslot():
            probe.enter()
            await asyncio.sleep(0.005)
            probe.leave()

    def loop_runner() -> None:
        async def main() -> None:
            await asyncio.gather(*(async_work() for _ in range(15)))

        asyncio.run(main())

    threads = [threading.Thread(target=loop_runner) for _ in range(2)]
    threads += [threading.Thread(target=sync_work) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert probe.peak <= 4
    assert probe.peak >= 2
    assert limiter.in_flight == 0
    assert limiter.waiting == 0


async def test_cancelled_waiter_does_not_leak_a_slot() -> None:
    limiter = Limiter(1)
    await limiter.aacquire()
    waiter = asyncio.create_task(limiter.aacquire())
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    limiter.release()
    assert limiter.in_flight == 0
    await asyncio.wait_for(limiter.aacquire(), 1)  # the slot is free again
    limiter.release()


async def test_waiter_cancelled_right_after_being_handed_the_slot() -> None:
    limiter = Limiter(1)
    await limiter.aacquire()
    waiter = asyncio.create_task(limiter.aacquire())
    await asyncio.sleep(0.01)
    limiter.release()  # hands the slot to the waiter (resolution is scheduled)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limiter.in_flight == 0


def test_fifo_order() -> None:
    limiter = Limiter(1)
    limiter.acquire()
    order: list[int] = []

    def take(i: int) -> None:
        limiter.acquire()
        order.append(i)
        limiter.release()

    threads = []
    for i in range(5):
        t = threading.Thread(target=take, args=(i,))
        t.start()
        threads.append(t)
        while limiter.waiting < i + 1:
            time.sleep(0.001)
    limiter.release()
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3, 4]


def test_raising_the_limit_wakes_waiters() -> None:
    limiter = Limiter(1)
    limiter.acquire()
    got = threading.Event()

    def take() -> None:
        limiter.acquire()
        got.set()

    threading.Thread(target=take, daemon=True).start()
    time.sleep(0.02)
    assert not got.is_set()
    limiter.set_limit(2)
    assert got.wait(2)


def test_release_without_acquire_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        Limiter(1).release()
    with pytest.raises(ValueError, match=">= 1"):
        Limiter(0)


def test_registry_is_process_wide_per_url_key_api() -> None:
    a = get_limiter("http://x", "fp1", "image", 6)
    assert get_limiter("http://x", "fp1", "image", 6) is a
    assert get_limiter("http://x", "fp2", "image", 6) is not a
    assert get_limiter("http://x", "fp1", "text", 6) is not a

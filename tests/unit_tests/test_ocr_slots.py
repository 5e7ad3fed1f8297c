"""The cluster slot bookkeeping (:class:`arli.ocr.job.slots.SlotGranter`), without Ray.

The granter is plain asyncio; a fake clock drives its leases, so these tests prove the
rules (never more than the limit, first come first served, a silent owner's slots come
back, a given-up wait leaks nothing) without starting a cluster.
"""

from __future__ import annotations

import asyncio

import pytest

from arli import ArliConfigError
from arli.ocr.job.slots import SlotGranter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_never_more_than_the_limit_and_first_come_first_served() -> None:
    granter = SlotGranter(2, lease_seconds=10, clock=Clock())
    assert await granter.acquire("a", "s1")
    assert await granter.acquire("b", "s2")
    order: list[str] = []

    async def wait(owner: str, slot: str) -> None:
        assert await granter.acquire(owner, slot)
        order.append(slot)

    waiters = [asyncio.create_task(wait("c", f"w{i}")) for i in range(3)]
    await settle()
    assert order == []
    assert (await granter.stats())["waiting"] == 3
    await granter.release("a", "s1")
    await settle()
    assert order == ["w0"]
    await granter.release("b", "s2")
    await granter.release("c", "w0")
    await settle()
    assert order == ["w0", "w1", "w2"]
    stats = await granter.stats()
    assert stats["in_flight"] == 2
    assert stats["max_in_flight"] == 2
    await asyncio.gather(*waiters)


async def test_a_silent_owner_loses_its_slots_after_the_lease() -> None:
    clock = Clock()
    granter = SlotGranter(2, lease_seconds=10, clock=clock)
    assert await granter.acquire("dead", "d1")
    assert await granter.acquire("dead", "d2")
    queued = asyncio.create_task(granter.acquire("alive", "a1"))
    await settle()
    assert not queued.done()
    clock.now += 9
    assert await granter.heartbeat("alive") == 0
    assert granter.reap() == 0  # not yet: 9 s < 10 s
    clock.now += 2
    assert granter.reap() == 2
    assert await queued
    stats = await granter.stats()
    assert stats["in_flight"] == 1
    assert stats["reclaimed"] == 2
    assert stats["owners"] == 1


async def test_a_heartbeat_keeps_slots_past_the_lease() -> None:
    clock = Clock()
    granter = SlotGranter(1, lease_seconds=10, clock=clock)
    assert await granter.acquire("w", "s")
    for _ in range(5):
        clock.now += 6
        assert await granter.heartbeat("w") == 1
    assert granter.reap() == 0
    assert (await granter.stats())["in_flight"] == 1


async def test_a_given_up_wait_leaks_nothing() -> None:
    granter = SlotGranter(1, lease_seconds=10, clock=Clock())
    assert await granter.acquire("a", "s1")
    queued = asyncio.create_task(granter.acquire("b", "s2"))
    await settle()
    await granter.release("b", "s2")  # the waiter gave up (its caller was cancelled)
    assert await queued is False
    await granter.release("a", "s1")
    stats = await granter.stats()
    assert stats["in_flight"] == 0
    assert stats["waiting"] == 0
    # releasing a slot that was granted to a caller who then gave up frees it too
    assert await granter.acquire("c", "s3")
    await granter.release("c", "s3")
    assert (await granter.stats())["in_flight"] == 0


async def test_leave_frees_slots_and_queued_requests() -> None:
    granter = SlotGranter(1, lease_seconds=10, clock=Clock())
    assert await granter.acquire("a", "s1")
    queued_a = asyncio.create_task(granter.acquire("a", "s2"))
    queued_b = asyncio.create_task(granter.acquire("b", "s3"))
    await settle()
    await granter.leave("a")
    assert await queued_a is False
    assert await queued_b is True
    assert (await granter.stats())["in_flight"] == 1


async def test_raising_the_limit_grants_queued_callers() -> None:
    granter = SlotGranter(1, lease_seconds=10, clock=Clock())
    assert await granter.acquire("a", "s1")
    queued = asyncio.create_task(granter.acquire("b", "s2"))
    await settle()
    await granter.set_limit(2)
    assert await queued is True
    assert (await granter.stats())["max_in_flight"] == 2


@pytest.mark.parametrize("limit", [0, -1, True, 2.5, "6"])
def test_bad_limits_are_refused(limit: object) -> None:
    with pytest.raises(ArliConfigError, match="integer >= 1"):
        SlotGranter(limit)  # type: ignore[arg-type]


def test_bad_lease_is_refused() -> None:
    with pytest.raises(ArliConfigError, match="lease_seconds"):
        SlotGranter(2, lease_seconds=0)

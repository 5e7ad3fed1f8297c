"""The cluster-wide slot actor on a real local Ray: a killed worker's slots come back."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from arli.ocr.job.slots import ClusterSlots, slot_actor

LEASE = 1.0


class Holder:
    """A worker process that takes slots and keeps them (until it is killed)."""

    def __init__(self, actor: Any) -> None:
        self.slots = ClusterSlots(actor, lease_seconds=LEASE)

    def take(self, n: int) -> int:
        for _ in range(n):
            self.slots.acquire()
        return self.slots.in_flight


def acquire_in_thread(slots: ClusterSlots) -> threading.Event:
    got = threading.Event()

    def run() -> None:
        slots.acquire()
        got.set()

    threading.Thread(target=run, daemon=True).start()
    return got


def test_a_killed_workers_slots_come_back_after_the_lease(ray_cluster: Any) -> None:
    ray = ray_cluster
    actor = slot_actor(f"test-{uuid.uuid4().hex}", 2, lease_seconds=LEASE)
    holder = ray.remote(Holder).options(num_cpus=0).remote(actor)
    assert ray.get(holder.take.remote(2)) == 2
    mine = ClusterSlots(actor, lease_seconds=LEASE)
    got = acquire_in_thread(mine)
    assert not got.wait(2.5 * LEASE), "a live worker's heartbeats must keep its slots"
    ray.kill(holder)
    killed = time.monotonic()
    assert got.wait(10 * LEASE), "the dead worker's slots never came back"
    waited = time.monotonic() - killed
    stats = ray.get(actor.stats.remote())
    assert stats["reclaimed"] == 2
    assert stats["max_in_flight"] == 2
    assert stats["in_flight"] == 1
    assert waited < 5 * LEASE
    mine.release()
    mine.close()


def test_close_gives_every_held_slot_back(ray_cluster: Any) -> None:
    ray = ray_cluster
    actor = slot_actor(f"test-{uuid.uuid4().hex}", 3, lease_seconds=30)
    slots = ClusterSlots(actor, lease_seconds=30)
    slots.acquire()
    slots.acquire()
    assert ray.get(actor.stats.remote())["in_flight"] == 2
    slots.close()
    deadline = time.monotonic() + 10
    while ray.get(actor.stats.remote())["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ray.get(actor.stats.remote())["in_flight"] == 0


def test_the_named_actor_is_shared_and_takes_the_newest_limit(ray_cluster: Any) -> None:
    ray = ray_cluster
    name = f"test-{uuid.uuid4().hex}"
    first = slot_actor(name, 2)
    second = slot_actor(name, 5)
    assert ray.get(first.stats.remote())["limit"] == 5
    assert first._actor_id == second._actor_id


def test_a_second_job_in_the_same_process_gets_a_live_actor(ray_cluster: Any) -> None:
    """The first job's handle is gone when the next starts (a non-detached actor dies once
    its owner holds no handle): the next one's workers must still reach a live actor."""
    import gc

    ray = ray_cluster
    name = f"test-{uuid.uuid4().hex}"
    for limit in (2, 3):  # two jobs, one after the other, the second with another limit
        actor = slot_actor(name, limit, lease_seconds=LEASE)
        del actor
        gc.collect()
        time.sleep(0.5)  # time for Ray to reap an actor nobody holds
        worker_side = ray.get_actor(name, namespace="arli")
        slots = ClusterSlots(worker_side, lease_seconds=LEASE)
        slots.acquire()
        assert slots.in_flight == 1
        slots.close()

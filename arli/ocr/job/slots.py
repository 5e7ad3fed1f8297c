"""One parallel-request limit for a whole cluster: a named actor that grants in-flight slots.

An account allows a fixed number of requests in flight (seed 003; the proxy's 6). On one
machine :class:`arli._limits.Limiter` enforces it; across the processes of a Ray cluster a
per-process limit would only be a guess (``cap / number of workers``, wrong as soon as a
worker is added, restarted or idle). Here one actor holds the count for everyone:

- :class:`SlotGranter` is the bookkeeping, plain asyncio with no Ray in it: FIFO waiting,
  slots held by *owners* (one per worker process), and leases. An owner renews its lease
  with :meth:`SlotGranter.heartbeat`; an owner silent for ``lease_seconds`` is presumed
  dead, its slots come back and its queued requests are dropped. So a killed worker
  (``ray.kill``, OOM, a crashed node) cannot leak the account's slots.
- :func:`slot_actor` starts (or finds) that class as a named Ray actor in the ``arli``
  namespace, so every job and worker on the cluster that uses the same name shares one
  count.
- :class:`ClusterSlots` is the worker-side limiter (a
  :class:`~arli.ocr.job.tasks.SlotLimiter`): a transport (or anything that calls
  ``acquire``/``aacquire``/``release``) takes one cluster slot per request through it,
  and a daemon thread renews its owner's lease.

The guarantee: at most ``limit`` slots are granted at any time. One caveat, stated where it
matters: a dead worker's request may still be running on the server after the worker
died. vLLM aborts a request whose client disconnected, so the server frees it at once; on a
server that keeps working for a dead client, the slot comes back after ``lease_seconds``
while that request may still run, so there choose a lease longer than one request can run
(OCR's read timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from arli._errors import ArliConfigError, ArliError, OCRDependencyError

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "ClusterSlots",
    "SlotGranter",
    "import_ray",
    "slot_actor",
]

#: How long an owner may stay silent before its slots are taken back.
DEFAULT_LEASE_SECONDS = 60.0

_NAMESPACE = "arli"
_INSTALL_HINT = 'the Ray runner needs Ray: pip install "arli-integrations[ray]"'


def import_ray() -> Any:
    """Import :mod:`ray` (with Ray Data), or raise :class:`OCRDependencyError` with the hint."""
    try:
        import ray  # noqa: PLC0415 - optional dependency, imported on first use
        import ray.data  # noqa: PLC0415 - fails early when the ``data`` extra is missing
    except ImportError as exc:
        raise OCRDependencyError(f"{_INSTALL_HINT} ({exc})") from exc
    return ray


@dataclass
class _Owner:
    """One worker process: its granted slots and when its lease runs out."""

    expires: float
    held: set[str] = field(default_factory=set)


class SlotGranter:
    """Grants at most ``limit`` slots at a time, first come first served, under leases.

    Every method is meant to run on one event loop (a Ray async actor runs them there), so
    there is no lock. Slot ids are chosen by the caller, which lets a caller that gave up
    waiting (cancelled) release a slot that may or may not have been granted yet.

    Args:
        limit: slots in flight at most (>= 1).
        lease_seconds: an owner silent this long loses its slots (> 0).
        clock: the time source (tests pass a fake one).
    """

    def __init__(
        self,
        limit: int,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        _check_limit(limit)
        if not lease_seconds > 0:
            raise ArliConfigError(f"lease_seconds must be > 0, got {lease_seconds!r}")
        self._limit = limit
        self._lease = float(lease_seconds)
        self._clock = clock
        self._owners: dict[str, _Owner] = {}
        self._waiting: OrderedDict[str, tuple[str, asyncio.Future[None]]] = OrderedDict()
        self._granted = 0
        self._max_granted = 0
        self._reclaimed = 0
        self._reaper: asyncio.Task[None] | None = None

    # -- the calls workers make -------------------------------------------------------------

    async def acquire(self, owner: str, slot: str) -> bool:
        """Wait until ``slot`` is granted to ``owner``; ``True`` once it is.

        Returns ``False`` when the wait ended without a grant: the slot was released
        (given up) while queued, or the owner's lease ran out meanwhile.
        """
        self._start_reaper()
        self.reap()
        record = self._renew(owner)
        if slot in record.held:
            return True
        if self._granted < self._limit and not self._waiting:
            self._grant(owner, slot)
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[slot] = (owner, future)
        try:
            await future
        except asyncio.CancelledError:
            return False
        finally:
            self._waiting.pop(slot, None)
        return slot in self._owners.get(owner, _Owner(0.0)).held

    async def release(self, owner: str, slot: str) -> None:
        """Give ``slot`` back (or stop waiting for it); unknown slots are ignored."""
        queued = self._waiting.pop(slot, None)
        if queued is not None and not queued[1].done():
            queued[1].cancel()
        record = self._owners.get(owner)
        if record is not None and slot in record.held:
            record.held.discard(slot)
            self._granted -= 1
        self._hand_out()

    async def heartbeat(self, owner: str) -> int:
        """Renew ``owner``'s lease; the number of slots it holds."""
        self.reap()
        return len(self._renew(owner).held)

    async def leave(self, owner: str) -> None:
        """``owner`` is done: drop its slots and its queued requests."""
        self._drop(owner)
        self._hand_out()

    # -- the calls a driver or a test makes ---------------------------------------------------

    async def set_limit(self, limit: int) -> None:
        """Change the limit; raising it grants to queued callers at once."""
        _check_limit(limit)
        self._limit = limit
        self._hand_out()

    async def stats(self) -> dict[str, Any]:
        """``limit``, ``in_flight``, ``max_in_flight``, ``waiting``, ``owners``, ``reclaimed``."""
        self.reap()
        return {
            "limit": self._limit,
            "in_flight": self._granted,
            "max_in_flight": self._max_granted,
            "waiting": len(self._waiting),
            "owners": len(self._owners),
            "reclaimed": self._reclaimed,
            "lease_seconds": self._lease,
        }

    def reap(self) -> int:
        """Take back the slots of every owner whose lease ran out; how many were freed."""
        now = self._clock()
        freed = 0
        for owner in [o for o, rec in self._owners.items() if rec.expires <= now]:
            freed += self._drop(owner)
        self._reclaimed += freed
        if freed:
            self._hand_out()
        return freed

    # -- bookkeeping ----------------------------------------------------------------------------

    def _renew(self, owner: str) -> _Owner:
        record = self._owners.get(owner)
        if record is None:
            record = self._owners[owner] = _Owner(0.0)
        record.expires = self._clock() + self._lease
        return record

    def _grant(self, owner: str, slot: str) -> None:
        self._owners.setdefault(owner, _Owner(self._clock() + self._lease)).held.add(slot)
        self._granted += 1
        self._max_granted = max(self._max_granted, self._granted)

    def _drop(self, owner: str) -> int:
        record = self._owners.pop(owner, None)
        for slot, (who, future) in list(self._waiting.items()):
            if who == owner:
                del self._waiting[slot]
                future.cancel()
        if record is None:
            return 0
        self._granted -= len(record.held)
        return len(record.held)

    def _hand_out(self) -> None:
        while self._waiting and self._granted < self._limit:
            slot, (owner, future) = self._waiting.popitem(last=False)
            if future.done():
                continue
            self._grant(owner, slot)
            future.set_result(None)

    def _start_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(self._lease / 4)
            self.reap()


def _check_limit(limit: Any) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ArliConfigError(
            f"the cluster's in-flight limit must be an integer >= 1, got {limit!r}"
        )


def slot_actor(
    name: str,
    limit: int,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    detached: bool = False,
) -> Any:
    """The named slot actor ``name`` (namespace ``arli``), started if it does not exist yet.

    Several jobs asking for the same name share one count. If the actor exists with another
    limit, the limit is set to ``limit`` (the account's limit is one number).

    Args:
        name: the actor's name; derive it from the account (base URL and key fingerprint),
            never from the key itself.
        limit: requests in flight at most, over the whole cluster.
        lease_seconds: how long a silent worker keeps its slots.
        detached: keep the actor alive after the job that started it ends.
    """
    _check_limit(limit)
    ray = import_ray()
    # A non-detached actor dies once this process holds no handle to it: a second job of
    # the same process, started right after the first, would get the dying actor by name
    # (ActorDiedError in its workers). This process keeps one handle per name instead.
    kept = _KEPT.get(name)
    if kept is not None:
        # dead, or from a cluster since shut down (Ray raises a bare Exception for that)
        with contextlib.suppress(Exception):
            ray.get(kept.set_limit.remote(limit))
            return kept
    remote = ray.remote(SlotGranter).options(
        name=name,
        namespace=_NAMESPACE,
        get_if_exists=True,
        lifetime="detached" if detached else None,
        max_concurrency=1000,
        num_cpus=0,
    )
    handle = remote.remote(limit, lease_seconds)
    ray.get(handle.set_limit.remote(limit))
    _KEPT[name] = handle
    return handle


#: The slot actors this process uses, by name (see :func:`slot_actor`).
_KEPT: dict[str, Any] = {}


class ClusterSlots:
    """The worker side of the cluster limit: a ``SlotLimiter`` backed by the slot actor.

    Each ``acquire``/``aacquire`` takes one slot from the actor (waiting in the cluster-wide
    FIFO queue), each ``release`` gives one back. A daemon thread renews this owner's lease
    every ``lease_seconds / 4``; :meth:`close` (or garbage collection) stops it and returns
    any slot still held.

    Args:
        actor: the handle from :func:`slot_actor` (picklable: pass it to Ray actors).
        lease_seconds: the actor's lease (for the heartbeat period).
    """

    def __init__(self, actor: Any, lease_seconds: float = DEFAULT_LEASE_SECONDS):
        self._actor = actor
        self._owner = uuid.uuid4().hex
        self._held: list[str] = []
        self._held_lock = threading.Lock()
        self._stop = threading.Event()
        self._ray = import_ray()
        ray_get = self._ray.get
        self._ray_get = ray_get
        ray_get(actor.heartbeat.remote(self._owner))
        self._beat = threading.Thread(
            target=_heartbeat,
            args=(weakref.ref(self), self._stop, max(lease_seconds / 4, 0.05)),
            name="arli-cluster-slots",
            daemon=True,
        )
        self._beat.start()
        self._finalizer = weakref.finalize(self, _leave, actor, self._owner, self._stop)

    def __repr__(self) -> str:
        return f"ClusterSlots(owner={self._owner[:8]}, held={len(self._held)})"

    @property
    def owner(self) -> str:
        """This worker's owner id at the slot actor."""
        return self._owner

    @property
    def in_flight(self) -> int:
        """Slots this worker holds now."""
        return len(self._held)

    def _granted(self, slot: str, ok: bool) -> None:
        if not ok:
            msg = (
                "the cluster slot actor dropped this worker's lease before granting a slot "
                "(its heartbeats stalled for longer than lease_seconds)"
            )
            raise ArliError(msg)
        with self._held_lock:
            self._held.append(slot)

    def acquire(self) -> None:
        """Block until the cluster grants a slot."""
        slot = uuid.uuid4().hex
        try:
            ok = self._ray_get(self._actor.acquire.remote(self._owner, slot))
        except BaseException:
            self._actor.release.remote(self._owner, slot)
            raise
        self._granted(slot, ok)

    async def aacquire(self) -> None:
        """Wait (without blocking the loop) until the cluster grants a slot."""
        slot = uuid.uuid4().hex
        try:
            ok = await self._actor.acquire.remote(self._owner, slot)
        except BaseException:
            # Cancelled while queued or just granted: either way the slot goes back.
            self._actor.release.remote(self._owner, slot)
            raise
        self._granted(slot, ok)

    def release(self) -> None:
        """Give one slot back (fire and forget: a late release only under-uses the cap)."""
        with self._held_lock:
            if not self._held:
                msg = "ClusterSlots.release() called more times than acquire()"
                raise RuntimeError(msg)
            slot = self._held.pop()
        self._actor.release.remote(self._owner, slot)

    def close(self) -> None:
        """Stop the heartbeat and give back every slot this worker holds."""
        self._finalizer()


def _heartbeat(ref: weakref.ref[ClusterSlots], stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        slots = ref()
        if slots is None:
            return
        actor = slots._actor
        owner = slots._owner
        del slots
        with contextlib.suppress(Exception):
            actor.heartbeat.remote(owner)


def _leave(actor: Any, owner: str, stop: threading.Event) -> None:
    stop.set()
    with contextlib.suppress(Exception):
        actor.leave.remote(owner)

"""The reference server's random faults (``Fault.probability``), which the soak test uses."""

from __future__ import annotations

import pytest

from tests.reference_server.faults import Fault, FaultQueue

CHAT = "/v1/chat/completions"


def test_a_fault_with_a_probability_hits_about_that_share() -> None:
    queue = FaultQueue(seed=1)
    queue.add(Fault(path=CHAT, kind="status", status=503, times=-1, probability=0.25))
    hits = sum(queue.take("POST", CHAT) is not None for _ in range(4000))
    assert 800 < hits < 1200


def test_a_spared_request_takes_the_next_fault() -> None:
    queue = FaultQueue(seed=2)
    queue.add(Fault(path=CHAT, kind="status", status=429, times=-1, probability=0.5))
    queue.add(Fault(path=CHAT, kind="status", status=503, times=-1))
    statuses = {queue.take("POST", CHAT).status for _ in range(200)}  # type: ignore[union-attr]
    assert statuses == {429, 503}


def test_the_same_seed_draws_the_same_faults() -> None:
    def draws(seed: int) -> list[bool]:
        queue = FaultQueue(seed=seed)
        queue.add(Fault(path=CHAT, kind="status", status=503, times=-1, probability=0.3))
        return [queue.take("POST", CHAT) is not None for _ in range(100)]

    assert draws(7) == draws(7)


@pytest.mark.parametrize("probability", [0.0, -0.1, 1.5])
def test_a_probability_outside_0_1_is_refused(probability: float) -> None:
    with pytest.raises(ValueError, match="probability"):
        Fault(path=CHAT, kind="status", status=503, probability=probability)

"""The paired bench's own machinery: the ratio it reports, the interleaving, the floors.

The bench's figures are only as good as these: a ratio of medians instead of a median of
per-round ratios would let machine noise back in, and a floor that batched the stream
would set a target the skins could never be held to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bench import _paired
from bench._common import paired_ratio, paired_rounds
from tests.reference_server import ReferenceServer, ScriptEntry


def test_paired_ratio_is_the_median_of_per_round_ratios() -> None:
    # Round 2 and 3 were slow for both; their ratios still count, the raw medians do not.
    series = {"raw": [1.0, 10.0, 10.0], "x": [1.5, 15.0, 11.0]}
    assert paired_ratio(series, "x", "raw") == pytest.approx(1.5)
    assert paired_ratio(series, "raw", "raw") == 1.0


def test_paired_rounds_calls_every_client_once_per_round_in_shuffled_order() -> None:
    calls: list[str] = []
    names = ("a", "b", "c", "d")
    fns = {name: (lambda name=name: calls.append(name)) for name in names}
    series = paired_rounds(fns, rounds=200, warmup=0)
    rounds = [tuple(calls[i : i + 4]) for i in range(0, len(calls), 4)]
    assert all(sorted(r) == list(names) for r in rounds)  # each client once a round
    assert {name: len(times) for name, times in series.items()} == dict.fromkeys(names, 200)
    assert all(t >= 0 for times in series.values() for t in times)
    # every client comes right after every other one, not after one fixed neighbour
    before = {(calls[i - 1], calls[i]) for i in range(1, len(calls))}
    assert before >= {(x, y) for x in names for y in names if x != y}
    assert len(set(rounds)) > 12  # many orders (24 exist), not a rotation's 4
    calls.clear()
    paired_rounds(fns, rounds=200, warmup=0)
    assert [tuple(calls[i : i + 4]) for i in range(0, len(calls), 4)] == rounds  # repeatable


@pytest.fixture
def story_server() -> Iterator[ReferenceServer]:
    script = [ScriptEntry(match="bench story", reply=_paired.story(32))]
    with ReferenceServer(api_key=_paired.KEY, script=script) as srv:
        yield srv


@pytest.mark.parametrize("make", [_paired.lc_floor, _paired.li_floor])
def test_framework_floors_answer_and_stream_one_chunk_per_sse_event(
    story_server: ReferenceServer, make: Callable[[_paired.Raw], Any]
) -> None:
    raw = _paired.Raw(story_server.url)
    floor = _paired._lc(make(raw)) if make is _paired.lc_floor else _paired._li(make(raw))
    assert floor.chat("Tell me the bench story.") == _paired.story(32)
    # 32 one-word tokens, each its own SSE event and so its own chunk.
    assert floor.stream("Tell me the bench story.") == 32
    assert _paired.Client(raw.chat, raw.stream).stream("Tell me the bench story.") == 32

"""The streamed-token hot path without a network: for counting instructions, not timing.

The paired bench (:mod:`bench._paired`) measures wall time on a loaded machine; this script
runs the same clients (ChatArli, LI ``Arli`` and the two framework floors of
:mod:`bench._paired`) over an in-process ``httpx.MockTransport`` that answers with the bytes
the reference server sends (one network read per SSE event), so what it executes is the
same every run. Count it with callgrind, twice, and take the difference per token::

    for n in 1 3; do valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$n \\
        python -m bench.hotpath CLIENT $n; done
    python -m bench.hotpath --per-token /tmp/cg.1 /tmp/cg.3

``CLIENT`` is ``lc``, ``lc-floor``, ``li`` or ``li-floor``; each run streams ``n`` answers of
:data:`TOKENS` tokens after one warm-up answer, so the difference of two runs is the
instructions of ``TOKENS`` x (n2 - n1) streamed tokens, start-up and imports cancelled out.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from bench import _paired

URL = "http://hotpath.invalid"
TOKENS = 1000
_ID = "chatcmpl-e8b2734011fa83253ee025b6eabcd3bf"


def _event(payload: dict[str, object]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def answer_events(tokens: int = TOKENS) -> list[bytes]:
    """The events of one streamed answer, shaped like the reference server's (vLLM's)."""
    head = {"id": _ID, "object": "chat.completion.chunk", "created": 1796609250}
    head["model"] = _paired.MODEL
    first = {"index": 0, "delta": {"role": "assistant", "content": ""}}
    events = [
        _event({**head, "choices": [{**first, "logprobs": None, "finish_reason": None}]}),
    ]
    for i, word in enumerate(_paired.story(tokens).split(" ")):
        text = word if i == 0 else " " + word
        choice = {"index": 0, "delta": {"content": text}, "logprobs": None}
        choice.update(finish_reason=None, token_ids=None)
        events.append(_event({**head, "choices": [choice]}))
    last = {"index": 0, "delta": {"content": ""}, "logprobs": None, "finish_reason": "stop"}
    last.update(stop_reason=None, token_ids=None)
    events.append(_event({**head, "choices": [last]}))
    usage = {"prompt_tokens": 16, "total_tokens": 16 + tokens + 1, "completion_tokens": tokens}
    events.append(_event({**head, "choices": [], "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    return events


class _Events(httpx.SyncByteStream):
    def __init__(self, events: list[bytes]) -> None:
        self.events = events

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.events)


def mock_client() -> httpx.Client:
    """An httpx client whose every chat request is answered with :func:`answer_events`."""
    events = answer_events()

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream; charset=utf-8"}
        return httpx.Response(200, headers=headers, stream=_Events(events))

    return httpx.Client(
        base_url=URL,
        transport=httpx.MockTransport(handler),
        headers={"Authorization": f"Bearer {_paired.KEY}"},
    )


def stream_fn(name: str) -> Callable[[], int]:
    """The streamed call of client ``name`` over the mock transport; returns its token count."""
    prompt = "Tell me the long bench story."
    client = mock_client()
    if name in ("lc-floor", "li-floor"):
        raw = _paired.Raw(URL)
        raw.client = client
        model = _paired.lc_floor(raw) if name == "lc-floor" else _paired.li_floor(raw)
    elif name == "lc":
        from langchain_arli import ChatArli

        model = ChatArli(model=_paired.MODEL, api_key=_paired.KEY, base_url=URL, http_client=client)
    elif name == "li":
        from llama_index_arli import Arli

        model = Arli(model=_paired.MODEL, api_key=_paired.KEY, base_url=URL, http_client=client)
    else:
        msg = f"unknown client {name!r}: lc, lc-floor, li or li-floor"
        raise SystemExit(msg)
    if name.startswith("lc"):
        return lambda: sum(1 for c in model.stream(prompt) if c.content)
    from llama_index.core.llms import ChatMessage

    def li() -> int:
        return sum(
            1 for r in model.stream_chat([ChatMessage(role="user", content=prompt)]) if r.delta
        )

    return li


def _total(path: str) -> int:
    text = Path(path).read_text()
    found = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.MULTILINE)
    if found is None:
        msg = f"no instruction total in {path}"
        raise SystemExit(msg)
    return int(found.group(1))


def main(argv: list[str]) -> None:
    """``CLIENT N`` streams; ``--per-token OUT1 OUT2`` reads two callgrind outputs."""
    if argv[:1] == ["--per-token"]:
        (one, two), streams = argv[1:3], []
        for path in (one, two):
            streams.append(int(path.rsplit(".", 1)[-1]))
        per = (_total(two) - _total(one)) / ((streams[1] - streams[0]) * TOKENS)
        print(f"{per:,.0f} instructions per streamed token")
        return
    name, count = argv[0], int(argv[1])
    run = stream_fn(name)
    assert run() == TOKENS  # warm-up: first-call caches filled in every run alike
    for _ in range(count):
        got = run()
        if got != TOKENS:
            msg = f"{name}: expected {TOKENS} streamed tokens, got {got}"
            raise SystemExit(msg)


if __name__ == "__main__":
    main(sys.argv[1:])

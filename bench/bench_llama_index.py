"""LlamaIndex: ``Arli`` vs ``OpenAILike`` vs raw httpx against the reference server.

One reference server runs in a subprocess on 127.0.0.1 (so its work does not share our
GIL) and answers all three clients identically. Measured, as medians:

* per non-streaming chat call: the same request body posted with a plain ``httpx.Client``
  and the answer's text read from the JSON, vs ``Arli.chat`` and ``OpenAILike.chat``;
* per streamed token: one long scripted answer streamed, total time / content chunks
  (raw: ``httpx`` + minimal SSE parsing of ``data:`` lines);
* import time, in fresh interpreters: ``import llama_index_arli`` (what the issue's target
  names; it imports the model class lazily) and ``from llama_index_arli import Arli`` (the
  class itself), vs ``import llama_index.core.llms, httpx``.

Rounds alternate between the clients (short batches, rotating order) and each ratio is the
median of the per-round ratios, so that drift in machine load hits all clients alike.
``OpenAILike`` comes from the ``bench`` dependency group; without it its rows are skipped.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench._common import Result

GROUP = "llama-index"
ROOT = Path(__file__).resolve().parent.parent
MODEL = "Mistral-Nemo-12B-Instruct-2407"
KEY = "bench-key"
CHAT_PROMPT = "Hello"
STREAM_PROMPT = "Tell me the long bench story."
_WORDS = "the quick brown fox jumps over lazy dog and then runs far away into deep green forest"
#: The streamed answer: 400 words, one token (one SSE chunk) each on the reference server.
STORY = " ".join(_WORDS.split()[i % 16] for i in range(400))

CHAT_CALLS = int(os.environ.get("BENCH_LI_CHAT_CALLS", "40"))  # per client per round
STREAM_CALLS = int(os.environ.get("BENCH_LI_STREAM_CALLS", "2"))  # 400 tokens each
ROUNDS = int(os.environ.get("BENCH_LI_ROUNDS", "25"))
IMPORT_RUNS = int(os.environ.get("BENCH_LI_IMPORT_RUNS", "11"))

TARGET_CHAT = 1.3
TARGET_TOKEN = 2.6
TARGET_IMPORT = 1.1

_SERVER_CODE = """
import asyncio, sys
from tests.reference_server import ReferenceServer, ScriptEntry
story = sys.argv[1]
async def main():
    script = [ScriptEntry(match="long bench story", reply=story)]
    server = ReferenceServer(api_key=sys.argv[2], script=script, max_model_len=32768)
    await server.astart()
    print(server.url, flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


@contextmanager
def reference_server() -> Iterator[str]:
    """The reference server in a subprocess; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER_CODE, STORY, KEY],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://"):
            msg = "the reference server did not start"
            raise RuntimeError(msg)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- the three clients -------------------------------------------------------------------------


class Raw:
    """The floor: the same body posted with a plain httpx.Client, minimal parsing."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
        )

    def chat(self, prompt: str) -> str:
        body = {"model": MODEL, "messages": [{"role": "user", "content": prompt}], "stream": False}
        data = self.client.post("/v1/chat/completions", json=body).json()
        return str(data["choices"][0]["message"]["content"])

    def stream(self, prompt: str) -> int:
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": prompt}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        tokens = 0
        with self.client.stream("POST", "/v1/chat/completions", json=body) as response:
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                choices = json.loads(line[6:])["choices"]
                if choices and choices[0]["delta"].get("content"):
                    tokens += 1
        return tokens


class ArliClient:
    def __init__(self, url: str) -> None:
        from llama_index.core.llms import ChatMessage

        from llama_index_arli import Arli

        self.message = ChatMessage
        self.llm = Arli(model=MODEL, api_key=KEY, base_url=url)

    def chat(self, prompt: str) -> str:
        return self.llm.chat([self.message(role="user", content=prompt)]).message.content or ""

    def stream(self, prompt: str) -> int:
        return sum(
            1 for r in self.llm.stream_chat([self.message(role="user", content=prompt)]) if r.delta
        )


class OpenAILikeClient:
    def __init__(self, url: str) -> None:
        from llama_index.core.llms import ChatMessage
        from llama_index.llms.openai_like import OpenAILike

        self.message = ChatMessage
        self.llm = OpenAILike(
            model=MODEL, api_base=f"{url}/v1", api_key=KEY, is_chat_model=True, timeout=60
        )

    def chat(self, prompt: str) -> str:
        return self.llm.chat([self.message(role="user", content=prompt)]).message.content or ""

    def stream(self, prompt: str) -> int:
        return sum(
            1 for r in self.llm.stream_chat([self.message(role="user", content=prompt)]) if r.delta
        )


# -- measuring ---------------------------------------------------------------------------------


def _per_call(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def _per_token(client: Any, calls: int) -> float:
    total = 0.0
    tokens = 0
    for _ in range(calls):
        start = time.perf_counter()
        tokens += client.stream(STREAM_PROMPT)
        total += time.perf_counter() - start
    return total / max(tokens, 1)


Series = dict[str, list[float]]


def _measure(clients: dict[str, Any]) -> tuple[Series, Series]:
    """Per-round figures for each client: seconds per chat call, seconds per streamed token.

    Each round runs a short batch of every client, in an order that rotates from round to
    round, so neighbouring batches see the same machine load (the ratios are paired by
    round, see :func:`_ratio_rows`).
    """
    for client in clients.values():  # warm up: connections, lazy imports, caches
        for _ in range(20):
            client.chat(CHAT_PROMPT)
        assert client.stream(STREAM_PROMPT) == 400, "the scripted story did not stream"
    names = list(clients)
    chat: Series = {name: [] for name in names}
    token: Series = {name: [] for name in names}
    for i in range(ROUNDS):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            client = clients[name]
            chat[name].append(_per_call(lambda c=client: c.chat(CHAT_PROMPT), CHAT_CALLS))
        for name in order:
            token[name].append(_per_token(clients[name], STREAM_CALLS))
    return chat, token


def _import_times(*statements: str, runs: int = IMPORT_RUNS) -> list[float]:
    """Median seconds of each statement in fresh interpreters, minus an empty one.

    The statements take turns run after run, so that drift in machine load hits all alike.
    """
    samples: dict[str, list[float]] = {s: [] for s in ("pass", *statements)}
    for _ in range(runs):
        for statement, times in samples.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", statement], check=True, cwd=ROOT)
            times.append(time.perf_counter() - start)
    empty = statistics.median(samples["pass"])
    return [statistics.median(samples[s]) - empty for s in statements]


def _ratio_rows(
    what: str, unit_scale: float, unit: str, series: Series, target: float
) -> list[Result]:
    """Median figure per client, and the median over rounds of each round's ratio to raw."""
    raw = series["raw httpx"]
    rows = [Result(GROUP, f"{what}: raw httpx", statistics.median(raw) * unit_scale, unit)]
    for name in ("Arli", "OpenAILike"):
        if name not in series:
            continue
        ratio = statistics.median(v / r for v, r in zip(series[name], raw, strict=True))
        rows.append(
            Result(GROUP, f"{what}: {name}", statistics.median(series[name]) * unit_scale, unit)
        )
        rows.append(
            Result(
                GROUP,
                f"{what}: {name} / raw httpx",
                ratio,
                "x",
                target=f"<= {target}x" if name == "Arli" else "",
                ok=(ratio <= target) if name == "Arli" else None,
                note="" if name == "Arli" else "anchor",
                extra={"rounds": len(raw)},
            )
        )
    return rows


def run() -> list[Result]:
    results: list[Result] = []
    with reference_server() as url:
        clients: dict[str, Any] = {"raw httpx": Raw(url), "Arli": ArliClient(url)}
        try:
            clients["OpenAILike"] = OpenAILikeClient(url)
        except ImportError:
            results.append(
                Result(
                    GROUP,
                    "OpenAILike",
                    0,
                    "",
                    note="skipped: llama-index-llms-openai-like is not installed (`make bench`)",
                )
            )
        chat, token = _measure(clients)
    results += _ratio_rows("per chat call", 1e3, "ms", chat, TARGET_CHAT)
    results += _ratio_rows("per streamed token", 1e6, "us", token, TARGET_TOKEN)

    base, light, full = _import_times(
        "import llama_index.core.llms, httpx",
        "import llama_index_arli",
        "from llama_index_arli import Arli",
    )
    results.append(Result(GROUP, "import llama_index.core.llms, httpx", base * 1e3, "ms"))
    results.append(Result(GROUP, "import llama_index_arli", light * 1e3, "ms"))
    results.append(
        Result(
            GROUP,
            "import llama_index_arli / import llama_index.core.llms, httpx",
            light / base,
            "x",
            target=f"<= {TARGET_IMPORT}x",
            ok=light / base <= TARGET_IMPORT,
        )
    )
    results.append(Result(GROUP, "from llama_index_arli import Arli", full * 1e3, "ms"))
    results.append(
        Result(
            GROUP,
            "from llama_index_arli import Arli / import llama_index.core.llms, httpx",
            full / base,
            "x",
            target=f"<= {TARGET_IMPORT}x",
            ok=full / base <= TARGET_IMPORT,
            note="the class itself, which needs llama_index.core.llms",
        )
    )
    return results

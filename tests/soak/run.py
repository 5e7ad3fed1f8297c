"""The soak run: rounds of concurrent async calls through both skins, with random faults.

One round sends ``concurrency`` calls at once through each skin in turn (LangChain
``ChatArli``, then LlamaIndex ``Arli``): half plain chats (``ainvoke`` / ``achat``), half
streams (``astream`` / ``astream_chat``). The reference server runs in its own process (so
its sockets, threads and memory are not counted as ours) and answers about ``fault_rate``
of the calls with one of :data:`FAULTS`, at random. Rounds repeat until ``duration``
seconds have passed (at least ``min_rounds``).

What is checked (each failure is a *violation*; :func:`main` exits 1 if there is one):

* every call either returned the valid answer (the text the server gives without faults,
  with ``finish_reason == "stop"``) or raised an :class:`~arli.ArliError`: an untyped
  error or a wrong or partial answer is a violation;
* none hung: a call still running after ``call_timeout`` seconds (300; longer than its
  three attempts at the skins' ``read_timeout`` of 60 s, which also bounds the wait for a
  pooled connection) is a violation;
* after each round no pooled connection is still checked out (httpcore's own books);
* after the run (clients closed, loop closed) our open sockets and threads are back to
  their baseline;
* the resident memory grew by less than ``max_rss_growth_mb`` between the end of the first
  round (pools, caches and imports warmed up) and the end of the last one.

Loopback only: the server listens on 127.0.0.1 and nothing else is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import gc
import json
import os
import platform
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from arli import ArliError
from bench._server import reference_server

MODEL = "Mistral-Nemo-12B-Instruct-2407"
KEY = "bench-key"  # the key bench._server.reference_server starts the server with
CHAT = "/v1/chat/completions"
PROMPT = "Hello"

#: The injected faults, each as the JSON of a reference-server ``Fault`` (path and rate added).
FAULTS: dict[str, dict[str, Any]] = {
    "429 with Retry-After": {"kind": "status", "status": 429, "headers": {"retry-after": "1"}},
    "503": {"kind": "status", "status": 503},
    "reset before the answer": {"kind": "drop_before_response"},
    "reset inside the answer": {"kind": "drop_mid_stream", "after_events": 1},
    "truncated stream": {"kind": "truncate_sse", "after_events": 2},
}


@dataclass
class Outcome:
    """How one call ended."""

    skin: str
    op: str
    status: str  # "ok", "typed", "untyped", "invalid", "hung"
    detail: str = ""
    retries: int | None = None
    seconds: float = 0.0


@dataclass
class Gauges:
    """Process figures: sockets, threads and resident memory, now and at their peak."""

    peak_sockets: int = 0
    peak_threads: int = 0
    peak_rss_mb: float = 0.0

    def sample(self) -> None:
        """Read the figures once and keep the peaks."""
        self.peak_sockets = max(self.peak_sockets, open_sockets())
        self.peak_threads = max(self.peak_threads, threading.active_count())
        self.peak_rss_mb = max(self.peak_rss_mb, rss_mb())


@dataclass
class Report:
    """What a soak run measured, and what it found wrong."""

    options: dict[str, Any]
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    retries: Counter[int] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    rounds: int = 0
    calls: int = 0
    seconds: float = 0.0
    slowest_call: float = 0.0
    server_requests: int = 0
    server_faults: int = 0
    figures: dict[str, float] = field(default_factory=dict)

    def add(self, outcome: Outcome) -> None:
        """Count one call's outcome; keep the first few violations verbatim."""
        self.calls += 1
        self.slowest_call = max(self.slowest_call, outcome.seconds)
        self.outcomes[f"{outcome.skin} {outcome.op}: {outcome.status}"] += 1
        if outcome.status == "typed":
            self.errors[outcome.detail] += 1
        if outcome.retries is not None:
            self.retries[outcome.retries] += 1
        if outcome.status not in ("ok", "typed") and len(self.violations) < 20:
            self.violations.append(
                f"{outcome.skin} {outcome.op}: {outcome.status}: {outcome.detail}"
            )

    @property
    def ok(self) -> bool:
        """Whether nothing was wrong."""
        bad = {"untyped", "invalid", "hung"}
        return not self.violations and not any(
            n for key, n in self.outcomes.items() if key.rsplit(": ", 1)[1] in bad
        )

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-compatible data."""
        return {
            "ok": self.ok,
            "options": self.options,
            "rounds": self.rounds,
            "calls": self.calls,
            "seconds": round(self.seconds, 1),
            "slowest_call_s": round(self.slowest_call, 2),
            "server_requests": self.server_requests,
            "server_faults": self.server_faults,
            "outcomes": dict(sorted(self.outcomes.items())),
            "errors": dict(self.errors.most_common()),
            "retries_taken": {str(k): v for k, v in sorted(self.retries.items())},
            "figures": self.figures,
            "violations": self.violations,
        }


# -- process figures ---------------------------------------------------------------------------


def open_sockets() -> int:
    """Our process's open socket descriptors (Linux ``/proc``)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def rss_mb() -> float:
    """Our resident memory in MiB (Linux ``/proc``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def checked_out(http: httpx.AsyncClient) -> tuple[int, int]:
    """``(requests the pool still serves, connections neither idle nor closed)``."""
    pool = http._transport._pool  # type: ignore[attr-defined]
    busy = [c for c in pool.connections if not (c.is_idle() or c.is_closed())]
    return len(pool._requests), len(busy)


# -- the server --------------------------------------------------------------------------------


def control(url: str, method: str, path: str, body: Any = None) -> Any:
    """One request to the server's control endpoints (a fresh connection, closed after)."""
    with httpx.Client(base_url=url, timeout=10) as http:
        response = http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()


def inject_faults(url: str, rate: float) -> None:
    """Queue every fault of :data:`FAULTS`, forever, so that about ``rate`` of calls get one."""
    each = 1.0 - (1.0 - rate) ** (1.0 / len(FAULTS))  # the queue tries them one by one
    for fault in FAULTS.values():
        control(
            url,
            "POST",
            "/_control/faults",
            {**fault, "path": CHAT, "times": -1, "probability": each},
        )


# -- the calls ---------------------------------------------------------------------------------

Answer = tuple[str, str | None, int | None]  # text, finish reason, retries_taken
Call = Callable[[], Awaitable[Answer]]


@dataclass
class Skin:
    """One skin's two calls and the client they share."""

    name: str
    calls: dict[str, Call]
    client: Any


def skins(url: str, read_timeout: float) -> list[Skin]:
    """Each skin's chat and stream calls, built on fresh skin objects."""
    from llama_index.core.llms import ChatMessage

    from langchain_arli import ChatArli
    from llama_index_arli import Arli

    options: dict[str, Any] = {"model": MODEL, "api_key": KEY, "base_url": url, "max_tokens": 16}
    lc = ChatArli(**options, timeout=read_timeout)
    li = Arli(**options, timeout=read_timeout)
    messages = [ChatMessage(role="user", content=PROMPT)]

    async def lc_chat() -> Answer:
        message = await lc.ainvoke(PROMPT)
        meta = message.response_metadata
        return str(message.content), meta.get("finish_reason"), meta.get("retries_taken")

    async def lc_stream() -> Answer:
        total: Any = None
        async for chunk in lc.astream(PROMPT):
            total = chunk if total is None else total + chunk
        if total is None:
            return "", None, None
        return str(total.content), total.response_metadata.get("finish_reason"), None

    async def li_chat() -> Answer:
        response = await li.achat(messages)
        extra = response.additional_kwargs
        return str(response.message.content), extra.get("finish_reason"), extra.get("retries_taken")

    async def li_stream() -> Answer:
        last: Any = None
        async for delta in await li.astream_chat(messages):
            last = delta
        if last is None:
            return "", None, None
        return str(last.message.content), last.additional_kwargs.get("finish_reason"), None

    return [
        Skin("langchain", {"chat": lc_chat, "stream": lc_stream}, lc.client),
        Skin("llama_index", {"chat": li_chat, "stream": li_stream}, li.client),
    ]


async def one_call(skin: str, op: str, call: Call, expected: str, timeout: float) -> Outcome:
    """Run one call under ``timeout`` and classify how it ended."""
    start = time.monotonic()
    outcome = Outcome(skin, op, "ok")
    try:
        text, finish, outcome.retries = await asyncio.wait_for(call(), timeout)
    except ArliError as exc:
        outcome.status, outcome.detail = "typed", type(exc).__name__
        outcome.retries = getattr(exc, "retries_taken", None)
    except TimeoutError:
        outcome.status, outcome.detail = "hung", f"still running after {timeout:g} s"
    except Exception as exc:
        outcome.status, outcome.detail = "untyped", f"{type(exc).__name__}: {exc}"[:300]
    else:
        if text != expected or finish != "stop":
            outcome.status, outcome.detail = "invalid", f"{text!r} (finish {finish!r})"[:300]
    outcome.seconds = time.monotonic() - start
    return outcome


async def run_round(
    all_skins: list[Skin], expected: dict[str, str], report: Report, opts: Any
) -> None:
    """``opts.concurrency`` calls at once through each skin in turn, then the pool books."""
    for skin in all_skins:
        plan = ["chat", "stream"] * (opts.concurrency // 2) + ["chat"] * (opts.concurrency % 2)
        random.shuffle(plan)
        tasks = [
            one_call(skin.name, op, skin.calls[op], expected[skin.name], opts.call_timeout)
            for op in plan
        ]
        for outcome in await asyncio.gather(*tasks):
            report.add(outcome)
        books = checked_out(skin.client.transport.async_client())
        if books != (0, 0):
            report.violations.append(f"{skin.name}: after a round the pool still holds {books}")


async def sampler(gauges: Gauges, stop: asyncio.Event) -> None:
    """Sample the process figures every 0.2 s until ``stop``."""
    while not stop.is_set():
        gauges.sample()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)


async def soak(url: str, opts: Any, report: Report, gauges: Gauges) -> None:
    """The rounds, inside one event loop; the clients are closed at the end."""
    all_skins = skins(url, opts.read_timeout)
    expected = {}
    for skin in all_skins:  # an answer without faults: what a valid one is
        expected[skin.name], _, _ = await skin.calls["chat"]()
    inject_faults(url, opts.fault_rate)
    stop = asyncio.Event()
    watcher = asyncio.create_task(sampler(gauges, stop))
    start = time.monotonic()
    try:
        while report.rounds < opts.min_rounds or time.monotonic() - start < opts.duration:
            await run_round(all_skins, expected, report, opts)
            report.rounds += 1
            stats = control(url, "GET", "/_control/stats")
            report.server_requests += stats["requests_total"]
            report.server_faults += stats["faults_applied"]
            control(url, "POST", "/_control/reset")  # also drops the server's request log
            inject_faults(url, opts.fault_rate)
            gc.collect()
            report.figures.setdefault("rss_after_round_1_mb", round(rss_mb(), 1))
            report.figures["rss_after_last_round_mb"] = round(rss_mb(), 1)
            print(
                f"round {report.rounds}: {report.calls} calls, {time.monotonic() - start:.0f} s,"
                f" RSS {rss_mb():.1f} MiB",
                flush=True,
            )
    finally:
        report.seconds = time.monotonic() - start
        stop.set()
        await watcher
        for skin in all_skins:
            await skin.client.aclose()


def run(opts: Any) -> Report:
    """Start the server, soak, and check the process figures against their baseline."""
    report = Report(options={k: v for k, v in vars(opts).items() if k not in ("json", "results")})
    # Imported (and their lazy modules loaded) before the baseline is taken.
    from langchain_arli import ChatArli  # noqa: F401
    from llama_index_arli import Arli  # noqa: F401

    gc.collect()
    base_sockets, base_threads, base_rss = open_sockets(), threading.active_count(), rss_mb()
    gauges = Gauges()
    with reference_server("--token-latency", str(opts.token_latency)) as url:
        asyncio.run(soak(url, opts, report, gauges))
        gc.collect()
        sockets, threads = open_sockets(), threading.active_count()
    figures = report.figures
    figures.update(
        rss_start_mb=round(base_rss, 1),
        rss_peak_mb=round(gauges.peak_rss_mb, 1),
        rss_growth_mb=round(
            figures["rss_after_last_round_mb"] - figures["rss_after_round_1_mb"], 1
        ),
        sockets_baseline=base_sockets,
        sockets_peak=gauges.peak_sockets,
        sockets_after=sockets,
        threads_baseline=base_threads,
        threads_peak=gauges.peak_threads,
        threads_after=threads,
    )
    if sockets > base_sockets:
        report.violations.append(f"{sockets - base_sockets} socket(s) left open after the run")
    if threads > base_threads:
        report.violations.append(f"{threads - base_threads} thread(s) left running after the run")
    if figures["rss_growth_mb"] > opts.max_rss_growth_mb:
        report.violations.append(
            f"RSS grew {figures['rss_growth_mb']} MiB after the first round"
            f" (bound {opts.max_rss_growth_mb} MiB)"
        )
    return report


SOAK_START = "<!-- soak: written by `make soak` (python -m tests.soak); do not edit by hand -->"
SOAK_END = "<!-- end of soak -->"


def markdown(report: Report, command: str) -> list[str]:
    """The report as the ``## Soak`` section of ``bench/results.md`` (between markers)."""
    o, f = report.options, report.figures
    by_status = Counter(key.rsplit(": ", 1)[1] for key in report.outcomes.elements())
    errors = ", ".join(f"{name} {n}" for name, n in report.errors.most_common())
    retries = ", ".join(f"{k}: {v}" for k, v in sorted(report.retries.items()))
    bad = {name: by_status[name] for name in ("untyped", "invalid", "hung")}
    machine = (
        f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    )
    met = {True: "yes", False: "**no**"}
    pool_ok = not any("pool still holds" in v for v in report.violations)
    rss_ok = f["rss_growth_mb"] <= o["max_rss_growth_mb"]
    return [
        SOAK_START,
        "## Soak",
        "",
        f"Measured by `{command}` on {time.strftime('%Y-%m-%d %H:%M')} ({machine}, "
        f"{os.cpu_count()} CPUs shared with other work). The reference server runs in its own "
        f"process on 127.0.0.1; {report.rounds} rounds of {o['concurrency']} concurrent calls "
        "through each skin in turn (LangChain `ChatArli`, LlamaIndex `Arli`; half `ainvoke`/"
        "`achat`, half `astream`/`astream_chat`), about "
        f"{o['fault_rate']:.0%} of the requests answered with a random fault: "
        + ", ".join(FAULTS)
        + ". The CI runs the short form (`make soak-ci`: 2 rounds of 200).",
        "",
        "| measurement | value | bound | met |",
        "|---|---|---|---|",
        f"| calls | {report.calls:,} in {report.seconds:.0f} s | | |",
        f"| requests the server saw / faults it injected | {report.server_requests:,} /"
        f" {report.server_faults:,} | | |",
        f"| valid answers (the unfaulted text, `finish_reason` stop) | {by_status['ok']:,} | | |",
        f"| typed errors (`ArliError`) | {by_status['typed']:,}: {errors or 'none'} | | |",
        f"| untyped errors / wrong or partial answers / hung calls | {bad['untyped']} /"
        f" {bad['invalid']} / {bad['hung']} | 0 / 0 / 0 | {met[not any(bad.values())]} |",
        f"| slowest call | {report.slowest_call:.1f} s | < {o['call_timeout']:g} s (hung) |"
        f" {met[report.slowest_call < o['call_timeout']]} |",
        f"| `retries_taken` per chat answer or error (retries: calls) | {retries} | | |",
        f"| pooled connections checked out after each round | {0 if pool_ok else '> 0'} | 0 |"
        f" {met[pool_ok]} |",
        f"| open sockets: baseline / peak / after | {f['sockets_baseline']} /"
        f" {f['sockets_peak']} / {f['sockets_after']} | back to baseline |"
        f" {met[f['sockets_after'] <= f['sockets_baseline']]} |",
        f"| threads: baseline / peak / after | {f['threads_baseline']} / {f['threads_peak']} /"
        f" {f['threads_after']} | back to baseline |"
        f" {met[f['threads_after'] <= f['threads_baseline']]} |",
        f"| RSS: start / after round 1 / after the last round / peak | {f['rss_start_mb']} /"
        f" {f['rss_after_round_1_mb']} / {f['rss_after_last_round_mb']} / {f['rss_peak_mb']}"
        " MiB | | |",
        f"| RSS growth from round 1 to the last round | {f['rss_growth_mb']} MiB |"
        f" <= {o['max_rss_growth_mb']:g} MiB | {met[rss_ok]} |",
        SOAK_END,
    ]


def write_results(path: Path, block: list[str]) -> None:
    """Put the soak section into ``path``: replace the previous one, else append it."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    section = "\n".join(block)
    if SOAK_START in text and SOAK_END in text:
        head, rest = text.split(SOAK_START, 1)
        text = head + section + rest.split(SOAK_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m tests.soak``."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--duration", type=float, default=150.0, help="seconds of rounds (150)")
    parser.add_argument("--min-rounds", type=int, default=2, help="rounds at least (2)")
    parser.add_argument("--concurrency", type=int, default=1000, help="calls at once per skin")
    parser.add_argument("--fault-rate", type=float, default=0.2, help="share of faulted calls")
    parser.add_argument(
        "--read-timeout", type=float, default=60.0, help="the skins' read (and pool) timeout"
    )
    parser.add_argument(
        "--call-timeout",
        type=float,
        default=300.0,
        help="a call still running after this is hung (> 3 attempts x the read timeout)",
    )
    parser.add_argument("--token-latency", type=float, default=0.002, help="server, per token")
    parser.add_argument("--max-rss-growth-mb", type=float, default=32.0)
    parser.add_argument("--seed", type=int, default=14, help="the order of the calls")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    parser.add_argument(
        "--results", type=Path, default=None, help="write the Soak section into this file"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the soak; print its report; 1 if anything was wrong."""
    opts = build_parser().parse_args(argv)
    random.seed(opts.seed)
    # The run is bounded even if something hangs past the per-call check: dump every
    # thread's stack and exit 1.
    faulthandler.dump_traceback_later(opts.duration + 3 * opts.call_timeout + 60, exit=True)
    try:
        report = run(opts)
    finally:
        faulthandler.cancel_dump_traceback_later()
    data = report.to_json()
    print(json.dumps(data, indent=2))
    if opts.json is not None:
        opts.json.write_text(json.dumps(data, indent=2) + "\n")
    if opts.results is not None:
        command = "python -m tests.soak " + " ".join(argv if argv is not None else sys.argv[1:])
        write_results(opts.results, markdown(report, command.strip()))
        print(f"wrote the Soak section in {opts.results}")
    print("soak: OK" if report.ok else "soak: FAILED", flush=True)
    return 0 if report.ok else 1

"""ChatArli vs ChatOpenAI (langchain-openai) vs raw httpx, against the reference server.

Every client sends the same chat request to the same reference server, running in its
own process on 127.0.0.1. Figures are medians; "per streamed token" is the median wall
time of a whole streamed answer divided by its number of content chunks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from bench._common import Result, import_time, interleaved_medians
from bench._server import reference_server

MODEL = "Mistral-Nemo-12B-Instruct-2407"
KEY = "bench-key"
GROUP = "LangChain text"
CALL_ROUNDS = 16
STREAM_ROUNDS = 15
# The server echoes unknown prompts ("You said: ..."), so a long prompt gives a long stream.
LONG_PROMPT = " ".join(f"word{i}" for i in range(400))


def _raw_call(client: httpx.Client, url: str) -> Callable[[], object]:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}], "stream": False}
    headers = {"Authorization": f"Bearer {KEY}"}

    def call() -> object:
        response = client.post(url + "/v1/chat/completions", json=body, headers=headers)
        response.raise_for_status()
        return response.json()["choices"][0]["message"]["content"]

    return call


def _raw_stream(client: httpx.Client, url: str) -> Callable[[], int]:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": LONG_PROMPT}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"Authorization": f"Bearer {KEY}"}

    def stream() -> int:
        tokens = 0
        with client.stream("POST", url + "/v1/chat/completions", json=body, headers=headers) as r:
            for line in r.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    chunk = json.loads(line[6:])
                    if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                        tokens += 1
        return tokens

    return stream


def _bare_chat_model(client: httpx.Client, url: str) -> Any:
    """LangChain's own floor: a bare BaseChatModel whose _generate is the raw httpx call."""
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    raw = _raw_call(client, url)

    class BareChatModel(BaseChatModel):
        @property
        def _llm_type(self) -> str:
            return "bare"

        def _generate(
            self,
            messages: object,
            stop: object = None,
            run_manager: object = None,
            **kwargs: object,
        ) -> ChatResult:
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=str(raw())))])

    return BareChatModel()


def run() -> list[Result]:
    from langchain_arli import ChatArli

    calls: dict[str, Callable[[], object]] = {}
    streams: dict[str, Callable[[], int]] = {}
    with reference_server() as url:
        raw_client = httpx.Client()
        calls["raw"] = _raw_call(raw_client, url)
        streams["raw"] = _raw_stream(raw_client, url)
        floor = _bare_chat_model(raw_client, url)
        calls["floor"] = lambda: floor.invoke("Hello")
        arli = ChatArli(model=MODEL, api_key=KEY, base_url=url)
        calls["arli"] = lambda: arli.invoke("Hello")
        streams["arli"] = lambda: sum(1 for c in arli.stream(LONG_PROMPT) if c.content)
        try:
            from langchain_openai import ChatOpenAI
        except ImportError:
            pass
        else:
            openai = ChatOpenAI(
                model=MODEL, api_key=KEY, base_url=url + "/v1", stream_usage=True, max_retries=0
            )
            calls["openai"] = lambda: openai.invoke("Hello")
            streams["openai"] = lambda: sum(1 for c in openai.stream(LONG_PROMPT) if c.content)
        n_tokens = streams["raw"]()
        per_call = interleaved_medians(calls, rounds=CALL_ROUNDS, per_round=25)
        per_stream = interleaved_medians(streams, rounds=STREAM_ROUNDS, per_round=2, warmup=2)
    per_token = {name: t / n_tokens for name, t in per_stream.items()}
    return _results(per_call, per_token, n_tokens)


def _results(
    per_call: dict[str, float], per_token: dict[str, float], n_tokens: int
) -> list[Result]:
    raw_call, raw_tok = per_call["raw"], per_token["raw"]
    arli_call, arli_tok = per_call["arli"], per_token["arli"]
    results = [
        Result(GROUP, "raw httpx, per chat call", raw_call * 1e3, "ms"),
        Result(
            GROUP,
            "bare BaseChatModel over the raw call, per chat call",
            per_call["floor"] * 1e3,
            "ms",
            note=f"{per_call['floor'] / raw_call:.2f}x raw: LangChain's own invoke overhead",
        ),
        Result(
            GROUP,
            "ChatArli, per chat call",
            arli_call * 1e3,
            "ms",
            target=f"<= 1.25x raw ({1.25 * raw_call * 1e3:.3f} ms)",
            ok=arli_call <= 1.25 * raw_call,
            note=f"{arli_call / raw_call:.2f}x raw",
        ),
    ]
    if "openai" in per_call:
        results.append(
            Result(
                GROUP,
                "ChatOpenAI, per chat call",
                per_call["openai"] * 1e3,
                "ms",
                note=f"{per_call['openai'] / raw_call:.2f}x raw",
            )
        )
    else:
        results.append(
            Result(GROUP, "ChatOpenAI", 0, "", note="skipped: langchain-openai not installed")
        )
    results += [
        Result(
            GROUP,
            "raw httpx, per streamed token",
            raw_tok * 1e6,
            "µs",
            note=f"{n_tokens}-token answers",
        ),
        Result(
            GROUP,
            "ChatArli, per streamed token",
            arli_tok * 1e6,
            "µs",
            target=f"<= 2.6x raw ({2.6 * raw_tok * 1e6:.1f} µs)",
            ok=arli_tok <= 2.6 * raw_tok,
            note=f"{arli_tok / raw_tok:.2f}x raw",
        ),
    ]
    if "openai" in per_token:
        results.append(
            Result(
                GROUP,
                "ChatOpenAI, per streamed token",
                per_token["openai"] * 1e6,
                "µs",
                note=f"{per_token['openai'] / raw_tok:.2f}x raw",
            )
        )
    base = import_time("import langchain_core.language_models, httpx")
    ours = import_time("import langchain_arli")
    results += [
        Result(GROUP, "import langchain_core.language_models, httpx", base * 1e3, "ms"),
        Result(
            GROUP,
            "import langchain_arli",
            ours * 1e3,
            "ms",
            target=f"<= 1.3x ({1.3 * base * 1e3:.0f} ms)",
            ok=ours <= 1.3 * base,
            note=f"{ours / base:.2f}x",
        ),
    ]
    # `import langchain_arli` is lazy; what a user pays is the class and BaseChatModel.
    base_cls = import_time("from langchain_core.language_models import BaseChatModel; import httpx")
    ours_cls = import_time("from langchain_arli import ChatArli")
    results += [
        Result(
            GROUP, "from langchain_core.language_models import BaseChatModel", base_cls * 1e3, "ms"
        ),
        Result(
            GROUP,
            "from langchain_arli import ChatArli",
            ours_cls * 1e3,
            "ms",
            target=f"<= 1.3x ({1.3 * base_cls * 1e3:.0f} ms)",
            ok=ours_cls <= 1.3 * base_cls,
            note=f"{ours_cls / base_cls:.2f}x the BaseChatModel import (the class needs it)",
        ),
    ]
    return results

"""LangChain text: ChatArli vs its framework floor vs ChatOpenAI, paired; and import times.

The call and stream figures come from the paired measurement in :mod:`bench._paired`:
every client (raw httpx = 1.0, ChatArli, LI Arli, a bare ``BaseChatModel`` and a bare
``CustomLLM`` over raw httpx, ChatOpenAI, OpenAILike) in this one process, interleaved
call by call against one reference server, each figure the median of the per-round ratios.
Targets: per call at or under the floor; per streamed token <= 1.10x the floor.
"""

from __future__ import annotations

from bench import _paired
from bench._common import Result, import_time

GROUP = "LangChain text"


def run() -> list[Result]:
    results = _paired.paired_rows(GROUP, _paired.CHAT_ARLI, _paired.LC_FLOOR, _paired.CHAT_OPENAI)
    return results + _import_rows()


def _import_rows() -> list[Result]:
    results: list[Result] = []
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

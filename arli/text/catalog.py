"""What our documents say about each text model, and the capabilities both skins report.

The table lists the models the provider documents (``tests/fixtures/docs/``: seed 002's
"Vision Models", "Vision / OCR Guide" and "Model Recommendations" tables, seed 003's
examples). A field the documents do not state is ``None`` (unknown), never guessed: the
context window, in particular, is not in any document; it comes from the server's
``GET /v1/models`` (``max_model_len``, see :mod:`arli.text.facts`).

What this package adds on top of a model is the same for every model and lives in
:func:`capabilities`: images reach the model as base64 parts whatever the input form
(URLs are downloaded, PDFs rasterized to one image per page), tools and structured output
go through the OpenAI fields (and guided decoding on Arli).

Both skins read these facts: LangChain's ``ChatArli.profile`` and LlamaIndex's
``Arli.metadata`` (``is_function_calling_model``, ``context_window``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ModelFacts", "capabilities", "facts_for", "interleaves_reasoning"]


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What a provider's documents say about one model.

    Attributes:
        model: the model id.
        provider: the provider preset (``"arli"``, ``"featherless"``).
        vision: the model takes images (``None``: the documents do not say).
        reasoning: the model writes reasoning before its answer (``None``: not said).
        source: where the documents say it.
    """

    model: str
    provider: str
    vision: bool | None = None
    reasoning: bool | None = None
    source: str = ""


_SEED_002_VISION = "seed 002, 'Vision / OCR Guide'"
_SEED_002_RECOMMENDED = "seed 002, 'Model Recommendations'"
_SEED_003 = "seed 003, examples"

_TABLE: tuple[ModelFacts, ...] = (
    # Featherless AI: "Supported Vision Models" and the "Vision / OCR Guide".
    ModelFacts("google/gemma-3-27b-it", "featherless", vision=True, source=_SEED_002_VISION),
    ModelFacts("google/gemma-3-12b-it", "featherless", vision=True, source=_SEED_002_VISION),
    ModelFacts("google/gemma-3-4b-it", "featherless", vision=True, source=_SEED_002_VISION),
    ModelFacts(
        "mistralai/Mistral-Small-3.1-24B-Instruct-2503",
        "featherless",
        vision=True,
        source=_SEED_002_VISION,
    ),
    ModelFacts(
        "mistralai/Mistral-Small-3.2-24B-Instruct-2506",
        "featherless",
        vision=True,
        source=_SEED_002_VISION,
    ),
    ModelFacts(
        "mistralai/Magistral-Small-2506-24B-Instruct",
        "featherless",
        vision=True,
        source=_SEED_002_VISION,
    ),
    # Featherless AI: "Model Recommendations" (chat, coding, reasoning, fast text).
    ModelFacts("Qwen/Qwen2.5-72B-Instruct", "featherless", source=_SEED_002_RECOMMENDED),
    ModelFacts("Qwen/Qwen2.5-Coder-32B-Instruct", "featherless", source=_SEED_002_RECOMMENDED),
    ModelFacts(
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
        "featherless",
        reasoning=True,
        source=_SEED_002_RECOMMENDED + " ('Reasoning: chain of thought')",
    ),
    ModelFacts("Qwen/Qwen2.5-0.5B-Instruct", "featherless", source=_SEED_002_RECOMMENDED),
    # Arli AI: "Arli AI Vision" (base64 only) and the text API's examples.
    ModelFacts("Qwen/Qwen3.5-27B-Derestricted", "arli", vision=True, source=_SEED_002_VISION),
    ModelFacts("Qwen/Qwen3.5-VL", "arli", vision=True, source=_SEED_002_VISION),
    ModelFacts("Mistral-Nemo-12B-Instruct-2407", "arli", source=_SEED_003),
    ModelFacts("Mistral-Small-24B-Instruct-2501", "arli", source=_SEED_003),
)

_BY_ID: dict[tuple[str, str], ModelFacts] = {(f.provider, f.model): f for f in _TABLE}
# The keyless proxy serves Arli's models.
_PROVIDER_TABLE = {"arli-proxy": "arli"}


def facts_for(provider: str, model: str) -> ModelFacts:
    """The documented facts of ``model`` on ``provider`` (all unknown when not listed)."""
    table = _PROVIDER_TABLE.get(provider, provider)
    return _BY_ID.get((table, model)) or ModelFacts(model, provider)


def capabilities(facts: ModelFacts, *, max_input_tokens: int | None = None) -> dict[str, Any]:
    """What a chat skin can truthfully say of ``facts``'s model, by LangChain profile names.

    A capability the documents do not state is left out (``None`` means "unknown", which a
    profile expresses by the key's absence), so an agent that filters on it does not see a
    guess. Images, PDFs and images in tool results follow ``vision``: this package turns
    each of them into base64 image parts, the one form every provider takes.

    Args:
        facts: the model's documented facts.
        max_input_tokens: the server's ``max_model_len`` for the model, when known.

    Returns:
        A dict of capability name to value (``max_input_tokens``, ``image_inputs``...).
    """
    out: dict[str, Any] = {
        "text_inputs": True,
        "text_outputs": True,
        # Tools go out as OpenAI ``tools``; the engines parse the calls. Forced choice and
        # streamed ``tool_call_chunks`` work the same way for every model.
        "tool_calling": True,
        "tool_choice": True,
        "tool_call_streaming": True,
        # json_schema / json_mode go out as response_format (and guided decoding on Arli),
        # which the server enforces while sampling, whatever the model.
        "structured_output": True,
        "temperature": True,
        "image_outputs": False,
        "audio_inputs": False,
        "video_inputs": False,
    }
    if max_input_tokens:
        out["max_input_tokens"] = max_input_tokens
    if facts.vision is not None:
        for name in (
            "image_inputs",
            "image_url_inputs",
            "pdf_inputs",
            "image_tool_message",
            "pdf_tool_message",
        ):
            out[name] = facts.vision
    if facts.reasoning is not None:
        out["reasoning_output"] = facts.reasoning
    return out


#: Model families whose chat templates render earlier turns' reasoning (interleaved
#: thinking) and degrade without it: MiniMax-M2, Kimi K2 and GLM 4.5+ (vllm-project/vllm
#: issues #38488 and #33616; vLLM reads ``reasoning`` on incoming assistant messages).
_INTERLEAVED_REASONING = ("minimax-m2", "kimi-k2", "glm-4.5", "glm-4.6", "glm-4.7", "glm-5")


def interleaves_reasoning(model: str) -> bool:
    """Whether ``model``'s chat template expects earlier reasoning to be sent back."""
    name = model.lower()
    return any(family in name for family in _INTERLEAVED_REASONING)

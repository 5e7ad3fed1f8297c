"""``ArliLLM``: Arli AI text completions (``/v1/completions``) for LangChain."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.base import LangSmithParams
from langchain_core.language_models.llms import BaseLLM
from langchain_core.outputs import Generation, GenerationChunk, LLMResult

from arli import ArliResponseError
from arli.text.parse import Completion, CompletionChunk
from langchain_arli._common import ArliTextModel, FeatherlessSettings
from langchain_arli._convert import empty_stream_error

__all__ = ["ArliLLM", "FeatherlessLLM"]


class ArliLLM(ArliTextModel, BaseLLM):
    """Arli AI text completion model (``/v1/completions``, raw prompts, no chat template).

    It takes the same sampler extras and guided decoding as
    :class:`~langchain_arli.ChatArli`; some Aphrodite versions apply the extra samplers only
    on this endpoint. ``logprobs`` is the number of top alternatives per token here.

    Setup:
        .. code-block:: bash

            pip install "arli-integrations[langchain]"
            export ARLIAI_API_KEY="..."

    Instantiate:
        .. code-block:: python

            from langchain_arli import ArliLLM

            llm = ArliLLM(model="Mistral-Nemo-12B-Instruct-2407", max_tokens=64, min_p=0.05)

    Invoke:
        .. code-block:: python

            llm.invoke("The three laws of robotics are")
            for text in llm.stream("Once upon a time"):
                print(text, end="")

    ``echo`` and ``suffix`` can be passed per call; usage is in each generation's
    ``generation_info["usage"]`` and in ``llm_output["token_usage"]``.

    ``provider="arli-proxy"`` sends the same requests to the keyless proxy (no key), and
    ``max_concurrent_requests`` caps the requests in flight per key and base URL, as on
    :class:`~langchain_arli.ChatArli`.
    """

    @property
    def _llm_type(self) -> str:
        return "arli-completions"

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """``["langchain_arli", "llms"]``."""
        return ["langchain_arli", "llms"]

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        return self._ls_params("llm", stop, kwargs)

    @staticmethod
    def _call_kwargs(stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        if stop is not None:
            kwargs["stop"] = stop
        return kwargs

    @staticmethod
    def _result(completion: Completion, prompts: list[str]) -> LLMResult:
        per_prompt = max(1, len(completion.choices) // max(1, len(prompts)))
        usage = completion.usage.counts() if completion.usage is not None else None
        generations: list[list[Generation]] = [[] for _ in prompts]
        for choice in sorted(completion.choices, key=lambda c: c.index):
            info: dict[str, Any] = {
                "finish_reason": choice.finish_reason,
                "stop_reason": choice.stop_reason,
                "usage": usage,
            }
            if choice.logprobs is not None:
                info["logprobs"] = choice.logprobs
            slot = min(choice.index // per_prompt, len(prompts) - 1)
            generations[slot].append(Generation(text=choice.text, generation_info=info))
        missing = [i for i, slot_generations in enumerate(generations) if not slot_generations]
        if missing:  # LangChain needs a generation for every prompt
            msg = f"the completion has no choice for prompt {missing[0]} (of {len(prompts)})"
            raise ArliResponseError(msg, body=json.dumps(completion.raw, default=str)[:300])
        return LLMResult(
            generations=generations,
            llm_output={"token_usage": usage, "model_name": completion.model, "id": completion.id},
        )

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if self.streaming and len(prompts) == 1:
            chunks = list(self._stream(prompts[0], stop, run_manager, **kwargs))
            text = "".join(c.text for c in chunks)
            info: dict[str, Any] = {}
            for chunk in chunks:
                info.update(chunk.generation_info or {})
            return LLMResult(generations=[[Generation(text=text, generation_info=info)]])
        # one request for every prompt: /v1/completions takes a list of prompts
        prompt = prompts[0] if len(prompts) == 1 else prompts
        call = self._calls.complete(self._options(), prompt, self._call_kwargs(stop, kwargs))
        return self._result(call.result, prompts)

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if self.streaming and len(prompts) == 1:
            chunks = [c async for c in self._astream(prompts[0], stop, run_manager, **kwargs)]
            text = "".join(c.text for c in chunks)
            info: dict[str, Any] = {}
            for chunk in chunks:
                info.update(chunk.generation_info or {})
            return LLMResult(generations=[[Generation(text=text, generation_info=info)]])
        prompt = prompts[0] if len(prompts) == 1 else prompts
        call = await self._calls.acomplete(self._options(), prompt, self._call_kwargs(stop, kwargs))
        return self._result(call.result, prompts)

    @staticmethod
    def _chunk(chunk: CompletionChunk) -> GenerationChunk | None:
        if not chunk.choices:
            usage = chunk.usage.counts() if chunk.usage is not None else None
            return GenerationChunk(text="", generation_info={"usage": usage}) if usage else None
        choice = next((c for c in chunk.choices if c.index == 0), None)
        if choice is None:
            return None
        info: dict[str, Any] | None = None
        if choice.finish_reason:
            info = {"finish_reason": choice.finish_reason, "stop_reason": choice.stop_reason}
        if choice.logprobs is not None:
            info = {**(info or {}), "logprobs": choice.logprobs}
        if not choice.text and info is None:
            return None
        return GenerationChunk(text=choice.text, generation_info=info)

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        stream = self._calls.stream_complete(
            self._options(), prompt, self._call_kwargs(stop, kwargs)
        )
        yielded = False
        for raw in stream:
            chunk = self._chunk(raw)
            if chunk is None:
                continue
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yielded = True
            yield chunk
        if not yielded:
            raise empty_stream_error()

    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        stream = self._calls.stream_complete(
            self._options(), prompt, self._call_kwargs(stop, kwargs)
        )
        yielded = False
        async for raw in stream:
            chunk = self._chunk(raw)
            if chunk is None:
                continue
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yielded = True
            yield chunk
        if not yielded:
            raise empty_stream_error()


class FeatherlessLLM(FeatherlessSettings, ArliLLM):
    """Featherless AI text completions (``/v1/completions``), on the same core as ``ArliLLM``.

    Takes the parameters Featherless documents (``temperature``, ``top_p``, ``top_k``,
    ``min_p``, ``repetition_penalty``, ``presence_penalty``, ``frequency_penalty``,
    ``stop``, ``seed``, ``max_tokens``); others are rejected before sending.

    Instantiate:
        .. code-block:: python

            from langchain_arli import FeatherlessLLM

            llm = FeatherlessLLM(model="Qwen/Qwen2.5-72B-Instruct", max_tokens=50)
            llm.invoke("The meaning of life is")
    """

    @property
    def _llm_type(self) -> str:
        return "featherless-completions"

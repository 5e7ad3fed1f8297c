"""Response rendering: JSON bodies and SSE streams in each flavor's exact key order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from tests.reference_server.text.flavors import _TextBase
from tests.reference_server.text.plan import _Output, _Step
from tests.reference_server.text.tokenizer import Tokenizer, _top_alternatives
from tests.reference_server.wire import (
    json_bytes,
    sse_event,
)


class _Rendering(_TextBase):
    """Builds the wire bodies and event streams from planned outputs."""

    def _usage(self, prompt: int, completion: int, *, final_stream: bool = False) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "total_tokens": prompt + completion,
            "completion_tokens": completion,
        }
        if final_stream:
            return usage
        if self.flavor.engine == "aphrodite":
            return usage
        usage["prompt_tokens_details"] = None
        if self.flavor.newer_keys:
            usage["completion_tokens_details"] = None
        return usage

    def _chunk_usage(self, prompt: int, completion: int) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "total_tokens": prompt + completion,
            "completion_tokens": completion,
        }
        if self.flavor.newer_keys:
            usage["completion_tokens_details"] = None
        return usage

    @staticmethod
    def _chat_logprobs(tokens: list[str], start: int, top: int) -> dict[str, Any]:
        content = []
        for offset, token in enumerate(tokens):
            alts = _top_alternatives(token, start + offset, max(top - 1, 0))
            content.append(
                {
                    "token": token,
                    "logprob": alts[0][1],
                    "bytes": list(token.encode()),
                    "top_logprobs": [
                        {"token": t, "logprob": lp, "bytes": list(t.encode())}
                        for t, lp in alts[:top]
                    ],
                }
            )
        return {"content": content}

    @staticmethod
    def _completion_logprobs(
        tokens: list[str], start: int, top: int, text_offset: int
    ) -> dict[str, Any]:
        offsets, lps, tops = [], [], []
        pos = text_offset
        for offset, token in enumerate(tokens):
            alts = _top_alternatives(token, start + offset, top)
            offsets.append(pos)
            pos += len(token)
            lps.append(alts[0][1])
            tops.append(dict(alts))
        return {
            "text_offset": offsets,
            "token_logprobs": lps,
            "tokens": tokens,
            "top_logprobs": tops,
        }

    def _chat_message(self, out: _Output, mode: str | None) -> dict[str, Any]:
        flavor = self.flavor
        reasoning = out.reasoning or None
        if out.tool_calls:
            content: Any = None if mode == "auto" else ""
        else:
            content = out.content
        tool_calls = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in out.tool_calls
        ]
        if flavor.engine == "aphrodite":
            message: dict[str, Any] = {
                "role": "assistant",
                "content": content,
                "tool_calls": tool_calls,
            }
            if reasoning is not None:
                message["reasoning_content"] = reasoning
            return message
        message = {
            "role": "assistant",
            "content": content,
            "refusal": None,
            "annotations": None,
            "audio": None,
            "function_call": None,
        }
        if tool_calls or flavor.empty_tool_calls:
            message["tool_calls"] = tool_calls
        message[flavor.reasoning_key] = reasoning
        return message

    def _chat_body(
        self,
        chat_id: str,
        created: int,
        model: str,
        outputs: list[_Output],
        modes: list[str | None],
        prompt_tokens: int,
        top_logprobs: int | None,
    ) -> dict[str, Any]:
        flavor = self.flavor
        choices = []
        for index, (out, mode) in enumerate(zip(outputs, modes, strict=True)):
            lp = None
            if top_logprobs is not None and not out.tool_calls:
                tokens = [s.text for s in out.steps if s.kind == "content" and s.text]
                lp = self._chat_logprobs(tokens, 0, top_logprobs)
            choice: dict[str, Any] = {
                "index": index,
                "message": self._chat_message(out, mode),
                "logprobs": lp,
                "finish_reason": out.finish_reason,
                "stop_reason": out.stop_reason,
            }
            if flavor.engine == "vllm":
                choice["token_ids"] = None
            if flavor.newer_keys:
                choice["routed_experts"] = None
            choices.append(choice)
        completion = sum(o.completion_tokens for o in outputs)
        body: dict[str, Any] = {
            "id": chat_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": choices,
        }
        if flavor.engine == "aphrodite":
            body["usage"] = self._usage(prompt_tokens, completion)
            body["prompt_logprobs"] = None
            return body
        body["service_tier"] = None
        body["system_fingerprint"] = flavor.system_fingerprint
        body["usage"] = self._usage(prompt_tokens, completion)
        body["prompt_logprobs"] = None
        body["prompt_token_ids"] = None
        if flavor.newer_keys:
            body["prompt_text"] = None
        body["kv_transfer_params"] = None
        if flavor.newer_keys:
            body["ec_transfer_params"] = None
            body["metrics"] = None
        return body

    def _delta(self, step: _Step, *, final: bool) -> dict[str, Any]:
        flavor = self.flavor
        if step.kind == "reasoning":
            return {flavor.reasoning_key: step.text}
        if step.kind == "tool_name":
            assert step.tool is not None
            call = {
                "id": step.tool.id,
                "type": "function",
                "index": 0,
                "function": {"name": step.tool.name},
            }
            return (
                {"content": None, "tool_calls": [call]}
                if flavor.newer_keys
                else {"tool_calls": [call]}
            )
        if step.kind == "tool_args":
            call = {"index": 0, "function": {"arguments": step.text}}
            return (
                {"content": None, "tool_calls": [call]}
                if flavor.newer_keys
                else {"tool_calls": [call]}
            )
        if final and not step.text and flavor.newer_keys:
            return {}
        return {"content": step.text}

    async def _chat_stream(
        self,
        chat_id: str,
        created: int,
        model: str,
        outputs: list[_Output],
        prompt_tokens: int,
        *,
        include_usage: bool,
        continuous: bool,
        logprobs: int | None,
    ) -> AsyncIterator[bytes]:
        flavor = self.flavor
        aphrodite = flavor.engine == "aphrodite"
        head = {
            "id": chat_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }

        def chunk(choice: dict[str, Any], usage: dict[str, Any] | None, role: bool) -> bytes:
            obj: dict[str, Any] = {**head, "choices": [choice]}
            if continuous:
                obj["usage"] = usage
            elif aphrodite and include_usage:
                obj["usage"] = None
            if role and not aphrodite:
                obj["prompt_token_ids"] = None
                if flavor.newer_keys:
                    obj["prompt_text"] = None
            return sse_event(json_bytes(obj).decode())

        for index in range(len(outputs)):
            role_choice = {
                "index": index,
                "delta": {"role": "assistant", "content": ""},
                "logprobs": None,
                "finish_reason": None,
            }
            yield chunk(role_choice, self._chunk_usage(prompt_tokens, 0), role=True)
        produced = [0] * len(outputs)
        positions = [0] * len(outputs)
        longest = max(len(o.steps) for o in outputs)
        first = True
        for step_index in range(longest):
            for index, out in enumerate(outputs):
                if step_index >= len(out.steps):
                    continue
                if self.settings.token_latency and not first:
                    await asyncio.sleep(self.settings.token_latency)
                first = False
                step = out.steps[step_index]
                final = step_index == len(out.steps) - 1
                lp = None
                if logprobs is not None and step.kind == "content" and step.text:
                    lp = self._chat_logprobs([step.text], positions[index], logprobs)
                    positions[index] += 1
                choice: dict[str, Any] = {
                    "index": index,
                    "delta": self._delta(step, final=final),
                    "logprobs": lp,
                    "finish_reason": out.finish_reason if final else None,
                }
                if final:
                    choice["stop_reason"] = out.stop_reason
                if not aphrodite:
                    choice["token_ids"] = None
                if final:
                    produced[index] = out.completion_tokens
                else:
                    produced[index] += 1
                if aphrodite:
                    usage = self._chunk_usage(prompt_tokens, 1)
                else:
                    usage = self._chunk_usage(prompt_tokens, produced[index])
                yield chunk(choice, usage, role=False)
        if include_usage:
            total = sum(o.completion_tokens for o in outputs)
            obj: dict[str, Any] = {
                **head,
                "choices": [],
                "usage": self._usage(prompt_tokens, total, final_stream=True),
            }
            if flavor.newer_keys:
                obj["system_fingerprint"] = flavor.system_fingerprint
            yield sse_event(json_bytes(obj).decode())
        yield sse_event("[DONE]")

    def _completion_body(
        self,
        cmpl_id: str,
        created: int,
        model: str,
        outputs: list[tuple[int, str, _Output]],
        prompt_tokens: int,
        *,
        logprobs: int | None,
        echo: bool,
    ) -> dict[str, Any]:
        """The non-streamed ``/v1/completions`` body."""
        choices = []
        for index, (_p_index, text, out) in enumerate(outputs):
            tokens = [s.text for s in out.steps if s.text]
            generated = "".join(tokens)
            full = (text + generated) if echo else generated
            lp = None
            if logprobs is not None:
                lp = self._completion_logprobs(tokens, 0, logprobs, len(text) if echo else 0)
                if echo:
                    prompt_toks = Tokenizer.split(text)
                    echo_lp = self._completion_logprobs(prompt_toks, 10_000, logprobs, 0)
                    echo_lp["token_logprobs"][0:1] = [None]
                    echo_lp["top_logprobs"][0:1] = [None]
                    lp = {k: echo_lp[k] + lp[k] for k in lp}
            choice: dict[str, Any] = {
                "index": index,
                "text": full,
                "logprobs": lp,
                "finish_reason": out.finish_reason,
                "stop_reason": out.stop_reason,
            }
            if self.flavor.engine == "vllm":
                choice["token_ids"] = None
                choice["prompt_logprobs"] = None
                choice["prompt_token_ids"] = None
                if self.flavor.newer_keys:
                    choice["routed_experts"] = None
            else:
                choice["prompt_logprobs"] = None
            choices.append(choice)
        completion = sum(o.completion_tokens for _, _, o in outputs)
        result: dict[str, Any] = {
            "id": cmpl_id,
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": choices,
        }
        if self.flavor.engine == "vllm":
            result["service_tier"] = None
            result["system_fingerprint"] = self.flavor.system_fingerprint
        result["usage"] = self._usage(prompt_tokens, completion)
        if self.flavor.engine == "vllm":
            result["kv_transfer_params"] = None
            if self.flavor.newer_keys:
                result["ec_transfer_params"] = None
                result["metrics"] = None
        return result

    async def _completion_stream(
        self,
        cmpl_id: str,
        created: int,
        model: str,
        outputs: list[tuple[int, str, _Output]],
        per_prompt: list[tuple[str, list[str], int]],
        *,
        include_usage: bool,
        continuous: bool,
        logprobs: int | None,
        echo: bool,
    ) -> AsyncIterator[bytes]:
        flavor = self.flavor
        aphrodite = flavor.engine == "aphrodite"
        head = {"id": cmpl_id, "object": "text_completion", "created": created, "model": model}
        produced = [0] * len(outputs)
        offsets = [0] * len(outputs)
        positions = [0] * len(outputs)
        longest = max(len(o.steps) for _, _, o in outputs)
        first = True
        for step_index in range(longest):
            for index, (p_index, text, out) in enumerate(outputs):
                if step_index >= len(out.steps):
                    continue
                if self.settings.token_latency and not first:
                    await asyncio.sleep(self.settings.token_latency)
                first = False
                step = out.steps[step_index]
                final = step_index == len(out.steps) - 1
                chunk_text = step.text
                if echo and step_index == 0:
                    chunk_text = text + chunk_text
                lp = None
                if logprobs is not None and step.text:
                    lp = self._completion_logprobs(
                        [step.text],
                        positions[index],
                        logprobs,
                        offsets[index] + (len(text) if echo else 0),
                    )
                    positions[index] += 1
                offsets[index] += len(step.text)
                choice: dict[str, Any] = {
                    "index": index,
                    "text": chunk_text,
                    "logprobs": lp,
                    "finish_reason": out.finish_reason if final else None,
                    "stop_reason": out.stop_reason if final else None,
                }
                if not aphrodite:
                    prompt_ids = None
                    if flavor.name == "vllm-0.11" and step_index == 0:
                        prompt_ids = [Tokenizer.token_id(t) for t in per_prompt[p_index][1]]
                    choice["prompt_token_ids"] = prompt_ids
                    choice["token_ids"] = None
                produced[index] = out.completion_tokens if final else produced[index] + 1
                obj: dict[str, Any] = {**head, "choices": [choice]}
                prompt_tokens = len(per_prompt[p_index][1])
                if continuous:
                    count = 1 if aphrodite else produced[index]
                    obj["usage"] = self._chunk_usage(prompt_tokens, count)
                elif not flavor.newer_keys:
                    obj["usage"] = None
                yield sse_event(json_bytes(obj).decode())
        if include_usage:
            prompt_tokens = sum(len(t) for _, t, _ in per_prompt)
            total = sum(o.completion_tokens for _, _, o in outputs)
            final_obj: dict[str, Any] = {
                **head,
                "choices": [],
                "usage": self._usage(prompt_tokens, total, final_stream=True),
            }
            if flavor.newer_keys:
                final_obj["system_fingerprint"] = flavor.system_fingerprint
            yield sse_event(json_bytes(final_obj).decode())
        yield sse_event("[DONE]")

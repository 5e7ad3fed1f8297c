"""Simulated generation: prompt rendering, scripted or constrained decisions and the
token budget (stop strings, ``max_tokens``, ``min_tokens``).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import random
import re
from typing import Any

from tests.reference_server import schema_gen
from tests.reference_server.script import DEFAULT_SCRIPT, ScriptEntry, ScriptMatch, find_matches
from tests.reference_server.text.flavors import _HTTPError
from tests.reference_server.text.plan import (
    _FILLER,
    _budget,
    _ChatContext,
    _Constraint,
    _Decision,
    _hex_id,
    _Output,
    _split_fragments,
    _Step,
    _ToolCall,
)
from tests.reference_server.text.tokenizer import Tokenizer
from tests.reference_server.text.validation import _Validation
from tests.reference_server.wire import (
    pydantic_error,
)


class _Simulation(_Validation):
    """Decides what the model says: renders the prompt, matches the script, plans tokens."""

    def _matches(
        self, text: str, *, tool_result: bool, has_image: bool, images: tuple[str, ...] = ()
    ) -> list[ScriptMatch]:
        user_entries: list[ScriptEntry] = list(self.settings.script)
        return find_matches(
            [*user_entries, *DEFAULT_SCRIPT],
            text,
            tool_result=tool_result,
            has_image=has_image,
            images=images,
        )

    def _constrained_text(
        self, constraint: _Constraint, candidates: list[str], rng: random.Random, fallback: str
    ) -> str:
        for text in candidates:
            if constraint.satisfied_by(text):
                return text
        try:
            return constraint.generate(rng, fallback)
        except schema_gen.SchemaError as exc:
            raise _HTTPError(
                self.error(
                    400, f"Unsupported structured output constraint: {exc}", "BadRequestError"
                )
            ) from exc

    # ---- messages -------------------------------------------------------------------

    def _image_size(self, url: Any) -> str:
        if not isinstance(url, str):
            raise _HTTPError(self.error(400, "image_url.url must be a string", "BadRequestError"))
        if not url.startswith("data:"):
            if self.settings.allow_image_urls:
                return f"an image at {url}"
            raise _HTTPError(
                self.error(
                    400,
                    "Image URLs are not supported; send images as base64 data URIs "
                    "(data:image/png;base64,...).",
                    "BadRequestError",
                )
            )
        header, _, payload = url.partition(",")
        if ";base64" not in header:
            raise _HTTPError(
                self.error(400, "Only base64 data URIs are supported.", "BadRequestError")
            )
        try:
            raw = base64.b64decode(payload, validate=True)
            from PIL import Image

            with Image.open(io.BytesIO(raw)) as img:
                img.load()
                width, height = img.size
        except (binascii.Error, ValueError, OSError) as exc:
            raise _HTTPError(
                self.error(400, f"Failed to load image: {exc}", "BadRequestError")
            ) from exc
        return f"{width}x{height}"

    def _content_text(
        self, content: Any, images: list[str] | None, index: int
    ) -> tuple[str, list[str]]:
        """Return (rendered text, image sizes) for a message's content."""
        if content is None:
            return "", []
        if isinstance(content, str):
            return content, []
        if not isinstance(content, list):
            raise _HTTPError(
                self._validation_error(
                    [
                        pydantic_error(
                            "string_type",
                            ("messages", index, "content"),
                            "Input should be a valid string",
                            content,
                        )
                    ]
                )
            )
        texts: list[str] = []
        sizes: list[str] = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
                continue
            if not isinstance(part, dict):
                continue
            ptype = part.get("type")
            if ptype in ("text", "input_text") or (ptype is None and "text" in part):
                texts.append(str(part.get("text", "")))
            elif ptype in ("image_url", "input_image"):
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else image
                sizes.append(self._image_size(url))
                texts.append("<|image|>")
        if images is not None:
            images.extend(sizes)
        return "".join(texts), sizes

    def _render_chat(
        self, messages: list[Any], tools: list[Any] | None, add_generation_prompt: bool
    ) -> tuple[str, list[dict[str, Any]]]:
        """Render messages with a ChatML-like template; returns (prompt, parsed messages)."""
        parts = ["<s>"]
        if tools:
            parts.append(
                "<|im_start|>system\n# Tools\n\nYou may call one or more functions:\n"
                + "\n".join(json.dumps(t, ensure_ascii=False) for t in tools)
                + "<|im_end|>\n"
            )
        parsed = []
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise _HTTPError(
                    self._validation_error(
                        [
                            pydantic_error(
                                "missing",
                                ("messages", index, "role"),
                                "Field required",
                                message,
                            )
                        ]
                    )
                )
            images: list[str] = []
            text, _ = self._content_text(message.get("content"), images, index)
            calls = message.get("tool_calls") or []
            if isinstance(calls, list):
                for call in calls:
                    fn = call.get("function", {}) if isinstance(call, dict) else {}
                    text += (
                        "<tool_call>"
                        + json.dumps(
                            {"name": fn.get("name"), "arguments": fn.get("arguments")},
                            ensure_ascii=False,
                        )
                        + "</tool_call>"
                    )
            parts.append(f"<|im_start|>{message['role']}\n{text}<|im_end|>\n")
            parsed.append({"role": message["role"], "text": text, "images": images})
        if add_generation_prompt:
            parts.append("<|im_start|>assistant\n")
        return "".join(parts), parsed

    # ---- decisions ------------------------------------------------------------------

    def _tool_args(
        self,
        name: str,
        schema: Any,
        matches: list[ScriptMatch],
        rng: random.Random,
        *,
        enforce: bool,
    ) -> dict[str, Any]:
        for m in matches:
            if m.tool_name == name:
                args = m.tool_args
                if not enforce or schema is None or schema_gen.validate_schema(args, schema):
                    return args
                return self._repair_args(args, schema, rng)
        if schema is not None:
            for m in matches:
                reply = m.reply
                if reply is None:
                    continue
                try:
                    value = json.loads(reply)
                except ValueError:
                    continue
                if isinstance(value, dict) and schema_gen.validate_schema(value, schema):
                    return value
        if schema is None:
            return {}
        try:
            value = schema_gen.generate_from_schema(schema, rng)
        except schema_gen.SchemaError as exc:
            raise _HTTPError(
                self.error(400, f"Unsupported tool parameters schema: {exc}", "BadRequestError")
            ) from exc
        return value if isinstance(value, dict) else {}

    @staticmethod
    def _repair_args(args: dict[str, Any], schema: Any, rng: random.Random) -> dict[str, Any]:
        try:
            generated = schema_gen.generate_from_schema(schema, rng)
        except schema_gen.SchemaError:
            return args
        if not isinstance(generated, dict):
            return args
        props = schema.get("properties", {}) if isinstance(schema, dict) else {}
        merged = dict(generated)
        for key, value in args.items():
            if key in props and schema_gen.validate_schema(value, props[key]):
                merged[key] = value
        return merged if schema_gen.validate_schema(merged, schema) else generated

    def _tool_call(self, name: str, args: dict[str, Any]) -> _ToolCall:
        return _ToolCall(
            id=f"chatcmpl-tool-{_hex_id(self.flavor.id_hex_len)}",
            name=name,
            arguments=json.dumps(args, ensure_ascii=False),
        )

    def _decide_chat(self, ctx: _ChatContext, rng: random.Random) -> _Decision:
        has_image = bool(ctx.images)
        matches = self._matches(
            ctx.last_user_text,
            tool_result=ctx.tool_result,
            has_image=has_image,
            images=tuple(ctx.images),
        )
        user_ids = {id(e) for e in self.settings.script}
        tools = ctx.tools
        choice = ctx.tool_choice
        reasoning = next((m.reasoning for m in matches if m.reasoning), None)

        if tools and isinstance(choice, dict):
            name = str(choice.get("function", {}).get("name"))
            schema = tools[name].get("parameters")
            args = self._tool_args(name, schema, matches, rng, enforce=True)
            return _Decision(reasoning, "", [self._tool_call(name, args)], "named")
        if tools and choice == "required":
            for m in matches:
                if m.tool_name in tools:
                    schema = tools[m.tool_name].get("parameters")
                    args = self._tool_args(m.tool_name, schema, [m], rng, enforce=True)
                    return _Decision(
                        m.reasoning, "", [self._tool_call(m.tool_name, args)], "required"
                    )
            name = next(iter(tools))
            args = self._tool_args(name, tools[name].get("parameters"), matches, rng, enforce=True)
            return _Decision(reasoning, "", [self._tool_call(name, args)], "required")
        if tools and choice == "auto":
            for m in matches:
                if m.tool_name in tools:
                    call = self._tool_call(m.tool_name, m.tool_args)
                    return _Decision(m.reasoning, None, [call], "auto")

        # Plain text.
        candidates: list[ScriptMatch] = [m for m in matches if m.reply is not None]
        if has_image:
            candidates = [
                m for m in candidates if m.entry.has_image is True or id(m.entry) in user_ids
            ]
        if ctx.tool_result:
            fallback = f"The result is {ctx.tool_result_text.strip()}."
        elif has_image:
            described = [
                f"an image of {d} pixels" if re.fullmatch(r"\d+x\d+", d) else d for d in ctx.images
            ]
            fallback = "; ".join(described) + "."
            fallback = fallback[0].upper() + fallback[1:]
        else:
            said = ctx.last_user_text.strip().replace("\n", " ")
            fallback = f"You said: {said[:80]}" if said else "Hello! How can I help you today?"
        if ctx.constraint is not None:
            text = self._constrained_text(
                ctx.constraint, [str(m.reply) for m in candidates], rng, fallback
            )
            chosen = next((m for m in candidates if m.reply == text), None)
            return _Decision(chosen.reasoning if chosen else reasoning, text)
        if candidates:
            return _Decision(candidates[0].reasoning, str(candidates[0].reply))
        return _Decision(reasoning, fallback)

    def _plan(self, decision: _Decision, v: dict[str, Any], max_tokens: int) -> _Output:
        if decision.tool_calls:
            r_tokens = Tokenizer.split(decision.reasoning or "")
            steps = [_Step("reasoning", t) for t in r_tokens]
            rendered = ""
            for call in decision.tool_calls:
                steps.append(_Step("tool_name", call.name, call))
                steps += [
                    _Step("tool_args", frag, call) for frag in _split_fragments(call.arguments)
                ]
                rendered += (
                    '<tool_call>{"name": "'
                    + call.name
                    + '", "arguments": '
                    + call.arguments
                    + "}</tool_call>"
                )
            steps.append(_Step("content", ""))
            finish = "stop" if decision.tool_mode == "named" else "tool_calls"
            tokens = len(r_tokens) + Tokenizer.count(rendered) + 1
            return _Output(
                steps, finish, None, tokens, decision.reasoning, None, list(decision.tool_calls)
            )
        content = decision.content or ""
        min_tokens = v.get("min_tokens") or 0
        if v.get("ignore_eos"):
            min_tokens = max(min_tokens, min(max_tokens, 4096))
        while min_tokens and Tokenizer.count(content) + 1 < min_tokens:
            content += _FILLER
        return _budget(
            decision.reasoning,
            content,
            stops=list(v.get("stop") or []),
            include_stop=bool(v.get("include_stop_str_in_output")),
            max_tokens=max_tokens,
        )

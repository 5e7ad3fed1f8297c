"""The text routes: dispatch, ``/v1/models``, tokenize, chat and completions handlers."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from tests.reference_server.text.flavors import _HTTPError
from tests.reference_server.text.plan import (
    _COMPLETION_CONTINUATION,
    _ChatContext,
    _Decision,
    _hex_id,
    _Output,
    _stable_seed,
)
from tests.reference_server.text.rendering import _Rendering
from tests.reference_server.text.simulation import _Simulation
from tests.reference_server.text.tokenizer import Tokenizer
from tests.reference_server.text.validation import _CHAT_FIELDS, _COMPLETION_FIELDS
from tests.reference_server.wire import (
    Request,
    Response,
    Settings,
    json_response,
    pydantic_error,
)


class TextAPI(_Simulation, _Rendering):
    """Handlers for the text routes.

    Args:
        settings: Shared server settings (read on every request).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._created = int(time.time())

    def tokenize_paths(self) -> tuple[str, ...]:
        """Paths at which ``/tokenize`` and ``/detokenize`` are served."""
        v1 = self.settings.tokenize_v1
        if v1 is None:
            v1 = self.flavor.engine == "aphrodite"
        paths: tuple[str, ...] = ()
        if self.flavor.engine == "vllm":
            paths += ("/tokenize", "/detokenize")
        if v1:
            paths += ("/v1/tokenize", "/v1/detokenize")
        return paths

    def routes(self) -> dict[str, tuple[str, ...]]:
        """Path to allowed methods for every text route."""
        routes: dict[str, tuple[str, ...]] = {
            "/v1/chat/completions": ("POST",),
            "/v1/completions": ("POST",),
            "/v1/models": ("GET",),
            "/health": ("GET",),
            "/version": ("GET",),
        }
        for path in self.tokenize_paths():
            routes[path] = ("POST",)
        return routes

    def _request_id(self, req: Request, body: dict[str, Any]) -> str:
        if self.flavor.engine == "vllm":
            header = req.headers.get("x-request-id")
            if header:
                return header
            if isinstance(body.get("request_id"), str) and body["request_id"]:
                return str(body["request_id"])
        return _hex_id(self.flavor.id_hex_len)

    # ---- routes ---------------------------------------------------------------------

    async def handle(self, req: Request) -> Response | None:
        """Dispatch a text route.

        Args:
            req: The request.

        Returns:
            The response, or ``None`` when the path is not a text route.
        """
        routes = self.routes()
        if req.path not in routes:
            return None
        if req.method not in routes[req.path]:
            return json_response(405, {"detail": "Method Not Allowed"})
        try:
            if req.path == "/v1/chat/completions":
                return await self.chat(req)
            if req.path == "/v1/completions":
                return await self.completions(req)
            if req.path == "/v1/models":
                return self.models(req)
            if req.path == "/health":
                return Response(status=200, headers=[], body=b"")
            if req.path == "/version":
                return json_response(200, {"version": self.flavor.version})
            if req.path.endswith("/tokenize"):
                return self.tokenize(req)
            if req.path.endswith("/detokenize"):
                return self.detokenize(req)
        except _HTTPError as exc:
            return exc.response
        return None  # pragma: no cover

    def models(self, req: Request | None = None) -> Response:
        """``GET /v1/models`` (Featherless: ``?available_on_current_plan=1`` filters)."""
        data = []
        models = self.settings.models
        featherless = self.settings.provider == "featherless"
        if featherless and req is not None and req.query.get("available_on_current_plan") == "1":
            models = models[:1]
        for model in models:
            data.append(
                {
                    "id": model,
                    "object": "model",
                    "created": self._created,
                    "owned_by": "featherless" if featherless else self.flavor.owned_by,
                    "root": f"/models/{model}",
                    "parent": None,
                    "max_model_len": self.settings.max_model_len,
                    "permission": [
                        {
                            "id": f"modelperm-{_hex_id(self.flavor.id_hex_len)}",
                            "object": "model_permission",
                            "created": self._created,
                            "allow_create_engine": False,
                            "allow_sampling": True,
                            "allow_logprobs": True,
                            "allow_search_indices": False,
                            "allow_view": True,
                            "allow_fine_tuning": False,
                            "organization": "*",
                            "group": None,
                            "is_blocking": False,
                        }
                    ],
                }
            )
        return json_response(200, {"object": "list", "data": data})

    def tokenize(self, req: Request) -> Response:
        """``POST /tokenize`` (and ``/v1/tokenize``)."""
        body = self._json_body(req)
        fields = {
            "model": "str",
            "prompt": "str",
            "messages": "list",
            "add_special_tokens": "bool",
            "add_generation_prompt": "bool",
            "return_token_strs": "bool",
            "tools": "list",
        }
        values = self._coerce_fields(body, fields, ())
        if self.flavor.model_required and "model" not in body:
            raise _HTTPError(
                self._validation_error(
                    [pydantic_error("missing", ("model",), "Field required", body)]
                )
            )
        self._resolve_model(values.get("model"))
        if values.get("prompt") is not None:
            add_special = values.get("add_special_tokens")
            text = values["prompt"]
            tokens_str = Tokenizer.split(text)
            if add_special is None or add_special:
                tokens_str = ["<s>", *tokens_str]
        elif values.get("messages") is not None:
            add_gen = values.get("add_generation_prompt")
            text, _ = self._render_chat(
                values["messages"], values.get("tools"), add_gen is None or bool(add_gen)
            )
            tokens_str = Tokenizer.split(text)
        else:
            raise _HTTPError(
                self._validation_error(
                    [pydantic_error("missing", ("prompt",), "Field required", body)]
                )
            )
        ids = [Tokenizer.token_id(t) for t in tokens_str]
        strs = tokens_str if values.get("return_token_strs") else None
        if self.flavor.engine == "aphrodite":
            return json_response(
                200,
                {"tokens": ids, "count": len(ids), "max_model_len": self.settings.max_model_len},
            )
        return json_response(
            200,
            {
                "count": len(ids),
                "max_model_len": self.settings.max_model_len,
                "tokens": ids,
                "token_strs": strs,
            },
        )

    def detokenize(self, req: Request) -> Response:
        """``POST /detokenize``."""
        body = self._json_body(req)
        values = self._coerce_fields(body, {"model": "str", "tokens": "intlist"}, ("tokens",))
        self._resolve_model(values.get("model"))
        try:
            text = Tokenizer.decode(list(values["tokens"]))
        except ValueError as exc:
            raise _HTTPError(self.error(400, str(exc), "BadRequestError")) from exc
        return json_response(200, {"prompt": text})

    async def chat(self, req: Request) -> Response:
        """``POST /v1/chat/completions``."""
        body = self._json_body(req)
        self._chat_validators(body)
        required = ("messages", "model") if self.flavor.model_required else ("messages",)
        v = self._coerce_fields(body, _CHAT_FIELDS, required)
        model = self._resolve_model(v.get("model"))
        self._check_sampling(v)
        top = v.get("top_logprobs") or 0
        if top > 20:
            raise _HTTPError(
                self.error(
                    400,
                    f"Requested sample logprobs of {top}, which is greater than max allowed: 20",
                    "BadRequestError",
                )
            )
        messages: list[Any] = v["messages"]
        if not messages:
            raise _HTTPError(self.error(400, "messages must not be empty", "BadRequestError"))
        tools_raw = v.get("tools") or []
        tools: dict[str, dict[str, Any]] = {}
        for tool in tools_raw:
            fn = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise _HTTPError(
                    self._validation_error(
                        [
                            pydantic_error(
                                "missing", ("tools", 0, "function"), "Field required", tool
                            )
                        ]
                    )
                )
            tools[fn["name"]] = fn
        tool_choice = body.get("tool_choice", "none") if tools else "none"
        constraint = self._constraint(body)
        add_gen = v.get("add_generation_prompt")
        prompt, parsed = self._render_chat(messages, tools_raw or None, add_gen is None or add_gen)
        prompt_tokens = Tokenizer.count(prompt)
        requested = v.get("max_completion_tokens") or v.get("max_tokens")
        max_tokens = self._check_context(prompt_tokens, requested, chat=True)

        last = parsed[-1]
        tool_result = last["role"] in ("tool", "function")
        last_user = next((m for m in reversed(parsed) if m["role"] == "user"), None)
        ctx = _ChatContext(
            last_user_text=(last_user["text"].replace("<|image|>", "") if last_user else ""),
            tool_result=tool_result,
            tool_result_text=(
                last["text"].replace("<|image|>", " ").strip() or "an image" if tool_result else ""
            ),
            images=(last_user["images"] if last_user and not tool_result else []),
            tools=tools,
            tool_choice=tool_choice,
            constraint=constraint,
        )
        n = v.get("n") or 1
        seed = v.get("seed")
        outputs: list[_Output] = []
        modes: list[str | None] = []
        for index in range(n):
            rng = random.Random(
                _stable_seed("seed", seed, index)
                if seed is not None
                else _stable_seed(prompt, index)
            )
            decision = self._decide_chat(ctx, rng)
            modes.append(decision.tool_mode)
            outputs.append(self._plan(decision, v, max_tokens))
        if self.settings.text_latency:
            # from the request's arrival: the server's own work is part of the latency
            await asyncio.sleep(req.wait_left(self.settings.text_latency))
        chat_id = f"{self.flavor.chat_id_prefix}{self._request_id(req, body)}"
        created = int(time.time())
        logprobs = bool(v.get("logprobs"))
        if v.get("stream"):
            stream_options = v.get("stream_options") or {}
            include_usage = stream_options.get("include_usage", self.flavor.include_usage_default)
            continuous = bool(
                stream_options.get("continuous_usage_stats", self.flavor.engine == "aphrodite")
            )
            if "stream_options" not in body or body.get("stream_options") is None:
                include_usage = continuous = False
            return Response(
                status=200,
                headers=[("content-type", "text/event-stream; charset=utf-8")],
                stream=self._chat_stream(
                    chat_id,
                    created,
                    model,
                    outputs,
                    prompt_tokens,
                    include_usage=bool(include_usage),
                    continuous=bool(include_usage) and continuous,
                    logprobs=top if logprobs else None,
                ),
            )
        return json_response(
            200,
            self._chat_body(
                chat_id, created, model, outputs, modes, prompt_tokens, top if logprobs else None
            ),
        )

    # ---- completions ----------------------------------------------------------------

    async def completions(self, req: Request) -> Response:
        """``POST /v1/completions``."""
        body = self._json_body(req)
        if body.get("stream_options") and not body.get("stream"):
            raise _HTTPError(
                self._value_error(body, "Stream options can only be defined when `stream=True`.")
            )
        required = ("prompt", "model") if self.flavor.model_required else ("prompt",)
        v = self._coerce_fields(body, _COMPLETION_FIELDS, required)
        model = self._resolve_model(v.get("model"))
        self._check_sampling(v)
        if v.get("suffix") is not None:
            raise _HTTPError(
                self.error(400, "suffix is not currently supported", "BadRequestError")
            )
        top = v.get("logprobs")
        if top is not None and top < 0:
            raise _HTTPError(
                self.error(400, f"logprobs must be non-negative, got {top}.", "BadRequestError")
            )
        if top is not None and top > 20:
            raise _HTTPError(
                self.error(
                    400,
                    f"Requested sample logprobs of {top}, which is greater than max allowed: 20",
                    "BadRequestError",
                )
            )
        prompts = self._prompts(v["prompt"])
        add_special = v.get("add_special_tokens")
        add_bos = add_special is None or bool(add_special)
        constraint = self._constraint(body)
        requested = v.get("max_tokens")
        if requested is None:
            requested = 16
        n = v.get("n") or 1
        seed = v.get("seed")
        per_prompt: list[tuple[str, list[str], int]] = []
        for text in prompts:
            tokens = (["<s>"] if add_bos else []) + Tokenizer.split(text)
            max_tokens = self._check_context(len(tokens), requested, chat=False)
            per_prompt.append((text, tokens, max_tokens))
        outputs: list[tuple[int, str, _Output]] = []
        for p_index, (text, _tokens, max_tokens) in enumerate(per_prompt):
            matches = self._matches(text, tool_result=False, has_image=False)
            candidates = [str(m.reply) for m in matches if m.reply is not None]
            for index in range(n):
                rng = random.Random(
                    _stable_seed("seed", seed, p_index, index)
                    if seed is not None
                    else _stable_seed(text, index)
                )
                if constraint is not None:
                    continuation = self._constrained_text(
                        constraint, candidates, rng, _COMPLETION_CONTINUATION.strip()
                    )
                else:
                    continuation = candidates[0] if candidates else _COMPLETION_CONTINUATION
                out = self._plan(_Decision(content=continuation), v, max_tokens)
                outputs.append((p_index, text, out))
        if self.settings.text_latency:
            # from the request's arrival: the server's own work is part of the latency
            await asyncio.sleep(req.wait_left(self.settings.text_latency))
        cmpl_id = f"cmpl-{self._request_id(req, body)}"
        created = int(time.time())
        prompt_tokens = sum(len(t) for _, t, _ in per_prompt)
        echo = bool(v.get("echo"))
        if v.get("stream"):
            stream_options = v.get("stream_options") or {}
            include_usage = stream_options.get("include_usage", self.flavor.include_usage_default)
            continuous = bool(
                stream_options.get("continuous_usage_stats", self.flavor.engine == "aphrodite")
            )
            if body.get("stream_options") is None:
                include_usage = continuous = False
            return Response(
                status=200,
                headers=[("content-type", "text/event-stream; charset=utf-8")],
                stream=self._completion_stream(
                    cmpl_id,
                    created,
                    model,
                    outputs,
                    per_prompt,
                    include_usage=bool(include_usage),
                    continuous=bool(include_usage) and continuous,
                    logprobs=top,
                    echo=echo,
                ),
            )
        return json_response(
            200,
            self._completion_body(
                cmpl_id, created, model, outputs, prompt_tokens, logprobs=top, echo=echo
            ),
        )

    def _prompts(self, prompt: Any) -> list[str]:
        if isinstance(prompt, str):
            return [prompt]
        if prompt and all(isinstance(x, str) for x in prompt):
            return list(prompt)
        if prompt and all(isinstance(x, int) for x in prompt):
            return [Tokenizer.decode(list(prompt))]
        if prompt and all(isinstance(x, list) for x in prompt):
            return [Tokenizer.decode(list(x)) for x in prompt]
        raise _HTTPError(self.error(400, "Prompt cannot be empty", "BadRequestError"))

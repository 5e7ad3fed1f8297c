"""Tests for the local reference server (``tests/reference_server``), using plain httpx."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.reference_server import Fault, ReferenceServer, ScriptEntry

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "wire"
EXAMPLES = FIXTURES / "examples"
CAPTURES = FIXTURES / "captures-vllm-0.32"

PERSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 12},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "city": {"type": "string", "enum": ["paris", "london", "tokyo"]},
        "ok": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 3},
    },
    "required": ["name", "age", "city", "ok", "tags"],
    "additionalProperties": False,
}
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get weather",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "pattern": "^[a-z]{1,10}$"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location", "unit"],
            "additionalProperties": False,
        },
    },
}
MAGIC_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "magic_function",
        "description": "Apply a magic function to an input.",
        "parameters": {
            "type": "object",
            "properties": {
                "input": {"type": "integer", "exclusiveMinimum": -1000, "exclusiveMaximum": 1000}
            },
            "required": ["input"],
        },
    },
}


# ---- helpers ------------------------------------------------------------------------


def person_ok(value: Any) -> bool:
    """A tiny, independent check of PERSON_SCHEMA."""
    return (
        isinstance(value, dict)
        and set(value) == {"name", "age", "city", "ok", "tags"}
        and isinstance(value["name"], str)
        and len(value["name"]) <= 12
        and isinstance(value["age"], int)
        and not isinstance(value["age"], bool)
        and 0 <= value["age"] <= 120
        and value["city"] in ("paris", "london", "tokyo")
        and isinstance(value["ok"], bool)
        and isinstance(value["tags"], list)
        and 2 <= len(value["tags"]) <= 3
        and all(isinstance(t, str) for t in value["tags"])
    )


def sse_events(text: str) -> list[str]:
    """Split an SSE body into event payloads, asserting vLLM's exact framing."""
    assert text.endswith("\n\n")
    chunks = text.split("\n\n")[:-1]
    payloads = []
    for chunk in chunks:
        assert chunk.startswith("data: "), chunk
        assert "\n" not in chunk
        payloads.append(chunk[len("data: ") :])
    return payloads


def parsed_events(text: str) -> list[Any]:
    return [p if p == "[DONE]" else json.loads(p) for p in sse_events(text)]


def key_shape(obj: Any) -> Any:
    """Key order of dicts (recursively), values dropped; lists by element."""
    if isinstance(obj, dict):
        return [(k, key_shape(v)) for k, v in obj.items()]
    if isinstance(obj, list):
        return [key_shape(v) for v in obj]
    return None


def normalize(event: Any) -> Any:
    """Blank out ids, timestamps, model names and usage numbers."""
    if not isinstance(event, dict):
        return event
    out = dict(event)
    for key in ("id", "created", "model"):
        if key in out:
            out[key] = "*"
    if isinstance(out.get("usage"), dict):
        out["usage"] = dict.fromkeys(out["usage"], "*")
    out["choices"] = [
        {**c, "prompt_token_ids": "*"} if c.get("prompt_token_ids") else c for c in out["choices"]
    ]
    return out


def png_b64(width: int, height: int, color: str = "red") -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def decode_image(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def chat_body(content: Any = "Hello", **extra: Any) -> dict[str, Any]:
    return {
        "model": "Mistral-Nemo-12B-Instruct-2407",
        "messages": [{"role": "user", "content": content}],
        **extra,
    }


def capture_body(name: str) -> dict[str, Any]:
    raw = next(CAPTURES.glob(f"{name}_*.resp")).read_bytes()
    return json.loads(raw.split(b"\r\n\r\n", 1)[1])


# ---- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(api_key=KEY, image_parallel_limit=2) as srv:
        yield srv


@pytest.fixture
def srv(server: ReferenceServer) -> Iterator[ReferenceServer]:
    server.reset()
    server.settings.script = []
    server.images.options["samples_format"] = "jpg"
    yield server
    server.reset()


@pytest.fixture
def client(srv: ReferenceServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.url, headers=AUTH, timeout=10) as c:
        yield c


# ---- lifecycle & framing ------------------------------------------------------------


def test_startup_is_fast_and_port_is_free() -> None:
    started = time.perf_counter()
    with ReferenceServer() as srv:
        elapsed = time.perf_counter() - started
        assert srv.url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{srv.url}/health").status_code == 200
    assert elapsed < 0.5


def test_raw_chunked_framing_and_keep_alive(srv: ReferenceServer) -> None:
    """Two requests on one socket; every SSE event is exactly one HTTP chunk."""
    body = json.dumps(chat_body(stream=True, stream_options={"include_usage": True})).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        for _ in range(2):
            sock.sendall(request)
            data = b""
            while not data.endswith(b"\r\n0\r\n\r\n"):
                data += sock.recv(65536)
            head, rest = data.split(b"\r\n\r\n", 1)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"content-type: text/event-stream; charset=utf-8" in head
            assert b"transfer-encoding: chunked" in head
            chunks = []
            while True:
                size_line, rest = rest.split(b"\r\n", 1)
                size = int(size_line, 16)
                if size == 0:
                    break
                chunks.append(rest[:size])
                assert rest[size : size + 2] == b"\r\n"
                rest = rest[size + 2 :]
            assert all(c.startswith(b"data: ") and c.endswith(b"\n\n") for c in chunks)
            assert all(c.count(b"\n\n") == 1 for c in chunks)
            assert chunks[-1] == b"data: [DONE]\n\n"


def test_chat_stream_matches_fixture(client: httpx.Client) -> None:
    expected = parsed_events((EXAMPLES / "chat_stream.sse").read_text())
    r = client.post(
        "/v1/chat/completions", json=chat_body(stream=True, stream_options={"include_usage": True})
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
    got = parsed_events(r.text)
    assert [normalize(e) for e in got] == [normalize(e) for e in expected]
    assert [key_shape(e) for e in got[:-1]] == [key_shape(e) for e in expected[:-1]]
    assert len({e["id"] for e in got[:-1]}) == 1
    assert len({e["created"] for e in got[:-1]}) == 1
    usage = got[-2]["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_stream_without_stream_options_has_no_usage(client: httpx.Client) -> None:
    got = parsed_events(client.post("/v1/chat/completions", json=chat_body(stream=True)).text)
    assert all("usage" not in e for e in got[:-1])
    assert got[-2]["choices"][0]["finish_reason"] == "stop"
    # vLLM <= 0.12: stream_options: {} already enables the usage chunk.
    got = parsed_events(
        client.post("/v1/chat/completions", json=chat_body(stream=True, stream_options={})).text
    )
    assert got[-2]["choices"] == []
    assert "usage" in got[-2]


def test_chat_stream_continuous_usage_matches_fixture(client: httpx.Client) -> None:
    expected = parsed_events((EXAMPLES / "chat_stream_continuous_usage.sse").read_text())
    got = parsed_events(
        client.post(
            "/v1/chat/completions",
            json=chat_body(
                "hi",
                stream=True,
                stream_options={"include_usage": True, "continuous_usage_stats": True},
            ),
        ).text
    )
    assert key_shape(got[0]) == key_shape(expected[0])
    assert key_shape(got[1]) == key_shape(expected[1])
    assert key_shape(got[-2]) == key_shape(expected[-2])
    completions = [e["usage"]["completion_tokens"] for e in got[:-1]]
    assert completions == sorted(completions)
    assert completions[0] == 0


def test_chat_response_matches_fixture_shape(client: httpx.Client) -> None:
    expected = json.loads((EXAMPLES / "chat_response.json").read_text())
    r = client.post("/v1/chat/completions", json=chat_body())
    body = r.json()
    assert key_shape(body) == key_shape(expected)
    assert body["choices"][0]["message"]["content"] == "Hello! How can I help you today?"
    assert body["id"].startswith("chatcmpl-")
    # compact JSON on the wire, like Starlette's JSONResponse
    assert r.content.startswith(b'{"id":"chatcmpl-')


def test_completions_match_fixtures(client: httpx.Client) -> None:
    expected = parsed_events((EXAMPLES / "completion_stream.sse").read_text())
    body = {"prompt": "Once upon a time", "max_tokens": 3, "stream": True}
    got = parsed_events(
        client.post(
            "/v1/completions", json={**body, "stream_options": {"include_usage": True}}
        ).text
    )
    assert [normalize(e) for e in got] == [normalize(e) for e in expected]
    assert [key_shape(normalize(e)) for e in got[:-1]] == [
        key_shape(normalize(e)) for e in expected[:-1]
    ]
    assert isinstance(got[0]["choices"][0]["prompt_token_ids"], list)  # v0.11 quirk
    non_stream = client.post(
        "/v1/completions", json={"prompt": "Once upon a time", "max_tokens": 7}
    )
    expected_body = json.loads((EXAMPLES / "completion_response.json").read_text())
    assert key_shape(non_stream.json()) == key_shape(expected_body)
    assert non_stream.json()["choices"][0]["text"] == " a small town in the mountains."
    assert non_stream.json()["choices"][0]["finish_reason"] == "length"
    assert non_stream.json()["usage"]["completion_tokens"] == 7


def test_models_version_health_and_404(client: httpx.Client) -> None:
    models = client.get("/v1/models").json()
    expected = json.loads((EXAMPLES / "models_response.json").read_text())
    assert key_shape(models["data"][0]) == key_shape(expected["data"][0])
    assert [m["id"] for m in models["data"]] == ["Mistral-Nemo-12B-Instruct-2407", "tiny"]
    assert client.get("/version").json() == {"version": "0.11.0"}
    health = client.get("/health")
    assert health.status_code == 200
    assert health.content == b""
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found"}
    assert (
        client.post(
            "/v1/chat/completions", content=b"x", headers={"Content-Type": "text/plain"}
        ).status_code
        == 400
    )


def test_tokenize_is_consistent_with_usage(client: httpx.Client) -> None:
    messages = [{"role": "user", "content": "Count my tokens, please!"}]
    tok = client.post("/tokenize", json={"messages": messages, "return_token_strs": True}).json()
    assert list(tok) == ["count", "max_model_len", "tokens", "token_strs"]
    assert tok["count"] == len(tok["tokens"]) == len(tok["token_strs"])
    usage = client.post("/v1/chat/completions", json={"messages": messages}).json()["usage"]
    assert usage["prompt_tokens"] == tok["count"]
    assert list(usage) == [
        "prompt_tokens",
        "total_tokens",
        "completion_tokens",
        "prompt_tokens_details",
    ]
    prompt = client.post("/tokenize", json={"prompt": "hello world"}).json()
    text = client.post("/detokenize", json={"tokens": prompt["tokens"][1:]}).json()
    assert text == {"prompt": "hello world"}
    # vLLM serves tokenize without the /v1 prefix only
    assert client.post("/v1/tokenize", json={"prompt": "x"}).json() == {"detail": "Not Found"}
    with ReferenceServer(tokenize_v1=True) as other:
        assert httpx.post(f"{other.url}/v1/tokenize", json={"prompt": "x"}).status_code == 200


# ---- sampling behaviour ---------------------------------------------------------------


def test_stop_strings_max_tokens_n_and_seed(client: httpx.Client) -> None:
    r = client.post("/v1/chat/completions", json=chat_body("hi", stop=["you"])).json()
    choice = r["choices"][0]
    assert choice["message"]["content"] == "Hello! How can I help "
    assert (choice["finish_reason"], choice["stop_reason"]) == ("stop", "you")
    r = client.post(
        "/v1/chat/completions", json=chat_body("hi", stop="you", include_stop_str_in_output=True)
    ).json()
    assert r["choices"][0]["message"]["content"].endswith("help you")
    r = client.post("/v1/chat/completions", json=chat_body("hi", max_tokens=3)).json()
    assert r["choices"][0]["finish_reason"] == "length"
    assert r["choices"][0]["message"]["content"] == "Hello! How"
    assert r["usage"]["completion_tokens"] == 3
    r = client.post("/v1/chat/completions", json=chat_body(n=2, max_tokens=2)).json()
    assert [c["index"] for c in r["choices"]] == [0, 1]
    assert r["usage"]["completion_tokens"] == 4
    schema_req = chat_body(structured_outputs={"json": PERSON_SCHEMA}, seed=7)
    first = client.post("/v1/chat/completions", json=schema_req).json()
    second = client.post("/v1/chat/completions", json=schema_req).json()
    assert first["choices"][0]["message"]["content"] == second["choices"][0]["message"]["content"]


def test_stream_n2_interleaves_choices(client: httpx.Client) -> None:
    got = parsed_events(
        client.post("/v1/chat/completions", json=chat_body(n=2, stream=True, max_tokens=3)).text
    )
    roles = [e["choices"][0]["index"] for e in got[:2]]
    assert roles == [0, 1]
    assert all("role" in e["choices"][0]["delta"] for e in got[:2])
    texts = {0: "", 1: ""}
    for event in got[2:-1]:
        choice = event["choices"][0]
        texts[choice["index"]] += choice["delta"].get("content", "")
    assert texts == {0: "Hello! How", 1: "Hello! How"}


def test_logprobs_shapes(client: httpx.Client) -> None:
    r = client.post(
        "/v1/chat/completions", json=chat_body(max_tokens=4, logprobs=True, top_logprobs=3)
    ).json()
    content = r["choices"][0]["logprobs"]["content"]
    assert len(content) == 4
    assert list(content[0]) == ["token", "logprob", "bytes", "top_logprobs"]
    assert len(content[0]["top_logprobs"]) == 3
    assert content[0]["top_logprobs"][0]["token"] == content[0]["token"]
    assert content[0]["bytes"] == list(content[0]["token"].encode())
    r = client.post(
        "/v1/completions", json={"prompt": "The quick brown", "max_tokens": 8, "logprobs": 2}
    ).json()
    lp = r["choices"][0]["logprobs"]
    assert list(lp) == ["text_offset", "token_logprobs", "tokens", "top_logprobs"]
    assert len(lp["tokens"]) == 8
    assert all(len(t) == 3 for t in lp["top_logprobs"])
    assert "".join(lp["tokens"]) == r["choices"][0]["text"]
    echo = client.post(
        "/v1/completions", json={"prompt": "Hi there", "max_tokens": 2, "echo": True}
    ).json()
    assert echo["choices"][0]["text"].startswith("Hi there")
    suffix = client.post("/v1/completions", json={"prompt": "x", "suffix": "y"})
    assert suffix.status_code == 400
    assert suffix.json()["error"]["message"] == "suffix is not currently supported"


# ---- validation errors ----------------------------------------------------------------


def test_validation_errors_vllm_011(client: httpx.Client) -> None:
    def post(**extra: Any) -> httpx.Response:
        return client.post("/v1/chat/completions", json=chat_body(**extra))

    expected = json.loads((EXAMPLES / "error_400.json").read_text())
    assert post(temperature=-0.5).json() == expected
    cases = {
        "n": (0, "n must be at least 1, got 0."),
        "presence_penalty": (3, "presence_penalty must be in [-2, 2], got 3.0."),
        "frequency_penalty": (-2.5, "frequency_penalty must be in [-2, 2], got -2.5."),
        "top_p": (0, "top_p must be in (0, 1], got 0.0."),
        "top_k": (-2, "top_k must be 0 (disable), or at least 1, got -2."),
        "min_p": (1.5, "min_p must be in [0, 1], got 1.5."),
        "repetition_penalty": (0, "repetition_penalty must be greater than zero, got 0.0."),
        "max_tokens": (0, "max_tokens must be at least 1, got 0."),
    }
    for field, (value, message) in cases.items():
        r = post(**{field: value})
        assert r.status_code == 400, field
        assert r.json()["error"] == {
            "message": message,
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        }
    unknown = client.post("/v1/chat/completions", json={**chat_body(), "model": "gpt-4"})
    assert unknown.status_code == 404
    assert unknown.json() == json.loads((EXAMPLES / "error_404_model.json").read_text())
    stream_opts = client.post(
        "/v1/chat/completions",
        json={
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "stream_options": {"include_usage": True},
        },
    )
    assert stream_opts.json() == json.loads((EXAMPLES / "error_400_validation.json").read_text())
    top = post(top_logprobs=2)
    assert top.status_code == 400
    assert (
        "when using `top_logprobs`, `logprobs` must be set to true."
        in top.json()["error"]["message"]
    )
    too_long = post(max_tokens=9000)
    assert too_long.status_code == 400
    assert (
        "'max_tokens' or 'max_completion_tokens' is too large: 9000."
        in too_long.json()["error"]["message"]
    )
    assert post(unknown_field=1, top_a=0.5, dry_multiplier=0.8).status_code == 200


def test_validation_errors_match_vllm_032_captures() -> None:
    with ReferenceServer(flavor="vllm-0.33", models=("tiny",), max_model_len=1024) as srv:
        url = f"{srv.url}/v1/chat/completions"
        hello = [{"role": "user", "content": "Hello there"}]
        cases = [
            ("31", {"model": "nope", "messages": [{"role": "user", "content": "x"}]}, 404),
            ("32", {"model": "tiny", "messages": hello, "max_tokens": 5000}, 400),
            ("33", {"model": "tiny", "messages": hello, "temperature": "hot"}, 400),
            ("34", {"model": "tiny"}, 400),
        ]
        for name, body, status in cases:
            r = httpx.post(url, json=body)
            assert r.status_code == status, name
            assert r.json() == capture_body(name), name


# ---- guided decoding ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "check"),
    [
        ({"guided_json": PERSON_SCHEMA}, lambda s: person_ok(json.loads(s))),
        ({"structured_outputs": {"json": PERSON_SCHEMA}}, lambda s: person_ok(json.loads(s))),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "person", "schema": PERSON_SCHEMA, "strict": True},
                }
            },
            lambda s: person_ok(json.loads(s)),
        ),
        ({"response_format": {"type": "json_object"}}, lambda s: isinstance(json.loads(s), dict)),
        ({"structured_outputs": {"json_object": True}}, lambda s: isinstance(json.loads(s), dict)),
        ({"guided_regex": r"[A-Z]{3}-[0-9]{4}"}, lambda s: re.fullmatch(r"[A-Z]{3}-[0-9]{4}", s)),
        (
            {"structured_outputs": {"regex": r"(?:\d{3}-)?\w+@(foo|bar)\.com\s?"}},
            lambda s: re.fullmatch(r"(?:\d{3}-)?\w+@(foo|bar)\.com\s?", s),
        ),
        ({"guided_choice": ["alpha", "beta", "gamma"]}, lambda s: s in ("alpha", "beta", "gamma")),
        ({"structured_outputs": {"choice": ["x", "y"]}}, lambda s: s in ("x", "y")),
        ({"guided_grammar": 'root ::= ("yes" | "no") "!"'}, lambda s: s in ("yes!", "no!")),
        (
            {
                "structured_outputs": {
                    "grammar": (
                        'root ::= item (", " item)*\nitem ::= [a-z]+ | num\nnum ::= [0-9]{1,3}'
                    )
                }
            },
            lambda s: re.fullmatch(r"([a-z]+|[0-9]{1,3})(, ([a-z]+|[0-9]{1,3}))*", s),
        ),
    ],
)
def test_guided_output_conforms(client: httpx.Client, extra: dict[str, Any], check: Any) -> None:
    for seed in (1, 2, 3):
        r = client.post("/v1/chat/completions", json=chat_body("Hello there", seed=seed, **extra))
        assert r.status_code == 200, r.text
        content = r.json()["choices"][0]["message"]["content"]
        assert check(content), content


def test_guided_prefers_scripted_reply(client: httpx.Client) -> None:
    joke_schema = {
        "type": "object",
        "properties": {"setup": {"type": "string"}, "punchline": {"type": "string"}},
        "required": ["setup", "punchline"],
    }
    plain = client.post("/v1/chat/completions", json=chat_body("Tell me a joke about cats.")).json()
    assert "cheetahs" in plain["choices"][0]["message"]["content"]
    constrained = client.post(
        "/v1/chat/completions",
        json=chat_body(
            "Tell me a joke about cats.",
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "Joke", "schema": joke_schema},
            },
        ),
    ).json()
    joke = json.loads(constrained["choices"][0]["message"]["content"])
    assert set(joke) == {"setup", "punchline"}
    assert "cheetahs" in joke["punchline"]
    missing_name = client.post(
        "/v1/chat/completions",
        json=chat_body(
            response_format={"type": "json_schema", "json_schema": {"schema": joke_schema}}
        ),
    )
    assert missing_name.status_code == 400


def test_schema_features(client: httpx.Client) -> None:
    schema = {
        "$defs": {
            "Item": {
                "type": "object",
                "properties": {"sku": {"type": "string", "pattern": "^SKU-[0-9]{3}$"}},
                "required": ["sku"],
            }
        },
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {"$ref": "#/$defs/Item"},
                "minItems": 2,
                "maxItems": 2,
            },
            "kind": {"const": "order"},
            "note": {"anyOf": [{"type": "string", "minLength": 3}, {"type": "null"}]},
            "score": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "level": {
                "oneOf": [
                    {"type": "integer", "minimum": 5, "maximum": 6},
                    {"type": "string", "enum": ["low"]},
                ]
            },
        },
        "required": ["items", "kind", "note", "score", "level"],
    }
    content = client.post(
        "/v1/chat/completions", json=chat_body(structured_outputs={"json": schema})
    ).json()["choices"][0]["message"]["content"]
    value = json.loads(content)
    assert len(value["items"]) == 2
    assert all(re.fullmatch(r"SKU-[0-9]{3}", i["sku"]) for i in value["items"])
    assert value["kind"] == "order"
    assert isinstance(value["note"], str)
    assert len(value["note"]) >= 3
    assert 0 < value["score"] <= 1
    assert value["level"] in (5, 6, "low")
    assert "," in content
    assert ", " not in content.replace('", "', "")


# ---- tools ----------------------------------------------------------------------------


def test_named_tool_choice(client: httpx.Client) -> None:
    body = chat_body(
        "weather in paris?",
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    r = client.post("/v1/chat/completions", json=body).json()
    choice = r["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == ""
    call = choice["message"]["tool_calls"][0]
    assert call["id"].startswith("chatcmpl-tool-")
    assert call["type"] == "function"
    args = json.loads(call["function"]["arguments"])
    assert re.fullmatch(r"[a-z]{1,10}", args["location"])
    assert args["unit"] in (
        "celsius",
        "fahrenheit",
    )


def test_auto_and_required_tool_choice(client: httpx.Client) -> None:
    magic = chat_body(
        "What is the value of magic_function(3)? Use the tool.", tools=[MAGIC_TOOL, WEATHER_TOOL]
    )
    r = client.post("/v1/chat/completions", json=magic).json()["choices"][0]
    assert r["finish_reason"] == "tool_calls"
    assert r["message"]["content"] is None
    assert json.loads(r["message"]["tool_calls"][0]["function"]["arguments"]) == {"input": 3}
    auto_text = client.post(
        "/v1/chat/completions", json=chat_body("Hello!", tools=[MAGIC_TOOL])
    ).json()
    assert auto_text["choices"][0]["message"]["tool_calls"] == []
    required = client.post(
        "/v1/chat/completions", json=chat_body("Hello!", tools=[MAGIC_TOOL], tool_choice="required")
    ).json()["choices"][0]
    assert required["finish_reason"] == "tool_calls"
    args = json.loads(required["message"]["tool_calls"][0]["function"]["arguments"])
    assert -1000 < args["input"] < 1000
    none = client.post(
        "/v1/chat/completions",
        json=chat_body(
            "What is the value of magic_function(3)?", tools=[MAGIC_TOOL], tool_choice="none"
        ),
    ).json()
    assert none["choices"][0]["message"]["tool_calls"] == []
    unicode_req = chat_body(
        "Create a customer named '你好啊集团' (Hello Group) - a Chinese technology company",
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "unicode_customer",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "customer_name": {"type": "string"},
                            "description": {"type": "string"},
                        },
                        "required": ["customer_name", "description"],
                    },
                },
            }
        ],
        tool_choice="required",
    )
    r = client.post("/v1/chat/completions", json=unicode_req)
    assert "你好啊集团" in r.text  # raw UTF-8, not \\u escapes
    args = json.loads(r.json()["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])
    assert args["customer_name"] == "你好啊集团"


def test_tool_choice_errors(client: httpx.Client) -> None:
    r = client.post("/v1/chat/completions", json=chat_body(tool_choice="auto"))
    assert r.status_code == 400
    assert "When using `tool_choice`, `tools` must be set." in r.json()["error"]["message"]
    r = client.post(
        "/v1/chat/completions",
        json=chat_body(
            tools=[WEATHER_TOOL], tool_choice={"type": "function", "function": {"name": "nope"}}
        ),
    )
    assert r.status_code == 400
    assert "does not match any of the specified `tools`" in r.json()["error"]["message"]


def test_tool_call_stream_and_result_roundtrip(client: httpx.Client) -> None:
    body = chat_body(
        "What is the weather in San Francisco, CA?",
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "parameters": {
                        "type": "object",
                        "properties": {"location": {"type": "string"}},
                    },
                },
            }
        ],
        stream=True,
        stream_options={"include_usage": True},
    )
    events = parsed_events(client.post("/v1/chat/completions", json=body).text)
    expected = parsed_events((EXAMPLES / "chat_stream_tool_calls.sse").read_text())
    assert key_shape(events[1]) == key_shape(expected[1])
    assert key_shape(events[2]) == key_shape(expected[2])
    first = events[1]["choices"][0]["delta"]["tool_calls"][0]
    assert first["function"] == {"name": "get_weather"}
    assert first["index"] == 0
    args = "".join(
        e["choices"][0]["delta"]["tool_calls"][0]["function"].get("arguments", "")
        for e in events[2:-3]
    )
    assert json.loads(args) == {"location": "San Francisco, CA"}
    assert events[-3]["choices"][0]["finish_reason"] == "tool_calls"
    assert events[-2]["choices"] == []
    history = [
        {"role": "user", "content": "What is the weather in San Francisco, CA?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": args},
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": [{"type": "text", "text": "sunny, 21C"}],
        },
    ]
    r = client.post(
        "/v1/chat/completions", json={"messages": history, "tools": body["tools"]}
    ).json()
    assert r["choices"][0]["message"]["content"] == "The result is sunny, 21C."


# ---- vision, reasoning, script ----------------------------------------------------------


def test_vision_and_script(srv: ReferenceServer, client: httpx.Client) -> None:
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png_b64(64, 32)}"}}
    content = [{"type": "text", "text": "Give a concise description of this image."}, image]
    r = client.post("/v1/chat/completions", json=chat_body(content))
    assert r.json()["choices"][0]["message"]["content"] == "An image of 64x32 pixels."
    url = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    assert client.post("/v1/chat/completions", json=chat_body([url])).status_code == 400
    bad = {"type": "image_url", "image_url": {"url": "data:image/png;base64,bm90IGFuIGltYWdl"}}
    assert client.post("/v1/chat/completions", json=chat_body([bad])).status_code == 400
    srv.settings.script = [
        ScriptEntry(match="extract", reply="INVOICE #42", has_image=True),
        ScriptEntry(
            match="re:think about (\\w+)", reply="Done with $1.", reasoning="Thinking about $1."
        ),
    ]
    content = [{"type": "text", "text": "Extract all text"}, image]
    r = client.post("/v1/chat/completions", json=chat_body(content))
    assert r.json()["choices"][0]["message"]["content"] == "INVOICE #42"
    r = client.post("/v1/chat/completions", json=chat_body("please think about cats")).json()
    message = r["choices"][0]["message"]
    assert message["content"] == "Done with cats."
    assert message["reasoning_content"] == "Thinking about cats."
    events = parsed_events(
        client.post("/v1/chat/completions", json=chat_body("think about dogs", stream=True)).text
    )
    reasoning = "".join(e["choices"][0]["delta"].get("reasoning_content", "") for e in events[1:-1])
    assert reasoning == "Thinking about dogs."
    assert (
        client.post("/v1/chat/completions", json=chat_body("zzz")).json()["choices"][0]["message"][
            "content"
        ]
        == "You said: zzz"
    )


# ---- flavors ----------------------------------------------------------------------------


def test_flavor_vllm_033() -> None:
    with ReferenceServer(flavor="vllm-0.33") as srv, httpx.Client(base_url=srv.url) as c:
        legacy = c.post(
            "/v1/chat/completions", json=chat_body("Hello there", guided_json=PERSON_SCHEMA)
        )
        assert legacy.status_code == 200
        content = legacy.json()["choices"][0]["message"]["content"]
        with pytest.raises(json.JSONDecodeError):
            json.loads(content)  # ignored: unconstrained output
        modern = c.post(
            "/v1/chat/completions", json=chat_body(structured_outputs={"json": PERSON_SCHEMA})
        ).json()
        assert person_ok(json.loads(modern["choices"][0]["message"]["content"]))
        message = modern["choices"][0]["message"]
        assert "tool_calls" not in message
        assert "reasoning" in message
        assert key_shape(modern) == key_shape(capture_body("11"))
        events = parsed_events(
            c.post("/v1/chat/completions", json=chat_body(stream=True, stream_options={})).text
        )
        assert all("usage" not in e for e in events[:-1])  # include_usage defaults to false
        assert events[-2]["choices"][0]["delta"] == {}
        events = parsed_events(
            c.post(
                "/v1/chat/completions",
                json=chat_body(stream=True, stream_options={"include_usage": True}),
            ).text
        )
        assert list(events[0]) == [
            "id",
            "object",
            "created",
            "model",
            "choices",
            "prompt_token_ids",
            "prompt_text",
        ]
        assert list(events[-2]) == [
            "id",
            "object",
            "created",
            "model",
            "choices",
            "usage",
            "system_fingerprint",
        ]
        srv.settings.script = [ScriptEntry(match="why", reply="Because.", reasoning="Hmm.")]
        r = c.post("/v1/chat/completions", json=chat_body("why?")).json()
        assert r["choices"][0]["message"]["reasoning"] == "Hmm."


def test_flavor_aphrodite() -> None:
    with (
        ReferenceServer(flavor="aphrodite-0.6", api_key=KEY) as srv,
        httpx.Client(base_url=srv.url, headers={"x-api-key": KEY}) as c,
    ):
        r = c.post("/v1/chat/completions", json=chat_body())
        assert r.status_code == 200
        assert r.json()["id"].startswith("chat-")
        guided = c.post("/v1/chat/completions", json=chat_body(guided_choice=["Yes", "No"]))
        assert guided.json()["choices"][0]["message"]["content"] == "Yes"
        err = c.post("/v1/chat/completions", json=chat_body(model="gpt-4")).json()
        assert err == json.loads((EXAMPLES / "error_legacy_flat.json").read_text())
        for field, value in [
            ("repetition_penalty", 0.9),
            ("dry_base", 1.0),
            ("typical_p", 1.5),
            ("tfs", 0),
            ("xtc_probability", 2),
            ("mirostat_mode", 1),
        ]:
            bad = c.post("/v1/chat/completions", json=chat_body(**{field: value}))
            assert bad.status_code == 400, field
            assert bad.json()["object"] == "error"
        ok = c.post(
            "/v1/chat/completions",
            json=chat_body(dry_multiplier=0.8, dry_base=1.75, xtc_probability=0.5, mirostat_mode=2),
        )
        assert ok.status_code == 200
        tok = c.post("/v1/tokenize", json={"model": "tiny", "prompt": "hello"}).json()
        assert list(tok) == ["tokens", "count", "max_model_len"]
        assert c.get("/v1/models").json()["data"][0]["owned_by"] == "pygmalionai"
        expected = parsed_events(
            (EXAMPLES / "aphrodite_v0.6_chat_stream_include_usage.sse").read_text()
        )
        events = parsed_events(
            c.post(
                "/v1/chat/completions",
                json=chat_body("hi", stream=True, stream_options={"include_usage": True}),
            ).text
        )
        assert [key_shape(e) for e in events[:2]] == [key_shape(e) for e in expected[:2]]
        assert key_shape(events[-3]) == key_shape(expected[-3])
        assert events[1]["usage"]["completion_tokens"] == 1
        assert events[-2]["usage"]["completion_tokens"] == sum(
            e["usage"]["completion_tokens"] for e in events[1:-2]
        )


# ---- auth -------------------------------------------------------------------------------


def test_auth(srv: ReferenceServer) -> None:
    url = srv.url
    r = httpx.post(f"{url}/v1/chat/completions", json=chat_body())
    assert (r.status_code, r.json()) == (401, {"error": "Unauthorized"})
    r = httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert httpx.get(f"{url}/health").status_code == 200
    assert httpx.get(f"{url}/version").status_code == 200
    r = httpx.get(f"{url}/sdapi/v1/samplers")
    assert r.status_code == 401
    assert r.json() == {
        "error": "HTTPException",
        "code": 401,
        "detail": "Not authenticated",
        "body": "",
        "errors": "401: Not authenticated",
    }
    for header in (
        f"Bearer {KEY}",
        "Basic " + base64.b64encode(KEY.encode()).decode(),
        "Basic " + base64.b64encode(f"user:{KEY}".encode()).decode(),
    ):
        assert (
            httpx.get(f"{url}/v1/img-samplers", headers={"Authorization": header}).status_code
            == 200
        )
    basic_bad = "Basic " + base64.b64encode(b"user:nope").decode()
    assert httpx.get(f"{url}/v1/upscalers", headers={"Authorization": basic_bad}).status_code == 401
    assert httpx.get(f"{url}/_control/stats").status_code == 200


# ---- faults -----------------------------------------------------------------------------


def test_fault_status_and_defaults(srv: ReferenceServer, client: httpx.Client) -> None:
    srv.add_fault(
        Fault(path="/v1/chat/completions", kind="status", status=503, headers={"Retry-After": "1"})
    )
    r = client.post("/v1/chat/completions", json=chat_body())
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert r.json() == {
        "error": {
            "message": "Service Unavailable",
            "type": "ServiceUnavailableError",
            "param": None,
            "code": 503,
        }
    }
    assert client.post("/v1/chat/completions", json=chat_body()).status_code == 200
    srv.add_fault(Fault(path="*", kind="status", status=429, body={"detail": "slow down"}, times=2))
    assert client.get("/v1/models").json() == {"detail": "slow down"}
    assert client.get("/sdapi/v1/samplers").status_code == 429
    assert client.get("/v1/models").status_code == 200
    srv.add_fault(Fault(path="/v1/models", kind="status", status=500, body="oops", method="POST"))
    assert client.get("/v1/models").status_code == 200  # method filter
    srv.clear_faults()
    srv.add_fault(Fault(path="/v1/models", kind="status", status=500, body="oops", times=-1))
    for _ in range(3):
        r = client.get("/v1/models")
        assert (r.status_code, r.text, r.headers["content-type"]) == (
            500,
            "oops",
            "text/plain; charset=utf-8",
        )
    srv.clear_faults()
    srv.add_fault(Fault(path="/sdapi/v1/txt2img", kind="status", status=500))
    assert (
        client.post("/sdapi/v1/txt2img", json={}).json()["errors"] == "500: Internal Server Error"
    )
    assert srv.stats["faults_applied"] == 7


def test_fault_html_malformed_large(srv: ReferenceServer, client: httpx.Client) -> None:
    srv.add_fault(Fault(path="/v1/chat/completions", kind="html_502"))
    r = client.post("/v1/chat/completions", json=chat_body())
    assert r.status_code == 502
    assert r.headers["content-type"] == "text/html"
    assert "502 Bad Gateway" in r.text
    srv.add_fault(Fault(path="/v1/chat/completions", kind="malformed_json"))
    r = client.post("/v1/chat/completions", json=chat_body())
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        r.json()
    srv.add_fault(Fault(path="/v1/chat/completions", kind="large_body", size=1_000_000))
    r = client.post("/v1/chat/completions", json=chat_body())
    assert 950_000 < len(r.content) < 1_050_000
    assert r.json()["choices"][0]["finish_reason"] == "length"
    assert client.post("/v1/chat/completions", json=chat_body()).status_code == 200


def test_fault_drop_before_response(srv: ReferenceServer, client: httpx.Client) -> None:
    srv.add_fault(Fault(path="/v1/chat/completions", kind="drop_before_response"))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.post("/v1/chat/completions", json=chat_body())
    assert client.post("/v1/chat/completions", json=chat_body()).status_code == 200
    assert len(srv.requests_for("/v1/chat/completions")) == 2  # recorded before the fault


def test_fault_drop_mid_stream(srv: ReferenceServer, client: httpx.Client) -> None:
    srv.add_fault(Fault(path="/v1/chat/completions", kind="drop_mid_stream", after_events=3))
    received: list[str] = []
    with client.stream("POST", "/v1/chat/completions", json=chat_body(stream=True)) as r:
        assert r.status_code == 200
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            received.extend(line for line in r.iter_lines() if line)
    assert len(received) == 3
    srv.add_fault(Fault(path="/v1/chat/completions", kind="drop_mid_stream"))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.post("/v1/chat/completions", json=chat_body())
    assert client.post("/v1/chat/completions", json=chat_body(stream=True)).status_code == 200


def test_fault_truncate_and_stream_error(srv: ReferenceServer, client: httpx.Client) -> None:
    srv.add_fault(Fault(path="/v1/chat/completions", kind="truncate_sse", after_events=2))
    r = client.post("/v1/chat/completions", json=chat_body(stream=True))
    events = sse_events(r.text)
    assert len(events) == 2
    assert "[DONE]" not in events
    assert all(json.loads(e)["choices"][0]["finish_reason"] is None for e in events)
    srv.add_fault(Fault(path="/v1/chat/completions", kind="stream_error", after_events=2))
    r = client.post("/v1/chat/completions", json=chat_body(stream=True))
    assert r.status_code == 200
    events = sse_events(r.text)
    assert len(events) == 4
    assert events[-1] == "[DONE]"
    assert events[2] == (
        '{"error": {"message": "Simulated engine failure during generation", '
        '"type": "BadRequestError", "param": null, "code": 400}}'
    )
    srv.add_fault(Fault(path="/v1/chat/completions", kind="stream_error"))
    assert client.post("/v1/chat/completions", json=chat_body()).status_code == 400


def test_fault_delay_and_hang(srv: ReferenceServer, client: httpx.Client) -> None:
    srv.add_fault(Fault(path="/v1/models", kind="delay", delay=0.6))
    with pytest.raises(httpx.ReadTimeout):
        client.get("/v1/models", timeout=0.2)
    srv.add_fault(Fault(path="/v1/models", kind="delay", delay=0.1))
    assert client.get("/v1/models", timeout=2).status_code == 200
    srv.add_fault(Fault(path="/v1/models", kind="hang"))
    with pytest.raises(httpx.ReadTimeout):
        client.get("/v1/models", timeout=0.2)
    assert client.get("/v1/models", timeout=2).status_code == 200


# ---- images -----------------------------------------------------------------------------


def test_txt2img(srv: ReferenceServer, client: httpx.Client) -> None:
    r = client.post(
        "/sdapi/v1/txt2img",
        json={
            "prompt": "a red square",
            "width": 64,
            "height": 48,
            "batch_size": 2,
            "sampler_name": "euler a",
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["images", "parameters", "info"]
    assert len(body["images"]) == 2
    assert all(i.startswith("/9j/") for i in body["images"])
    assert decode_image(body["images"][0]).size == (64, 48)
    assert decode_image(body["images"][0]).format == "JPEG"
    assert isinstance(body["info"], str)
    assert ", " in body["info"]
    info = json.loads(body["info"])
    expected_info = json.loads(
        json.loads((EXAMPLES / "sd_txt2img_response.json").read_text())["info"]
    )
    assert list(info) == list(expected_info)
    assert info["all_seeds"] == [info["seed"], info["seed"] + 1]
    assert info["seed"] != -1
    params = body["parameters"]
    assert params["seed"] == -1
    assert params["prompt"] == "a red square"
    assert len(params) == 238
    fixed = client.post(
        "/v1/txt2img", json={"prompt": "x", "seed": 5, "width": 8, "height": 8}
    ).json()
    assert json.loads(fixed["info"])["all_seeds"] == [5]
    assert client.post("/sdapi/v1/options", json={"samples_format": "png"}).json() == {
        "updated": [{"samples_format": True}]
    }
    png = client.post("/sdapi/v1/txt2img", json={"width": 8, "height": 8}).json()
    assert png["images"][0].startswith("iVBOR")
    assert client.get("/v1/img-options").json()["samples_format"] == "png"
    bad = client.post("/sdapi/v1/txt2img", json={"sampler_name": "DPM++ 2M Karras"})
    assert bad.status_code == 404
    assert bad.json() == json.loads((EXAMPLES / "sd_404_sampler_not_found.json").read_text())
    typed = client.post("/sdapi/v1/txt2img", json={"steps": "many", "width": 64.5})
    assert typed.status_code == 422
    assert typed.json() == json.loads((EXAMPLES / "sd_422_error.json").read_text())
    unknown_model = client.post("/sdapi/v1/txt2img", json={"sd_model_checkpoint": "nope"})
    assert unknown_model.status_code == 404
    ok_model = client.post(
        "/sdapi/v1/txt2img", json={"sd_model_checkpoint": "FLUX.1-dev", "width": 8, "height": 8}
    )
    assert ok_model.status_code == 200


def test_img2img_and_upscale(srv: ReferenceServer, client: httpx.Client) -> None:
    missing = client.post("/sdapi/v1/img2img", json={"prompt": "x"})
    assert missing.status_code == 400
    assert missing.json() == json.loads(
        (EXAMPLES / "sd_img2img_no_init_images_400.json").read_text()
    )
    bad = client.post("/v1/img2img", json={"init_images": ["not-an-image"]})
    assert bad.status_code == 500
    assert bad.json() == {
        "error": "HTTPException",
        "code": 500,
        "detail": "Invalid encoded image",
        "body": "",
        "errors": "500: Invalid encoded image",
    }
    r = client.post(
        "/sdapi/v1/img2img",
        json={
            "init_images": [f"data:image/png;base64,{png_b64(40, 30)}"],
            "mask": png_b64(20, 10),
            "scale_by": 2,
        },
    ).json()
    assert decode_image(r["images"][0]).size == (80, 60)
    assert r["parameters"]["init_images"] is None
    assert r["parameters"]["denoising_strength"] == 0.5
    assert json.loads(r["info"])["extra_generation_params"]["Mask size"] == "20x10"
    assert srv.stats["last_mask_size"] == (20, 10)
    extra = client.post(
        "/sdapi/v1/extra-single-image",
        json={"image": png_b64(4, 4), "upscaler_1": "Resize Lanczos", "upscaling_resize": 2},
    ).json()
    assert list(extra) == ["html_info", "image"]
    assert (
        extra["html_info"]
        == "Size: 8x8, Postprocess upscale by: 2.0, Postprocess upscaler: Resize Lanczos"
    )
    assert decode_image(extra["image"]).size == (8, 8)
    too_big = client.post(
        "/sdapi/v1/extra-single-image", json={"image": png_b64(4, 4), "upscaling_resize": 10}
    )
    assert too_big.status_code == 422
    assert too_big.json() == json.loads((EXAMPLES / "sd_extra_422_range.json").read_text())
    up = client.post(
        "/v1/upscale-img", json={"image": png_b64(5, 5), "upscaler_1": "ESRGAN_4x"}
    ).json()
    assert up["info"] == {"upscaler": "ESRGAN_4x", "scale_factor": 4}
    assert decode_image(up["images"][0]).size == (20, 20)


def test_image_enumerators(srv: ReferenceServer, client: httpx.Client) -> None:
    models = client.get("/sdapi/v1/sd-models").json()
    assert list(models[0]) == [
        "title",
        "model_name",
        "filename",
        "type",
        "sha256",
        "hash",
        "config",
    ]
    assert client.get("/v1/img-models").json() == models
    samplers = client.get("/sdapi/v1/samplers").json()
    assert all(list(s) == ["name", "options"] for s in samplers)
    assert list(client.get("/v1/upscalers").json()[0]) == [
        "name",
        "model_name",
        "model_path",
        "model_url",
        "scale",
    ]
    assert client.get("/v1/parallel-requests").json() == {
        "parallel_requests": 2,
        "remaining": 2,
        "message": "You can run up to 2 parallel requests",
    }
    srv.settings.sd_models_as_names = True
    try:
        assert all(isinstance(m, str) for m in client.get("/sdapi/v1/sd-models").json())
    finally:
        srv.settings.sd_models_as_names = False


async def test_image_parallel_cap(srv: ReferenceServer) -> None:
    srv.settings.image_latency = 0.3
    try:
        async with httpx.AsyncClient(base_url=srv.url, headers=AUTH, timeout=10) as c:
            body = {"prompt": "x", "width": 16, "height": 16}
            results = await asyncio.gather(
                *(c.post("/sdapi/v1/txt2img", json=body) for _ in range(5))
            )
    finally:
        srv.settings.image_latency = 0.0
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 200, 429, 429, 429]
    limited = next(r for r in results if r.status_code == 429)
    assert limited.headers["retry-after"] == "1"
    assert limited.json()["code"] == 429
    stats = srv.stats
    assert stats["rate_limited"] == 3
    assert stats["max_in_flight_images"] == 2
    assert stats["in_flight_images"] == 0


async def test_text_parallel_cap_counts_whole_streams() -> None:
    async with ReferenceServer(api_key=KEY, text_parallel_limit=2, token_latency=0.05) as srv:
        async with httpx.AsyncClient(base_url=srv.url, headers=AUTH, timeout=10) as c:
            body = {**chat_body("hi"), "stream": True, "max_tokens": 4}
            results = await asyncio.gather(
                *(c.post("/v1/chat/completions", json=body) for _ in range(4))
            )
        stats = srv.stats
    assert sorted(r.status_code for r in results) == [200, 200, 429, 429]
    assert stats["max_in_flight_text"] == 2  # the streams held their slots to the end
    assert stats["in_flight_text"] == 0
    assert stats["rate_limited"] == 2


async def test_proxy_caps_text_and_images_together_at_six() -> None:
    async with ReferenceServer(provider="arli-proxy", text_latency=0.3, image_latency=0.3) as srv:
        async with httpx.AsyncClient(base_url=f"{srv.url}/api", timeout=10) as c:
            chat = {**chat_body("hi"), "max_tokens": 2}
            image = {"prompt": "x", "width": 16, "height": 16}
            results = await asyncio.gather(
                *(c.post("/v1/chat/completions", json=chat) for _ in range(4)),
                *(c.post("/txt2img/sdapi/v1/txt2img", json=image) for _ in range(4)),
            )
        stats = srv.stats
    assert sorted(r.status_code for r in results) == [200] * 6 + [429] * 2
    assert stats["max_in_flight_proxy"] == 6
    assert stats["in_flight_proxy"] == 0


# ---- recording & control ------------------------------------------------------------------


def test_recording_and_control_endpoints(srv: ReferenceServer, client: httpx.Client) -> None:
    client.post(
        "/v1/chat/completions?x=1", json=chat_body("record me"), headers={"X-Custom": "yes"}
    )
    recorded = srv.requests_for("/v1/chat/completions")
    assert len(recorded) == 1
    req = recorded[0]
    assert (req.method, req.query, req.headers["x-custom"]) == ("POST", {"x": "1"}, "yes")
    assert req.json["messages"][0]["content"] == "record me"
    assert json.loads(req.body) == req.json
    fault = {"path": "/v1/models", "kind": "status", "status": 418, "times": 1}
    assert httpx.post(f"{srv.url}/_control/faults", json=fault).json() == {"ok": True}
    assert (
        httpx.post(f"{srv.url}/_control/faults", json={"path": "x", "kind": "bogus"}).status_code
        == 400
    )
    assert client.get("/v1/models").status_code == 418
    listing = httpx.get(f"{srv.url}/_control/requests").json()
    assert [r["path"] for r in listing] == ["/v1/chat/completions", "/v1/models"]
    assert listing[0]["json"]["messages"][0]["content"] == "record me"
    assert isinstance(listing[0]["body"], str)
    stats = httpx.get(f"{srv.url}/_control/stats").json()
    assert stats["requests_total"] == 2
    assert stats["faults_applied"] == 1
    assert httpx.post(f"{srv.url}/_control/reset").json() == {"ok": True}
    assert srv.requests == []
    assert srv.stats["requests_total"] == 0


async def test_async_context_manager() -> None:
    async with ReferenceServer() as srv, httpx.AsyncClient(base_url=srv.url) as c:
        r = await c.post("/v1/chat/completions", json=chat_body(stream=True))
        assert r.status_code == 200
        assert r.text.endswith("data: [DONE]\n\n")


def test_cli_runs_until_sigterm() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "tests.reference_server", "--port", "0", "--api-key", "k"],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            url = line.strip().rsplit(" ", 1)[-1]
            assert url.startswith("http://127.0.0.1:"), line
            headers = {"Authorization": "Bearer k"}
            assert httpx.get(f"{url}/v1/models", headers=headers).status_code == 200
        finally:
            proc.terminate()
            proc.communicate(timeout=10)
        assert proc.returncode == 0

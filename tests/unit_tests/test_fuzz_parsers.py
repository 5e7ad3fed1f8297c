"""Fuzzing every response parser with inputs derived from the recorded wire examples.

Inputs start from the fixture files (``tests/fixtures/wire/examples/`` and the real vLLM
captures): byte streams are truncated, byte-flipped, cut, reordered and re-chunked; JSON
bodies get keys deleted, values swapped for other types, lists shuffled or emptied; and
random JSON is thrown in. Whatever comes in, a parser either returns a valid result or
raises one of our typed errors (:class:`arli.ArliError`); never ``KeyError``,
``TypeError``, ``AttributeError``, ``IndexError``, ``ValueError``, ``RecursionError``...

Covered: the SSE decoder and :class:`~arli._sse.JSONEventStream`, the chat/completion
parsers and stream accumulators, tokenize and models (text), the image response and
listing parsers, generation info and infotexts, the error-envelope parsers, ``Retry-After``
parsing, and the AiArt answers (through :class:`~arli.AiArtClient` on a mock transport),
plus whole clients (``TextClient``, ``ImageClient``) on a mock transport answering fuzzed
bodies. Regression examples for the crashes found are pinned at the end.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arli import AiArtClient, ArliError, ImageClient, TextClient
from arli._errors import (
    error_from_stream_event,
    extract_error_message,
    status_error_from_response,
)
from arli._sse import JSONEventStream, SSEDecoder
from arli._transport import HTTPResult, parse_retry_after
from arli.images.models import (
    GenerationInfo,
    parse_image_response,
    parse_infotext,
    parse_models,
    parse_parallel_requests,
    parse_samplers,
    parse_upscalers,
)
from arli.text.accumulate import ChatStreamAccumulator, CompletionStreamAccumulator
from arli.text.parse import (
    parse_chat_chunk,
    parse_chat_completion,
    parse_completion,
    parse_completion_chunk,
    parse_tokenize,
)
from arli.text.parse import (
    parse_models as parse_text_models,
)
from tests.helpers import CAPTURES, FIXTURES, WIRE, parse_raw_response

#: ``ARLI_FUZZ_EXAMPLES=5000 pytest tests/unit_tests/test_fuzz_parsers.py`` digs deeper.
FUZZ = settings(
    max_examples=int(os.environ.get("ARLI_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- seeds from the fixtures -----------------------------------------------------------------


def _stream_bodies() -> dict[str, bytes]:
    bodies = {p.name: p.read_bytes() for p in sorted(WIRE.glob("*.sse"))}
    for path in sorted(CAPTURES.glob("*.resp")):
        raw = parse_raw_response(path)
        if "event-stream" in raw.headers.get("content-type", ""):
            bodies[path.name] = raw.body
    return bodies


def _json_bodies() -> dict[str, Any]:
    bodies: dict[str, Any] = {
        p.name: json.loads(p.read_text()) for p in sorted(WIRE.glob("*.json"))
    }
    for path in sorted(CAPTURES.glob("*.resp")):
        raw = parse_raw_response(path)
        if "json" in raw.headers.get("content-type", ""):
            bodies[path.name] = json.loads(raw.body)
    return bodies


STREAMS = _stream_bodies()
BODIES = _json_bodies()
COMPLETION_STREAMS = {k for k, v in STREAMS.items() if b'"text_completion"' in v}
HTML_PAGES = [p.read_text() for p in sorted((FIXTURES / "html").glob("*.html"))]


def seeds(*fragments: str) -> list[Any]:
    found = [v for k, v in BODIES.items() if any(f in k for f in fragments)]
    assert found, fragments
    return found


#: Keys of the wire formats, so that random objects hit the parsers' paths.
KEYS = sorted(
    {
        "choices", "message", "delta", "content", "role", "tool_calls", "function", "name",
        "arguments", "index", "id", "finish_reason", "stop_reason", "usage", "prompt_tokens",
        "completion_tokens", "total_tokens", "prompt_tokens_details", "cached_tokens",
        "reasoning", "reasoning_content", "logprobs", "text", "type", "data", "object",
        "max_model_len", "tokens", "count", "token_strs", "images", "image", "info",
        "html_info", "parameters", "seed", "all_seeds", "infotexts", "error", "detail",
        "errors", "code", "param", "msg", "loc", "title", "model_name", "options", "aliases",
        "scale", "parallel_requests", "success", "image_url", "video_url", "status",
    }
)  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=24)
    | st.sampled_from(["", "[DONE]", "data:", "{", "stop", "length", "text", "function"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=16,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value[:8]):
            out += _paths(child, (*path, i))
    return out


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """``base`` with 1-4 structural mutations: delete, retype, empty, shuffle, wrap."""
    value = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_paths(value)))
        op = draw(
            st.sampled_from(["replace", "none", "delete", "empty", "wrap", "stringify", "shuffle"])
        )
        if op == "replace":
            new: Any = draw(json_values)
        elif op == "none":
            new = None
        elif op == "empty":
            new = (
                type(_get(value, path))() if isinstance(_get(value, path), (dict, list, str)) else 0
            )
        elif op == "wrap":
            new = [_get(value, path)]
        elif op == "stringify":
            new = json.dumps(_get(value, path))
        elif op == "shuffle" and isinstance(_get(value, path), list):
            new = draw(st.permutations(_get(value, path)))
        else:  # delete (or shuffle of a non-list)
            if not path:
                return draw(json_values)
            parent = _get(value, path[:-1])
            del parent[path[-1]]
            continue
        if not path:
            value = new
        else:
            _get(value, path[:-1])[path[-1]] = new
    return value


def json_inputs(*fragments: str) -> st.SearchStrategy[Any]:
    bases = seeds(*fragments)
    return st.one_of(st.sampled_from(bases).flatmap(mutated), json_values)


def ours(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``: a result, or our typed error (returned); anything else fails the test."""
    try:
        return fn(*args, **kwargs)
    except ArliError as exc:
        return exc


# -- bytes: the SSE decoder and the JSON event layer -------------------------------------------


@st.composite
def mangled_stream(draw: st.DrawFn) -> tuple[str, bytes, list[int]]:
    name = draw(st.sampled_from(sorted(STREAMS)))
    data = bytearray(STREAMS[name])
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "delete", "insert", "reorder", "dup"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[at] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[at:]
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif op == "insert":
            data[at:at] = draw(st.binary(max_size=12) | st.sampled_from([b"\r", b"\n\n", b"\xff"]))
        else:
            events = bytes(data).split(b"\n\n")
            if op == "reorder":
                events = draw(st.permutations(events))
            else:
                events.insert(at % len(events), events[at % len(events)])
            data = bytearray(b"\n\n".join(events))
    cuts = sorted(draw(st.lists(st.integers(0, max(len(data), 1)), max_size=8)))
    return name, bytes(data), cuts


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    out, last = [], 0
    for cut in cuts:
        out.append(data[last:cut])
        last = cut
    out.append(data[last:])
    return out


def _through_the_pipeline(name: str, chunks: list[bytes]) -> None:
    """What the transport and the text client do with a streamed body."""
    decoder = SSEDecoder()
    stream = JSONEventStream(method="POST", url="http://x/v1/chat/completions")
    completion = name in COMPLETION_STREAMS
    acc: Any = CompletionStreamAccumulator() if completion else ChatStreamAccumulator()
    parse = parse_completion_chunk if completion else parse_chat_chunk
    events = [e for chunk in chunks for e in decoder.feed(chunk)] + decoder.flush()
    for event in events:
        payload = stream.decode(event)
        if stream.done:
            break
        if payload is not None:
            acc.add(parse(payload))
    result = acc.result()
    assert isinstance(acc.finished, bool)
    _ = (result.text, result.usage, [c.finish_reason for c in result.choices])
    if not completion:
        for choice in result.choices:
            _ = [(t.id, t.name, t.arguments) for t in choice.tool_calls]
            _ = acc.tool_calls(choice.index)


@FUZZ
@given(case=mangled_stream())
def test_sse_streams_mangled_at_the_byte_level(case: tuple[str, bytes, list[int]]) -> None:
    name, data, cuts = case
    ours(_through_the_pipeline, name, _chunks(data, cuts))


@FUZZ
@given(
    name=st.sampled_from(sorted(STREAMS)),
    data=st.data(),
)
def test_sse_streams_with_mutated_json_payloads(name: str, data: st.DataObject) -> None:
    lines = STREAMS[name].decode().split("\n")
    payload_lines = [i for i, line in enumerate(lines) if line.startswith("data: {")]
    for i in data.draw(st.lists(st.sampled_from(payload_lines), min_size=1, max_size=3)):
        value = data.draw(mutated(json.loads(lines[i][len("data: ") :])))
        lines[i] = "data: " + json.dumps(value)
    ours(_through_the_pipeline, name, ["\n".join(lines).encode()])


@FUZZ
@given(value=json_values)
def test_json_event_layer_with_random_objects(value: Any) -> None:
    from arli._sse import ServerSentEvent

    for event in (
        ServerSentEvent(json.dumps(value)),
        ServerSentEvent(json.dumps(value), event="error"),
    ):
        payload = ours(JSONEventStream().decode, event)
        if isinstance(payload, dict):
            ours(parse_chat_chunk, payload)
            ours(parse_completion_chunk, payload)
    if isinstance(value, dict):
        assert isinstance(error_from_stream_event(value), ArliError)


# -- JSON bodies: text -------------------------------------------------------------------------


def _use_chat(value: Any) -> None:
    completion = parse_chat_completion(value)
    _ = (completion.text, completion.usage)
    for choice in completion.choices:
        _ = (choice.content, choice.reasoning, [(t.name, t.arguments) for t in choice.tool_calls])


@FUZZ
@given(value=json_inputs("chat_response", "02_chat", "1", "2"))
def test_chat_completion_parser(value: Any) -> None:
    ours(_use_chat, value)


@FUZZ
@given(value=json_inputs("completion_response", "05_completions", "30_unknown"))
def test_completion_parser(value: Any) -> None:
    ours(lambda v: parse_completion(v).text, value)


@FUZZ
@given(value=json_inputs("tokenize", "models"))
def test_tokenize_and_models_parsers(value: Any) -> None:
    ours(parse_tokenize, value)
    ours(parse_text_models, value)


# -- JSON bodies: images -----------------------------------------------------------------------


def _use_images(value: Any) -> None:
    for operation in ("txt2img", "upscale"):
        result = parse_image_response(value, operation=operation, allow_empty=True)  # type: ignore[arg-type]
        _ = (str(result), result.summary(), result.seeds, len(result), result.info.model)
        for image in result:
            _ = (repr(image), image.default_name(), image.extension)


@FUZZ
@given(value=json_inputs("sd_txt2img", "sd_extra_single"))
def test_image_response_parser(value: Any) -> None:
    ours(_use_images, value)


@FUZZ
@given(value=json_inputs("sd_models", "sd_samplers", "sd_upscalers", "sd_options"))
def test_image_listing_parsers(value: Any) -> None:
    for parse in (parse_models, parse_samplers, parse_upscalers, parse_parallel_requests):
        ours(parse, value)


@FUZZ
@given(
    info=st.one_of(
        json_values,
        json_inputs("sd_txt2img").map(lambda v: v.get("info") if isinstance(v, dict) else v),
        st.text(max_size=200),
    ),
    text=st.none() | st.text(max_size=80),
)
def test_generation_info_and_infotext(info: Any, text: str | None) -> None:
    ours(GenerationInfo.from_raw, info, text=text)
    if isinstance(info, str):
        assert isinstance(parse_infotext(info), dict)


# -- error bodies ------------------------------------------------------------------------------


@st.composite
def error_bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["json", "html", "bytes", "text"]))
    if kind == "json":
        value = draw(json_inputs("error", "sd_404", "sd_422", "sd_extra_422", "sd_img2img", "3"))
        return json.dumps(value).encode()
    if kind == "html":
        page = draw(st.sampled_from(HTML_PAGES))
        cut = draw(st.integers(0, len(page)))
        return page[:cut].encode()
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    return draw(st.text(max_size=300)).encode("utf-8", "surrogatepass")


@FUZZ
@given(body=error_bodies(), status=st.integers(100, 599), reason=st.text(max_size=20))
def test_error_envelopes(body: bytes, status: int, reason: str) -> None:
    message = extract_error_message(body, reason=reason)
    assert isinstance(message, str)
    assert len(message) <= 1000  # a short text, never a whole page or body
    error = status_error_from_response(status, body, reason=reason, method="POST", url="http://x")
    assert isinstance(error, ArliError)
    assert str(error).startswith(f"HTTP {status}")


@FUZZ
@given(
    headers=st.dictionaries(
        st.sampled_from(["retry-after", "retry-after-ms", "x-other"]),
        st.text(alphabet=st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=40)
        | st.sampled_from(["1", "1.5", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", "²", "٣", "nan"]),
        max_size=3,
    )
)
def test_retry_after_headers(headers: dict[str, str]) -> None:
    value = parse_retry_after(headers)
    assert value is None or value >= 0


# -- whole clients on a mock transport ---------------------------------------------------------


class Answer:
    """A mock transport answering whatever the current example says."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b"{}"
        self.headers: dict[str, str] = {"content-type": "application/json"}

    def set(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.status, self.body = status, body
        self.headers = {"content-type": "application/json", **(headers or {})}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        # Header values as bytes: a server can send any latin-1 byte there.
        raw = [(k.encode(), v.encode("latin-1", "replace")) for k, v in self.headers.items()]
        return httpx.Response(self.status, content=self.body, headers=raw)


def test_text_client_on_fuzzed_answers() -> None:
    answer = Answer()
    http = httpx.Client(transport=httpx.MockTransport(answer))
    client = TextClient(api_key="k", base_url="http://arli.test", http_client=http, max_retries=0)
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}

    @FUZZ
    @given(
        value=json_inputs("chat_response", "completion", "tokenize", "models", "error"),
        status=st.sampled_from([200, 200, 200, 400, 404, 422, 429, 500, 502]),
        stream=mangled_stream(),
        raw=st.binary(max_size=64),
    )
    def check(value: Any, status: int, stream: tuple[str, bytes, list[int]], raw: bytes) -> None:
        answer.set(status, json.dumps(value).encode())
        ours(client.chat, body)
        ours(client.complete, {"model": "m", "prompt": "x"})
        ours(client.tokenize, model="m", prompt="x")
        ours(client.list_models)
        answer.set(200, raw)
        ours(client.chat, body)
        answer.set(status, stream[1], {"content-type": "text/event-stream"})
        ours(lambda: list(client.stream_chat(body)))
        ours(lambda: list(client.stream_complete({"model": "m", "prompt": "x"})))

    check()


def test_image_client_on_fuzzed_answers() -> None:
    answer = Answer()
    http = httpx.Client(transport=httpx.MockTransport(answer))
    client = ImageClient(
        model="FLUX.2-klein-4B",
        api_key="k",
        base_url="http://sd.test",
        http_client=http,
        max_retries=0,
        listing_cache_ttl=0,
    )

    @FUZZ
    @given(
        value=json_inputs("sd_"),
        status=st.sampled_from([200, 200, 200, 404, 422, 500]),
    )
    def check(value: Any, status: int) -> None:
        answer.set(status, json.dumps(value).encode())
        ours(lambda: client.txt2img(prompt="p").summary())
        ours(client.list_models)
        ours(client.list_samplers)
        ours(client.list_upscalers)
        ours(client.get_options)
        ours(client.parallel_requests)

    check()


def test_framework_skins_on_fuzzed_answers() -> None:
    """The LangChain and LlamaIndex converters see whatever the core parsed."""
    from llama_index.core.llms import ChatMessage

    from langchain_arli import ArliLLM, ChatArli
    from llama_index_arli import Arli

    answer = Answer()
    http = httpx.Client(transport=httpx.MockTransport(answer))
    common: dict[str, Any] = {"api_key": "k", "base_url": "http://arli.test", "max_retries": 0}
    chat = ChatArli(model="m", http_client=http, **common)
    llm = ArliLLM(model="m", http_client=http, **common)
    li = Arli(model="m", http_client=http, discover_context_window=False, **common)
    messages = [ChatMessage(role="user", content="x")]

    @FUZZ
    @given(
        value=json_inputs("chat_response", "completion", "02_chat", "19_", "24_", "25_"),
        stream=mangled_stream(),
    )
    def check(value: Any, stream: tuple[str, bytes, list[int]]) -> None:
        answer.set(200, json.dumps(value).encode())
        ours(chat.invoke, "x")
        ours(llm.invoke, "x")
        ours(li.chat, messages)
        ours(li.complete, "x")
        answer.set(200, stream[1], {"content-type": "text/event-stream"})
        ours(lambda: list(chat.stream("x")))
        ours(lambda: list(llm.stream("x")))
        ours(lambda: list(li.stream_chat(messages)))

    check()


AIART_SEEDS: list[Any] = [
    {"success": True, "message": "ok", "image_url": "/images/a.png"},
    {"success": True, "message": "ok", "image_url": "http://aiart.test/p/b.webp", "seed": 7},
    {"success": True, "id": "a1b2c3d4e5f6", "message": "ok"},
    {"status": "in-progress", "message": "wait"},
    {"status": "complete", "video_url": "/v/x.mp4", "finish_reason": "SUCCESS", "seed": "12"},
    {"success": False, "error": "model overloaded"},
    {"error": "Too many requests"},
]


def test_aiart_client_on_fuzzed_answers(tmp_path: Path) -> None:
    from tests.aiart_helpers import png
    from tests.reference_server.aiart import fake_mp4

    image, video = png(), fake_mp4(1)
    answer = Answer()

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith(("/images/", "/p/")):
            return httpx.Response(200, content=image)
        if path.startswith("/v/"):
            return httpx.Response(200, content=video)
        return answer(request)

    client = AiArtClient(
        base_url="http://aiart.test",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        max_retries=0,
    )
    upload = png()

    @FUZZ
    @given(
        value=st.one_of(st.sampled_from(AIART_SEEDS).flatmap(mutated), json_values),
        status=st.sampled_from([200, 200, 202, 400, 404, 429, 500]),
        retry_after=st.none() | st.text(max_size=8) | st.sampled_from(["1", "1.", "²", "٣"]),
    )
    def check(value: Any, status: int, retry_after: str | None) -> None:
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        answer.set(status, json.dumps(value).encode(), headers)
        ours(client.generate, "a cat")
        ours(client.img2img, upload, "a cat")
        ours(client.start_img2video, upload)
        ours(client.check_video, "a1b2c3d4e5f6")

    check()


# -- regressions: crashes the fuzzing found, pinned ---------------------------------------------


@pytest.mark.parametrize(
    ("parse", "value"),
    [
        # content parts whose text is not a string (TypeError in "".join)
        (
            parse_chat_completion,
            {"choices": [{"message": {"content": [{"type": "text", "text": 5}]}}]},
        ),
        # a known listing field of the wrong type (pydantic ValidationError)
        (parse_models, [{"title": "m", "hash": 5}]),
        (parse_samplers, [{"name": "Euler", "aliases": "x", "options": 3, "extra": None}]),
        (parse_upscalers, [{"name": "u", "model_name": 3}]),
        (parse_parallel_requests, {"parallel_requests": 0}),
        (parse_parallel_requests, {"parallel_requests": 3, "remaining": "x"}),
    ],
)
def test_regressions_wrong_types(parse: Callable[[Any], Any], value: Any) -> None:
    ours(parse, value)


def test_regression_deeply_nested_json_is_a_response_error() -> None:
    deep = b"[" * 100_000
    result = HTTPResult(200, httpx.Headers({"content-type": "application/json"}), deep, "http://x")
    ours(result.json)
    from arli._sse import ServerSentEvent

    ours(JSONEventStream().decode, ServerSentEvent(deep.decode()))
    ours(GenerationInfo.from_raw, "{" + '"a":{' * 100_000)
    ours(extract_error_message, deep)


@pytest.mark.parametrize("value", ["²", "³.5", "1.", "٣"])
def test_regression_aiart_retry_after_digits_that_are_not_numbers(value: str) -> None:
    answer = Answer()
    answer.set(202, b'{"status": "in-progress"}', {"retry-after": value})
    client = AiArtClient(
        base_url="http://aiart.test",
        http_client=httpx.Client(transport=httpx.MockTransport(answer)),
        max_retries=0,
    )
    status = client.check_video("a1b2c3d4e5f6")
    assert status.status == "in-progress"
    assert status.retry_after is None or status.retry_after >= 0


def _skins(answer: Answer) -> tuple[Any, Any, Any]:
    from langchain_arli import ArliLLM, ChatArli
    from llama_index_arli import Arli

    http = httpx.Client(transport=httpx.MockTransport(answer))
    common: dict[str, Any] = {"api_key": "k", "base_url": "http://arli.test", "max_retries": 0}
    return (
        ChatArli(model="m", http_client=http, **common),
        ArliLLM(model="m", http_client=http, **common),
        Arli(model="m", http_client=http, discover_context_window=False, **common),
    )


def test_regression_an_answer_without_choices_is_a_response_error() -> None:
    from arli import ArliResponseError

    answer = Answer()
    chat, llm, _ = _skins(answer)
    answer.set(200, b'{"id": "x", "object": "chat.completion", "choices": []}')
    with pytest.raises(ArliResponseError, match="has no choices"):
        chat.invoke("x")  # was IndexError inside LangChain
    answer.set(200, b'{"id": "x", "object": "text_completion", "choices": []}')
    with pytest.raises(ArliResponseError, match="no choice for prompt 0"):
        llm.invoke("x")  # was IndexError inside LangChain


@pytest.mark.parametrize(
    "stream",
    [
        b"data: [DONE]\n\n",  # nothing before [DONE]
        b'data: {"choices": []}\n\ndata: [DONE]\n\n',  # only a usage-like chunk
        b'data: {"choices": [{"index": 1, "delta": {}}]}\n\ndata: [DONE]\n\n',  # not choice 0
    ],
)
def test_regression_an_empty_stream_is_an_incomplete_response(stream: bytes) -> None:
    from arli import IncompleteResponseError

    answer = Answer()
    answer.set(200, stream, {"content-type": "text/event-stream"})
    chat, llm, _ = _skins(answer)
    with pytest.raises(IncompleteResponseError):
        list(chat.stream("x"))  # was ValueError("No generation chunks were returned")
    with pytest.raises(IncompleteResponseError):
        list(llm.stream("x"))
    if b"index" not in stream:
        client = TextClient(
            api_key="k",
            base_url="http://arli.test",
            http_client=httpx.Client(transport=httpx.MockTransport(answer)),
        )
        with pytest.raises(IncompleteResponseError, match="before any choice"):
            list(client.stream_chat({"model": "m", "messages": []}))


def test_regression_logprobs_of_unexpected_types_are_tolerated() -> None:
    from llama_index.core.llms import ChatMessage

    answer = Answer()
    _, _, li = _skins(answer)
    logprobs = {
        "content": [
            {"token": "a", "logprob": "x", "bytes": [None, 97], "top_logprobs": 3},
            {"token": "b", "logprob": 2**2000, "bytes": 5},
        ]
    }
    body = {"choices": [{"message": {"content": "ab"}, "logprobs": logprobs}]}
    answer.set(200, json.dumps(body).encode())
    response = li.chat([ChatMessage(role="user", content="x")])
    assert response.message.content == "ab"
    assert [[p.logprob for p in top] for top in response.logprobs or []] == [[0.0], [0.0]]
    completion = {"choices": [{"text": "ab", "logprobs": {"tokens": ["a"], "token_logprobs": 7}}]}
    answer.set(200, json.dumps(completion).encode())
    li.use_completions_endpoint = True
    assert li.complete("x").text == "ab"

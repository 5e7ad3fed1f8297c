"""``Arli`` against the reference server: what reaches the wire, and what comes back.

These run live against the in-process reference server (no cassettes): they need server
flavors, scripts, latency and faults that the recorded contract suite does not.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ImageBlock,
    LogProb,
    MessageRole,
    TextBlock,
    ThinkingBlock,
)
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from llama_index.core.types import PydanticProgramMode
from PIL import Image
from pydantic import BaseModel

from arli import (
    ArliConfigError,
    ArliValidationError,
    AuthenticationError,
    BadRequestError,
    ConstraintViolationError,
)
from llama_index_arli import Arli
from tests.helpers import serve_http
from tests.integration_tests.test_langchain_text import SAMPLE_VALUES
from tests.llama_index.contract import MAGIC_PROMPT, Joke, get_weather, magic_function
from tests.reference_server import Fault, ReferenceServer, ScriptEntry

MODEL = "Mistral-Nemo-12B-Instruct-2407"
KEY = "test-key"
CHAT = "/v1/chat/completions"
JOKE = PromptTemplate("Tell me a joke about {topic}.")


def llm_for(server: ReferenceServer, **kwargs: Any) -> Arli:
    kwargs = {"model": MODEL, "api_key": KEY, "base_url": server.url, **kwargs}
    return Arli(**kwargs)


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=text)]


def last_body(server: ReferenceServer, path: str = CHAT) -> dict[str, Any]:
    body = server.requests_for(path)[-1].json
    assert isinstance(body, dict)
    return body


@pytest.fixture
def server(reference_server: ReferenceServer) -> ReferenceServer:
    return reference_server


# -- parameters ---------------------------------------------------------------------------------


def _with_companions(name: str) -> dict[str, Any]:
    if name.startswith("guided_") and name != "guided_regex":
        return {"guided_regex": "[a-z ]+"}
    if name == "top_logprobs":
        return {"logprobs": True}
    return {}


@pytest.mark.parametrize("name", sorted(SAMPLE_VALUES))
def test_every_parameter_reaches_the_wire(server: ReferenceServer, name: str) -> None:
    value, extra = SAMPLE_VALUES[name], _with_companions(name)
    llm_for(server, **{name: value}, **extra).chat(user("Hello"))
    assert last_body(server)[name] == value
    llm_for(server).chat(user("Hello"), **{name: value}, **extra)
    assert last_body(server)[name] == value
    llm_for(server, additional_kwargs={name: value, **extra}).chat(user("Hello"))
    assert last_body(server)[name] == value


def test_unset_fields_are_not_sent(server: ReferenceServer) -> None:
    llm_for(server).chat(user("Hello"))
    assert last_body(server) == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hello"}],
        "stream": False,
    }


def test_per_call_values_override_the_instance(server: ReferenceServer) -> None:
    llm = llm_for(server, temperature=0.2, min_p=0.05, additional_kwargs={"top_a": 0.1})
    llm.chat(user("Hello"), temperature=0.9, top_a=0.3)
    body = last_body(server)
    assert (body["temperature"], body["min_p"], body["top_a"]) == (0.9, 0.05, 0.3)
    llm.chat(user("Hello"))
    assert (last_body(server)["temperature"], last_body(server)["top_a"]) == (0.2, 0.1)


def test_out_of_range_fails_before_any_request(server: ReferenceServer) -> None:
    with pytest.raises(ValueError, match=r"top_p=0.0 is out of range: allowed \(0, 1\]"):
        llm_for(server, top_p=0.0)
    with pytest.raises(ValueError, match=r"Did you mean 'top_a'"):
        llm_for(server, additional_kwargs={"topa": 0.1})
    llm = llm_for(server)
    with pytest.raises(
        ArliValidationError, match=r"xtc_probability=1.5 is out of range: allowed \[0, 1\]"
    ) as info:
        llm.chat(user("Hello"), xtc_probability=1.5)
    assert info.value.field == "xtc_probability"
    with pytest.raises(ArliValidationError, match="Did you mean 'top_a'"):
        llm.chat(user("Hello"), topa=0.1)
    with pytest.raises(ArliValidationError, match="min_tokens"):
        llm.complete("Hello", min_tokens=10, max_tokens=5)
    assert server.requests_for(CHAT) == []


def test_additional_kwargs_and_extra_body_are_merged_never_replaced(
    server: ReferenceServer,
) -> None:
    llm = llm_for(
        server,
        extra_body={"chat_template_kwargs": {"a": 1}, "custom": True},
        additional_kwargs={
            "min_p": 0.1,
            "extra_body": {"chat_template_kwargs": {"b": 2}, "priority": 1},
        },
    )
    llm.chat(user("Hello"), extra_body={"chat_template_kwargs": {"c": 3}}, top_k=5)
    body = last_body(server)
    assert body["chat_template_kwargs"] == {"a": 1, "b": 2, "c": 3}
    assert (body["custom"], body["priority"], body["min_p"], body["top_k"]) == (True, 1, 0.1, 5)
    # structured output adds guided_json through the same path: nothing is lost
    llm.structured_predict(Joke, JOKE, topic="cats")
    body = last_body(server)
    assert body["chat_template_kwargs"] == {"a": 1, "b": 2}
    assert body["min_p"] == 0.1
    assert body["guided_json"]["title"] == "Joke"


def test_stream_usage_is_asked_for_by_default(server: ReferenceServer) -> None:
    chunks = list(llm_for(server).stream_chat(user("Hello")))
    assert last_body(server)["stream_options"] == {"include_usage": True}
    assert chunks[-1].additional_kwargs["total_tokens"] > 0
    finish = [c.additional_kwargs.get("finish_reason") for c in chunks]
    assert finish[-2:] == ["stop", "stop"]  # the finish chunk, then the usage chunk
    assert set(finish[:-2]) == {None}
    list(llm_for(server, stream_usage=False).stream_chat(user("Hello")))
    assert "stream_options" not in last_body(server)


def test_logprobs_n_and_raw(server: ReferenceServer) -> None:
    response = llm_for(server).chat(user("Hello"), logprobs=True, top_logprobs=2, n=2)
    assert response.logprobs
    assert all(isinstance(lp, LogProb) for row in response.logprobs for lp in row)
    assert len(response.logprobs[0]) == 2
    assert len(response.raw["choices"]) == 2
    stopped = llm_for(server).chat(user("Hello"), stop=["help"])
    assert "help" not in (stopped.message.content or "")
    assert stopped.additional_kwargs["stop_reason"] == "help"


# -- completions endpoint -----------------------------------------------------------------------


async def test_completions_endpoint(server: ReferenceServer) -> None:
    llm = llm_for(
        server,
        use_completions_endpoint=True,
        max_tokens=12,
        top_a=0.2,
        completion_to_prompt=lambda p: f"[INST] {p} [/INST]",
    )
    text = llm.complete("The sky is").text
    body = last_body(server, "/v1/completions")
    assert (body["prompt"], body["max_tokens"], body["top_a"]) == (
        "[INST] The sky is [/INST]",
        12,
        0.2,
    )
    assert llm.complete("raw", formatted=True).additional_kwargs["completion_tokens"] > 0
    assert last_body(server, "/v1/completions")["prompt"] == "raw"
    chunks = list(llm.stream_complete("The sky is"))
    assert chunks[-1].text == text
    assert chunks[-1].additional_kwargs["total_tokens"] > 0
    assert (await llm.acomplete("The sky is")).text == text
    achunks = [c async for c in await llm.astream_complete("The sky is")]
    assert achunks[-1].text == text
    assert llm.complete("Answer", guided_choice=["yes", "no"]).text in ("yes", "no")
    assert server.requests_for(CHAT) == []


# -- guided decoding across server versions -----------------------------------------------------


@pytest.mark.parametrize(
    ("flavor", "style", "honoured"),
    [
        ("vllm-0.11", "both", True),
        ("vllm-0.11", "guided", True),
        ("vllm-0.33", "both", True),
        ("vllm-0.33", "structured_outputs", True),
        ("vllm-0.33", "response_format", True),
        ("vllm-0.33", "guided", False),  # removed in vLLM 0.12: ignored with HTTP 200
        ("aphrodite-0.6", "both", True),
        ("aphrodite-0.6", "structured_outputs", False),  # unknown to Aphrodite 0.6
    ],
)
def test_structured_predict_per_server_version(flavor: str, style: str, honoured: bool) -> None:
    with ReferenceServer(api_key=KEY, flavor=flavor) as srv:
        llm = llm_for(srv, guided_decoding_style=style)
        if honoured:
            assert isinstance(llm.structured_predict(Joke, JOKE, topic="cats"), Joke)
            return
        with pytest.raises(ConstraintViolationError) as info:
            llm.structured_predict(Joke, JOKE, topic="cats")
        assert "probably ignored" in str(info.value)
        with pytest.raises(ConstraintViolationError):
            list(llm.stream_structured_predict(Joke, JOKE, topic="cats"))
        with pytest.raises(ConstraintViolationError):
            llm.as_structured_llm(Joke).chat(user("Tell me a joke about cats."))


def test_default_style_works_where_guided_is_ignored() -> None:
    with ReferenceServer(api_key=KEY, flavor="vllm-0.33") as srv:
        assert isinstance(llm_for(srv).structured_predict(Joke, JOKE, topic="cats"), Joke)
        # the style can also be chosen per call
        llm = llm_for(srv, guided_decoding_style="guided")
        joke = llm.structured_predict(
            Joke, JOKE, llm_kwargs={"guided_decoding_style": "structured_outputs"}, topic="cats"
        )
        assert isinstance(joke, Joke)
        with pytest.raises(ConstraintViolationError, match="guided_regex"):
            llm.chat(user("Hello"), guided_regex="[0-9]{4}")
        assert (llm.chat(user("Hello"), guided_regex="[0-9]{4}", guided_decoding_style="both")
                .message.content or "").isdigit()  # fmt: skip


def test_structured_output_never_sends_tool_choice_without_tools(server: ReferenceServer) -> None:
    """OpenAILike sends tool_choice='required' with no tools (run-llama/llama_index#16526)."""
    llm = llm_for(server)
    llm.structured_predict(Joke, JOKE, llm_kwargs={"tool_choice": "required"}, topic="cats")
    body = last_body(server)
    assert "tool_choice" not in body
    assert "tools" not in body
    llm.as_structured_llm(Joke).chat(user("Tell me a joke about cats."), tool_choice="required")
    assert "tool_choice" not in last_body(server)
    with pytest.raises(ArliValidationError, match="needs tools"):
        llm.chat(user("Hello"), tool_choice="required")
    llm.chat(user("Hello"), tool_choice="auto")  # meaningless without tools: dropped
    assert "tool_choice" not in last_body(server)


def test_function_program_mode_uses_a_forced_tool_call(server: ReferenceServer) -> None:
    llm = llm_for(server, pydantic_program_mode=PydanticProgramMode.FUNCTION)
    joke = llm.structured_predict(Joke, JOKE, topic="cats")
    assert isinstance(joke, Joke)
    body = last_body(server)
    assert body["tool_choice"] == "required"
    assert body["tools"][0]["function"]["name"] == "Joke"


def test_guided_choice_and_regex_on_chat(server: ReferenceServer) -> None:
    llm = llm_for(server)
    assert llm.chat(user("Pick one"), guided_choice=["red", "blue"]).message.content in (
        "red",
        "blue",
    )
    assert len(llm.chat(user("Code?"), guided_regex="[A-Z]{3}-[0-9]{4}").message.content or "") == 8


# -- tools ---------------------------------------------------------------------------------------


def test_tool_choice_and_parallel_tool_calls_on_the_wire(server: ReferenceServer) -> None:
    llm = llm_for(server)
    tools = [FunctionTool.from_defaults(magic_function), FunctionTool.from_defaults(get_weather)]
    llm.chat_with_tools(tools, user_msg=MAGIC_PROMPT)
    body = last_body(server)
    assert (body["tool_choice"], body["parallel_tool_calls"]) == ("auto", False)
    llm.chat_with_tools(tools, user_msg=MAGIC_PROMPT, allow_parallel_tool_calls=True)
    assert "parallel_tool_calls" not in last_body(server)  # true is the default: not sent
    llm.chat_with_tools(tools, user_msg=MAGIC_PROMPT, tool_required=True)
    assert last_body(server)["tool_choice"] == "required"
    response = llm.chat_with_tools(tools, user_msg="Hi", tool_choice="get_weather")
    assert last_body(server)["tool_choice"] == {
        "type": "function",
        "function": {"name": "get_weather"},
    }
    assert llm.get_tool_calls_from_response(response)[0].tool_name == "get_weather"
    with pytest.raises(ArliValidationError, match="not among the tools"):
        llm.chat_with_tools(tools, user_msg="Hi", tool_choice="nope")
    llm.chat_with_tools(tools, user_msg="Hi", strict=True)
    assert all(t["function"]["strict"] is True for t in last_body(server)["tools"])


def test_chat_history_is_not_mutated(server: ReferenceServer) -> None:
    history = user("Hello")
    llm_for(server).chat_with_tools(
        [FunctionTool.from_defaults(magic_function)], user_msg=MAGIC_PROMPT, chat_history=history
    )
    assert len(history) == 1  # OpenAI's _prepare_chat_with_tools appends to the caller's list


def test_streamed_tool_call_arguments_merge_and_are_partial_mid_way(
    server: ReferenceServer,
) -> None:
    llm = llm_for(server)
    tool = FunctionTool.from_defaults(magic_function)
    chunks = list(llm.stream_chat_with_tools([tool], user_msg=MAGIC_PROMPT, tool_required=True))
    selections = [llm.get_tool_calls_from_response(c, error_on_no_tool_call=False) for c in chunks]
    assert any(s and s[0].tool_kwargs != {"input": 3} for s in selections)  # partial first
    assert selections[-1][0].tool_kwargs == {"input": 3}
    assert len({s[0].tool_id for s in selections if s}) == 1


# -- real async ----------------------------------------------------------------------------------


def test_concurrent_async_calls_overlap() -> None:
    latency = 0.4
    with ReferenceServer(api_key=KEY, text_latency=latency) as srv:
        llm = llm_for(srv)

        async def run() -> float:
            await llm.achat(user("Hello"))  # warm up the pool
            start = time.perf_counter()
            answers = await asyncio.gather(*(llm.achat(user("Hello")) for _ in range(10)))
            streams = await asyncio.gather(*(_stream_text(llm) for _ in range(5)))
            assert all(a.message.content for a in answers)
            assert all(streams)
            return time.perf_counter() - start

        elapsed = asyncio.run(run())
        assert elapsed < 6 * latency  # sequential calls would take 15 * latency


async def _stream_text(llm: Arli) -> str:
    chunks = [c async for c in await llm.astream_chat(user("Hello"))]
    return chunks[-1].message.content or ""


# -- images ---------------------------------------------------------------------------------------


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def image_site(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "pic.png").write_bytes(_png(48, 24))
    with serve_http(directory=tmp_path) as url:
        yield url


def _describe(image: ImageBlock) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, blocks=[TextBlock(text="Describe"), image])]


async def test_every_image_source_arrives_as_base64(
    server: ReferenceServer, image_site: str, tmp_path: Path
) -> None:
    path = tmp_path / "local.png"
    path.write_bytes(_png(30, 20))
    b64 = base64.b64encode(_png(16, 8)).decode()
    # The image site is on 127.0.0.1 and the path is local: both need the caller's consent
    # (test_untrusted_content.py checks the refusals).
    llm = llm_for(server, allow_local_files=True, allowed_image_hosts=["127.0.0.1"])
    cases = [
        (ImageBlock(url=f"{image_site}/pic.png"), "48x24"),
        (ImageBlock(path=path), "30x20"),
        (ImageBlock(image=_png(12, 6)), "12x6"),
        (ImageBlock(image=io.BytesIO(_png(10, 5))), "10x5"),
        (ImageBlock(image=_png(14, 7), image_mimetype=None), "14x7"),
        (ImageBlock(url=f"data:image/png;base64,{b64}", detail="high"), "16x8"),
    ]
    for block, size in cases:
        answer = llm.chat(_describe(block)).message.content or ""
        assert f"An image of {size} pixels" in answer
        part = last_body(server)["messages"][0]["content"][1]
        assert part["image_url"]["url"].startswith("data:image/png;base64,")
        answer = (await llm.achat(_describe(block))).message.content or ""
        assert size in answer


def test_image_url_left_as_is_when_inlining_is_off(
    server: ReferenceServer, image_site: str
) -> None:
    llm = llm_for(server, inline_image_urls=False)
    with pytest.raises(BadRequestError):  # Arli (and the reference server) take base64 only
        llm.chat(_describe(ImageBlock(url=f"{image_site}/pic.png")))
    url = last_body(server)["messages"][0]["content"][1]["image_url"]["url"]
    assert url.startswith("http://")


def test_not_an_image_fails_before_the_request(server: ReferenceServer, tmp_path: Path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(ArliValidationError, match="not a recognized image"):
        llm_for(server, allow_local_files=True).chat(_describe(ImageBlock(path=bad)))
    assert server.requests_for(CHAT) == []


# -- reasoning ------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavor", ["vllm-0.11", "vllm-0.33"])  # reasoning_content / reasoning
async def test_reasoning_is_surfaced(flavor: str) -> None:
    script = [ScriptEntry(match="riddle", reply="A keyboard.", reasoning="Keys but no locks...")]
    async with ReferenceServer(api_key=KEY, flavor=flavor, script=script) as srv:
        llm = llm_for(srv)
        response = await llm.achat(user("Solve this riddle"))
        thinking = [b for b in response.message.blocks if isinstance(b, ThinkingBlock)]
        assert [b.content for b in thinking] == ["Keys but no locks..."]
        assert response.message.content == "A keyboard."
        chunks = [c async for c in await llm.astream_chat(user("Solve this riddle"))]
        deltas = "".join(c.additional_kwargs.get("thinking_delta", "") for c in chunks)
        assert deltas == "Keys but no locks..."
        final = [b for b in chunks[-1].message.blocks if isinstance(b, ThinkingBlock)]
        assert final[0].content == "Keys but no locks..."
        assert chunks[-1].message.content == "A keyboard."
        # the reasoning is not sent back in the history
        await llm.achat([*user("Solve this riddle"), response.message, *user("Why?")])
        sent = srv.requests_for(CHAT)[-1].json
        assert sent["messages"][1] == {"role": "assistant", "content": "A keyboard."}


# -- metadata, tokens, models ----------------------------------------------------------------------


def test_context_window_from_models_is_looked_up_once() -> None:
    with ReferenceServer(api_key=KEY, max_model_len=2048) as srv:
        llm = llm_for(srv, max_tokens=100)
        assert srv.requests == []  # nothing is sent by the constructor
        llm.chat(user("Hello"))
        assert srv.requests_for("/v1/models") == []  # instrumentation does not look it up
        meta = llm.metadata
        assert (meta.context_window, meta.num_output, meta.model_name) == (2048, 100, MODEL)
        assert llm.metadata.context_window == 2048
        assert len(srv.requests_for("/v1/models")) == 1
        assert llm.to_payload()["context_window"] == 2048


def test_context_window_falls_back_to_the_configured_value(server: ReferenceServer) -> None:
    server.add_fault(Fault(path="/v1/models", kind="status", status=500, times=-1))
    llm = llm_for(server, context_window=1234, max_retries=0)
    assert llm.metadata.context_window == 1234
    assert llm.metadata.context_window == 1234
    assert len(server.requests_for("/v1/models")) == 1  # a failure is remembered too
    other = llm_for(server, model="not-served", context_window=999)
    server.clear_faults()
    assert other.metadata.context_window == 999
    off = llm_for(server, discover_context_window=False, context_window=4096)
    before = len(server.requests_for("/v1/models"))
    assert off.metadata.context_window == 4096
    assert len(server.requests_for("/v1/models")) == before


async def test_async_context_window_and_models(server: ReferenceServer) -> None:
    llm = llm_for(server)
    assert await llm.aget_context_window() == 8192
    assert llm.metadata.context_window == 8192
    assert len(server.requests_for("/v1/models")) == 1
    assert MODEL in [m.id for m in await llm.alist_models()]


async def test_tokenize_and_count_tokens(server: ReferenceServer) -> None:
    llm = llm_for(server)
    tokens = llm.tokenize("Hello there, world")
    assert tokens
    assert await llm.atokenize("Hello there, world") == tokens
    assert llm.count_tokens("Hello there, world") == len(tokens)
    n_msgs = llm.count_tokens(user("Hello there, world"))
    assert n_msgs > len(tokens)  # the chat template adds role markers
    body = server.requests_for("/tokenize")[-1].json
    assert body["messages"] == [{"role": "user", "content": "Hello there, world"}]
    assert await llm.acount_tokens(user("Hello there, world")) == n_msgs
    assert await llm.acount_tokens("Hello there, world") == len(tokens)


def test_close_and_reuse(server: ReferenceServer) -> None:
    llm = llm_for(server)
    assert llm.chat(user("Hello")).message.content
    llm.close()
    assert llm.chat(user("Hello")).message.content

    async def run() -> None:
        assert (await llm.achat(user("Hello"))).message.content
        await llm.aclose()

    asyncio.run(run())


# -- secrets --------------------------------------------------------------------------------------

FAKE_KEY = "sk-arli-FAKE-5ecr3t-0123456789abcdef"


def test_the_key_never_leaks(
    server: ReferenceServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    llm = Arli(model=MODEL, api_key=FAKE_KEY, base_url=server.url, max_retries=1)
    texts = [repr(llm), str(llm), llm.to_json(), str(llm.to_dict()), str(llm.to_payload())]
    texts.append(llm.model_dump_json())
    with pytest.raises(AuthenticationError) as info:
        llm.chat(user("Hello"))
    texts += [str(info.value), repr(info.value), "".join(traceback.format_exception(info.value))]
    texts.append(str(vars(info.value)))
    server.add_fault(Fault(path="/v1/models", kind="status", status=500, times=-1))
    assert llm.metadata.context_window > 0
    texts += [r.getMessage() for r in caplog.records]
    for text in texts:
        assert FAKE_KEY not in text
        assert "5ecr3t" not in text
    assert server.requests[0].headers["authorization"] == f"Bearer {FAKE_KEY}"  # it was sent
    monkeypatch.setenv("ARLIAI_API_KEY", FAKE_KEY)
    restored = Arli.from_json(llm.to_json())  # the key comes back from the environment
    assert restored.api_key is not None
    assert restored.api_key.get_secret_value() == FAKE_KEY


def test_key_resolution_and_missing_key(
    server: ReferenceServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ArliConfigError) as info:
        Arli(model=MODEL, base_url=server.url)
    assert "ARLI_TEXT_KEY" in str(info.value)
    assert "ARLIAI_API_KEY" in str(info.value)
    monkeypatch.setenv("ARLIAI_API_KEY", "shared-key")
    monkeypatch.setenv("ARLI_TEXT_KEY", KEY)
    llm = Arli(model=MODEL, base_url=server.url)
    assert llm.chat(user("Hello")).message.content
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    monkeypatch.delenv("ARLI_TEXT_KEY")
    with pytest.raises(AuthenticationError):  # the server wants KEY
        Arli(model=MODEL, base_url=server.url).chat(user("Hello"))
    assert server.requests[-1].headers["authorization"] == "Bearer shared-key"
    Arli(model=MODEL, base_url=server.url, api_key=KEY).chat(user("Hello"))
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"


class _Rating(BaseModel):
    stars: int


def test_structured_parse_failure_without_the_check_is_a_pydantic_error(
    server: ReferenceServer,
) -> None:
    """With ``check_guided_output=False`` an ignored constraint surfaces as pydantic's error."""
    with ReferenceServer(api_key=KEY, flavor="vllm-0.33") as srv:
        llm = llm_for(srv, guided_decoding_style="guided", check_guided_output=False)
        with pytest.raises(ValueError, match="validation error"):
            llm.structured_predict(_Rating, PromptTemplate("Hello"))

"""ChatArli and ArliLLM against the reference server: what reaches the wire, and what comes back."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from PIL import Image
from pydantic import BaseModel

from arli import ArliValidationError, BadRequestError, ConstraintViolationError
from arli.text.params import SAMPLER_PRIORITY_NAMES
from langchain_arli import ArliLLM, ChatArli
from tests.helpers import serve_http
from tests.reference_server import ReferenceServer, ScriptEntry

MODEL = "Mistral-Nemo-12B-Instruct-2407"
KEY = "test-key"
CHAT = "/v1/chat/completions"


class Joke(BaseModel):
    """Joke to tell user."""

    setup: str
    punchline: str


@tool
def magic_function(input: int) -> int:
    """Apply a magic function to an input."""
    return input + 2


def llm_for(server: ReferenceServer, **kwargs: Any) -> ChatArli:
    return ChatArli(model=MODEL, api_key=KEY, base_url=server.url, **kwargs)


def last_body(server: ReferenceServer, path: str = CHAT) -> dict[str, Any]:
    body = server.requests_for(path)[-1].json
    assert isinstance(body, dict)
    return body


# A valid value for every parameter, to check each one reaches the wire as given.
SAMPLE_VALUES: dict[str, Any] = {
    "temperature": 0.7, "max_tokens": 32, "top_p": 0.9, "top_k": 40, "stop": ["END"],
    "seed": 11, "n": 1, "presence_penalty": 0.5, "frequency_penalty": -0.5,
    "logit_bias": {"42": -5.0}, "logprobs": True, "top_logprobs": 2, "min_p": 0.05,
    "top_a": 0.2, "tfs": 0.95, "typical_p": 0.9, "eta_cutoff": 3.0, "epsilon_cutoff": 2.0,
    "repetition_penalty": 1.1, "no_repeat_ngram_size": 3, "dry_multiplier": 0.8,
    "dry_base": 1.75, "dry_allowed_length": 2, "dry_sequence_breakers": ["\n", ":"],
    "dry_sequence_breaker_ids": [13, 28], "dry_range": 512, "mirostat_mode": 2,
    "mirostat_tau": 5.0, "mirostat_eta": 0.1, "dynatemp_min": 0.5, "dynatemp_max": 1.5,
    "dynatemp_exponent": 1.0, "smoothing_factor": 0.3, "smoothing_curve": 1.0,
    "xtc_threshold": 0.1, "xtc_probability": 0.5, "nsigma": 1.5, "skew": 0.2,
    "sampler_priority": list(SAMPLER_PRIORITY_NAMES), "min_tokens": 2, "ignore_eos": False,
    "stop_token_ids": [2], "include_stop_str_in_output": True, "skip_special_tokens": True,
    "spaces_between_special_tokens": False, "truncate_prompt_tokens": 100, "length_penalty": 1.0,
    "multi_models": [MODEL], "multiplier": 2.0, "guided_regex": "[a-z ]+",
    "guided_decoding_backend": "outlines", "guided_whitespace_pattern": " ?",
    "early_stopping": False, "prompt_logprobs": 1, "detokenize": True,
}  # fmt: skip


@pytest.fixture
def server(reference_server: ReferenceServer) -> ReferenceServer:
    return reference_server


def test_sample_values_cover_every_parameter() -> None:
    from arli.text.params import SAMPLER_NAMES

    covered = set(SAMPLE_VALUES) | {"guided_json", "guided_choice", "guided_grammar"}
    assert covered == set(SAMPLER_NAMES)


@pytest.mark.parametrize("name", sorted(SAMPLE_VALUES))
def test_every_parameter_reaches_the_wire_from_instance_call_and_bind(
    server: ReferenceServer, name: str
) -> None:
    value = SAMPLE_VALUES[name]
    extra: dict[str, Any] = {}
    if name.startswith("guided_") and name != "guided_regex":
        extra = {"guided_regex": "[a-z ]+"}
    elif name == "top_logprobs":
        extra = {"logprobs": True}
    llm_for(server, **{name: value}, **extra).invoke("Hello")
    assert last_body(server)[name] == value
    llm_for(server).invoke("Hello", **{name: value}, **extra)
    assert last_body(server)[name] == value
    llm_for(server).bind(**{name: value}, **extra).invoke("Hello")
    assert last_body(server)[name] == value


def test_unset_fields_are_not_sent_and_stop_goes_through(server: ReferenceServer) -> None:
    llm_for(server).invoke("Hello", stop=["you"])
    assert last_body(server) == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hello"}],
        "stop": ["you"],
        "stream": False,
    }


def test_out_of_range_fails_before_any_request(server: ReferenceServer) -> None:
    with pytest.raises(ValueError, match="only together with logprobs=True"):
        llm_for(server, top_logprobs=2)
    llm = llm_for(server)
    with pytest.raises(
        ArliValidationError, match=r"xtc_probability=1.5 is out of range: allowed \[0, 1\]"
    ):
        llm.invoke("Hello", xtc_probability=1.5)
    with pytest.raises(ArliValidationError, match="Did you mean 'top_a'"):
        llm.invoke("Hello", topa=0.1)
    assert server.requests_for(CHAT) == []


def test_extra_body_is_merged_not_replaced(server: ReferenceServer) -> None:
    llm = llm_for(server, extra_body={"chat_template_kwargs": {"a": 1}, "custom": True})
    llm.invoke("Hello", extra_body={"chat_template_kwargs": {"b": 2}})
    body = last_body(server)
    assert body["chat_template_kwargs"] == {"a": 1, "b": 2}
    assert body["custom"] is True


def test_stream_usage_and_metadata(server: ReferenceServer) -> None:
    chunks = list(llm_for(server).stream("Hello"))
    with_usage = [c for c in chunks if c.usage_metadata]
    assert len(with_usage) == 1
    assert with_usage[0].usage_metadata is not None
    assert with_usage[0].usage_metadata["total_tokens"] > 0
    assert chunks[-1].chunk_position == "last"
    finish = [c for c in chunks if c.response_metadata.get("finish_reason")]
    assert len(finish) == 1
    assert finish[0].response_metadata["model_name"] == MODEL
    assert "".join(str(c.content) for c in chunks) == "Hello! How can I help you today?"
    assert last_body(server)["stream_options"] == {"include_usage": True}
    list(llm_for(server, stream_usage=False).stream("Hello"))
    assert "stream_options" not in last_body(server)


def test_streaming_tool_call_chunks_merge(server: ReferenceServer) -> None:
    llm = llm_for(server).bind_tools([magic_function], tool_choice="any")
    total: AIMessageChunk | None = None
    for chunk in llm.stream("What is the value of magic_function(3)? Use the tool."):
        assert isinstance(chunk, AIMessageChunk)
        total = chunk if total is None else total + chunk
    assert total is not None
    assert total.tool_calls[0]["name"] == "magic_function"
    assert total.tool_calls[0]["args"] == {"input": 3}
    assert last_body(server)["tool_choice"] == "required"


def test_tool_history_round_trip(server: ReferenceServer) -> None:
    llm = llm_for(server).bind_tools([magic_function])
    first = llm.invoke("What is the value of magic_function(3)? Use the tool.")
    assert isinstance(first, AIMessage)
    call = first.tool_calls[0]
    answer = llm.invoke(
        [
            HumanMessage("What is the value of magic_function(3)? Use the tool."),
            first,
            ToolMessage("5", tool_call_id=call["id"]),
        ]
    )
    assert "5" in str(answer.content)
    sent = last_body(server)["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call["id"]
    assert sent[2] == {"role": "tool", "tool_call_id": call["id"], "content": "5"}


def test_n_logprobs_and_stop(server: ReferenceServer) -> None:
    llm = llm_for(server)
    result = llm.generate([[HumanMessage("Hello")]], n=2, logprobs=True, top_logprobs=2)
    assert len(result.generations[0]) == 2
    assert result.generations[0][0].message.response_metadata["logprobs"]["content"]
    stopped = llm.invoke("Hello", stop=["help"])
    assert "help" not in str(stopped.content)
    assert stopped.response_metadata["stop_reason"] == "help"


# -- guided decoding across server versions ----------------------------------------------------


@pytest.mark.parametrize(
    ("flavor", "style", "honoured"),
    [
        ("vllm-0.11", "both", True),
        ("vllm-0.11", "guided", True),
        ("vllm-0.11", "structured_outputs", True),
        ("vllm-0.33", "both", True),
        ("vllm-0.33", "structured_outputs", True),
        ("vllm-0.33", "response_format", True),
        ("vllm-0.33", "guided", False),  # removed in vLLM 0.12: ignored with HTTP 200
        ("aphrodite-0.6", "both", True),
        ("aphrodite-0.6", "guided", True),
        ("aphrodite-0.6", "structured_outputs", False),  # unknown to Aphrodite 0.6
    ],
)
def test_guided_json_per_server_version(flavor: str, style: str, honoured: bool) -> None:
    with ReferenceServer(api_key=KEY, flavor=flavor) as srv:
        llm = llm_for(srv, guided_decoding_style=style).with_structured_output(Joke)
        if honoured:
            joke = llm.invoke("Tell me a joke about cats.")
            assert isinstance(joke, Joke)
        else:
            with pytest.raises(ConstraintViolationError) as info:
                llm.invoke("Tell me a joke about cats.")
            assert "probably ignored" in str(info.value)
            other = "structured_outputs" if style == "guided" else "guided"
            assert f"guided_decoding_style='{other}'" in str(info.value)


def test_ignored_regex_is_detected_when_streaming_too() -> None:
    with ReferenceServer(api_key=KEY, flavor="vllm-0.33") as srv:
        llm = llm_for(srv, guided_decoding_style="guided")
        with pytest.raises(ConstraintViolationError, match="guided_regex"):
            list(llm.stream("Hello", guided_regex="[0-9]{4}"))
        ok = llm.invoke("Hello", guided_regex="[0-9]{4}", guided_decoding_style="both")
        assert str(ok.content).isdigit()


def test_guided_choice_and_regex_constrain_the_answer(server: ReferenceServer) -> None:
    llm = llm_for(server)
    assert llm.invoke("Pick one", guided_choice=["red", "blue"]).content in ("red", "blue")
    answer = llm.invoke("Code?", guided_regex="[A-Z]{3}-[0-9]{4}")
    assert len(str(answer.content)) == 8


@pytest.mark.parametrize("method", ["guided_json", "json_schema", "function_calling", "json_mode"])
def test_structured_output_methods(server: ReferenceServer, method: str) -> None:
    llm = llm_for(server).with_structured_output(Joke, method=method)  # type: ignore[arg-type]
    prompt = "Tell me a joke about cats. Return JSON with 'setup' and 'punchline' keys."
    joke = llm.invoke(prompt)
    assert isinstance(joke, Joke)
    body = last_body(server)
    if method == "function_calling":
        assert body["tool_choice"] == {"type": "function", "function": {"name": "Joke"}}
        assert body["parallel_tool_calls"] is False
    elif method == "json_mode":
        assert body["response_format"] == {"type": "json_object"}
    elif method == "json_schema":
        assert body["response_format"]["json_schema"]["name"] == "Joke"
    else:
        assert body["guided_json"] == body["structured_outputs"]["json"]
    streamed = list(llm.stream(prompt))
    assert isinstance(streamed[-1], Joke)


def test_structured_output_include_raw_and_dict_schemas(server: ReferenceServer) -> None:
    out = (
        llm_for(server)
        .with_structured_output(Joke, include_raw=True)
        .invoke("Tell me a joke about cats.")
    )
    assert isinstance(out["raw"], AIMessage)
    assert isinstance(out["parsed"], Joke)
    assert out["parsing_error"] is None
    as_dict = (
        llm_for(server)
        .with_structured_output(Joke.model_json_schema())
        .invoke("Tell me a joke about cats.")
    )
    assert set(as_dict) == {"setup", "punchline"}


# -- vision ---------------------------------------------------------------------------------


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def image_site(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "pic.png").write_bytes(_png(48, 24))
    with serve_http(directory=tmp_path) as url:
        yield url


def test_image_url_path_and_base64_are_inlined(
    server: ReferenceServer, image_site: str, tmp_path: Path
) -> None:
    path = tmp_path / "local.png"
    path.write_bytes(_png(30, 20))
    import base64

    b64 = base64.b64encode(_png(16, 8)).decode()
    # The image site is on 127.0.0.1 and the path is local: both need the caller's consent
    # (test_untrusted_content.py checks the refusals).
    llm = llm_for(server, allow_local_files=True, allowed_image_hosts=["127.0.0.1"])
    for block, size in [
        ({"type": "image", "url": f"{image_site}/pic.png"}, "48x24"),
        ({"type": "image_url", "image_url": {"url": f"{image_site}/pic.png"}}, "48x24"),
        ({"type": "image", "url": str(path)}, "30x20"),
        ({"type": "image", "base64": b64, "mime_type": "image/png"}, "16x8"),
    ]:
        answer = llm.invoke([HumanMessage(content=[{"type": "text", "text": "Describe"}, block])])
        assert size in str(answer.content)
        url = last_body(server)["messages"][0]["content"][1]["image_url"]["url"]
        assert url.startswith("data:image/png;base64,")


async def test_async_inlining_does_not_block(server: ReferenceServer, image_site: str) -> None:
    llm = llm_for(server, allowed_image_hosts=["127.0.0.1"])
    msg = HumanMessage(
        content=[
            {"type": "text", "text": "Describe"},
            {"type": "image", "url": f"{image_site}/pic.png"},
        ]
    )
    answers = await asyncio.gather(*(llm.ainvoke([msg]) for _ in range(3)))
    assert all("48x24" in str(a.content) for a in answers)


def test_url_left_as_is_when_inlining_is_off(server: ReferenceServer, image_site: str) -> None:
    llm = llm_for(server, inline_image_urls=False)
    msg = HumanMessage(
        content=[
            {"type": "text", "text": "Describe"},
            {"type": "image", "url": f"{image_site}/pic.png"},
        ]
    )
    with pytest.raises(BadRequestError):  # Arli (and the reference server) take base64 only
        llm.invoke([msg])
    assert last_body(server)["messages"][0]["content"][1]["image_url"]["url"].startswith("http://")


def test_bad_image_input_fails_before_the_request(server: ReferenceServer) -> None:
    msg = HumanMessage(content=[{"type": "image", "url": "ftp://example.com/a.png"}])
    with pytest.raises(ArliValidationError, match="http:// or https://"):
        llm_for(server).invoke([msg])
    assert server.requests_for(CHAT) == []


# -- reasoning, tokens, models, async ----------------------------------------------------------


@pytest.mark.parametrize("flavor", ["vllm-0.11", "vllm-0.33"])
def test_reasoning_is_surfaced(flavor: str) -> None:
    script = [ScriptEntry(match="riddle", reply="A keyboard.", reasoning="Keys but no locks...")]
    with ReferenceServer(api_key=KEY, flavor=flavor, script=script) as srv:
        llm = llm_for(srv)
        answer = llm.invoke("Solve this riddle")
        assert answer.additional_kwargs["reasoning_content"] == "Keys but no locks..."
        assert answer.content == "A keyboard."
        total: AIMessageChunk | None = None
        for chunk in llm.stream("Solve this riddle"):
            total = chunk if total is None else total + chunk
        assert total is not None
        assert total.additional_kwargs["reasoning_content"] == "Keys but no locks..."


def test_token_counting_and_models(server: ReferenceServer) -> None:
    llm = llm_for(server)
    n_text = llm.get_num_tokens("Hello there, world")
    n_msgs = llm.get_num_tokens_from_messages([HumanMessage("Hello there, world")])
    assert n_text > 0
    assert n_msgs > n_text  # the chat template adds role markers
    body = server.requests_for("/tokenize")[-1].json
    assert body["messages"] == [{"role": "user", "content": "Hello there, world"}]
    ids = [m.id for m in llm.list_models()]
    assert MODEL in ids


async def test_async_invoke_stream_batch(server: ReferenceServer) -> None:
    llm = llm_for(server)
    assert (await llm.ainvoke("Hello")).content
    chunks = [c async for c in llm.astream("Hello")]
    assert any(c.usage_metadata for c in chunks)
    answers = await llm.abatch(["Hello", "Hey"])
    assert len(answers) == 2
    joke = await llm.with_structured_output(Joke).ainvoke("Tell me a joke about cats.")
    assert isinstance(joke, Joke)


def test_per_call_model_override(server: ReferenceServer) -> None:
    answer = llm_for(server).invoke("Hello", model="tiny")
    assert answer.response_metadata["model_name"] == "tiny"
    assert last_body(server)["model"] == "tiny"


# -- ArliLLM ------------------------------------------------------------------------------------


def test_arli_llm_invoke_stream_batch(server: ReferenceServer) -> None:
    llm = ArliLLM(
        model=MODEL, api_key=KEY, base_url=server.url, max_tokens=12, min_p=0.1, top_a=0.2
    )
    text = llm.invoke("The sky is")
    assert text
    body = last_body(server, "/v1/completions")
    assert (body["prompt"], body["min_p"], body["top_a"], body["max_tokens"]) == (
        "The sky is",
        0.1,
        0.2,
        12,
    )
    streamed = list(llm.stream("The sky is"))
    assert "".join(streamed) == text
    result = llm.generate(["one", "two"], n=2, logprobs=2, echo=True)
    assert [len(g) for g in result.generations] == [2, 2]
    info = result.generations[0][0].generation_info
    assert info is not None
    assert info["usage"]["completion_tokens"] > 0
    assert info["logprobs"]["tokens"]
    body = last_body(server, "/v1/completions")
    assert (body["prompt"], body["n"], body["logprobs"], body["echo"]) == (
        ["one", "two"],
        2,
        2,
        True,
    )
    assert len(server.requests_for("/v1/completions")) == 3  # one request for both prompts


def test_arli_llm_guided_and_async(server: ReferenceServer) -> None:
    llm = ArliLLM(model=MODEL, api_key=KEY, base_url=server.url)
    assert llm.invoke("Answer", guided_choice=["yes", "no"]) in ("yes", "no")

    async def run() -> list[str]:
        return [c async for c in llm.astream("The sky is", max_tokens=5)]

    assert asyncio.run(run())
    with pytest.raises(ArliValidationError, match="not supported by /v1/completions"):
        llm.invoke("x", tools=[{"type": "function", "function": {"name": "f"}}])

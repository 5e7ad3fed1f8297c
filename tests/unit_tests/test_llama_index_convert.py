"""LlamaIndex messages/blocks ⇄ OpenAI dicts, and core results → LlamaIndex responses (no I/O)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    AudioBlock,
    CacheControl,
    CachePoint,
    ChatMessage,
    ChatResponse,
    CitableBlock,
    DocumentBlock,
    ImageBlock,
    LogProb,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from pydantic import BaseModel

from arli import ArliValidationError
from arli.text.accumulate import ChatStreamAccumulator
from arli.text.attachments import expand_pdf_files
from arli.text.parse import (
    parse_chat_chunk,
    parse_chat_completion,
    parse_completion,
    parse_completion_chunk,
)
from llama_index_arli._convert import (
    ChatStream,
    CompletionStream,
    _image_part,
    chat_response,
    completion_response,
    to_openai_message,
    to_openai_messages,
    tool_selections,
)

DATA = Path(__file__).parents[1] / "llama_index" / "data"
PNG = (DATA / "square-64x48.png").read_bytes()
JPG = (DATA / "green-40x30.jpg").read_bytes()


# -- requests ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "wire"),
    [
        (MessageRole.SYSTEM, "system"),
        (MessageRole.DEVELOPER, "system"),
        (MessageRole.USER, "user"),
        (MessageRole.ASSISTANT, "assistant"),
        (MessageRole.CHATBOT, "assistant"),
        (MessageRole.MODEL, "assistant"),
        (MessageRole.TOOL, "tool"),
        (MessageRole.FUNCTION, "function"),
    ],
)
def test_roles(role: MessageRole, wire: str) -> None:
    assert to_openai_message(ChatMessage(role=role, content="hi"))["role"] == wire


def test_text_only_content_is_a_string_and_blocks_join() -> None:
    message = ChatMessage(blocks=[TextBlock(text="Hello"), TextBlock(text=" world")])
    assert to_openai_message(message) == {"role": "user", "content": "Hello world"}
    assert to_openai_message(ChatMessage(content="")) == {"role": "user", "content": ""}


def _image_url(block: ImageBlock) -> dict[str, Any]:
    message = ChatMessage(blocks=[TextBlock(text="Describe"), block])
    content = to_openai_message(message)["content"]
    assert content[0] == {"type": "text", "text": "Describe"}
    assert content[1]["type"] == "image_url"
    return content[1]["image_url"]


def test_image_bytes_become_a_data_uri() -> None:
    url = _image_url(ImageBlock(image=PNG))["url"]
    assert url == "data:image/png;base64," + base64.b64encode(PNG).decode()
    url = _image_url(ImageBlock(image=JPG))["url"]
    assert url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == JPG


def test_image_file_object_and_unknown_type() -> None:
    url = _image_url(ImageBlock(image=io.BytesIO(PNG)))["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == PNG
    # type unknown: the bare base64 goes to the core, which sniffs it
    block = ImageBlock.model_construct(image=base64.b64encode(PNG), image_mimetype=None)
    assert _image_part(block)["image_url"]["url"] == base64.b64encode(PNG).decode()


def test_image_path_url_and_detail_are_handed_to_the_core() -> None:
    path = DATA / "square-64x48.png"
    assert _image_url(ImageBlock(path=path)) == {"url": str(path)}
    assert _image_url(ImageBlock(url="https://example.com/cat.png", detail="low")) == {
        "url": "https://example.com/cat.png",
        "detail": "low",
    }


def test_the_core_inlines_what_the_converter_hands_over() -> None:
    from arli.media import ImageSourcePolicy
    from arli.text.payload import inline_images

    messages = to_openai_messages([ChatMessage(blocks=[ImageBlock(path=DATA / "green-40x30.jpg")])])
    with pytest.raises(ArliValidationError, match="allow_local_files=True"):
        inline_images(messages)  # a path in a message: not read unless allowed
    inline_images(messages, policy=ImageSourcePolicy(allow_local_files=True))
    url = messages[0]["content"][0]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == JPG


def test_empty_image_block_is_an_error() -> None:
    with pytest.raises(ArliValidationError, match="needs image bytes, a path or a url"):
        to_openai_message(ChatMessage(blocks=[ImageBlock()]))


def test_images_are_dropped_where_openai_takes_only_text() -> None:
    for role in (MessageRole.SYSTEM, MessageRole.ASSISTANT):
        message = ChatMessage(role=role, blocks=[TextBlock(text="a"), ImageBlock(image=PNG)])
        assert to_openai_message(message)["content"] == "a"
    tool = ChatMessage(
        role=MessageRole.TOOL,
        blocks=[TextBlock(text="made it"), ImageBlock(image=PNG)],
        additional_kwargs={"tool_call_id": "call_1"},
    )
    out = to_openai_message(tool)
    assert out["tool_call_id"] == "call_1"
    assert [p["type"] for p in out["content"]] == ["text", "image_url"]


@pytest.mark.parametrize(
    "block",
    [
        AudioBlock(audio=b"RIFF....WAVE", format="wav"),
    ],
)
def test_blocks_arli_cannot_take_are_errors(block: Any) -> None:
    with pytest.raises(ArliValidationError, match="take text and images"):
        to_openai_message(ChatMessage(blocks=[TextBlock(text="x"), block]))


PDF = Path(__file__).parents[1] / "fixtures" / "pdf" / "dummy.pdf"


def test_a_pdf_document_block_becomes_page_images() -> None:
    pytest.importorskip("pypdfium2")
    message = ChatMessage(
        blocks=[
            TextBlock(text="summarize"),
            DocumentBlock(data=PDF.read_bytes(), document_mimetype="application/pdf"),
        ]
    )
    out = to_openai_message(message)  # the skin writes the PDF as an OpenAI file part
    assert [p["type"] for p in out["content"]] == ["text", "file"]
    assert out["content"][1]["file"]["file_data"].startswith("data:application/pdf;base64,")
    (sent,) = expand_pdf_files([out])  # and the call layer renders its pages when sent
    assert [p["type"] for p in sent["content"]] == ["text", "image_url"]
    assert sent["content"][1]["image_url"]["url"].startswith("data:image/")


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (DocumentBlock(data=b"%PDF-1.4 ...", title="scan.pdf"), "scan.pdf cannot be read"),
        (DocumentBlock(data=b"hello", document_mimetype="text/plain"), "PDFs only"),
        (DocumentBlock(path="/etc/passwd"), "path is not read from message content"),
        (DocumentBlock(url="http://127.0.0.1/x.pdf"), "url is not read from message content"),
    ],
)
def test_document_blocks_that_cannot_be_rasterized_are_named(block: Any, expected: str) -> None:
    pytest.importorskip("pypdfium2")
    with pytest.raises(ArliValidationError, match=expected):
        expand_pdf_files([to_openai_message(ChatMessage(blocks=[block]))])


def test_a_document_in_an_assistant_turn_is_refused() -> None:
    message = ChatMessage(role=MessageRole.ASSISTANT, blocks=[DocumentBlock(data=PDF.read_bytes())])
    with pytest.raises(ArliValidationError, match="user and tool messages"):
        to_openai_message(message)


def test_tool_result_images_reach_the_model_in_a_user_turn() -> None:
    history = [
        ChatMessage(role=MessageRole.USER, content="draw a fox"),
        ChatMessage(
            role=MessageRole.ASSISTANT,
            blocks=[ToolCallBlock(tool_call_id="c1", tool_name="draw", tool_kwargs={})],
        ),
        ChatMessage(
            role=MessageRole.TOOL,
            blocks=[TextBlock(text="saved fox.png"), ImageBlock(image=PNG)],
            additional_kwargs={"tool_call_id": "c1", "name": "draw"},
        ),
    ]
    out = to_openai_messages(history)
    assert [m["role"] for m in out] == ["user", "assistant", "tool", "user"]
    assert isinstance(out[2]["content"], str)
    assert out[2]["content"].startswith("saved fox.png")
    assert [p["type"] for p in out[3]["content"]] == ["text", "image_url"]


def test_thinking_blocks_ride_along_cache_points_are_dropped_citations_flattened() -> None:
    message = ChatMessage(
        role=MessageRole.ASSISTANT,
        blocks=[
            ThinkingBlock(content="hmm"),
            TextBlock(text="answer"),
            CachePoint(cache_control=CacheControl(type="ephemeral")),
        ],
    )
    assert to_openai_message(message) == {
        "role": "assistant",
        "content": "answer",
        "reasoning": "hmm",  # kept or dropped by the core (send_reasoning)
    }
    cited = ChatMessage(
        blocks=[CitableBlock(title="t", source="s", content=[TextBlock(text="quoted")])]
    )
    assert to_openai_message(cited)["content"] == "quoted"


def test_tool_call_blocks_become_tool_calls() -> None:
    message = ChatMessage(
        role=MessageRole.ASSISTANT,
        blocks=[
            TextBlock(text=""),
            ToolCallBlock(tool_call_id="call_1", tool_name="f", tool_kwargs={"x": 1}),
            ToolCallBlock(tool_call_id="call_2", tool_name="g", tool_kwargs='{"y": "é"}'),
        ],
        additional_kwargs={"tool_calls": [{"ignored": "blocks win"}]},
    )
    assert to_openai_message(message) == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "f", "arguments": '{"x": 1}'},
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {"name": "g", "arguments": '{"y": "é"}'},
            },
        ],
    }


class _SdkFunction(BaseModel):
    name: str
    arguments: str


class _SdkToolCall(BaseModel):
    """Shaped like the openai SDK's ChatCompletionMessageToolCall."""

    id: str
    type: str = "function"
    function: _SdkFunction


def test_legacy_tool_calls_in_additional_kwargs() -> None:
    message = ChatMessage(
        role=MessageRole.ASSISTANT,
        content="calling",
        additional_kwargs={
            "tool_calls": [
                {"id": "a", "function": {"name": "f", "arguments": {"x": 1}}},
                _SdkToolCall(id="b", function=_SdkFunction(name="g", arguments="{}")),
            ]
        },
    )
    out = to_openai_message(message)
    assert out["content"] == "calling"
    assert out["tool_calls"] == [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
        {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]
    assert [s.tool_name for s in tool_selections(message)] == ["f", "g"]
    assert tool_selections(message)[0].tool_kwargs == {"x": 1}
    with pytest.raises(ArliValidationError, match="not a tool call"):
        to_openai_message(
            ChatMessage(role=MessageRole.ASSISTANT, additional_kwargs={"tool_calls": [42]})
        )


def test_tool_results_and_names() -> None:
    result = ChatMessage(
        role=MessageRole.TOOL,
        content="5",
        additional_kwargs={"tool_call_id": "call_1", "name": "magic_function"},
    )
    assert to_openai_message(result) == {
        "role": "tool",
        "content": "5",
        "tool_call_id": "call_1",
        "name": "magic_function",
    }


# -- responses ------------------------------------------------------------------------------------

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Let me check.",
                "reasoning_content": "They want the weather.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "broken", "arguments": '{"oops'},
                    },
                ],
            },
            "finish_reason": "tool_calls",
            "stop_reason": None,
            "logprobs": {
                "content": [
                    {
                        "token": "Let",
                        "logprob": -0.1,
                        "bytes": [76, 101, 116],
                        "top_logprobs": [
                            {"token": "Let", "logprob": -0.1, "bytes": [76, 101, 116]},
                            {"token": "I", "logprob": -2.5, "bytes": [73]},
                        ],
                    }
                ]
            },
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20},
}


def test_chat_response_blocks_usage_and_raw() -> None:
    response = chat_response(parse_chat_completion(COMPLETION))
    message = response.message
    assert message.role == MessageRole.ASSISTANT
    assert [type(b).__name__ for b in message.blocks] == [
        "ThinkingBlock",
        "TextBlock",
        "ToolCallBlock",
        "ToolCallBlock",
    ]
    assert message.blocks[0].content == "They want the weather."  # type: ignore[union-attr]
    assert message.content == "Let me check."
    calls = [b for b in message.blocks if isinstance(b, ToolCallBlock)]
    assert calls[0].tool_kwargs == {"location": "Paris"}
    assert calls[1].tool_kwargs == '{"oops'  # not JSON: kept as the model wrote it
    assert message.additional_kwargs["tool_calls"][0]["function"]["name"] == "get_weather"
    assert response.additional_kwargs == {
        "finish_reason": "tool_calls",
        "prompt_tokens": 12,
        "completion_tokens": 8,
        "total_tokens": 20,
        "model": "m",
        "id": "chatcmpl-1",
        "retries_taken": 0,
    }
    assert response.raw is COMPLETION
    assert response.logprobs == [
        [
            LogProb(token="Let", logprob=-0.1, bytes=[76, 101, 116]),
            LogProb(token="I", logprob=-2.5, bytes=[73]),
        ]
    ]
    selections = tool_selections(message)
    assert [(s.tool_id, s.tool_name, s.tool_kwargs) for s in selections] == [
        ("call_1", "get_weather", {"location": "Paris"}),
        ("call_2", "broken", {}),  # unusable JSON: no arguments, as LlamaIndex's OpenAI
    ]
    # the answer goes back into a history unchanged; its reasoning rides along for the core
    # to keep or drop (send_reasoning: tests/integration_tests/test_reasoning_round_trip.py)
    assert to_openai_message(message)["tool_calls"][1]["function"]["arguments"] == '{"oops'
    assert to_openai_message(message)["reasoning"] == "They want the weather."


def test_chat_response_without_choices_or_usage() -> None:
    response = chat_response(parse_chat_completion({"id": "x", "model": "m", "choices": []}))
    assert response.message.content == ""
    assert response.additional_kwargs == {"model": "m", "id": "x", "retries_taken": 0}


def test_completion_response_with_legacy_logprobs() -> None:
    data = {
        "id": "cmpl-1",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "text": " blue",
                "finish_reason": "length",
                "logprobs": {
                    "tokens": [" blue"],
                    "token_logprobs": [-0.5],
                    "top_logprobs": [{" blue": -0.5, " grey": -1.5}],
                },
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
    response = completion_response(parse_completion(data))
    assert response.text == " blue"
    assert response.additional_kwargs["finish_reason"] == "length"
    assert response.additional_kwargs["total_tokens"] == 4
    assert response.logprobs == [
        [LogProb(token=" blue", logprob=-0.5), LogProb(token=" grey", logprob=-1.5)]
    ]


def _chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> Any:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return parse_chat_chunk({"id": "c1", "model": "m", "choices": choices, **extra})


def test_chat_stream_accumulates_text_reasoning_tools_and_usage() -> None:
    acc = ChatStreamAccumulator()  # the call layer feeds the stream's one accumulator
    stream = ChatStream(acc)
    chunks = [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"reasoning": "Think"}),
        _chunk({"reasoning": "ing."}),
        _chunk({"content": "Sure"}),
        _chunk({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "f"}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": '}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        _chunk({}, finish="tool_calls"),
        _chunk(None, usage={"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}),
        _chunk(None),
    ]
    out = []
    for chunk in chunks:
        acc.add(chunk)
        out.append(stream.add(chunk))
    assert out[0] is None
    assert out[-1] is None
    responses: list[ChatResponse] = [r for r in out if r is not None]
    assert [r.delta for r in responses] == ["", "", "Sure", "", "", "", "", ""]
    assert [r.additional_kwargs.get("thinking_delta") for r in responses[:2]] == ["Think", "ing."]
    mid = tool_selections(responses[4].message)
    assert mid[0].tool_name == "f"
    assert mid[0].tool_kwargs == {"a": None}  # partial arguments, parsed leniently
    last = responses[-1]
    assert last.additional_kwargs == {
        "finish_reason": "tool_calls",
        "prompt_tokens": 5,
        "completion_tokens": 7,
        "total_tokens": 12,
    }
    blocks = last.message.blocks
    assert isinstance(blocks[0], ThinkingBlock)
    assert blocks[0].content == "Thinking."
    assert last.message.content == "Sure"
    assert isinstance(blocks[-1], ToolCallBlock)
    assert blocks[-1].tool_kwargs == {"a": 1}
    assert [(c.content, c.finish_reason) for c in acc.result().choices] == [("Sure", "tool_calls")]


def test_accumulator_tool_calls_snapshot() -> None:
    acc = ChatStreamAccumulator()
    assert acc.tool_calls() == []
    acc.add(_chunk({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g"}}]}))
    acc.add(_chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f"}}]}))
    acc.add(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}))
    calls = acc.tool_calls(0)
    assert [(c.id, c.name, c.arguments) for c in calls] == [("a", "f", "{}"), ("b", "g", "")]
    assert acc.tool_calls(3) == []
    assert [c.name for c in acc.result().choices[0].tool_calls] == ["f", "g"]


def test_completion_stream() -> None:
    stream = CompletionStream()
    raw = [
        {"id": "x", "model": "m", "choices": [{"index": 0, "text": "The"}]},
        {"id": "x", "model": "m", "choices": [{"index": 0, "text": " sky"}]},
        {"id": "x", "model": "m", "choices": [{"index": 0, "text": "", "finish_reason": "length"}]},
        {
            "id": "x",
            "model": "m",
            "choices": [],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2},
        },
    ]
    out = [stream.add(parse_completion_chunk(d)) for d in raw]
    assert [r.delta for r in out if r] == ["The", " sky", "", ""]
    assert [r.text for r in out if r][-1] == "The sky"
    assert out[2] is not None
    assert out[2].additional_kwargs == {"finish_reason": "length"}
    assert out[3] is not None
    assert out[3].additional_kwargs["total_tokens"] == 3
    assert (stream.text, stream.finish_reason) == ("The sky", "length")

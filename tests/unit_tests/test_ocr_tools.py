"""OCR tools without a server: the standard unit suite, path policy, the agent text, errors.

Server answers come from an httpx MockTransport; the replayed standard integration suite
lives in tests/integration_tests/test_ocr_tools_standard.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, ToolException
from langchain_tests.unit_tests import ToolsUnitTests

from arli import ArliValidationError, AuthenticationError
from arli.ocr import OCREngine
from arli.ocr.tooling import OCRToolbox
from langchain_arli import ArliOCRTool
from llama_index_arli import ArliOCRToolSpec
from tests.helpers import FIXTURES
from tests.ocr_helpers import page_image, pillow_pdf

OCR_DIR = FIXTURES / "ocr"
PAGE = OCR_DIR / "page-1.jpg"
FAKE_KEY = "sk-arli-FAKE-OCR-KEY-0123456789"


class TestArliOCRToolUnit(ToolsUnitTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ArliOCRTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"api_key": "test-key", "input_dirs": [str(OCR_DIR)]}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"source": str(PAGE), "pages": "1"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return {"ARLIAI_API_KEY": FAKE_KEY}, {"model": "Some-VL"}, {"api_key": FAKE_KEY}


def _reply(status: int = 200, text: str = "Invoice 2024-117") -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if status != 200:
            return httpx.Response(status, json={"error": {"message": "nope", "code": status}})
        body = {
            "id": "x",
            "object": "chat.completion",
            "created": 1,
            "model": "vision-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
        }
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handler)


def engine(status: int = 200, **options: Any) -> OCREngine:
    options.setdefault("on_page_error", "placeholder")
    return OCREngine(
        api_key=FAKE_KEY,
        base_url="http://ocr.test",
        model="vision-model",
        http_async_client=httpx.AsyncClient(transport=_reply(status)),
        retry_initial_backoff=0.0,
        retry_max_backoff=0.0,
        **options,
    )


def tool(**fields: Any) -> ArliOCRTool:
    fields.setdefault("input_dirs", [OCR_DIR])
    return ArliOCRTool(engine=fields.pop("engine", None) or engine(), **fields)


def test_content_and_artifact() -> None:
    message = tool().invoke(
        {"type": "tool_call", "id": "1", "name": "arli_ocr", "args": {"source": str(PAGE)}}
    )
    assert isinstance(message, ToolMessage)
    assert message.content == "Invoice 2024-117"
    artifact = message.artifact
    assert artifact["source"] == str(PAGE)
    [page] = artifact["pages"]
    assert (page["page"], page["text"], page["finish_reason"]) == (1, "Invoice 2024-117", "stop")
    assert artifact["report"]["pages_ok"] == 1
    json.dumps(artifact)  # serializable
    assert tool().invoke({"source": str(PAGE)}) == "Invoice 2024-117"


def test_relative_paths_resolve_under_input_dirs() -> None:
    assert tool().invoke({"source": "page-2.jpg"}) == "Invoice 2024-117"


def test_several_pages_are_headed_by_their_labels(tmp_path: Path) -> None:
    (tmp_path / "doc.pdf").write_bytes(pillow_pdf([page_image("a"), page_image("b")]))
    text = tool(input_dirs=[tmp_path]).invoke({"source": "doc.pdf"})
    assert text == "[page 1]\nInvoice 2024-117\n\n[page 2]\nInvoice 2024-117"


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("/etc/passwd", "outside the directories"),
        ("../../unit_tests/test_ocr_tools.py", "outside the directories"),
        ("nothing-here.pdf", "no file at"),
        ("", "empty"),
        ("data:image/png;base64,AAAA", "only file paths and http"),
        ("ftp://example.com/a.pdf", "only file paths and http"),
    ],
)
def test_agent_errors_come_back_as_text(source: str, match: str) -> None:
    answer = tool().invoke({"source": source}) if source else tool().run({"source": " "})
    assert "Invalid argument" in answer
    assert match in answer


def test_urls_can_be_refused() -> None:
    answer = tool(allow_urls=False).invoke({"source": "https://example.com/a.pdf"})
    assert "URLs are not allowed" in answer


def test_bad_pages_come_back_as_text() -> None:
    answer = tool().invoke({"source": str(PAGE), "pages": "2-3"})
    assert "beyond the end" in answer


def test_failed_pages_are_named_in_notes_not_in_the_text(tmp_path: Path) -> None:
    (tmp_path / "doc.pdf").write_bytes(pillow_pdf([page_image("a")]))
    answer = tool(engine=engine(500, max_retries=0), input_dirs=[tmp_path]).run(
        {"source": "doc.pdf"}
    )
    assert answer.startswith("No page of doc.pdf could be read: InternalServerError")


def test_a_rejected_key_is_raised() -> None:
    with pytest.raises(AuthenticationError):
        tool(engine=engine(401)).invoke({"source": str(PAGE)})


def test_page_cap_and_char_cap_are_explained(tmp_path: Path) -> None:
    (tmp_path / "doc.pdf").write_bytes(pillow_pdf([page_image(str(i)) for i in range(5)]))
    toolbox = OCRToolbox(engine(max_pages=2), input_dirs=[tmp_path], max_chars=30)
    text = toolbox.read("doc.pdf").text
    assert text.startswith("[page 1]\nInvoice 2024-117\n\n[pa\n[... the text goes on: 52")
    assert "the text goes on" in text
    assert "Only 2 of the selected pages were read" in text
    assert "pages='3-'" in text


def test_tool_repr_and_serialization_hide_the_key() -> None:
    t = ArliOCRTool(api_key=FAKE_KEY, input_dirs=[OCR_DIR], password="pdf-secret-pw")
    assert FAKE_KEY not in repr(t)
    assert "pdf-secret-pw" not in repr(t)
    assert FAKE_KEY not in str(t.model_dump(exclude={"args_schema"}))
    assert "pdf-secret-pw" not in str(t.model_dump(exclude={"args_schema"}))


def test_unknown_engine_option_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="no_such_option"):
        ArliOCRTool(api_key=FAKE_KEY, engine_options={"no_such_option": 1})
    with pytest.raises(ValueError, match="dpi=1 is out of range"):
        ArliOCRTool(api_key=FAKE_KEY, engine_options={"dpi": 1})


def test_tool_rejects_invalid_arguments() -> None:
    with pytest.raises(ToolException):
        ArliOCRTool(engine=engine(), handle_tool_error=False, input_dirs=[OCR_DIR]).run(
            {"source": "missing.png"}
        )


# -- LlamaIndex tool spec --------------------------------------------------------------------


def test_llama_index_tool_spec_sync_and_async() -> None:
    spec = ArliOCRToolSpec(engine=engine(), input_dirs=[OCR_DIR])
    tools = spec.to_tool_list()
    assert [t.metadata.name for t in tools] == ["read_document"]
    assert "pages" in json.dumps(tools[0].metadata.get_parameters_dict())
    output = tools[0].call(source=str(PAGE))
    assert output.content == "Invoice 2024-117"
    assert output.raw_output.result.pages[0].page == 1


async def test_llama_index_tool_spec_async_and_errors() -> None:
    spec = ArliOCRToolSpec(engine=engine(), input_dirs=[OCR_DIR])
    output = await spec.to_tool_list()[0].acall(source="page-3.jpg")
    assert output.content == "Invoice 2024-117"
    with pytest.raises(ArliValidationError, match=r"Invalid argument: .*outside"):
        await spec.aread_document("/etc/hostname")
    with pytest.raises(AuthenticationError):
        ArliOCRToolSpec(engine=engine(401), input_dirs=[OCR_DIR]).read_document(str(PAGE))

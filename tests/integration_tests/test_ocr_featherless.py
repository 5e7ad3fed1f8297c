"""OCR through Featherless: the engine, the LangChain loader and the LlamaIndex reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from arli import ArliValidationError
from arli.ocr import OCREngine
from langchain_arli import ArliOCRLoader
from llama_index_arli import ArliOCRReader
from tests.ocr_helpers import page_image
from tests.reference_server import ReferenceServer, ScriptEntry

KEY = "fl-ocr-key"
GEMMA = "google/gemma-3-27b-it"


@pytest.fixture
def server() -> ReferenceServer:
    script = [ScriptEntry(match="", has_image=True, reply="INVOICE 42")]
    with ReferenceServer(
        api_key=KEY, provider="featherless", models=(GEMMA,), script=script
    ) as srv:
        yield srv  # type: ignore[misc]


@pytest.fixture
def page(tmp_path: Path) -> Path:
    path = tmp_path / "invoice.png"
    page_image("INVOICE 42").save(path)
    return path


def test_engine_defaults_to_the_recommended_featherless_model(
    server: ReferenceServer, page: Path
) -> None:
    with OCREngine(provider="featherless", api_key=KEY, base_url=server.url) as engine:
        assert engine.model == GEMMA
        result = engine.ocr(page)
    assert result.text() == "INVOICE 42"
    (request,) = server.requests_for("/v1/chat/completions")
    assert request.json["model"] == GEMMA
    assert request.json["temperature"] == 0
    assert request.headers["authorization"] == f"Bearer {KEY}"
    image_url = request.json["messages"][-1]["content"][-1]["image_url"]["url"]
    assert image_url.startswith("data:image/")


def test_undocumented_sampler_is_rejected_before_any_request(server: ReferenceServer) -> None:
    with pytest.raises(ArliValidationError, match="Featherless AI does not document 'top_a'"):
        OCREngine(
            provider="featherless", api_key=KEY, base_url=server.url, model_kwargs={"top_a": 0.1}
        )
    assert server.requests_for("/v1/chat/completions") == []


def test_loader_and_reader_take_the_provider(server: ReferenceServer, page: Path) -> None:
    options = {"provider": "featherless", "api_key": KEY, "base_url": server.url}
    (doc,) = ArliOCRLoader(page, **options).load()
    assert doc.page_content == "INVOICE 42"
    assert doc.metadata["model"] == GEMMA
    (node,) = ArliOCRReader(**options).load_data(page)
    assert node.text == "INVOICE 42"

"""An unusable place to save images is refused before anything is generated (issue 14 #6).

``check_destination`` is what the CLI's ``-o`` and every image toolkit's ``output_dir``
go through; the toolkits (core, LangChain, LlamaIndex) refuse at construction, with an
``ArliValidationError`` naming ``output_dir`` (not a pydantic error), and send nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from arli import ArliError, ArliValidationError, ImageClient
from arli.images.results import check_destination
from arli.images.tooling import ImageToolbox
from langchain_arli.tools import ArliImageGenerationTool, ArliImageToolkit
from llama_index_arli.tools import ArliImageToolSpec


def _no_network(request: httpx.Request) -> httpx.Response:
    msg = f"nothing may be sent: {request.url}"
    raise AssertionError(msg)


def client() -> ImageClient:
    http = httpx.Client(transport=httpx.MockTransport(_no_network))
    return ImageClient(api_key="k", base_url="http://replay.invalid", http_client=http)


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("keep me")
    return path


def test_usable_destinations_are_accepted_and_nothing_is_created(tmp_path: Path) -> None:
    for target in (tmp_path, tmp_path / "new" / "deeper", tmp_path / "new" / "fox.png"):
        assert check_destination(target) == target
    assert list(tmp_path.iterdir()) == []
    assert check_destination("~/x") == Path.home() / "x"


def test_a_file_or_a_path_through_a_file_is_refused(a_file: Path) -> None:
    with pytest.raises(ArliValidationError, match="is an existing file, not a directory") as info:
        check_destination(a_file, option="output_dir")
    assert info.value.field == "output_dir"
    assert "out/fox.png" in str(info.value.allowed)
    with pytest.raises(ArliValidationError, match=r"is inside '.*notes.txt', a file"):
        check_destination(a_file / "sub" / "fox.png")
    # an existing image file is a file name: saving adds -1, -2... it is not refused
    png = a_file.with_name("fox.png")
    png.write_bytes(b"\x89PNG")
    assert check_destination(png) == png


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_directory_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ArliValidationError, match="is not writable"):
            check_destination(locked / "out")
    finally:
        locked.chmod(0o700)


def test_toolkits_refuse_an_unusable_output_dir_at_construction(a_file: Path) -> None:
    builders: list[tuple[str, Any]] = [
        ("core", lambda: ImageToolbox(client(), output_dir=a_file)),
        ("llama", lambda: ArliImageToolSpec(client=client(), output_dir=a_file)),
        ("tool", lambda: ArliImageGenerationTool(client=client(), output_dir=str(a_file))),
        ("toolkit", lambda: ArliImageToolkit(client=client(), output_dir=str(a_file))),
    ]
    for label, build in builders:
        with pytest.raises(ArliError) as info:
            build()
        assert isinstance(info.value, ArliValidationError), label
        assert f"output_dir {str(a_file)!r} is an existing file" in str(info.value), label
    assert a_file.read_text() == "keep me"

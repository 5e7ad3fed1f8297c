"""Image generation under load and timeouts through the framework skins.

The core is covered in ``test_images_client.py`` (30 threads and 30 tasks on one
``ImageClient``, a timed-out generation not re-sent) and ``test_images_tools.py`` (the
LangChain generation tool's ``batch`` of 30). This module adds what an agent framework
does: 30 concurrent generations through the LangChain tool's ``abatch``, through the
LlamaIndex tool spec from 30 threads and 30 tasks, and a generation that timed out is not
re-sent by either skin by default.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from langchain_core.messages import ToolMessage

from arli import ArliTimeoutError
from langchain_arli import ArliImageGenerationTool
from llama_index_arli import ArliImageToolSpec
from tests.reference_server import Fault, ReferenceServer

KEY = "test-key"
TXT2IMG = "/v1/txt2img"
CAP = 6
N = 30


@pytest.fixture
def capped_server() -> ReferenceServer:
    with ReferenceServer(api_key=KEY, image_parallel_limit=CAP, image_latency=0.05) as srv:
        yield srv


def check_no_429(srv: ReferenceServer, out: Path) -> None:
    stats = srv.stats
    assert stats["rate_limited"] == 0  # the server's cap was never hit
    assert stats["max_in_flight_images"] == CAP  # ... and the limit was used fully
    assert len(srv.requests_for(TXT2IMG)) == N  # nothing was retried
    assert len(list(out.iterdir())) == N


async def test_langchain_tool_abatch_of_thirty(capped_server: ReferenceServer, tmp_path: Path):
    tool = ArliImageGenerationTool(
        model="FLUX.2-klein-4B",
        api_key=KEY,
        base_url=capped_server.url,
        output_dir=tmp_path,
        params={"steps": 1},
        client_options={"max_retries": 0},
    )
    outputs = await tool.abatch(
        [{"prompt": f"p{i}", "seed": i, "width": 64, "height": 64} for i in range(N)],
        config={"max_concurrency": N},
    )
    assert all(o.startswith("Generated 1 image") for o in outputs)
    check_no_429(capped_server, tmp_path)


def test_llama_index_spec_from_thirty_threads(capped_server: ReferenceServer, tmp_path: Path):
    spec = ArliImageToolSpec(
        model="FLUX.2-klein-4B",
        api_key=KEY,
        base_url=capped_server.url,
        output_dir=tmp_path,
        max_retries=0,
    )
    (tool,) = [t for t in spec.to_tool_list() if t.metadata.name == "generate_image"]
    with ThreadPoolExecutor(N) as pool:
        outputs = list(
            pool.map(
                lambda i: tool.call(prompt=f"p{i}", seed=i, width=64, height=64, steps=1),
                range(N),
            )
        )
    assert [o.raw_output.seeds[0] for o in outputs] == list(range(N))
    check_no_429(capped_server, tmp_path)


async def test_llama_index_spec_from_thirty_tasks(capped_server: ReferenceServer, tmp_path: Path):
    spec = ArliImageToolSpec(
        model="FLUX.2-klein-4B",
        api_key=KEY,
        base_url=capped_server.url,
        output_dir=tmp_path,
        max_retries=0,
    )
    (tool,) = [t for t in spec.to_tool_list() if t.metadata.name == "generate_image"]
    outputs = await asyncio.gather(
        *(tool.acall(prompt=f"p{i}", seed=i, width=64, height=64, steps=1) for i in range(N))
    )
    assert len(outputs) == N
    assert all(not o.is_error for o in outputs)
    check_no_429(capped_server, tmp_path)
    await spec.client.aclose()


# -- a generation that timed out is not re-sent by default ------------------------------------


def _wait_for_the_delayed_request(srv: ReferenceServer) -> int:
    time.sleep(0.8)  # the server finishes the delayed generation meanwhile
    return len(srv.requests_for(TXT2IMG))


def test_langchain_tool_timed_out_generation_is_not_resent(
    reference_server: ReferenceServer, tmp_path: Path
) -> None:
    reference_server.add_fault(Fault(path=TXT2IMG, kind="delay", delay=1.0))
    tool = ArliImageGenerationTool(
        model="FLUX.2-klein-4B",
        api_key=KEY,
        base_url=reference_server.url,
        output_dir=tmp_path,
        client_options={"image_timeout": 0.3, "max_retries": 3},
    )
    call = {"name": tool.name, "args": {"prompt": "p"}, "id": "call_0", "type": "tool_call"}
    start = time.monotonic()
    message = tool.invoke(call)  # the agent is told, and may decide to try again
    assert time.monotonic() - start < 2
    assert isinstance(message, ToolMessage)
    assert message.status == "error"
    assert str(message.content).startswith("The image request timed out (POST ")
    assert "timed out after 0.3 s" in str(message.content)
    assert _wait_for_the_delayed_request(reference_server) == 1
    assert list(tmp_path.iterdir()) == []


async def test_llama_index_spec_timed_out_generation_is_not_resent(
    reference_server: ReferenceServer, tmp_path: Path
) -> None:
    reference_server.add_fault(Fault(path=TXT2IMG, kind="delay", delay=1.0))
    spec = ArliImageToolSpec(
        model="FLUX.2-klein-4B",
        api_key=KEY,
        base_url=reference_server.url,
        output_dir=tmp_path,
        image_timeout=0.3,
        max_retries=3,
    )
    with pytest.raises(ArliTimeoutError, match=r"timed out after 0\.3 s"):
        await spec.agenerate_image(prompt="p")
    await spec.client.aclose()
    assert await asyncio.to_thread(_wait_for_the_delayed_request, reference_server) == 1
    assert list(tmp_path.iterdir()) == []

"""A local, Arli-compatible HTTP server for tests.

It speaks the wire formats of the engines behind Arli AI, as documented in
``tests/fixtures/wire/WIRE_REFERENCE.md``: vLLM / Aphrodite-engine for the
OpenAI-compatible text API (three flavors: ``vllm-0.11``, ``vllm-0.33``,
``aphrodite-0.6``) and SDNext for the image API, plus Arli's ``/v1/...``
image aliases. Pure Python: asyncio + h11 (byte-level control for fault
injection) and Pillow (real images).

Modules:
    server: HTTP/1.1 layer, lifecycle, auth, control endpoints, fault application.
    text: ``/v1/chat/completions``, ``/v1/completions``, ``/v1/models``,
        ``/tokenize`` (+ ``/v1/tokenize``), ``/detokenize``, ``/health``, ``/version``.
    images: ``/sdapi/v1/*`` and ``/v1/txt2img`` etc.
    aiart: AiArt's keyless ``/api/generate``, ``/api/img2img``, ``/api/img2video`` and
        ``/api/img2video/result/<id>`` (``provider="aiart"``).
    faults: :class:`Fault` and its kinds.
    script: :class:`ScriptEntry` and the default script (langchain-tests prompts).
    schema_gen: values satisfying a JSON schema / regex / GBNF grammar.
    wire: request/response types, settings, counters, pydantic-style coercion.

Control endpoints (never authenticated): ``POST /_control/faults`` (a fault as
JSON), ``GET``/``DELETE /_control/faults``, ``POST /_control/reset``,
``GET /_control/requests``, ``GET /_control/stats``.

Example:
    >>> from tests.reference_server import Fault, ReferenceServer
    >>> with ReferenceServer(api_key="test-key") as srv:  # doctest: +SKIP
    ...     srv.add_fault(Fault(path="/v1/chat/completions", kind="status", status=503))
    ...     httpx.post(f"{srv.url}/v1/chat/completions", json=..., headers=...)
"""

from tests.reference_server.faults import FAULT_KINDS, Fault
from tests.reference_server.script import DEFAULT_SCRIPT, ScriptEntry
from tests.reference_server.server import RecordedRequest, ReferenceServer
from tests.reference_server.wire import FLAVORS

__all__ = [
    "DEFAULT_SCRIPT",
    "FAULT_KINDS",
    "FLAVORS",
    "Fault",
    "RecordedRequest",
    "ReferenceServer",
    "ScriptEntry",
]

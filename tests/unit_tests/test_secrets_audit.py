"""Secret hygiene across every public class: the API key never shows anywhere.

One recognizable fake key (:data:`SECRET`, random per run) is given to every public class
that takes a key — core clients, LangChain models, tools, loaders, LlamaIndex LLMs, readers
and tool specs — and the tests look for it (and for its random part, and for the base64
forms a Basic ``Authorization`` header would carry) in:

* ``repr``/``str``, ``model_dump``/``model_dump_json``, LangChain ``dumps``/``dumpd``,
  LlamaIndex ``to_dict``/``to_json``/``to_payload``, LangSmith params, tool schemas;
* LangChain callback payloads (serialized, invocation params, metadata, outputs, errors)
  and LlamaIndex instrumentation (events, spans, legacy callback payloads);
* log records at DEBUG (every logger: ours, httpx, httpcore), with their tracebacks;
* exceptions and their tracebacks, chained httpx errors included: a 401, a refused
  connection and a read timeout, through every surface;
* a cassette recorded with vcrpy and :func:`arli._cassettes.vcr_config`.

Per-class checks already exist (``test_settings.py``, ``test_langchain_text.py``,
``test_llama_index_llm.py``, ``test_images_tools.py``, ``test_ocr_tools.py``,
``test_transport.py``, ``test_cassette_secrets.py``); this is the cross-cutting audit.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import socket
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps
from langchain_core.tools import BaseTool
from pydantic import BaseModel

from arli import (
    AiArtClient,
    ArliError,
    ArliSettings,
    AuthenticationError,
    ImageClient,
    TextClient,
    _cassettes,
)
from arli.images.tooling import ImageToolbox
from arli.ocr import OCREngine
from tests.ocr_helpers import encode, page_image
from tests.reference_server import Fault, ReferenceServer

SECRET = f"sk-arli-AUDIT-{secrets.token_hex(12)}"
TOKEN = SECRET.removeprefix("sk-arli-AUDIT-")
BASIC_USER = "audit-user"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


#: Every form the key could take on its way out: itself, its random part, and the
#: ``Basic`` header payloads (with and without a user name).
FORBIDDEN = (SECRET, TOKEN, _b64(SECRET), _b64(f"{BASIC_USER}:{SECRET}"))
MODEL = "Mistral-Nemo-12B-Instruct-2407"
CHAT = "/v1/chat/completions"
PAGE = encode(page_image("Page 1", (301, 200)), "PNG")
SHORT = 0.2  # read timeout for the timeout scenario


def assert_clean(text: str, where: str) -> None:
    for form in FORBIDDEN:
        assert form not in text, f"the API key leaks through {where}: ...{text[:300]}..."


@pytest.mark.parametrize(
    "planted",
    [
        f"Authorization: Bearer {SECRET}",
        f"key={TOKEN}",
        f"Basic {_b64(SECRET)}",
        f"Basic {_b64(f'{BASIC_USER}:{SECRET}')}",
    ],
)
def test_the_scanner_catches_every_form_of_the_key(planted: str) -> None:
    with pytest.raises(AssertionError, match="leaks"):
        assert_clean(f"some text {planted} more text", "a planted leak")


# -- servers and objects ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    """Accepts the audit key (bearer and basic)."""
    with ReferenceServer(api_key=SECRET) as srv:
        yield srv


@pytest.fixture(scope="module")
def featherless_server() -> Iterator[ReferenceServer]:
    with ReferenceServer(api_key=SECRET, provider="featherless") as srv:
        yield srv


@pytest.fixture(scope="module")
def other_key_server() -> Iterator[ReferenceServer]:
    """Rejects the audit key with 401."""
    with ReferenceServer(api_key="sk-some-other-key-0000") as srv:
        yield srv


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    (tmp_path / "page.png").write_bytes(PAGE)
    return tmp_path


def build_everything(url: str, featherless_url: str, work: Path) -> dict[str, Any]:
    """Every public class that takes a key, built with :data:`SECRET`."""
    from langchain_arli import (
        ArliImageEditTool,
        ArliImageGenerationTool,
        ArliImageToolkit,
        ArliImageToVideoTool,
        ArliImageUpscaleTool,
        ArliListImageModelsTool,
        ArliListSamplersTool,
        ArliListUpscalersTool,
        ArliLLM,
        ArliOCRLoader,
        ArliOCRParser,
        ArliOCRTool,
        ChatArli,
        ChatFeatherless,
        FeatherlessLLM,
    )
    from llama_index_arli import (
        Arli,
        ArliImageToolSpec,
        ArliOCRReader,
        ArliOCRToolSpec,
        Featherless,
    )

    out = work / "out"
    key: dict[str, Any] = {"api_key": SECRET, "base_url": url}
    image_client = ImageClient(model="FLUX.2-klein-4B", **key)
    objects: dict[str, Any] = {
        "ArliSettings": ArliSettings.resolve(api_key=SECRET),
        "TextClient": TextClient(**key),
        "ImageClient": image_client,
        "ImageClient(basic)": ImageClient(model="FLUX.2-klein-4B", **key, image_auth="basic"),
        "ImageClient(basic, user)": ImageClient(
            model="FLUX.2-klein-4B", **key, image_auth="basic", basic_auth_username=BASIC_USER
        ),
        "OCREngine": OCREngine(**key, model=MODEL),
        "AiArtClient": AiArtClient(base_url=url),  # keyless: the env key must not reach it
        "ImageToolbox": ImageToolbox(image_client, output_dir=out),
        "ChatArli": ChatArli(model=MODEL, **key),
        "ArliLLM": ArliLLM(model=MODEL, **key),
        "ChatFeatherless": ChatFeatherless(model=MODEL, api_key=SECRET, base_url=featherless_url),
        "FeatherlessLLM": FeatherlessLLM(model=MODEL, api_key=SECRET, base_url=featherless_url),
        "ArliImageGenerationTool": ArliImageGenerationTool(**key, output_dir=out),
        "ArliImageEditTool": ArliImageEditTool(**key, output_dir=out),
        "ArliImageUpscaleTool": ArliImageUpscaleTool(**key, output_dir=out),
        "ArliListImageModelsTool": ArliListImageModelsTool(**key),
        "ArliListSamplersTool": ArliListSamplersTool(**key),
        "ArliListUpscalersTool": ArliListUpscalersTool(**key),
        "ArliImageToolkit": ArliImageToolkit(**key, output_dir=out),
        "ArliImageToVideoTool": ArliImageToVideoTool(backend="aiart", base_url=url, output_dir=out),
        "ArliOCRTool": ArliOCRTool(model=MODEL, **key, input_dirs=[work]),
        "ArliOCRLoader": ArliOCRLoader(work / "page.png", model=MODEL, **key),
        "ArliOCRParser": ArliOCRParser(model=MODEL, **key),
        "Arli": Arli(model=MODEL, **key, discover_context_window=False),
        "Featherless": Featherless(
            model=MODEL, api_key=SECRET, base_url=featherless_url, discover_context_window=False
        ),
        "ArliOCRReader": ArliOCRReader(model=MODEL, **key),
        "ArliImageToolSpec": ArliImageToolSpec(**key, output_dir=out),
        "ArliOCRToolSpec": ArliOCRToolSpec(model=MODEL, **key, input_dirs=[work]),
    }
    return objects


@pytest.fixture
def everything(
    server: ReferenceServer,
    featherless_server: ReferenceServer,
    docs: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    monkeypatch.setenv("ARLIAI_API_KEY", SECRET)  # what a keyless client must ignore
    return build_everything(server.url, featherless_server.url, docs)


# -- renderings --------------------------------------------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, default=repr, sort_keys=True)


def renderings(obj: Any) -> Iterator[tuple[str, str]]:
    """Every way the object turns into text that a user, a log or a tracer may see."""
    yield "repr", repr(obj)
    yield "str", str(obj)
    if isinstance(obj, BaseModel):
        yield "model_dump", _json(obj.model_dump())
        yield "model_dump(json)", _json(obj.model_dump(mode="json", fallback=repr))
        yield "model_dump_json", obj.model_dump_json(fallback=repr)
    if hasattr(obj, "to_json") and hasattr(obj, "to_dict"):  # LlamaIndex components
        yield "to_dict", _json(obj.to_dict())
        yield "to_json", obj.to_json()
    if hasattr(obj, "to_payload"):
        yield "to_payload", _json(obj.to_payload())
    if hasattr(obj, "to_json") and hasattr(obj, "lc_secrets"):  # LangChain Serializable
        yield "dumps", dumps(obj)
        yield "dumpd", _json(dumpd(obj))
    if hasattr(obj, "_get_ls_params"):
        yield "ls_params", _json(obj._get_ls_params())
        yield "identifying_params", _json(obj._identifying_params)
    if isinstance(obj, BaseTool):
        yield "tool_call_schema", _json(obj.tool_call_schema.model_json_schema())
        yield "tool args", _json(obj.args)
        yield "toolbox", repr(getattr(obj, "toolbox", None))
    for attr in ("client", "transport", "settings", "engine", "toolbox"):
        inner = getattr(obj, attr, None)
        if inner is not None and not callable(inner):
            yield f".{attr}", repr(inner)
    if hasattr(obj, "get_tools"):  # toolkits
        for tool in obj.get_tools():
            for where, text in renderings(tool):
                yield f"tool {tool.name}: {where}", text
    if hasattr(obj, "to_tool_list"):  # LlamaIndex tool specs
        for tool in obj.to_tool_list():
            yield f"{tool.metadata.name}: repr", repr(tool)
            yield (
                f"{tool.metadata.name}: openai tool",
                _json(tool.metadata.to_openai_tool(skip_length_check=True)),
            )


def test_the_key_is_really_used(server: ReferenceServer, everything: dict[str, Any]) -> None:
    """A sanity check: the audit is about a key that does go on the wire."""
    everything["TextClient"].list_models()
    everything["ImageClient(basic, user)"].list_samplers(refresh=True)
    headers = [r.headers.get("authorization", "") for r in server.requests[-2:]]
    assert headers == [f"Bearer {SECRET}", f"Basic {_b64(f'{BASIC_USER}:{SECRET}')}"]


def test_no_rendering_of_any_public_object_holds_the_key(everything: dict[str, Any]) -> None:
    checked = 0
    for name, obj in everything.items():
        for where, text in renderings(obj):
            assert_clean(text, f"{name} {where}")
            checked += 1
    assert checked > 150


def test_langchain_serialization_keeps_a_reference_to_the_env_var(
    everything: dict[str, Any],
) -> None:
    for name in ("ChatArli", "ArliLLM", "ChatFeatherless", "FeatherlessLLM"):
        secret = dumpd(everything[name])["kwargs"]["api_key"]
        assert secret["type"] == "secret", name
        assert secret["id"][0].endswith("API_KEY"), name


# -- callbacks and instrumentation -------------------------------------------------------------


class Recorder(BaseCallbackHandler):
    """A LangChain handler that keeps every argument of every event as text."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def _keep(self, event: str, *args: Any, **kwargs: Any) -> None:
        self.seen.append((event, repr(args) + _json(kwargs)))

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        self._keep("on_chat_model_start", *args, **kwargs)

    def on_llm_start(self, *args: Any, **kwargs: Any) -> None:
        self._keep("on_llm_start", *args, **kwargs)

    def on_llm_new_token(self, *args: Any, **kwargs: Any) -> None:
        self._keep("on_llm_new_token", *args, **kwargs)

    def on_llm_end(self, *args: Any, **kwargs: Any) -> None:
        self._keep("on_llm_end", *args, **kwargs)

    def on_llm_error(self, *args: Any, **kwargs: Any) -> None:
        self._keep("on_llm_error", *args, **kwargs)

    def on_tool_start(self, *args: Any, **kwargs: Any) -> None:
        self._keep("on_tool_start", *args, **kwargs)

    def on_tool_end(self, *args: Any, **kwargs: Any) -> None:
        self._keep("on_tool_end", *args, **kwargs)

    def on_tool_error(self, *args: Any, **kwargs: Any) -> None:
        self._keep("on_tool_error", *args, **kwargs)

    def on_chain_start(self, *args: Any, **kwargs: Any) -> None:
        self._keep("on_chain_start", *args, **kwargs)

    def on_chain_end(self, *args: Any, **kwargs: Any) -> None:
        self._keep("on_chain_end", *args, **kwargs)

    def on_chain_error(self, *args: Any, **kwargs: Any) -> None:
        self._keep("on_chain_error", *args, **kwargs)


def test_langchain_callback_payloads(
    everything: dict[str, Any],
    other_key_server: ReferenceServer,
    caplog: pytest.LogCaptureFixture,
    docs: Path,
) -> None:
    from langchain_arli import ArliLLM, ChatArli

    caplog.set_level(logging.DEBUG)
    handler = Recorder()
    config: Any = {"callbacks": [handler], "metadata": {"user": "audit"}, "tags": ["audit"]}
    for name in ("ChatArli", "ChatFeatherless"):
        llm = everything[name]
        assert llm.invoke("Hello", config=config).content
        assert "".join(str(c.content) for c in llm.stream("Hello", config=config))
        assert llm.bind(min_p=0.1).invoke("Hello", config=config).content
    for name in ("ArliLLM", "FeatherlessLLM"):
        assert everything[name].invoke("Hello", config=config)
    image_tool = everything["ArliImageGenerationTool"]
    assert image_tool.invoke({"prompt": "a cat", "width": 64, "height": 64}, config=config)
    ocr_tool = everything["ArliOCRTool"]
    assert ocr_tool.invoke({"source": str(docs / "page.png")}, config=config)
    # ... and the error path: the server rejects the key.
    url = other_key_server.url
    for model in (ChatArli(model=MODEL, api_key=SECRET, base_url=url, max_retries=0),):
        with pytest.raises(AuthenticationError):
            model.invoke("Hello", config=config)
    with pytest.raises(AuthenticationError):
        ArliLLM(model=MODEL, api_key=SECRET, base_url=url, max_retries=0).invoke(
            "Hello", config=config
        )
    events = {event for event, _ in handler.seen}
    assert {"on_chat_model_start", "on_llm_start", "on_llm_end", "on_llm_error"} <= events
    assert {"on_tool_start", "on_tool_end", "on_llm_new_token"} <= events
    for event, text in handler.seen:
        assert_clean(text, f"LangChain callback {event}")
    _check_logs(caplog)


def test_llama_index_instrumentation_and_callbacks(
    everything: dict[str, Any],
    other_key_server: ReferenceServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from llama_index.core.callbacks import CallbackManager
    from llama_index.core.callbacks.base_handler import BaseCallbackHandler as LIHandler
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
    from llama_index.core.llms import ChatMessage

    from llama_index_arli import Arli

    seen: list[tuple[str, str]] = []

    class Events(BaseEventHandler):
        def handle(self, event: Any, **kwargs: Any) -> None:
            seen.append((f"event {event.class_name()}", repr(event) + event.model_dump_json()))

    class Spans(BaseSpanHandler[Any]):
        def new_span(self, id_: str, bound_args: Any, instance: Any = None, **kw: Any) -> None:
            seen.append((f"span {id_}", repr(bound_args.arguments) + repr(instance)))

        def prepare_to_exit_span(self, id_: str, bound_args: Any, **kw: Any) -> None:
            seen.append((f"exit {id_}", repr(kw.get("result"))))

        def prepare_to_drop_span(self, id_: str, bound_args: Any, **kw: Any) -> None:
            seen.append((f"drop {id_}", repr(kw.get("err"))))

    class Legacy(LIHandler):
        def __init__(self) -> None:
            super().__init__([], [])

        def on_event_start(self, event_type: Any, payload: Any = None, **kw: Any) -> str:
            seen.append((f"callback start {event_type}", repr(payload) + repr(kw)))
            return kw.get("event_id", "")

        def on_event_end(self, event_type: Any, payload: Any = None, **kw: Any) -> None:
            seen.append((f"callback end {event_type}", repr(payload) + repr(kw)))

        def start_trace(self, trace_id: Any = None) -> None:
            pass

        def end_trace(self, trace_id: Any = None, trace_map: Any = None) -> None:
            pass

    caplog.set_level(logging.DEBUG)
    dispatcher = get_dispatcher()
    events, spans = Events(), Spans()
    dispatcher.add_event_handler(events)
    dispatcher.add_span_handler(spans)
    messages = [ChatMessage(role="user", content="Hello")]
    rejected = Arli(model=MODEL, api_key=SECRET, base_url=other_key_server.url, max_retries=0)
    try:
        for name in ("Arli", "Featherless"):
            llm = everything[name]
            llm.callback_manager = CallbackManager([Legacy()])
            assert llm.chat(messages).message.content
            assert "".join(r.delta or "" for r in llm.stream_chat(messages))
            assert llm.complete("Hello").text
            assert asyncio.run(llm.achat(messages)).message.content
        rejected.callback_manager = CallbackManager([Legacy()])
        with pytest.raises(AuthenticationError):
            rejected.chat(messages)
    finally:
        dispatcher.event_handlers.remove(events)
        dispatcher.span_handlers.remove(spans)
    kinds = " ".join(kind for kind, _ in seen)
    assert "LLMChatStartEvent" in kinds
    assert "callback start" in kinds
    assert "drop" in kinds  # the failed call's span
    for kind, text in seen:
        assert_clean(text, f"LlamaIndex {kind}")
    _check_logs(caplog)


# -- logs, exceptions, tracebacks --------------------------------------------------------------


def _check_logs(caplog: pytest.LogCaptureFixture) -> None:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    assert caplog.records, "nothing was logged: the log check would be vacuous"
    for record in caplog.records:
        assert_clean(formatter.format(record), f"log record of {record.name}")
        assert_clean(repr(record.__dict__), f"log record attributes of {record.name}")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def check_exception(exc: BaseException, where: str) -> None:
    assert_clean(str(exc), f"{where}: str")
    assert_clean(repr(exc), f"{where}: repr")
    assert_clean("".join(traceback.format_exception(exc)), f"{where}: traceback")
    for link in _chain(exc):
        assert_clean(repr(vars(link)), f"{where}: attributes of {type(link).__name__}")
        assert_clean(repr(link.args), f"{where}: args of {type(link).__name__}")
        # httpx keeps the failed request (with its headers) on the exception itself.
        request = getattr(link, "_request", None)
        if isinstance(request, httpx.Request):
            raw = repr(request.headers.raw)
            assert_clean(raw, f"{where}: headers of the request kept by {type(link).__name__}")


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def failing_calls(url: str, work: Path, secret: str = SECRET) -> dict[str, Callable[[], Any]]:
    """One call per public surface, with no retries and a short read timeout.

    ``secret`` is the key as given (the whitespace-carrying forms of :data:`SECRET` too).
    """
    from llama_index.core.llms import ChatMessage

    from langchain_arli import ArliImageGenerationTool, ArliLLM, ArliOCRLoader, ChatArli
    from llama_index_arli import Arli, ArliImageToolSpec, ArliOCRReader

    key: dict[str, Any] = {"api_key": secret, "base_url": url}
    fast: dict[str, Any] = {"max_retries": 0}
    text = TextClient(**key, **fast, text_timeout=SHORT)
    images = ImageClient(model="FLUX.2-klein-4B", **key, **fast, image_timeout=SHORT)
    basic = ImageClient(
        model="FLUX.2-klein-4B",
        **key,
        **fast,
        image_timeout=SHORT,
        image_auth="basic",
        basic_auth_username=BASIC_USER,
    )
    ocr = {"model": MODEL, **key, **fast, "timeout": SHORT}
    li = Arli(model=MODEL, **key, **fast, timeout=SHORT, discover_context_window=False)
    return {
        "TextClient.chat": lambda: text.chat(
            {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}
        ),
        "TextClient.stream_chat": lambda: list(
            text.stream_chat({"model": MODEL, "messages": [{"role": "user", "content": "x"}]})
        ),
        "TextClient.achat": lambda: asyncio.run(
            text.achat({"model": MODEL, "messages": [{"role": "user", "content": "x"}]})
        ),
        "ImageClient.txt2img": lambda: images.txt2img(prompt="p", width=64, height=64),
        "ImageClient(basic).txt2img": lambda: basic.txt2img(prompt="p", width=64, height=64),
        "OCREngine.ocr": lambda: OCREngine(**ocr).ocr(PAGE),
        "ChatArli.invoke": lambda: ChatArli(model=MODEL, **key, **fast, timeout=SHORT).invoke("x"),
        "ChatArli.stream": lambda: list(
            ChatArli(model=MODEL, **key, **fast, timeout=SHORT).stream("x")
        ),
        "ArliLLM.invoke": lambda: ArliLLM(model=MODEL, **key, **fast, timeout=SHORT).invoke("x"),
        "Arli.chat": lambda: li.chat([ChatMessage(role="user", content="x")]),
        "ArliImageGenerationTool.invoke": lambda: ArliImageGenerationTool(
            **key, output_dir=work / "out", client_options={**fast, "image_timeout": SHORT}
        ).invoke({"prompt": "p"}),
        "ArliImageToolSpec.generate_image": lambda: ArliImageToolSpec(
            **key, output_dir=work / "out", **fast, image_timeout=SHORT
        ).generate_image(prompt="p"),
        "ArliOCRLoader.load": lambda: ArliOCRLoader(work / "page.png", **ocr).load(),
        "ArliOCRReader.load_data": lambda: ArliOCRReader(**ocr).load_data(work / "page.png"),
    }


@pytest.mark.parametrize("scenario", ["401", "connection refused", "read timeout"])
def test_errors_and_tracebacks_never_hold_the_key(
    scenario: str,
    server: ReferenceServer,
    other_key_server: ReferenceServer,
    docs: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    if scenario == "401":
        url = other_key_server.url
    elif scenario == "connection refused":
        url = closed_port_url()
    else:
        url = server.url
        server.reset()
        server.add_fault(Fault(path="*", kind="hang", times=-1))
    try:
        calls = failing_calls(url, docs)
        failures: dict[str, BaseException] = {}
        for name, call in calls.items():
            try:
                result = call()
            except Exception as exc:  # every kind is checked
                failures[name] = exc
            else:
                # Tools may hand a fixable error to the agent as text instead of raising.
                assert_clean(repr(result) + str(result), f"{name} answer ({scenario})")
                failures[name] = RuntimeError(str(result))
    finally:
        server.clear_faults()
    for name, exc in failures.items():
        check_exception(exc, f"{name} ({scenario})")
    raised = [e for e in failures.values() if isinstance(e, ArliError)]
    assert len(raised) >= len(calls) - 2, failures  # almost every surface raised ours
    chained = [e for e in raised if e.__cause__ is not None]
    if scenario != "401":
        assert chained, "no chained httpx error was checked"
    _check_logs(caplog)


def test_pydantic_validation_errors_of_the_skins_hide_the_key() -> None:
    from langchain_arli import ChatArli
    from llama_index_arli import Arli

    for build in (
        lambda: ChatArli(model=MODEL, api_key=SECRET, temperature=-1),
        lambda: ChatArli(model=MODEL, api_key=SECRET, max_retries=-1),
        lambda: Arli(model=MODEL, api_key=SECRET, temperature=-1),
        lambda: Arli(model=MODEL, api_key=SECRET, timeout=-1),
        lambda: TextClient(api_key=SECRET, base_url="ftp://nowhere"),
        lambda: TextClient(api_key=SECRET, max_retries=99),
    ):
        with pytest.raises(ValueError) as info:
            build()
        check_exception(info.value, "a constructor's validation error")


# -- cassettes ---------------------------------------------------------------------------------


def test_a_recorded_cassette_holds_no_key(server: ReferenceServer, docs: Path) -> None:
    from langchain_arli import ChatArli

    server.reset()
    path = docs / "audit.yaml"
    key: dict[str, Any] = {"api_key": SECRET, "base_url": server.url}
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8}
    with _cassettes.use_cassette(path, record_mode="all"):
        text = TextClient(**key)
        text.chat(body)
        list(text.stream_chat(body))
        text.tokenize(model=MODEL, prompt="Hello")
        text.list_models()
        asyncio.run(text.achat(body))
        ImageClient(model="FLUX.2-klein-4B", **key).txt2img(
            prompt="p", width=64, height=64, steps=1
        )
        ImageClient(
            model="FLUX.2-klein-4B", **key, image_auth="basic", basic_auth_username=BASIC_USER
        ).list_samplers()
        ImageClient(model="FLUX.2-klein-4B", **key, image_auth="basic").list_upscalers()
        OCREngine(model=MODEL, **key).ocr(PAGE)
        ChatArli(model=MODEL, **key).invoke("Hello")
    recorded = path.read_text()
    requests = recorded.count("uri:")
    assert requests >= 10
    assert recorded.count("authorization:\n      - REDACTED") == requests  # every one redacted
    assert_clean(recorded, "a recorded cassette")
    assert _cassettes.find_secrets(recorded, extra=(SECRET,)) == []


# -- PDF passwords ------------------------------------------------------------------------------

#: A recognizable password for encrypted PDFs, random per run (the key audit's twin).
PASSWORD = f"pdf-pw-AUDIT-{secrets.token_hex(8)}"


def _password_holders(url: str, work: Path) -> dict[str, Any]:
    """Every public object that keeps a PDF password, given as ``str`` or ``SecretStr``."""
    from pydantic import SecretStr

    from arli.ocr.tooling import OCRToolbox
    from langchain_arli import ArliOCRLoader, ArliOCRParser, ArliOCRTool
    from llama_index_arli import ArliOCRReader, ArliOCRToolSpec

    key: dict[str, Any] = {"api_key": "k", "base_url": url, "model": MODEL}
    holders: dict[str, Any] = {}
    for form, password in (("str", PASSWORD), ("SecretStr", SecretStr(PASSWORD))):
        holders |= {
            f"ArliOCRLoader({form})": ArliOCRLoader(work / "doc.pdf", password=password, **key),
            f"ArliOCRParser({form})": ArliOCRParser(password=password, **key),
            f"ArliOCRReader({form})": ArliOCRReader(password=password, **key),
            f"ArliOCRTool({form})": ArliOCRTool(password=password, input_dirs=[work], **key),
            f"ArliOCRToolSpec({form})": ArliOCRToolSpec(
                password=password, input_dirs=[work], **key
            ),
            f"OCRToolbox({form})": OCRToolbox(OCREngine(**key), password=password),
        }
    return holders


def test_no_public_object_holds_a_pdf_password_in_the_clear(tmp_path: Path) -> None:
    import pickle

    from tests.unit_tests.test_secret_attributes import clear_keys

    for name, obj in _password_holders(closed_port_url(), tmp_path).items():
        assert clear_keys(obj, PASSWORD) == [], name  # attributes, options, private state
        for where, text in renderings(obj):
            assert PASSWORD not in text, f"the PDF password leaks through {name} {where}"
        try:
            state = pickle.dumps(obj)
        except (TypeError, AttributeError, pickle.PicklingError):
            continue  # not picklable: nothing leaves the process that way
        # a worker needs the password to open the file; it holds it as a SecretStr again
        assert clear_keys(pickle.loads(state), PASSWORD) == [], f"{name} after a pickle"


def test_a_wrong_pdf_password_is_never_quoted(tmp_path: Path) -> None:
    from langchain_arli import ArliOCRLoader
    from llama_index_arli import ArliOCRReader
    from tests.ocr_helpers import PdfPage, build_pdf
    from tests.unit_tests.test_secret_attributes import clear_keys

    path = tmp_path / "locked.pdf"
    path.write_bytes(build_pdf([PdfPage(page_image("locked"))], password="the-right-one"))
    url = closed_port_url()  # nothing may be sent: the file does not open
    errors: list[BaseException] = []
    with OCREngine(api_key="k", base_url=url, model=MODEL) as engine:
        try:
            engine.ocr(path, password=PASSWORD)
        except ArliError as exc:
            errors.append(exc)
    assert len(errors) == 1
    assert "password is wrong" in str(errors[0])
    for error in errors:
        assert PASSWORD not in "".join(traceback.format_exception(error))
        assert clear_keys(error, PASSWORD) == []
    # under "placeholder", the failure is a Document's metadata and the run's report
    loader = ArliOCRLoader(
        path, api_key="k", base_url=url, model=MODEL, password=PASSWORD, on_page_error="placeholder"
    )
    reader = ArliOCRReader(
        api_key="k", base_url=url, model=MODEL, password=PASSWORD, on_page_error="placeholder"
    )
    docs: list[Any] = [*loader.load(), *reader.load_data(path)]
    assert docs, "a document that cannot be opened yields an error record"
    for doc in docs:
        assert "password is wrong" in json.dumps(doc.metadata, default=repr)
        assert PASSWORD not in json.dumps(doc.metadata, default=repr)
        assert PASSWORD not in repr(doc)
    assert PASSWORD not in repr(loader.engine.last_report)

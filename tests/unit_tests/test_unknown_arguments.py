"""Every public class refuses a constructor argument it does not know, before any request.

The public classes are found by walking ``__all__`` of the three packages and of their
public subpackages, so a new class cannot slip through: it must get a case in ``CASES``
(minimal valid arguments, a misspelling, the name the message should suggest and the
argument it should name for other server fields) or be listed in ``NOT_CONSTRUCTED`` with
the reason. The positive side follows: known names, aliases, the frameworks' own
arguments, per-call values and the ways the frameworks rebuild objects keep working.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import json
import pickle
import pkgutil
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from arli import ArliValidationError

ROOTS = ("arli", "langchain_arli", "llama_index_arli")


def _public_packages() -> list[ModuleType]:
    """The root packages and every public subpackage (no leading ``_``) with an ``__all__``."""
    found: list[ModuleType] = []
    todo = [importlib.import_module(name) for name in ROOTS]
    while todo:
        package = todo.pop()
        if hasattr(package, "__all__"):
            found.append(package)
        for info in pkgutil.iter_modules(package.__path__):
            if info.ispkg and not info.name.startswith("_"):
                todo.append(importlib.import_module(f"{package.__name__}.{info.name}"))
    return found


def _public_classes() -> dict[str, type]:
    classes: dict[str, type] = {}
    for package in _public_packages():
        for name in package.__all__:
            value = getattr(package, name)
            if inspect.isclass(value):
                classes[f"{value.__module__}.{value.__qualname__}"] = value
    return classes


def _not_constructed_by_rule(cls: type) -> bool:
    """Exceptions, enums, TypedDicts and protocols are not built from user arguments."""
    return (
        issubclass(cls, BaseException)
        or issubclass(cls, enum.Enum)
        or typing.is_typeddict(cls)
        or bool(getattr(cls, "_is_protocol", False))
    )


#: Public classes users do not construct from arguments, by reason.
NOT_CONSTRUCTED: dict[str, str] = {
    # The bulk OCR job's interface (issue 16): frozen dataclasses (a wrong field name is a
    # TypeError from Python itself) and runner plumbing built from checked JobOptions.
    **dict.fromkeys(
        [
            "arli.ocr.job.tasks.FileFailure",
            "arli.ocr.job.tasks.JobOptions",
            "arli.ocr.job.tasks.PageRecord",
            "arli.ocr.job.tasks.PageTask",
            "arli.ocr.job.worker.PageWorker",
            "arli.ocr.job.sink.Sink",
        ],
        "bulk OCR job dataclasses and plumbing: unknown fields are a TypeError; run_job checks",
    ),
    # Parsed server answers and results: built by our parsers from what the server sent.
    **dict.fromkeys(
        [
            "arli._transport.HTTPResult",
            "arli.text.parse.ChatChoice",
            "arli.text.parse.ChatChunk",
            "arli.text.parse.ChatCompletion",
            "arli.text.parse.ChoiceDelta",
            "arli.text.parse.Completion",
            "arli.text.parse.CompletionChoice",
            "arli.text.parse.CompletionChunk",
            "arli.text.parse.ModelInfo",
            "arli.text.parse.TokenizeResult",
            "arli.text.parse.ToolCall",
            "arli.text.parse.ToolCallDelta",
            "arli.text.parse.Usage",
            "arli.images.results.GeneratedImage",
            "arli.images.results.ImageResult",
            "arli.images.aiart_video.VideoResult",
            "arli.images.aiart_video.VideoStatus",
            "arli.ocr.results.OCRReport",
            "arli.ocr.results.OCRResult",
            "arli.ocr.results.PageFailure",
            "arli.ocr.results.PageResult",
            "arli.ocr.pages.PageImage",
        ],
        "a result type, built by our parsers or the engine",
    ),
    # Server listings and generation info: they keep the fields the server adds (extra=allow).
    **dict.fromkeys(
        [
            "arli.images.info.GenerationInfo",
            "arli.images.listings.ImageModel",
            "arli.images.listings.ParallelRequests",
            "arli.images.listings.Sampler",
            "arli.images.listings.Upscaler",
        ],
        "a parsed server answer that keeps the server's extra fields",
    ),
    # Image request models send any other SDNext field unchanged, by design (documented in
    # GenerationRequest: override_settings, hr_*, alwayson_scripts...): unknown is not wrong.
    **dict.fromkeys(
        [
            "arli.images.request_models.GenerationRequest",
            "arli.images.request_models.Txt2ImgRequest",
            "arli.images.request_models.Img2ImgRequest",
            "arli.images.request_models.UpscaleRequest",
        ],
        "a request model whose other fields are SDNext fields, sent as given",
    ),
    # The text call layer's results: built by TextCalls for each call.
    **dict.fromkeys(
        [
            "arli.text.calls.CallResult",
            "arli.text.calls.ChatCallStream",
            "arli.text.calls.CompletionCallStream",
        ],
        "a call's result or planned stream, built by TextCalls",
    ),
    # Tool argument schemas (the core contract): both skins validate the model's tool call
    # with them and turn their pydantic ValidationError into an answer to the agent.
    **dict.fromkeys(
        [
            "arli.images.contract.ArliImageEditInput",
            "arli.images.contract.ArliImageGenerationInput",
            "arli.images.contract.ArliImageToVideoInput",
            "arli.images.contract.ArliImageUpscaleInput",
            "arli.ocr.tooling.ArliOCRInput",
        ],
        "a tool's argument schema, validated by either skin from a tool call",
    ),
}

TEXT = {"model": "m", "api_key": "k"}


@dataclass
class Case:
    """How to build a class minimally, and what its refusal of ``typo`` must say."""

    kwargs: Callable[[Path], dict[str, Any]]
    typo: str
    meant: str
    extras: str | None
    args: tuple[Any, ...] = field(default=())


def _fixed(**kwargs: Any) -> Callable[[Path], dict[str, Any]]:
    return lambda _tmp: dict(kwargs)


def _text_client() -> Any:
    from arli import TextClient

    return TextClient(api_key="k")


def _job_dir(tmp: Path) -> Path:
    """The smallest bulk OCR job output a job reader accepts (a ``job.json``)."""
    (tmp / "job.json").write_text("{}")
    return tmp


CASES: dict[str, Case] = {
    # text models: server fields go in extra_body (additional_kwargs, in LlamaIndex, takes
    # known parameters only and refuses the others itself)
    "langchain_arli.chat_models.ChatArli": Case(_fixed(**TEXT), "min_P", "min_p", "extra_body"),
    "langchain_arli.chat_models.ChatFeatherless": Case(
        _fixed(**TEXT), "min_P", "min_p", "extra_body"
    ),
    "langchain_arli.llms.ArliLLM": Case(_fixed(**TEXT), "min_P", "min_p", "extra_body"),
    "langchain_arli.llms.FeatherlessLLM": Case(_fixed(**TEXT), "min_P", "min_p", "extra_body"),
    "llama_index_arli.llms.Arli": Case(_fixed(**TEXT), "min_P", "min_p", "extra_body"),
    "llama_index_arli.llms.Featherless": Case(_fixed(**TEXT), "min_P", "min_p", "extra_body"),
    # image tools: other request fields go in params (generation_params for a toolkit/spec)
    "langchain_arli.tools.images.ArliImageGenerationTool": Case(
        lambda tmp: {"api_key": "k", "output_dir": tmp}, "output_dri", "output_dir", "params"
    ),
    "langchain_arli.tools.images.ArliImageEditTool": Case(
        lambda tmp: {"api_key": "k", "output_dir": tmp}, "alow_urls", "allow_urls", "params"
    ),
    "langchain_arli.tools.images.ArliImageUpscaleTool": Case(
        lambda tmp: {"api_key": "k", "output_dir": tmp}, "Model", "model", "params"
    ),
    "langchain_arli.tools.images.ArliImageToVideoTool": Case(
        lambda tmp: {"backend": "aiart", "output_dir": tmp}, "poll_timout", "poll_timeout", "params"
    ),
    "langchain_arli.tools.images.ArliListImageModelsTool": Case(
        lambda tmp: {"api_key": "k", "output_dir": tmp}, "base_ulr", "base_url", None
    ),
    "langchain_arli.tools.images.ArliListSamplersTool": Case(
        lambda tmp: {"api_key": "k", "output_dir": tmp}, "base_ulr", "base_url", None
    ),
    "langchain_arli.tools.images.ArliListUpscalersTool": Case(
        lambda tmp: {"api_key": "k", "output_dir": tmp}, "base_ulr", "base_url", None
    ),
    "langchain_arli.tools.images.ArliImageToolkit": Case(
        lambda tmp: {"api_key": "k", "output_dir": tmp},
        "generation_param",
        "generation_params",
        "generation_params",
    ),
    "llama_index_arli.tools.images.ArliImageToolSpec": Case(
        lambda tmp: {"api_key": "k", "output_dir": tmp},
        "image_timout",  # an ArliSettings field, passed on to the client
        "image_timeout",
        "generation_params",
    ),
    # OCR: the engine's extra_body (a tool takes engine options in engine_options)
    "langchain_arli.tools.ocr.ArliOCRTool": Case(
        _fixed(api_key="k"), "max_page", "max_pages", "engine_options.extra_body"
    ),
    "langchain_arli.document_loaders.ocr.ArliOCRLoader": Case(
        _fixed(api_key="k"), "dpii", "dpi", "extra_body", args=("scan.pdf",)
    ),
    "langchain_arli.document_loaders.ocr.ArliOCRParser": Case(
        _fixed(api_key="k"), "skip_emtpy", "skip_empty", "extra_body"
    ),
    "llama_index_arli.readers.ocr.ArliOCRReader": Case(
        _fixed(api_key="k"), "max_retrys", "max_retries", "extra_body"
    ),
    "langchain_arli.document_loaders.ocr_job.ArliOCRJobLoader": Case(
        lambda tmp: {"path": _job_dir(tmp)}, "include_faild", "include_failed", None
    ),
    "llama_index_arli.readers.ocr_job.ArliOCRJobReader": Case(_fixed(), "mdoe", "mode", None),
    "llama_index_arli.tools.ocr.ArliOCRToolSpec": Case(
        _fixed(api_key="k"), "max_chras", "max_chars", "extra_body"
    ),
    "arli.ocr.engine.OCREngine": Case(
        _fixed(api_key="k"), "temprature", "temperature", "extra_body"
    ),
    # clients, settings and the pieces users configure them with
    "arli.text.client.TextClient": Case(_fixed(api_key="k"), "max_retrys", "max_retries", None),
    "arli.images.client.ImageClient": Case(
        _fixed(api_key="k"), "listing_cache_tll", "listing_cache_ttl", None
    ),
    "arli.images.aiart.AiArtClient": Case(_fixed(), "image_timout", "image_timeout", None),
    "arli._settings.ArliSettings": Case(_fixed(), "max_retrys", "max_retries", None),
    "arli._transport.Transport": Case(
        _fixed(base_url="http://t"), "connect_timout", "connect_timeout", None
    ),
    "arli._transport.RetryPolicy": Case(_fixed(), "max_retry", "max_retries", None),
    "arli._limits.Limiter": Case(_fixed(limit=1), "limt", "limit", None),
    "arli.ocr.cache.DirectoryCache": Case(
        lambda tmp: {"directory": tmp}, "Directory", "directory", None
    ),
    "arli.ocr.pages.RenderOptions": Case(_fixed(), "dpii", "dpi", None),
    "arli.ocr.sources.OCRSource": Case(_fixed(name="x", data=b""), "pth", "path", None),
    "arli.images.client.ImageRoutes": Case(_fixed(), "txt2im", "txt2img", None),
    # no arguments at all: a keyword is refused with the arli error, without a suggestion
    "arli.text.client.TextRoutes": Case(_fixed(), "chat", "", None),
    "arli.text.accumulate.ChatStreamAccumulator": Case(_fixed(), "strict", "", None),
    "arli.text.accumulate.CompletionStreamAccumulator": Case(_fixed(), "strict", "", None),
    "arli.text.calls.CallOptions": Case(_fixed(model="m"), "stream_usge", "stream_usage", None),
    "arli.text.calls.TextCalls": Case(
        lambda _tmp: {"client": _text_client()}, "clients", "client", None
    ),
}

PUBLIC = _public_classes()


@pytest.fixture
def no_requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every request through httpx (sync or async, whatever client) is recorded and fails."""
    sent: list[str] = []

    def refuse(self: Any, request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url}")
        msg = f"a request was sent: {request.method} {request.url}"
        raise AssertionError(msg)

    async def arefuse(self: Any, request: httpx.Request) -> httpx.Response:
        return refuse(self, request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", refuse)
    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", arefuse)
    yield sent
    assert sent == []


def test_the_no_requests_guard_sees_our_requests(no_requests: list[str]) -> None:
    from arli import TextClient

    with pytest.raises(AssertionError, match="a request was sent"):
        TextClient(api_key="k", base_url="http://t", max_retries=0).list_models()
    assert no_requests == ["GET http://t/v1/models"]
    no_requests.clear()


def test_every_public_class_is_tested_or_excluded() -> None:
    assert "langchain_arli.chat_models.ChatArli" in PUBLIC  # the walk does find classes
    assert "arli.ocr.engine.OCREngine" in PUBLIC  # ...in subpackages too
    untested = sorted(
        name
        for name, cls in PUBLIC.items()
        if name not in CASES and name not in NOT_CONSTRUCTED and not _not_constructed_by_rule(cls)
    )
    assert untested == [], "add a case to CASES (or a reason to NOT_CONSTRUCTED)"
    stale = sorted(set(CASES) | set(NOT_CONSTRUCTED)) - PUBLIC.keys()
    assert stale == set(), "entries for classes that are not public (any more)"
    both = sorted(set(CASES) & set(NOT_CONSTRUCTED))
    assert both == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_minimal_arguments_construct(name: str, tmp_path: Path, no_requests: list[str]) -> None:
    case = CASES[name]
    PUBLIC[name](*case.args, **case.kwargs(tmp_path))


@pytest.mark.parametrize("name", sorted(CASES))
def test_unknown_argument_is_refused(name: str, tmp_path: Path, no_requests: list[str]) -> None:
    cls, case = PUBLIC[name], CASES[name]
    with pytest.raises(ArliValidationError) as info:
        cls(*case.args, **case.kwargs(tmp_path), **{case.typo: 1})
    message = str(info.value)
    assert info.value.field == case.typo
    assert message.startswith(f"{cls.__name__}: unknown parameter {case.typo!r}.")
    if case.meant:
        assert f"Did you mean {case.meant!r}?" in message
        assert info.value.allowed == case.meant
    else:
        assert "Did you mean" not in message
    if case.extras is None:
        assert "Other server fields" not in message
    else:
        root, *inner = case.extras.split(".")
        example: str = f"{{{case.typo!r}: ...}}"
        for key in reversed(inner):
            example = f"{{{key!r}: {example}}}"
        assert message.endswith(f" Other server fields can be sent with {root}={example}")


@pytest.mark.parametrize("name", sorted(name for name, c in CASES.items() if c.extras))
def test_the_named_extras_argument_is_accepted(
    name: str, tmp_path: Path, no_requests: list[str]
) -> None:
    """The hint names an argument the class really takes (and takes as a mapping)."""
    case = CASES[name]
    assert case.extras is not None
    root, *inner = case.extras.split(".")
    value: dict[str, Any] = {}
    for key in reversed(inner):
        value = {key: value}
    PUBLIC[name](*case.args, **case.kwargs(tmp_path), **{root: value})


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_suggested_name_is_accepted(name: str, tmp_path: Path, no_requests: list[str]) -> None:
    """``Did you mean 'x'`` only ever suggests a name the class takes."""
    cls, case = PUBLIC[name], CASES[name]
    if not case.meant:
        pytest.skip("no argument to suggest")
    with pytest.raises(ArliValidationError) as info:
        cls(*case.args, **case.kwargs(tmp_path), **{case.typo: 1})
    assert info.value.allowed == case.meant
    kwargs = case.kwargs(tmp_path)
    if case.meant not in kwargs:  # giving it a wrong value may fail, but never as unknown
        try:
            cls(*case.args, **kwargs, **{case.meant: None})
        except ArliValidationError as exc:
            assert "unknown parameter" not in str(exc)
        except (ValueError, TypeError):
            pass


NESTED: list[tuple[str, dict[str, Any], str]] = [
    # (class, arguments with a typo inside an options mapping, the suggestion)
    (
        "langchain_arli.tools.images.ArliImageGenerationTool",
        {"client_options": {"max_retrys": 1}},
        "max_retries",
    ),
    (
        "langchain_arli.tools.images.ArliImageToolkit",
        {"client_options": {"max_retrys": 1}},
        "max_retries",
    ),
    ("langchain_arli.tools.ocr.ArliOCRTool", {"engine_options": {"dpii": 1}}, "dpi"),
    ("llama_index_arli.llms.Arli", {"model": "m", "additional_kwargs": {"min_P": 1}}, "min_p"),
]


@pytest.mark.parametrize(("name", "kwargs", "meant"), NESTED)
def test_unknown_name_inside_an_options_mapping_is_the_arli_error(
    name: str, kwargs: dict[str, Any], meant: str, no_requests: list[str]
) -> None:
    """Raised by a validator, it reaches the user as ours, not wrapped by pydantic."""
    with pytest.raises(ArliValidationError) as info:
        PUBLIC[name](api_key="k", **kwargs)
    assert f"Did you mean {meant!r}?" in str(info.value)
    assert type(info.value) is ArliValidationError


def test_several_validator_errors_are_one_arli_error_naming_each() -> None:
    from langchain_arli import ChatArli

    with pytest.raises(ArliValidationError) as info:
        ChatArli(model="m", api_key="k", temperature=-1, top_p=7)
    # both are reported, none is lost
    assert "temperature=-1.0 is out of range" in str(info.value)
    assert "top_p=7.0 is out of range" in str(info.value)


def test_decorated_classes_keep_their_signature() -> None:
    from arli import OCREngine, RetryPolicy, TextClient

    assert "temperature" in inspect.signature(OCREngine).parameters
    assert next(iter(inspect.signature(RetryPolicy).parameters)) == "max_retries"
    assert "api_key" in inspect.signature(TextClient).parameters
    policy = RetryPolicy(max_retries=5)
    assert dataclasses.replace(policy, jitter=0.0) == RetryPolicy(max_retries=5, jitter=0.0)
    assert pickle.loads(pickle.dumps(policy)) == policy


def test_positional_misuse_still_raises_type_error() -> None:
    from arli import Limiter

    with pytest.raises(TypeError):
        Limiter(1, 2)  # type: ignore[call-arg]


# -- the positive side: known names, aliases, framework arguments, per-call values ---------


class Recorder:
    """An httpx handler answering chat and completions, keeping the request bodies."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        if request.url.path.endswith("/chat/completions"):
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": "ok"},
                "finish_reason": "stop",
            }
        else:
            choice = {"index": 0, "text": "ok", "finish_reason": "stop"}
        return httpx.Response(
            200, json={"id": "x", "object": "x", "model": "m", "created": 0, "choices": [choice]}
        )

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


def test_langchain_known_names_aliases_and_framework_arguments() -> None:
    from langchain_core.caches import InMemoryCache
    from langchain_core.callbacks import StdOutCallbackHandler
    from langchain_core.rate_limiters import InMemoryRateLimiter

    from langchain_arli import ArliLLM, ChatArli

    limiter = InMemoryRateLimiter()
    chat = ChatArli(
        model_name="m",  # alias of model
        api_key="k",
        request_timeout=7,  # alias of timeout
        mirostat=2,  # alias of mirostat_mode
        min_p=0.05,
        extra_body={"custom_field": 1},
        callbacks=[StdOutCallbackHandler()],
        tags=["t"],
        metadata={"k": "v"},
        cache=False,
        verbose=False,
        rate_limiter=limiter,
        disable_streaming="tool_calling",
        output_version="v0",
        name="named",
    )
    assert (chat.model, chat.timeout, chat.mirostat_mode, chat.min_p) == ("m", 7, 2, 0.05)
    assert (chat.tags, chat.metadata, chat.rate_limiter, chat.name) == (
        ["t"],
        {"k": "v"},
        limiter,
        "named",
    )
    assert chat.disable_streaming == "tool_calling"
    by_name = ChatArli(model="m", api_key="k", timeout=7, mirostat_mode=2)
    assert (by_name.model, by_name.timeout, by_name.mirostat_mode) == ("m", 7, 2)
    llm = ArliLLM(model="m", api_key="k", cache=InMemoryCache(), custom_get_token_ids=None)
    assert llm.model == "m"


def test_langchain_per_call_values_are_sent_and_typos_refused() -> None:
    from langchain_arli import ArliLLM, ChatArli

    recorder = Recorder()
    chat = ChatArli(model="m", api_key="k", base_url="http://t", http_client=recorder.client())
    chat.invoke("x", min_p=0.1, mirostat=2)
    chat.bind(top_k=5).invoke("x")
    llm = ArliLLM(model="m", api_key="k", base_url="http://t", http_client=recorder.client())
    llm.invoke("x", min_p=0.2)
    first, bound, completion = recorder.bodies
    assert (first["min_p"], first["mirostat_mode"]) == (0.1, 2)
    assert bound["top_k"] == 5
    assert completion["min_p"] == 0.2
    with pytest.raises(ArliValidationError, match="Did you mean 'min_p'"):
        chat.invoke("x", min_P=0.1)
    assert len(recorder.bodies) == 3


def test_langchain_rebuilding_objects_still_works() -> None:
    from langchain_core.load import dumpd, load
    from langchain_core.runnables import ConfigurableField

    from langchain_arli import ArliLLM, ChatArli

    for cls in (ChatArli, ArliLLM):
        model = cls(model="m", api_key="k", min_p=0.05, request_timeout=3, tags=["t"])
        restored = load(
            dumpd(model),
            secrets_map={"ARLIAI_API_KEY": "k"},
            valid_namespaces=["langchain_arli"],
            allowed_objects=[cls],
        )
        assert type(restored) is cls
        assert (restored.model, restored.min_p, restored.timeout) == ("m", 0.05, 3)
        copied = model.model_copy(update={"min_p": 0.2})
        assert (copied.min_p, copied.sampling_params["min_p"]) == (0.2, 0.2)

    recorder = Recorder()
    chat = ChatArli(model="m", api_key="k", base_url="http://t", http_client=recorder.client())
    configurable = chat.configurable_fields(
        temperature=ConfigurableField(id="temperature"), min_p=ConfigurableField(id="min_p")
    )
    configurable.invoke("x", config={"configurable": {"temperature": 0.3, "min_p": 0.1}})
    (body,) = recorder.bodies
    assert (body["temperature"], body["min_p"]) == (0.3, 0.1)


def test_llama_index_known_names_per_call_and_serialization() -> None:
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.core.callbacks import CallbackManager
    from llama_index.core.types import PydanticProgramMode

    from llama_index_arli import Arli, Featherless

    recorder = Recorder()
    llm = Arli(
        model="m",
        api_key="k",
        base_url="http://t",
        http_client=recorder.client(),
        mirostat=2,  # alias of mirostat_mode
        min_p=0.05,
        additional_kwargs={"top_k": 4},
        extra_body={"custom_field": 1},
        callback_manager=CallbackManager([]),
        system_prompt="be brief",
        pydantic_program_mode=PydanticProgramMode.DEFAULT,
        discover_context_window=False,
    )
    llm.chat([ChatMessage(role="user", content="x")], min_p=0.1)
    (body,) = recorder.bodies
    assert (body["min_p"], body["mirostat_mode"], body["top_k"]) == (0.1, 2, 4)
    assert body["custom_field"] == 1

    data = llm.to_dict()
    rebuilt = Arli.from_dict(data, api_key="k")
    assert (rebuilt.min_p, rebuilt.mirostat_mode, rebuilt.additional_kwargs) == (
        0.05,
        2,
        {"top_k": 4},
    )
    assert Arli.from_json(llm.to_json(), api_key="k").min_p == 0.05
    plain = Arli(model="m", api_key="k", min_p=0.05, mirostat=2)  # no httpx client to pickle
    assert pickle.loads(pickle.dumps(plain)).mirostat_mode == 2
    assert llm.model_copy(update={"min_p": 0.2}).min_p == 0.2
    featherless = Featherless(model="m", api_key="k", min_p=0.05)
    assert Featherless.from_dict(featherless.to_dict(), api_key="k").min_p == 0.05


def test_plain_classes_pass_known_options_on() -> None:
    from arli import OCREngine, TextClient
    from langchain_arli import ArliOCRLoader

    client = TextClient(api_key="k", max_retries=5, text_timeout=9)
    assert (client.settings.max_retries, client.settings.text_timeout) == (5, 9)
    loader = ArliOCRLoader("scan.pdf", api_key="k", dpi=200, connect_timeout=3)
    assert loader.engine.render_options.dpi == 200
    assert loader.engine.settings.connect_timeout == 3
    engine = OCREngine(api_key="k", extra_body={"custom_field": 1}, temperature=0.1)
    assert engine.model


@pytest.mark.parametrize(
    "name",
    sorted(name for name, c in CASES.items() if c.extras and c.extras.endswith("extra_body")),
)
def test_a_refused_documented_field_says_why_at_construction(
    name: str, tmp_path: Path, no_requests: list[str]
) -> None:
    """Seed 003 lists logits_processors; no JSON value can carry it, so extra_body is no hint."""
    cls, case = PUBLIC[name], CASES[name]
    with pytest.raises(ArliValidationError) as info:
        cls(*case.args, **case.kwargs(tmp_path), logits_processors=[])
    message = str(info.value)
    assert message.startswith(f"{cls.__name__}: parameter 'logits_processors' is refused: ")
    assert "cannot be sent as JSON" in message
    assert "extra_body" not in message
    assert info.value.field == "logits_processors"

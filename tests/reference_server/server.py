"""HTTP/1.1 layer (asyncio + h11) and lifecycle of the reference server.

h11 is driven directly so that faults can be injected at the byte level:
resetting the TCP connection (RST), stopping mid chunked body, ending a
chunked body early, and so on. Each SSE event is written as one HTTP chunk,
like uvicorn does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import logging
import re
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any

import h11

from tests.reference_server.aiart import AiArtAPI
from tests.reference_server.faults import (
    STREAM_FAULT_KINDS,
    Fault,
    FaultQueue,
    html_502_page,
    large_json_body,
    malformed_json_body,
)
from tests.reference_server.images import ImageAPI, sdnext_error
from tests.reference_server.script import ScriptEntry
from tests.reference_server.text import TextAPI, error_body
from tests.reference_server.wire import (
    Counters,
    Request,
    Response,
    Settings,
    http_date,
    json_response,
    sse_event,
    text_response,
)

__all__ = ["RecordedRequest", "ReferenceServer"]

logger = logging.getLogger(__name__)

_DONE_EVENT = sse_event("[DONE]")
_READ_SIZE = 65536
_FRAMING_HEADERS = (
    (b"\r\nTransfer-Encoding: chunked\r\n", b"\r\ntransfer-encoding: chunked\r\n"),
    (b"\r\nConnection: close\r\n", b"\r\nconnection: close\r\n"),
)


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the server received it (recorded before faults apply).

    Attributes:
        method: Upper-case HTTP method.
        path: Path without the query string.
        query: Query parameters.
        headers: Header names lower-cased.
        body: Raw body bytes.
        json: The body parsed as JSON, or ``None``.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any | None

    def to_json(self) -> dict[str, Any]:
        """Return the control-endpoint representation (body as text when UTF-8)."""
        out: dict[str, Any] = {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
        }
        try:
            out["body"] = self.body.decode()
        except UnicodeDecodeError:
            out["body"] = None
            out["body_base64"] = base64.b64encode(self.body).decode()
        out["json"] = self.json
        return out


class _AbortError(Exception):
    """The connection was reset on purpose (fault) or lost; stop serving it."""


class ReferenceServer:
    """A local Arli-compatible HTTP server (vLLM/Aphrodite text API + SDNext image API).

    Use it as a context manager (runs in a daemon thread), as an async context
    manager (runs in the current event loop) or via :meth:`serve_forever` (CLI).

    Args:
        api_key: Required key; ``None`` disables auth checks.
        flavor: ``"vllm-0.11"``, ``"vllm-0.33"`` or ``"aphrodite-0.6"``.
        models: Served text model ids; the first is the default.
        max_model_len: Context window of the text models.
        image_parallel_limit: Concurrent image jobs allowed before 429.
        image_latency: Seconds spent per generated image.
        text_latency: Seconds from a text request's arrival to its response (the
            server's own parsing counts towards it, as in a real server with a fixed
            per-request latency: a cap of N in flight then allows N / latency per second).
        token_latency: Seconds between streamed tokens.
        script: Script entries consulted before the default script.
        port: TCP port; 0 picks a free one.
        host: Bind address (keep it on loopback).
        allow_image_urls: Accept non-``data:`` image URLs in chat messages.
        tokenize_v1: Serve ``/v1/tokenize`` too (``None`` = flavor default).
        sd_models_as_names: ``/sdapi/v1/sd-models`` returns name strings.
        samples_format: Initial SDNext ``samples_format`` (``jpg``, ``png`` or ``webp``).
        provider: The system imitated: ``"arli"``, ``"featherless"``, ``"arli-proxy"`` or
            ``"aiart"`` (see :class:`~tests.reference_server.wire.Settings`).
        aiart_video_polls: AiArt mode: polls answered 202 before a video is complete.
        text_parallel_limit: Text requests in flight before 429 (``None``: no limit).
        proxy_parallel_limit: Proxy mode: requests of any kind in flight before 429.

    Example:
        >>> with ReferenceServer(api_key="k") as srv:  # doctest: +SKIP
        ...     httpx.get(f"{srv.url}/v1/models", headers={"Authorization": "Bearer k"})
    """

    def __init__(
        self,
        api_key: str | None = None,
        flavor: str = "vllm-0.11",
        models: Iterable[str] = ("Mistral-Nemo-12B-Instruct-2407", "tiny"),
        max_model_len: int = 8192,
        image_parallel_limit: int = 6,
        image_latency: float = 0.0,
        text_latency: float = 0.0,
        token_latency: float = 0.0,
        script: list[ScriptEntry] | None = None,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        allow_image_urls: bool = False,
        tokenize_v1: bool | None = None,
        sd_models_as_names: bool = False,
        samples_format: str = "jpg",
        provider: str = "arli",
        aiart_video_polls: int = 2,
        text_parallel_limit: int | None = None,
        proxy_parallel_limit: int = 6,
    ) -> None:
        self.settings = Settings(
            api_key=api_key,
            flavor=flavor,
            models=tuple(models),
            max_model_len=max_model_len,
            image_parallel_limit=image_parallel_limit,
            image_latency=image_latency,
            text_latency=text_latency,
            token_latency=token_latency,
            script=list(script or []),
            allow_image_urls=allow_image_urls,
            tokenize_v1=tokenize_v1,
            sd_models_as_names=sd_models_as_names,
            samples_format=samples_format,
            provider=provider,
            aiart_video_polls=aiart_video_polls,
            text_parallel_limit=text_parallel_limit,
            proxy_parallel_limit=proxy_parallel_limit,
        )
        self.host = host
        self.port = port
        self.counters = Counters()
        self.faults = FaultQueue()
        self.text = TextAPI(self.settings)
        self.images = ImageAPI(self.settings, self.counters)
        self.aiart = AiArtAPI(self.settings)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._server: asyncio.AbstractServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._conn_tasks: set[asyncio.Task[None]] = set()
        self._stopped: asyncio.Event | None = None

    # ---- public API -----------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self.port}"

    def add_fault(self, fault: Fault) -> None:
        """Queue a fault for the next matching request(s)."""
        self.faults.add(fault)

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        self.faults.clear()

    def reset(self) -> None:
        """Clear faults, recorded requests and counters."""
        self.faults.clear()
        with self._lock:
            self._requests.clear()
        self.counters.reset()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Recorded requests in arrival order (a snapshot)."""
        with self._lock:
            return list(self._requests)

    def requests_for(self, path: str) -> list[RecordedRequest]:
        """Recorded requests whose path equals ``path``."""
        return [r for r in self.requests if r.path == path]

    @property
    def stats(self) -> dict[str, Any]:
        """Counters: ``max_in_flight_images``, ``max_in_flight_text``, ``rate_limited`` …"""
        stats = self.counters.snapshot()
        stats["pending_faults"] = len(self.faults.pending())
        with self._lock:
            stats["requests_recorded"] = len(self._requests)
        return stats

    # ---- lifecycle ------------------------------------------------------------------

    async def astart(self) -> None:
        """Start serving in the running event loop."""
        if self._server is not None:
            raise RuntimeError("server already started")
        self._stopped = asyncio.Event()
        self._server = await asyncio.start_server(
            self._on_connection, host=self.host, port=self.port, reuse_address=True
        )
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])

    async def astop(self) -> None:
        """Stop serving: close the listener and cancel open connections."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = list(self._conn_tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), timeout=2)
        if self._stopped is not None:
            self._stopped.set()

    async def serve_forever(self) -> None:
        """Start (if needed) and serve until :meth:`astop` is called."""
        if self._server is None:
            await self.astart()
        assert self._stopped is not None
        await self._stopped.wait()

    def start(self) -> ReferenceServer:
        """Start serving in a daemon background thread; returns once listening."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.astart())
            except BaseException as exc:  # reported to the caller
                errors.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
                loop.close()

        self._thread = threading.Thread(target=run, name="reference-server", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=10):
            raise RuntimeError("reference server did not start")
        if errors:
            self._thread.join(timeout=1)
            self._thread = None
            raise errors[0]
        return self

    def stop(self) -> None:
        """Stop the background thread started by :meth:`start`."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self.astop(), loop)
        with contextlib.suppress(Exception):
            future.result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> ReferenceServer:
        await self.astart()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()

    # ---- connection handling --------------------------------------------------------

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conn_tasks.add(task)
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                req = await self._read_request(conn, reader, writer)
                if req is None:
                    break
                await self._serve_request(conn, reader, writer, req)
                if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                    conn.start_next_cycle()
                else:
                    break
        except (
            _AbortError,
            ConnectionError,
            OSError,
            h11.ProtocolError,
            asyncio.IncompleteReadError,
        ):
            pass
        except asyncio.CancelledError:
            pass
        except Exception:  # a bug must not leave the server broken
            logger.exception("reference server connection handler failed")
        finally:
            if task is not None:
                self._conn_tasks.discard(task)
            if not writer.is_closing():
                writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), timeout=1)

    async def _read_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Request | None:
        head: h11.Request | None = None
        body = bytearray()
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    await self._send(
                        conn, writer, text_response(400, "Invalid HTTP request received.")
                    )
                return None
            if event is h11.NEED_DATA:
                if head is not None and conn.they_are_waiting_for_100_continue:
                    await self._write(
                        writer, conn.send(h11.InformationalResponse(status_code=100, headers=[]))
                    )
                data = await reader.read(_READ_SIZE)
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                return self._build_request(head, bytes(body))
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return None

    @staticmethod
    def _build_request(head: h11.Request, body: bytes) -> Request:
        received = time.monotonic()
        target = head.target.decode("latin-1")
        split = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        headers: dict[str, str] = {}
        for name, value in head.headers:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        parsed: Any = None
        error: str | None = None
        if body:
            try:
                parsed = json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                error = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        return Request(
            method=head.method.decode().upper(),
            path=urllib.parse.unquote(split.path) or "/",
            query=query,
            headers=headers,
            body=body,
            json=parsed,
            json_error=error,
            received=received,
        )

    async def _serve_request(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        req: Request,
    ) -> None:
        if req.method == "HEAD":  # no route answers HEAD; keep h11's framing rules happy
            await self._send(conn, writer, Response(status=405, headers=[], body=b""))
            return
        if req.path.startswith("/_control/"):
            await self._send(conn, writer, self._control(req))
            return
        self.counters.incr("requests_total")
        with self._lock:
            self._requests.append(
                RecordedRequest(req.method, req.path, req.query, req.headers, req.body, req.json)
            )
        fault = self.faults.take(req.method, req.path, req.json)
        if fault is not None:
            self.counters.incr("faults_applied")
            done = await self._pre_fault(conn, reader, writer, req, fault)
            if done:
                return
        held: list[str] = []
        try:
            for kind, limit in self._parallel_slots(req):
                if not self.counters.try_acquire_slot(kind, limit):
                    await self._send(conn, writer, _too_many_parallel(limit))
                    return
                held.append(kind)
            await self._respond(conn, writer, req, fault)
        finally:  # a slot is held until the whole response (a stream too) is written
            for kind in held:
                self.counters.release_slot(kind)

    async def _respond(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        req: Request,
        fault: Fault | None,
    ) -> None:
        try:
            response = await self._dispatch(req)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not kill the server
            logger.exception("reference server handler failed")
            response = json_response(
                500, error_body(self.settings.flavor, 500, f"Internal Server Error: {exc!r}")
            )
        if fault is not None and fault.headers:
            response.headers.extend((k.lower(), v) for k, v in fault.headers.items())
        if fault is not None and fault.kind in STREAM_FAULT_KINDS:
            await self._send_with_stream_fault(conn, writer, req, response, fault)
        else:
            await self._send(conn, writer, response)

    def _parallel_slots(self, req: Request) -> list[tuple[str, int | None]]:
        """The in-flight counters a request takes: text routes, and anything on the proxy."""
        slots: list[tuple[str, int | None]] = []
        path = req.path
        if self.settings.provider == "arli-proxy":
            if path.startswith("/api/"):
                slots.append(("proxy", self.settings.proxy_parallel_limit))
            path = path[len("/api") :] if path.startswith("/api/v1/") else ""
        if self.settings.provider != "aiart" and path in self._counted_text_routes():
            slots.append(("text", self.settings.text_parallel_limit))
        return slots

    def _counted_text_routes(self) -> set[str]:
        return set(self.text.routes()) - {"/health", "/version"}

    # ---- routing --------------------------------------------------------------------

    def _is_text_path(self, path: str) -> bool:
        return path in self.text.routes() or path.startswith("/v1/") or path == "/v1"

    def _auth_failure(self, req: Request) -> Response | None:
        key = self.settings.api_key
        if key is None or req.path in ("/health", "/version"):
            return None
        header = req.headers.get("authorization", "")
        if self.images.is_image_path(req.path):
            if self._image_auth_ok(header, key):
                return None
            return json_response(
                401, sdnext_error(401, "Not authenticated"), headers=[("www-authenticate", "Basic")]
            )
        if self._is_text_path(req.path) or req.path in ("/tokenize", "/detokenize"):
            if header == f"Bearer {key}":
                return None
            if self.settings.flavor.startswith("aphrodite") and req.headers.get("x-api-key") == key:
                return None
            return json_response(401, {"error": "Unauthorized"})
        return None

    @staticmethod
    def _image_auth_ok(header: str, key: str) -> bool:
        scheme, _, credentials = header.partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer":
            return credentials == key
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode()
            except (ValueError, UnicodeDecodeError):
                return False
            return decoded == key or decoded.partition(":")[2] == key
        return False

    async def _dispatch(self, req: Request) -> Response:
        if self.settings.provider == "aiart":  # keyless, its own routes only
            return await self.aiart.handle(req)
        if self.settings.provider == "arli-proxy":
            return await self._proxy_dispatch(req)
        if self.settings.provider == "featherless" and self.images.is_image_path(req.path):
            return json_response(404, {"detail": "Not Found"})
        failure = self._auth_failure(req)
        if failure is not None:
            return failure
        response = await self.text.handle(req)
        if response is None:
            response = await self.images.handle(req)
        if response is None:
            response = json_response(404, {"detail": "Not Found"})
        return response

    _PROXY_IMAGE = re.compile(r"^/api/([\w-]+)/sdapi/v1/\1$")

    async def _proxy_dispatch(self, req: Request) -> Response:
        """The keyless proxy: no auth, ``/api`` prefix, upstream errors become 502."""
        inner: str | None = None
        m = self._PROXY_IMAGE.match(req.path)
        if m:
            inner = f"/sdapi/v1/{m.group(1)}"
        elif req.path.startswith("/api/v1/"):
            inner = req.path[len("/api") :]
        if inner is None:
            return json_response(404, {"error": "Not found"})
        upstream = dataclasses.replace(req, path=inner)
        response = await self.text.handle(upstream)
        if response is None:
            response = await self.images.handle(upstream)
        if response is None:
            return json_response(404, {"error": "Not found"})
        if response.status >= 400 and response.status != 429:
            try:
                detail: Any = json.loads(response.body)
            except ValueError:
                detail = response.body.decode("utf-8", "replace")
            return json_response(
                502, {"error": "Upstream error", "status": response.status, "detail": detail}
            )
        return response

    def _control(self, req: Request) -> Response:
        path, method = req.path, req.method
        if path == "/_control/faults" and method == "POST":
            try:
                self.add_fault(Fault.from_json(req.json if isinstance(req.json, dict) else {}))
            except (ValueError, TypeError) as exc:
                return json_response(400, {"ok": False, "error": str(exc)})
            return json_response(200, {"ok": True})
        if path == "/_control/faults" and method == "GET":
            return json_response(200, [f.to_json() for f in self.faults.pending()])
        if path == "/_control/faults" and method == "DELETE":
            self.clear_faults()
            return json_response(200, {"ok": True})
        if path == "/_control/reset" and method == "POST":
            self.reset()
            return json_response(200, {"ok": True})
        if path == "/_control/requests" and method == "GET":
            return json_response(200, [r.to_json() for r in self.requests])
        if path == "/_control/stats" and method == "GET":
            return json_response(200, self.stats)
        return json_response(404, {"detail": "Not Found"})

    # ---- faults ---------------------------------------------------------------------

    def _fault_error_body(self, req: Request, status: int) -> dict[str, Any]:
        phrase = _phrase(status) or "Error"
        if self.settings.provider == "aiart":
            return {"error": phrase}
        if self.images.is_image_path(req.path):
            return sdnext_error(status, phrase)
        if status == 401:
            return {"error": "Unauthorized"}
        return error_body(self.settings.flavor, status, phrase)

    async def _pre_fault(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        req: Request,
        fault: Fault,
    ) -> bool:
        """Apply faults that replace the response; return True when the request is done."""
        extra = [(k.lower(), v) for k, v in (fault.headers or {}).items()]
        kind = fault.kind
        if kind == "delay":
            await asyncio.sleep(fault.delay)
            return False
        if kind == "drop_before_response":
            await self._reset_connection(writer)
        if kind == "hang":
            while await reader.read(_READ_SIZE):
                pass
            raise _AbortError
        if kind == "status":
            if isinstance(fault.body, dict):
                response = json_response(fault.status, fault.body)
            elif isinstance(fault.body, str):
                try:
                    json.loads(fault.body)
                    ctype = "application/json"
                except ValueError:
                    ctype = "text/plain; charset=utf-8"
                response = text_response(fault.status, fault.body, ctype)
            else:
                response = json_response(fault.status, self._fault_error_body(req, fault.status))
        elif kind == "html_502":
            response = text_response(502, html_502_page(), "text/html")
            response.server = "nginx"
        elif kind == "malformed_json":
            response = Response(
                status=200,
                headers=[("content-type", "application/json")],
                body=malformed_json_body(req.path),
            )
        elif kind == "large_body":
            response = Response(
                status=200,
                headers=[("content-type", "application/json")],
                body=large_json_body(req.path, fault.size, self.settings.models[0]),
            )
        else:
            return False
        response.headers.extend(extra)
        await self._send(conn, writer, response)
        return True

    def _stream_error_event(self) -> bytes:
        message = "Simulated engine failure during generation"
        if self.settings.flavor.startswith("aphrodite"):
            inner: dict[str, Any] = error_body(
                self.settings.flavor, 400, message, "BadRequestError"
            )
        else:
            inner = {"message": message, "type": "BadRequestError", "param": None, "code": 400}
        return sse_event(json.dumps({"error": inner}))

    async def _send_with_stream_fault(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        req: Request,
        response: Response,
        fault: Fault,
    ) -> None:
        if response.stream is None:
            await self._send_body_fault(conn, writer, req, response, fault)
            return
        stream = response.stream
        await self._send_head(conn, writer, response)
        sent = 0
        try:
            async for event in stream:
                if sent >= fault.after_events or event == _DONE_EVENT:
                    break
                await self._write(writer, conn.send(h11.Data(data=event)))
                sent += 1
        finally:
            await _aclose(stream)
        if fault.kind == "drop_mid_stream":
            await self._reset_connection(writer)
        if fault.kind == "stall_mid_stream":
            await asyncio.sleep(fault.delay)
            raise _AbortError
        if fault.kind == "stream_error":
            await self._write(writer, conn.send(h11.Data(data=self._stream_error_event())))
            await self._write(writer, conn.send(h11.Data(data=_DONE_EVENT)))
        await self._write(writer, conn.send(h11.EndOfMessage()))

    async def _send_body_fault(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        req: Request,
        response: Response,
        fault: Fault,
    ) -> None:
        body = response.body
        half = body[: max(1, len(body) // 2)] if body else b""
        if fault.kind == "drop_mid_stream":
            await self._send_head(conn, writer, response)
            await self._write(writer, conn.send(h11.Data(data=half)))
            await self._reset_connection(writer)
        if fault.kind in ("truncate_sse", "stall_mid_stream"):
            await self._send_head(conn, writer, response, chunked=True)
            await self._write(writer, conn.send(h11.Data(data=half)))
            await self._write(writer, conn.send(h11.EndOfMessage()))
            return
        # stream_error on a non-stream request: the engine's plain error response.
        del req
        error = json_response(
            400,
            error_body(
                self.settings.flavor,
                400,
                "Simulated engine failure during generation",
                "BadRequestError",
            ),
        )
        error.headers.extend(h for h in response.headers if h[0] not in ("content-type",))
        await self._send(conn, writer, error)

    async def _reset_connection(self, writer: asyncio.StreamWriter) -> None:
        """Flush what was written, then abort the TCP connection with RST."""
        transport = writer.transport
        for _ in range(200):
            if transport.is_closing() or transport.get_write_buffer_size() == 0:
                break
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.02)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        raise _AbortError

    # ---- writing --------------------------------------------------------------------

    @staticmethod
    def _h11_response(response: Response, *, chunked: bool = False) -> h11.Response:
        headers = [("date", http_date()), ("server", response.server)]
        if response.stream is None and not chunked:
            headers.append(("content-length", str(len(response.body))))
        headers += response.headers
        return h11.Response(
            status_code=response.status,
            headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            reason=_phrase(response.status).encode(),
        )

    async def _send_head(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        response: Response,
        *,
        chunked: bool = False,
    ) -> None:
        head = conn.send(self._h11_response(response, chunked=chunked)) or b""
        # h11 adds framing headers in title case; uvicorn sends them lower-case.
        for title, lower in _FRAMING_HEADERS:
            head = head.replace(title, lower)
        await self._write(writer, head)

    async def _send(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, response: Response
    ) -> None:
        await self._send_head(conn, writer, response)
        if response.stream is not None:
            stream = response.stream
            try:
                async for event in stream:
                    await self._write(writer, conn.send(h11.Data(data=event)))
            finally:
                await _aclose(stream)
        elif response.body:
            await self._write(writer, conn.send(h11.Data(data=response.body)))
        await self._write(writer, conn.send(h11.EndOfMessage()))

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, data: bytes | None) -> None:
        if not data:
            return
        if writer.is_closing():
            raise _AbortError
        writer.write(data)
        await writer.drain()


def _too_many_parallel(limit: int | None) -> Response:
    return json_response(
        429,
        {
            "error": "Too Many Requests",
            "detail": f"Too many parallel requests: you can run up to {limit} parallel requests",
        },
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


async def _aclose(stream: AsyncIterator[bytes]) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()

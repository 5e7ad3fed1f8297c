"""Flavors (the imitated engine versions) and their error envelopes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.reference_server.wire import (
    Response,
    Settings,
    json_response,
)


@dataclass(frozen=True)
class FlavorSpec:
    """Differences between the imitated engine versions.

    Attributes:
        name: Flavor id.
        engine: ``"vllm"`` or ``"aphrodite"``.
        version: Reported by ``/version``.
        nested_errors: ``{"error": {...}}`` (else flat ``{"object": "error", ...}``).
        honours_guided: Legacy ``guided_*`` fields constrain the output.
        honours_structured_outputs: ``structured_outputs`` constrains the output.
        reasoning_key: Message/delta key for reasoning text.
        empty_tool_calls: Non-stream messages carry ``tool_calls: []`` when none.
        include_usage_default: ``stream_options.include_usage`` default.
        chat_id_prefix: Prefix of chat completion ids.
        id_hex_len: Length of the random hex id suffix.
        owned_by: ``owned_by`` in ``/v1/models``.
        model_required: ``model`` must be sent.
        newer_keys: Extra null keys of recent vLLM (``routed_experts``, ``metrics`` …).
        aphrodite_samplers: Validate Aphrodite's extra sampler fields.
        system_fingerprint: Value of ``system_fingerprint``.
    """

    name: str
    engine: str
    version: str
    nested_errors: bool
    honours_guided: bool
    honours_structured_outputs: bool
    reasoning_key: str
    empty_tool_calls: bool
    include_usage_default: bool
    chat_id_prefix: str
    id_hex_len: int
    owned_by: str
    model_required: bool
    newer_keys: bool
    aphrodite_samplers: bool
    system_fingerprint: str | None


FLAVOR_SPECS: dict[str, FlavorSpec] = {
    "vllm-0.11": FlavorSpec(
        name="vllm-0.11",
        engine="vllm",
        version="0.11.0",
        nested_errors=True,
        honours_guided=True,
        honours_structured_outputs=True,
        reasoning_key="reasoning_content",
        empty_tool_calls=True,
        include_usage_default=True,
        chat_id_prefix="chatcmpl-",
        id_hex_len=32,
        owned_by="vllm",
        model_required=False,
        newer_keys=False,
        aphrodite_samplers=False,
        system_fingerprint=None,
    ),
    "vllm-0.33": FlavorSpec(
        name="vllm-0.33",
        engine="vllm",
        version="0.33.0",
        nested_errors=True,
        honours_guided=False,
        honours_structured_outputs=True,
        reasoning_key="reasoning",
        empty_tool_calls=False,
        include_usage_default=False,
        chat_id_prefix="chatcmpl-",
        id_hex_len=16,
        owned_by="vllm",
        model_required=False,
        newer_keys=True,
        aphrodite_samplers=False,
        system_fingerprint="vllm-0.33.0-7c3b4ce7",
    ),
    "aphrodite-0.6": FlavorSpec(
        name="aphrodite-0.6",
        engine="aphrodite",
        version="0.6.7",
        nested_errors=False,
        honours_guided=True,
        honours_structured_outputs=False,
        reasoning_key="reasoning_content",
        empty_tool_calls=True,
        include_usage_default=True,
        chat_id_prefix="chat-",
        id_hex_len=32,
        owned_by="pygmalionai",
        model_required=True,
        newer_keys=False,
        aphrodite_samplers=True,
        system_fingerprint=None,
    ),
}

_ERROR_TYPES = {
    400: "BadRequestError",
    401: "UnauthorizedError",
    403: "ForbiddenError",
    404: "NotFoundError",
    408: "RequestTimeoutError",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
    500: "InternalServerError",
    501: "NotImplementedError",
    502: "BadGatewayError",
    503: "ServiceUnavailableError",
    504: "GatewayTimeoutError",
}


def error_body(
    flavor: str, status: int, message: str, err_type: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """Build the engine's error envelope.

    Args:
        flavor: Flavor id (nested vs flat envelope).
        status: HTTP status (also the ``code`` field).
        message: Error message.
        err_type: ``type`` field; defaults to the usual name for ``status``.
        param: ``param`` field.

    Returns:
        The JSON-compatible body.
    """
    err_type = err_type or _ERROR_TYPES.get(status, "Error")
    if FLAVOR_SPECS[flavor].nested_errors:
        return {"error": {"message": message, "type": err_type, "param": param, "code": status}}
    return {"object": "error", "message": message, "type": err_type, "param": param, "code": status}


class _HTTPError(Exception):
    """Raised inside handlers to return an error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


class _TextBase:
    """What every part of :class:`TextAPI` reads: the settings and the active flavor."""

    settings: Settings

    @property
    def flavor(self) -> FlavorSpec:
        """The active flavor."""
        return FLAVOR_SPECS[self.settings.flavor]

    def error(
        self, status: int, message: str, err_type: str | None = None, param: str | None = None
    ) -> Response:
        """Build an error response in the flavor's envelope."""
        return json_response(
            status, error_body(self.settings.flavor, status, message, err_type, param)
        )

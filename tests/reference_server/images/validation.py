"""Request validation and SDNext's error envelopes (its middleware's and FastAPI's)."""

from __future__ import annotations

from typing import Any

from tests.reference_server.images.tables import (
    _SAMPLERS,
    _SD_MODELS,
)
from tests.reference_server.wire import (
    Counters,
    Request,
    Response,
    Settings,
    coerce_value,
    json_response,
    pydantic_error,
)


def sdnext_error(status: int, detail: str, error: str = "HTTPException") -> dict[str, Any]:
    """Build SDNext's error envelope (its HTTP middleware's format).

    Args:
        status: HTTP status code.
        detail: The ``detail`` text.
        error: Exception class name.

    Returns:
        ``{"error", "code", "detail", "body", "errors"}``.
    """
    return {
        "error": error,
        "code": status,
        "detail": detail,
        "body": "",
        "errors": f"{status}: {detail}",
    }


class _HTTPError(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _fastapi_errors(errors: list[dict[str, Any]]) -> Response:
    detail = []
    for err in errors:
        item = dict(err)
        item["loc"] = list(err["loc"])
        detail.append(item)
    return json_response(422, {"detail": detail})


class _ImageBase:
    """What every part of :class:`ImageAPI` reads: settings, counters, the options."""

    settings: Settings
    counters: Counters
    options: dict[str, Any]


class _ImageValidation(_ImageBase):
    """Parses and checks request bodies the way SDNext's FastAPI models do."""

    def _body(self, req: Request) -> dict[str, Any]:
        ctype = req.content_type
        if ctype and ctype != "application/json" and not ctype.endswith("+json"):
            raise _HTTPError(
                _fastapi_errors(
                    [
                        pydantic_error(
                            "model_attributes_type",
                            (),
                            "Input should be a valid dictionary or object to extract fields from",
                            req.body.decode(errors="replace"),
                        )
                    ]
                )
            )
        if req.json_error is not None:
            raise _HTTPError(
                _fastapi_errors(
                    [
                        {
                            "type": "json_invalid",
                            "loc": ("body", 0),
                            "msg": "JSON decode error",
                            "input": {},
                            "ctx": {"error": req.json_error},
                        }
                    ]
                )
            )
        if not isinstance(req.json, dict):
            raise _HTTPError(
                _fastapi_errors(
                    [
                        pydantic_error(
                            "model_attributes_type",
                            (),
                            "Input should be a valid dictionary or object to extract fields from",
                            req.json,
                        )
                    ]
                )
            )
        return req.json

    def _coerce(self, body: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        values: dict[str, Any] = {}
        for name, kind in fields.items():
            if name in body:
                value, errs = coerce_value(name, kind, body[name])
                errors.extend(errs)
                values[name] = value
        if errors:
            raise _HTTPError(_fastapi_errors(errors))
        return values

    def _find_model(self, name: str) -> dict[str, Any] | None:
        low = name.strip().lower()
        for model in _SD_MODELS:
            title = str(model["title"])
            plain = title.split(" [", 1)[0]
            if low in (title.lower(), plain.lower(), str(model["model_name"]).lower()):
                return model
        return None

    def _current_model(self, values: dict[str, Any]) -> dict[str, Any]:
        requested = values.get("sd_model_checkpoint")
        override = values.get("override_settings") or {}
        if requested is None and isinstance(override, dict):
            requested = override.get("sd_model_checkpoint")
        if requested is None:
            requested = self.options["sd_model_checkpoint"]
        model = self._find_model(str(requested))
        if model is None:
            detail = f"Checkpoint not found: {requested}"
            raise _HTTPError(json_response(404, sdnext_error(404, detail)))
        return model

    def _check_sampler(self, values: dict[str, Any]) -> str:
        name = values.get("sampler_name")
        if name is None:
            index = values.get("sampler_index")
            name = index if isinstance(index, str) else "Default"
        known = {str(s["name"]).lower(): str(s["name"]) for s in _SAMPLERS}
        if str(name).lower() == "default":
            return "Default"
        if str(name).lower() not in known:
            raise _HTTPError(json_response(404, sdnext_error(404, "Sampler not found")))
        return known[str(name).lower()]

    def _too_many(self) -> Response:
        limit = self.settings.image_parallel_limit
        return json_response(
            429,
            {
                "error": "Too Many Requests",
                "detail": (
                    f"Too many parallel requests: you can run up to {limit} parallel requests"
                ),
                "code": 429,
            },
            headers=[("retry-after", "1")],
        )

    @staticmethod
    def _range_errors(values: dict[str, Any]) -> list[dict[str, Any]]:
        errors = []
        checks = [
            ("upscaling_resize", 1, 8),
            ("extras_upscaler_2_visibility", 0, 1),
        ]
        for name, lo, hi in checks:
            value = values.get(name)
            if value is None:
                continue
            if value < lo:
                err = pydantic_error(
                    "greater_than_equal",
                    (name,),
                    f"Input should be greater than or equal to {lo}",
                    value,
                )
                err["ctx"] = {"ge": float(lo)}
                errors.append(err)
            elif value > hi:
                err = pydantic_error(
                    "less_than_equal", (name,), f"Input should be less than or equal to {hi}", value
                )
                err["ctx"] = {"le": float(hi)}
                errors.append(err)
        for name in ("upscaling_resize_w", "upscaling_resize_h"):
            value = values.get(name)
            if value is not None and value < 1:
                err = pydantic_error(
                    "greater_than_equal",
                    (name,),
                    "Input should be greater than or equal to 1",
                    value,
                )
                err["ctx"] = {"ge": 1}
                errors.append(err)
        return errors

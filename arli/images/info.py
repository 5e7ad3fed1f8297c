"""What an image server says it did: :class:`GenerationInfo` and the A1111 infotext parser.

``info`` arrives as a JSON string (SDNext), an object (Arli's ``/v1/upscale-img``) or plain
text (``html_info``); all become one :class:`GenerationInfo`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "parse_infotext",
    "GenerationInfo",
]

_M = TypeVar("_M", bound=BaseModel)


def _validate_dropping(cls: type[_M], data: Mapping[str, Any], required: str) -> _M | None:
    """``cls(**data)``, dropping fields of an unexpected type; ``None`` if ``required`` is bad.

    A server answer is kept even when one of its values has an unexpected type: that field
    is dropped and the rest validated again. ``None`` when ``required`` is among the bad
    fields or no bad field can be dropped.
    """
    data = dict(data)
    for _ in range(len(data) + 1):
        try:
            return cls(**data)
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")}
            if required in bad or not bad & set(data):
                return None
            for key in bad:
                data.pop(key, None)
    return None  # pragma: no cover - every pass drops a key


# A1111/SDNext infotext parameters: `Key: value` or `Key: "quoted, value"`, comma separated.
_INFOTEXT_PARAM = re.compile(r'\s*([\w][\w \-/+.()]*):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')


def parse_infotext(text: str) -> dict[str, str]:
    r"""Parse the parameter line of an SDNext/A1111 infotext into ``{key: value}``.

    ``"a cat\\nNegative prompt: ugly\\nSteps: 20, Size: 64x64, Seed: 7"`` gives
    ``{"Prompt": "a cat", "Negative prompt": "ugly", "Steps": "20", "Size": "64x64",
    "Seed": "7"}``.
    """
    lines = text.strip().split("\n")
    params: dict[str, str] = {}
    last = lines[-1] if lines else ""
    found = len(_INFOTEXT_PARAM.findall(last))
    if found >= 2 or (found == 1 and len(lines) == 1):
        lines = lines[:-1]
    else:
        last = ""
    prompt: list[str] = []
    negative: list[str] = []
    target = prompt
    for line in lines:
        if line.startswith("Negative prompt:"):
            target = negative
            target.append(line[len("Negative prompt:") :].strip())
        else:
            target.append(line)
    if prompt:
        params["Prompt"] = "\n".join(prompt).strip()
    if negative:
        params["Negative prompt"] = "\n".join(negative).strip()
    for key, raw_value in _INFOTEXT_PARAM.findall(last):
        value = raw_value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"')
        params[key.strip()] = value
    return params


class GenerationInfo(BaseModel):
    """What the server says it did: seeds, size, sampler, model; for upscales, the factor.

    Every key of the server's ``info`` is kept (unknown ones as extra attributes), and
    ``raw`` holds it as received. Fields the server did not send are ``None``/empty.

    Attributes:
        prompt: the prompt used.
        negative_prompt: the negative prompt used.
        seed: the seed of the first image (the real one, never ``-1``).
        all_seeds: the seed of every image.
        subseed: the variation seed of the first image.
        all_subseeds: every variation seed.
        width: output width.
        height: output height.
        sampler_name: the sampler used.
        cfg_scale: the guidance scale used.
        steps: the steps used.
        batch_size: images per batch.
        denoising_strength: the denoising strength used.
        sd_model_hash: the model's short hash.
        model: the model name (from the infotext's ``Model:``, or the one requested).
        infotexts: one A1111-style parameter text per image.
        styles: styles applied.
        clip_skip: CLIP skip used.
        extra_generation_params: extra parameters (``Mask blur``, ``Mask size``...).
        index_of_first_image: 1 when a grid comes first, else 0.
        job_timestamp: the server's job timestamp.
        upscaler: the upscaler used (upscale results).
        scale_factor: the upscale factor (upscale results).
        text: a plain-text info (``html_info``, or an ``info`` that is not JSON).
        raw: the ``info`` object as received.
    """

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    all_seeds: list[int] = Field(default_factory=list)
    subseed: int | None = None
    all_subseeds: list[int] = Field(default_factory=list)
    width: int | None = None
    height: int | None = None
    sampler_name: str | None = None
    cfg_scale: float | None = None
    steps: int | None = None
    batch_size: int | None = None
    denoising_strength: float | None = None
    sd_model_hash: str | None = None
    model: str | None = None
    infotexts: list[str] = Field(default_factory=list)
    styles: list[str] = Field(default_factory=list)
    clip_skip: float | None = None
    extra_generation_params: dict[str, Any] = Field(default_factory=dict)
    index_of_first_image: int = 0
    job_timestamp: str | None = None
    upscaler: str | None = None
    scale_factor: float | None = None
    text: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @classmethod
    def from_raw(cls, info: Any, *, text: str | None = None) -> GenerationInfo:
        """Build from the server's ``info`` (a JSON string, an object, or text).

        Values of an unexpected type are dropped rather than failing the whole result.
        """
        raw: dict[str, Any] = {}
        if isinstance(info, (bytes, str)):
            stripped = info.strip() if isinstance(info, str) else info.decode(errors="replace")
            parsed: Any = None
            if stripped[:1] == "{":
                try:
                    parsed = json.loads(stripped)
                except (ValueError, RecursionError):
                    parsed = None
            if isinstance(parsed, dict):
                raw = parsed
            elif stripped:
                text = stripped if text is None else text
        elif isinstance(info, dict):
            raw = info
        data: dict[str, Any] = {k: v for k, v in raw.items() if v is not None}
        data.pop("raw", None)
        data.pop("text", None)
        data["raw"] = raw
        if text is not None:
            data["text"] = text
        params = parse_infotext(str(data["infotexts"][0])) if _first_str(data, "infotexts") else {}
        if not params and text:
            params = parse_infotext(text)
        data.setdefault("model", params.get("Model"))
        if "upscaler" not in data and params.get("Postprocess upscaler"):
            data["upscaler"] = params["Postprocess upscaler"]
        if "scale_factor" not in data and params.get("Postprocess upscale by"):
            data["scale_factor"] = params["Postprocess upscale by"]
        size = params.get("Size", "")
        if "x" in size and "width" not in data:
            w, _, h = size.partition("x")
            data["width"], data["height"] = w.strip(), h.strip()
        for key in ("seed", "steps", "sampler_name", "cfg_scale"):
            label = {"seed": "Seed", "steps": "Steps", "sampler_name": "Sampler"}.get(
                key, "CFG scale"
            )
            if key not in data and params.get(label):
                data[key] = params[label]
        if data.get("model") is None:
            data.pop("model", None)
        info = _validate_dropping(cls, data, "raw")
        return info if info is not None else cls(raw=raw, text=text)

    def seed_of(self, index: int) -> int | None:
        """The seed of image ``index`` of the response (accounting for a leading grid)."""
        pos = index - self.index_of_first_image
        if 0 <= pos < len(self.all_seeds):
            return self.all_seeds[pos]
        if pos == 0 and self.seed is not None:
            return self.seed
        return None

    def infotext_of(self, index: int) -> str | None:
        """The infotext of image ``index`` of the response, when the server sent it."""
        pos = index - self.index_of_first_image
        if 0 <= pos < len(self.infotexts):
            return self.infotexts[pos]
        return None


def _first_str(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key)
    return isinstance(value, list) and bool(value) and isinstance(value[0], str)

"""The commands of the ``arli`` command line that call the APIs: text, images, OCR, demo.

:mod:`arli.cli` builds the parser, maps errors to one line and an exit status, and runs
one of these; each takes the parsed arguments and the stream to write to, and returns the
exit status. The engines are imported inside each command, so ``arli --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "GUIDED",
    "SPECIAL",
    "UsageError",
    "cmd_chat",
    "cmd_complete",
    "cmd_demo",
    "cmd_edit",
    "cmd_image",
    "cmd_models",
    "cmd_ocr",
    "cmd_tokens",
    "cmd_upscale",
]

GUIDED = ("guided_json", "guided_regex", "guided_choice", "guided_grammar")
#: Fields with their own flags (or set from other flags), not generated from SamplingParams.
SPECIAL = {*GUIDED, "logit_bias", "sampler_priority", "stop"}


class UsageError(Exception):
    """A wrong command line: printed as one line, exit status 2."""


def _read(text: str) -> str:
    return sys.stdin.read() if text == "-" else text


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"provider": args.provider}
    if args.base_url:
        options["base_url"] = args.base_url
    if args.api_key:
        options["api_key"] = args.api_key
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    if args.timeout is not None:
        if args.command == "ocr":  # the OCR engine's own option
            options["timeout"] = args.timeout
        else:
            for kind in ("text", "image", "listing"):
                options[f"{kind}_timeout"] = args.timeout
    return options


def _require_model(args: argparse.Namespace) -> str:
    if not args.model:
        msg = "no model: pass --model MODEL (or set ARLI_MODEL); `arli models` lists them"
        raise UsageError(msg)
    return str(args.model)


def _params(args: argparse.Namespace) -> dict[str, Any]:
    """Sampler flags that were given, plus --param, guided flags and --stop."""
    from arli.text.params import SamplingParams  # noqa: PLC0415

    params: dict[str, Any] = {}
    for name in SamplingParams.model_fields:
        if name in SPECIAL:
            continue
        value = getattr(args, name, None)
        if value is not None:
            params[name] = value
    if args.stop:
        params["stop"] = args.stop
    if args.sampler_priority:
        items = [p.strip() for p in args.sampler_priority.split(",") if p.strip()]
        params["sampler_priority"] = [int(p) if p.isdigit() else p for p in items]
    for item in args.param:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            msg = f"--param expects NAME=JSON, got {item!r}"
            raise UsageError(msg)
        try:
            params[name.strip()] = json.loads(raw)
        except ValueError:
            params[name.strip()] = raw  # a bare string
    guided = [
        ("guided_json", args.json_schema and _load_json_file(args.json_schema)),
        ("guided_regex", args.regex),
        ("guided_choice", args.choice),
        ("guided_grammar", args.grammar and _read_file(args.grammar, "--grammar")),
    ]
    given = [(k, v) for k, v in guided if v]
    if len(given) > 1:
        msg = "use one of --json-schema, --regex, --choice, --grammar at a time"
        raise UsageError(msg)
    params.update(given)
    params["guided_decoding_style"] = args.guided_style
    return params


def _read_file(path: str, flag: str) -> str:
    """The text of the file a flag names; a directory, missing file or binary is one line."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"{flag} {path}: cannot read it: {exc.strerror or exc}"
        raise UsageError(msg) from None
    except UnicodeDecodeError:
        msg = f"{flag} {path}: not a UTF-8 text file"
        raise UsageError(msg) from None


def _load_json_file(path: str) -> Any:
    text = _read_file(path, "--json-schema")
    try:
        return json.loads(text)
    except ValueError as exc:
        msg = f"--json-schema {path} is not valid JSON: {exc}"
        raise UsageError(msg) from None


# -- commands -------------------------------------------------------------------------------


def cmd_chat(args: argparse.Namespace, out: TextIO) -> int:
    from arli.text.calls import CallOptions, TextCalls  # noqa: PLC0415
    from arli.text.client import TextClient  # noqa: PLC0415

    options = CallOptions(model=_require_model(args))
    calls = TextCalls(TextClient(**_client_options(args)))
    messages: list[dict[str, Any]] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": _read(args.prompt)})
    stream = not (args.no_stream or args.json)
    if stream:
        call = calls.stream_chat(options, messages, _params(args))
        for chunk in call:
            for delta in chunk.choices:
                if delta.index == 0 and delta.content:
                    out.write(delta.content)
                    out.flush()
        out.write("\n")
        answer, plan, parsed = call.result(), call.plan, call.parsed
    else:
        done = calls.chat(options, messages, _params(args))
        answer, plan, parsed = done.result, done.plan, done.parsed
    if args.json:
        choice = answer.choices[0]
        payload: dict[str, Any] = {
            "model": answer.model,
            "text": choice.content,
            "finish_reason": choice.finish_reason,
            "usage": answer.usage.counts() if answer.usage is not None else None,
        }
        if plan.constraint is not None and parsed:
            payload["parsed"] = parsed[0]
        if choice.reasoning:
            payload["reasoning"] = choice.reasoning
        out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    elif not stream:
        out.write((answer.text or "") + "\n")
    return 0


def cmd_complete(args: argparse.Namespace, out: TextIO) -> int:
    from arli.text.calls import CallOptions, TextCalls  # noqa: PLC0415
    from arli.text.client import TextClient  # noqa: PLC0415

    options = CallOptions(model=_require_model(args))
    calls = TextCalls(TextClient(**_client_options(args)))
    stream = not (args.no_stream or args.json)
    if stream:
        call = calls.stream_complete(options, _read(args.prompt), _params(args))
        for chunk in call:
            for part in chunk.choices:
                if part.index == 0 and part.text:
                    out.write(part.text)
                    out.flush()
        out.write("\n")
        answer = call.result()
    else:
        answer = calls.complete(options, _read(args.prompt), _params(args)).result
    if args.json:
        payload = {
            "model": answer.model,
            "text": answer.text,
            "finish_reason": answer.choices[0].finish_reason if answer.choices else None,
            "usage": answer.usage.counts() if answer.usage is not None else None,
        }
        out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    elif not stream:
        out.write(answer.text + "\n")
    return 0


def cmd_tokens(args: argparse.Namespace, out: TextIO) -> int:
    from arli.text.client import TextClient  # noqa: PLC0415

    model = _require_model(args)
    client = TextClient(**_client_options(args))
    text = _read(args.text)
    if args.chat:
        result = client.tokenize(model=model, messages=[{"role": "user", "content": text}])
    else:
        result = client.tokenize(model=model, prompt=text)
    if args.json:
        payload = {
            "count": result.count,
            "tokens": result.tokens,
            "max_model_len": result.max_model_len,
        }
        out.write(json.dumps(payload) + "\n")
    else:
        limit = f" (context: {result.max_model_len})" if result.max_model_len else ""
        out.write(f"{result.count} tokens{limit}\n")
    return 0


def cmd_models(args: argparse.Namespace, out: TextIO) -> int:
    rows: list[dict[str, Any]]
    if args.images or args.samplers or args.upscalers:
        from arli.images.client import ImageClient  # noqa: PLC0415

        images = ImageClient(**_client_options(args))
        if args.images:
            rows = [{"name": m.name, "title": m.title} for m in images.list_models()]
        elif args.samplers:
            rows = [{"name": s.name} for s in images.list_samplers()]
        else:
            rows = [{"name": u.name, "scale": u.scale} for u in images.list_upscalers()]
    else:
        from arli.text.client import TextClient  # noqa: PLC0415

        text = TextClient(**_client_options(args))
        on_plan = True if args.on_plan else None
        rows = [
            {"id": m.id, "max_model_len": m.max_model_len, "owned_by": m.owned_by}
            for m in text.list_models(available_on_current_plan=on_plan)
        ]
    if args.json:
        out.write(json.dumps(rows, indent=2) + "\n")
        return 0
    for row in rows:
        first = row.get("id") or row.get("name")
        rest = ", ".join(f"{k} {v}" for k, v in row.items() if k not in ("id", "name") and v)
        out.write(f"{first}" + (f"  ({rest})" if rest else "") + "\n")
    return 0


def _image_params(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def _print_images(result: Any, output: str, out: TextIO) -> int:
    paths = result.save(output)
    seeds = result.seeds
    for i, path in enumerate(paths):
        seed = f"  seed {seeds[i]}" if i < len(seeds) and seeds[i] is not None else ""
        out.write(f"{path}{seed}\n")
    return 0


_COMMON_IMAGE = ("negative_prompt", "steps", "seed", "sampler_name", "cfg_scale")


def _check_output(args: argparse.Namespace) -> None:
    """Refuse an unusable ``-o`` before the images are generated (and paid for)."""
    from arli.images.results import check_destination  # noqa: PLC0415

    check_destination(args.output, option="-o/--output")


def cmd_image(args: argparse.Namespace, out: TextIO) -> int:
    from arli.images.client import ImageClient  # noqa: PLC0415

    _check_output(args)
    client = ImageClient(**_client_options(args), model=args.model)
    params = _image_params(args, (*_COMMON_IMAGE, "width", "height", "batch_size"))
    return _print_images(client.txt2img(prompt=args.prompt, **params), args.output, out)


def cmd_edit(args: argparse.Namespace, out: TextIO) -> int:
    from arli.images.client import ImageClient  # noqa: PLC0415

    _check_output(args)
    client = ImageClient(**_client_options(args), model=args.model)
    params = _image_params(args, (*_COMMON_IMAGE, "denoising_strength"))
    if args.mask:
        params["mask"] = args.mask
    result = client.img2img(init_images=args.image, prompt=args.prompt, **params)
    return _print_images(result, args.output, out)


def cmd_upscale(args: argparse.Namespace, out: TextIO) -> int:
    from arli.images.client import ImageClient  # noqa: PLC0415

    _check_output(args)
    client = ImageClient(**_client_options(args))
    params = _image_params(args, ("upscaling_resize", "upscaler_1"))
    return _print_images(client.upscale(image=args.image, **params), args.output, out)


def cmd_ocr(args: argparse.Namespace, out: TextIO) -> int:
    from arli._ocr_cli import run_ocr  # noqa: PLC0415

    return run_ocr(args, out, _client_options(args))


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from arli._demo import main_demo  # noqa: PLC0415

    return main_demo(args.live, output=args.output, out=out)

"""The ``arli`` command (also ``python -m arli``): text, images, OCR and the offline demo.

Expected failures (a missing key, a server error, a bad value, a missing file) print one
line saying what went wrong and what to do, and exit with status 1 (the call failed) or 2
(the command line was wrong); never a traceback.

Every sampler extra of :class:`arli.text.params.SamplingParams` is a flag of ``chat`` and
``complete`` (``--min-p 0.05 --dry-multiplier 0.8 ...``); ``--param NAME=JSON`` sends any
other field.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from arli._errors import ArliConfigError, ArliError, ArliStatusError, ArliValidationError
from arli._version import __version__

__all__ = ["main"]

PROVIDERS = ("arli", "featherless", "arli-proxy")
_GUIDED = ("guided_json", "guided_regex", "guided_choice", "guided_grammar")
# fields with their own flags (or set from other flags), not generated from SamplingParams
_SPECIAL = {*_GUIDED, "logit_bias", "sampler_priority", "stop"}


class UsageError(Exception):
    """A wrong command line: printed as one line, exit status 2."""


# -- argument parsing -----------------------------------------------------------------------


def _flag_type(annotation: Any) -> tuple[Callable[[str], Any], bool] | None:
    """(converter, is_list) for a SamplingParams annotation, or None to skip it."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    first = args[0]
    origin = typing.get_origin(first)
    if origin is list:
        (inner,) = typing.get_args(first) or (str,)
        return (int if inner is int else str), True
    if first is bool:
        return _parse_bool, False
    if first in (int, float, str):
        return first, False
    return None


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    msg = f"expected true or false, got {text!r}"
    raise argparse.ArgumentTypeError(msg)


def _add_sampler_flags(parser: argparse.ArgumentParser) -> None:
    from arli.text.params import SamplingParams  # noqa: PLC0415 - keep `arli --help` fast

    group = parser.add_argument_group("sampling (unset flags are not sent)")
    for name, field in SamplingParams.model_fields.items():
        if name in _SPECIAL:
            continue
        spec = _flag_type(field.annotation)
        if spec is None:
            continue
        convert, is_list = spec
        flag = "--" + name.replace("_", "-")
        help_text = (field.description or "").replace("%", "%%")
        if is_list:
            group.add_argument(flag, dest=name, type=convert, action="append", help=help_text)
        else:
            group.add_argument(flag, dest=name, type=convert, help=help_text)
    group.add_argument("--mirostat", dest="mirostat_mode", type=int, help=argparse.SUPPRESS)
    group.add_argument(
        "--stop", action="append", help="a stop string (repeat the flag for several)"
    )
    group.add_argument(
        "--sampler-priority",
        help="comma-separated sampler ids or names (Aphrodite: all 14, in order)",
    )
    group.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="any other request field, e.g. --param 'logit_bias={\"42\": -5}'",
    )
    guided = parser.add_argument_group("guided decoding (one at a time)")
    guided.add_argument("--json-schema", metavar="FILE", help="constrain to this JSON schema")
    guided.add_argument("--regex", help="constrain to a full match of this regex")
    guided.add_argument(
        "--choice", action="append", help="constrain to one of these (repeat the flag)"
    )
    guided.add_argument("--grammar", metavar="FILE", help="constrain to this grammar (GBNF)")
    guided.add_argument(
        "--guided-style",
        choices=("both", "guided", "structured_outputs", "response_format"),
        default="both",
        help="how constraints go on the wire (default: both forms)",
    )


def _connection_flags(parser: argparse.ArgumentParser, *, providers: Sequence[str]) -> None:
    parser.add_argument(
        "--provider",
        choices=list(providers),
        default="arli",
        help="which system to talk to (keys from its environment variables)",
    )
    parser.add_argument("--base-url", help="override the provider's base URL")
    parser.add_argument("--api-key", help=argparse.SUPPRESS)  # prefer the environment


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arli",
        description="Arli AI from the command line: chat, completions, images, OCR.",
        epilog="Keys come from ARLI_TEXT_KEY / ARLI_IMAGE_KEY / ARLIAI_API_KEY "
        "(FEATHERLESS_API_KEY for --provider featherless; none for arli-proxy).",
    )
    parser.add_argument("--version", action="version", version=f"arli-integrations {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = sub.add_parser("chat", help="chat with a model (streams the answer)")
    chat.add_argument("prompt", help="the user message ('-' reads standard input)")
    chat.add_argument("--model", default=os.environ.get("ARLI_MODEL"), help="model id")
    chat.add_argument("--system", help="a system message")
    chat.add_argument("--no-stream", action="store_true", help="wait for the whole answer")
    chat.add_argument("--json", action="store_true", help="print the answer and usage as JSON")
    _connection_flags(chat, providers=PROVIDERS)
    _add_sampler_flags(chat)

    complete = sub.add_parser("complete", help="raw text completion (/v1/completions)")
    complete.add_argument("prompt", help="the prompt ('-' reads standard input)")
    complete.add_argument("--model", default=os.environ.get("ARLI_MODEL"), help="model id")
    complete.add_argument("--no-stream", action="store_true", help="wait for the whole answer")
    complete.add_argument("--json", action="store_true", help="print text and usage as JSON")
    _connection_flags(complete, providers=PROVIDERS)
    _add_sampler_flags(complete)

    tokens = sub.add_parser("tokens", help="count tokens with the model's tokenizer")
    tokens.add_argument("text", help="the text ('-' reads standard input)")
    tokens.add_argument("--model", default=os.environ.get("ARLI_MODEL"), help="model id")
    tokens.add_argument("--chat", action="store_true", help="count it as one user message")
    tokens.add_argument("--json", action="store_true", help="print count and token ids as JSON")
    _connection_flags(tokens, providers=PROVIDERS)

    models = sub.add_parser("models", help="list text models (or image models and more)")
    what = models.add_mutually_exclusive_group()
    what.add_argument("--images", action="store_true", help="image models (checkpoints)")
    what.add_argument("--samplers", action="store_true", help="image samplers")
    what.add_argument("--upscalers", action="store_true", help="upscalers")
    models.add_argument("--json", action="store_true", help="print JSON")
    models.add_argument(
        "--on-plan", action="store_true", help="Featherless: only models on your plan"
    )
    _connection_flags(models, providers=PROVIDERS)

    image = sub.add_parser("image", help="generate images (txt2img) and save them")
    image.add_argument("prompt")
    _image_flags(image)
    image.add_argument("--width", type=int)
    image.add_argument("--height", type=int)
    image.add_argument("--batch", type=int, dest="batch_size", help="images per request (1-4)")

    edit = sub.add_parser("edit", help="edit an image (img2img; --mask for inpainting)")
    edit.add_argument("image", help="the image: a path or an http(s) URL")
    edit.add_argument("prompt")
    edit.add_argument("--mask", help="inpainting mask (white = repaint)")
    edit.add_argument("--strength", type=float, dest="denoising_strength", help="0-1")
    _image_flags(edit)

    upscale = sub.add_parser("upscale", help="upscale an image and save it")
    upscale.add_argument("image", help="the image: a path or an http(s) URL")
    upscale.add_argument("--scale", type=float, dest="upscaling_resize", help="factor (1-8)")
    upscale.add_argument("--upscaler", dest="upscaler_1", help="upscaler name (see models)")
    upscale.add_argument("-o", "--output", default="arli-output", help="output directory")
    _connection_flags(upscale, providers=("arli", "arli-proxy"))

    ocr = sub.add_parser("ocr", help="OCR images and PDFs into markdown or text")
    ocr.add_argument("files", nargs="+", help="image or PDF files, or http(s) URLs")
    ocr.add_argument("-o", "--output", help="write to this file (.md/.txt or .jsonl)")
    ocr.add_argument("--pages", help="pages to read, e.g. 1-3,7 (1-based)")
    ocr.add_argument("--format", choices=("markdown", "text"), default="markdown")
    ocr.add_argument("--model", default=os.environ.get("ARLI_OCR_MODEL"), help="vision model")
    ocr.add_argument("--on-error", choices=("raise", "skip", "placeholder"), default="skip")
    ocr.add_argument("--cache", metavar="DIR", help="page cache: re-runs pay only new pages")
    ocr.add_argument("--dpi", type=int, help="PDF render resolution (default 150)")
    ocr.add_argument("--concurrency", type=int, help="pages in flight")
    ocr.add_argument("--no-progress", action="store_true", help="no progress bar")
    job = ocr.add_argument_group("bulk job (--out DIR: resumable; rerun the command to resume)")
    job.add_argument(
        "--out",
        metavar="DIR",
        help="job directory: Markdown per document, "
        "pages.jsonl, report.json; resumes an earlier run there",
    )
    job.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing -o file, or start --out DIR afresh",
    )
    job.add_argument("--max-in-flight", type=int, help="requests in flight for the whole job")
    job.add_argument(
        "--text-layer",
        choices=("auto", "fallback", "never"),
        help="use good PDF text layers (auto) or only when a page fails (fallback); default never",
    )
    job.add_argument(
        "--anchor-text-layer",
        action="store_true",
        help="send the page's text layer with the image as a hint",
    )
    job.add_argument(
        "--max-page-error-rate",
        type=float,
        help="fail a document whose share of failed pages is above this (0-1)",
    )
    job.add_argument("--price-per-mtok-in", type=float, help="$ per million prompt tokens")
    job.add_argument("--price-per-mtok-out", type=float, help="$ per million completion tokens")
    job.add_argument("--price-per-request", type=float, help="$ per request")
    job.add_argument(
        "--runner",
        choices=("local", "ray"),
        help="where the job runs (default local; ray: RAY_ADDRESS, else a local cluster)",
    )
    ocr.add_argument("--timeout", type=float, help="seconds to wait for each answer")
    ocr.add_argument("--max-retries", type=int, help="retries per request (default 4)")
    _connection_flags(ocr, providers=("arli", "featherless", "arli-proxy"))

    demo = sub.add_parser(
        "demo", help="show the package working end to end (offline: replays recorded cassettes)"
    )
    demo.add_argument(
        "--live", action="store_true", help="run against the real service (needs ARLIAI_API_KEY)"
    )
    demo.add_argument("-o", "--output", default="arli-demo-output", help="where files go")
    return parser


def _image_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", default="arli-output", help="output directory")
    parser.add_argument(
        "--model",
        default=os.environ.get("ARLI_IMAGE_MODEL"),
        help="image model (sd_model_checkpoint, required by Arli; see models --images)",
    )
    parser.add_argument("--negative", dest="negative_prompt", help="what the image must not show")
    parser.add_argument("--steps", type=int, help="denoising steps (1-150)")
    parser.add_argument("--seed", type=int, help="-1 for random")
    parser.add_argument("--sampler", dest="sampler_name", help="sampler name")
    parser.add_argument("--cfg-scale", type=float, help="prompt guidance (1-20)")
    _connection_flags(parser, providers=("arli", "arli-proxy"))


# -- helpers --------------------------------------------------------------------------------


def _read(text: str) -> str:
    return sys.stdin.read() if text == "-" else text


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"provider": args.provider}
    if args.base_url:
        options["base_url"] = args.base_url
    if args.api_key:
        options["api_key"] = args.api_key
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
        if name in _SPECIAL:
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
        ("guided_grammar", args.grammar and Path(args.grammar).read_text()),
    ]
    given = [(k, v) for k, v in guided if v]
    if len(given) > 1:
        msg = "use one of --json-schema, --regex, --choice, --grammar at a time"
        raise UsageError(msg)
    params.update(given)
    params["guided_decoding_style"] = args.guided_style
    return params


def _load_json_file(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        msg = f"cannot read {path}: {exc.strerror}"
        raise UsageError(msg) from None
    except ValueError as exc:
        msg = f"{path} is not valid JSON: {exc}"
        raise UsageError(msg) from None


def _usage_dict(usage: Any) -> dict[str, int] | None:
    if usage is None:
        return None
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


# -- commands -------------------------------------------------------------------------------


def _cmd_chat(args: argparse.Namespace, out: TextIO) -> int:
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
            "usage": _usage_dict(answer.usage),
        }
        if plan.constraint is not None and parsed:
            payload["parsed"] = parsed[0]
        if choice.reasoning:
            payload["reasoning"] = choice.reasoning
        out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    elif not stream:
        out.write((answer.text or "") + "\n")
    return 0


def _cmd_complete(args: argparse.Namespace, out: TextIO) -> int:
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
            "usage": _usage_dict(answer.usage),
        }
        out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    elif not stream:
        out.write(answer.text + "\n")
    return 0


def _cmd_tokens(args: argparse.Namespace, out: TextIO) -> int:
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


def _cmd_models(args: argparse.Namespace, out: TextIO) -> int:
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


def _cmd_image(args: argparse.Namespace, out: TextIO) -> int:
    from arli.images.client import ImageClient  # noqa: PLC0415

    client = ImageClient(**_client_options(args), model=args.model)
    params = _image_params(args, (*_COMMON_IMAGE, "width", "height", "batch_size"))
    return _print_images(client.txt2img(prompt=args.prompt, **params), args.output, out)


def _cmd_edit(args: argparse.Namespace, out: TextIO) -> int:
    from arli.images.client import ImageClient  # noqa: PLC0415

    client = ImageClient(**_client_options(args), model=args.model)
    params = _image_params(args, (*_COMMON_IMAGE, "denoising_strength"))
    if args.mask:
        params["mask"] = args.mask
    result = client.img2img(init_images=args.image, prompt=args.prompt, **params)
    return _print_images(result, args.output, out)


def _cmd_upscale(args: argparse.Namespace, out: TextIO) -> int:
    from arli.images.client import ImageClient  # noqa: PLC0415

    client = ImageClient(**_client_options(args))
    params = _image_params(args, ("upscaling_resize", "upscaler_1"))
    return _print_images(client.upscale(image=args.image, **params), args.output, out)


def _cmd_ocr(args: argparse.Namespace, out: TextIO) -> int:
    from arli._ocr_cli import run_ocr  # noqa: PLC0415

    return run_ocr(args, out, _client_options(args))


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from arli._demo import main_demo  # noqa: PLC0415

    return main_demo(args.live, output=args.output, out=out)


_COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "chat": _cmd_chat,
    "complete": _cmd_complete,
    "tokens": _cmd_tokens,
    "models": _cmd_models,
    "image": _cmd_image,
    "edit": _cmd_edit,
    "upscale": _cmd_upscale,
    "ocr": _cmd_ocr,
    "demo": _cmd_demo,
}


def _fail(message: str, status: int) -> int:
    sys.stderr.write(f"arli: {message}\n")
    return status


def _advice(exc: ArliError) -> str:
    if isinstance(exc, ArliStatusError) and exc.status_code == 404:
        return " (check the model name: `arli models` lists them)"
    return ""


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    stream = out or sys.stdout
    try:
        return _COMMANDS[args.command](args, stream)
    except UsageError as exc:
        return _fail(str(exc), 2)
    except (ArliConfigError, ArliValidationError) as exc:
        return _fail(str(exc), 2)
    except ArliError as exc:
        return _fail(f"{type(exc).__name__}: {exc}{_advice(exc)}", 1)
    except (FileNotFoundError, ImportError) as exc:
        return _fail(str(exc), 2)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:  # `arli chat ... | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

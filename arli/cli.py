"""The ``arli`` command (also ``python -m arli``): text, images, OCR and the offline demo.

Expected failures (a missing key, a server error, a bad value, a missing file) print one
line saying what went wrong and what to do, and exit with status 1 (the call failed) or 2
(the command line was wrong); never a traceback.

Every sampler extra of :class:`arli.text.params.SamplingParams` is a flag of ``chat`` and
``complete`` (``--min-p 0.05 --dry-multiplier 0.8 ...``; a boolean field is a pair,
``--ignore-eos`` / ``--no-ignore-eos``); ``--param NAME=JSON`` sends any other field. A
wrong flag or value prints one line (with the closest flag when there is one), and the
advice of an error speaks of flags (``--api-key``, ``--base-url``), not of Python keywords.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import typing
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

from arli._cli_commands import (
    SPECIAL,
    UsageError,
    cmd_chat,
    cmd_complete,
    cmd_demo,
    cmd_edit,
    cmd_image,
    cmd_models,
    cmd_ocr,
    cmd_tokens,
    cmd_upscale,
)
from arli._errors import ArliConfigError, ArliError, ArliStatusError, ArliValidationError
from arli._version import __version__

__all__ = ["main"]

PROVIDERS = ("arli", "featherless", "arli-proxy")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, not the whole usage text."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands: dict[str, _Parser] = {}

    def error(self, message: str) -> NoReturn:
        """Print ``arli chat: <message> (see arli chat --help)`` and exit with status 2."""
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")

    def flags(self) -> list[str]:
        """Every long flag this parser takes."""
        return [o for a in self._actions for o in a.option_strings if o.startswith("--")]

    def refuse_unknown(self, extras: Sequence[str]) -> NoReturn:
        """Refuse arguments no parser took, naming the closest flag."""
        first = extras[0]
        hint = ""
        if first.startswith("-"):
            close = difflib.get_close_matches(first.split("=", 1)[0], self.flags(), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
        noun = "argument" if len(extras) == 1 else "arguments"
        self.error(f"unrecognized {noun}: {' '.join(extras)}{hint}")


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
        return bool, False
    if first in (int, float, str):
        return first, False
    return None


_BOOL_PAIR = argparse.BooleanOptionalAction


def _add_sampler_flags(parser: argparse.ArgumentParser, *, completion: bool = False) -> None:
    """The sampler flags; for ``completion`` (``complete``) ``--logprobs N`` takes a count."""
    from arli.text.params import SamplingParams  # noqa: PLC0415 - keep `arli --help` fast

    group = parser.add_argument_group("sampling (unset flags are not sent)")
    for name, field in SamplingParams.model_fields.items():
        if name in SPECIAL or (completion and name == "top_logprobs"):
            continue
        flag = "--" + name.replace("_", "-")
        help_text = (field.description or "").replace("%", "%%")
        if completion and name == "logprobs":  # a count here, not chat's true/false
            help_text = "return the N most likely tokens with their logprobs at each position"
            group.add_argument(flag, dest=name, type=int, metavar="N", help=help_text)
            continue
        spec = _flag_type(field.annotation)
        if spec is None:
            continue
        convert, is_list = spec
        if convert is bool:  # --ignore-eos / --no-ignore-eos; neither: not sent
            group.add_argument(flag, dest=name, action=_BOOL_PAIR, help=help_text)
        elif is_list:
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
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        help="the API key (better from the environment: flags show in process lists)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="read timeout per attempt (default 300 for generation, 30 for listings)",
    )
    parser.add_argument(
        "--max-retries",
        type=_retry_count,
        metavar="N",
        help="retries after the first attempt on 429, 5xx and connection errors "
        "(default 2; 4 for ocr)",
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        msg = f"expected a number of seconds > 0, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _retry_count(text: str) -> int:
    if not text.strip().isdigit() or int(text) > 20:
        msg = f"expected a whole number from 0 to 20, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def _parser() -> _Parser:
    parser = _Parser(
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
    _add_sampler_flags(complete, completion=True)

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
    upscale.add_argument("-o", "--output", default="arli-output", help=_OUTPUT_HELP)
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
    _connection_flags(ocr, providers=("arli", "featherless", "arli-proxy"))

    demo = sub.add_parser(
        "demo", help="show the package working end to end (offline: replays recorded cassettes)"
    )
    demo.add_argument(
        "--live", action="store_true", help="run against the real service (needs ARLIAI_API_KEY)"
    )
    demo.add_argument("-o", "--output", default="arli-demo-output", help="where files go")
    parser.commands.update(sub.choices)
    return parser


_OUTPUT_HELP = "output directory, or a file name such as fox.png (default: arli-output)"


def _image_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", default="arli-output", help=_OUTPUT_HELP)
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


_COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "chat": cmd_chat,
    "complete": cmd_complete,
    "tokens": cmd_tokens,
    "models": cmd_models,
    "image": cmd_image,
    "edit": cmd_edit,
    "upscale": cmd_upscale,
    "ocr": cmd_ocr,
    "demo": cmd_demo,
}


def _fail(message: str, status: int) -> int:
    sys.stderr.write(f"arli: {message}\n")
    return status


def _advice(exc: ArliError) -> str:
    if isinstance(exc, ArliStatusError) and exc.status_code == 404:
        return " (check the model name: `arli models` lists them; and --base-url if you set it)"
    return ""


#: Python keyword advice in library messages, restated as the flags that do the same here.
_CLI_TERMS = (
    (re.compile(r"pass api_key=\.\.\.(?: \(or \w+_api_key=\.\.\.\))?"), "pass --api-key KEY"),
    (re.compile(r"\b(?:text_|image_)?api_key=\.\.\."), "--api-key KEY"),
    (re.compile(r"\b(?:text_|image_)?base_url="), "--base-url "),
    (re.compile(r"\bmax_retries="), "--max-retries "),
    (re.compile(r"\b(?:request_timeout|text_timeout|image_timeout|timeout)="), "--timeout "),
)


def _cli_terms(message: str) -> str:
    """``message`` with its advice in the command line's terms (``--api-key``, ``--base-url``)."""
    for pattern, flag in _CLI_TERMS:
        message = pattern.sub(flag, message)
    return message


def _run(args: argparse.Namespace, stream: TextIO) -> int:
    try:
        return _COMMANDS[args.command](args, stream)
    except UsageError as exc:
        return _fail(str(exc), 2)
    except (ArliConfigError, ArliValidationError) as exc:
        return _fail(_cli_terms(str(exc)), 2)
    except ArliError as exc:
        return _fail(f"{type(exc).__name__}: {_cli_terms(str(exc))}{_advice(exc)}", 1)
    except ImportError as exc:
        return _fail(str(exc), 2)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:  # `arli chat ... | head`
        return 0
    except OSError as exc:  # a path that cannot be read or written: one line, no traceback
        where = f" {exc.filename}" if exc.filename else ""
        return _fail(f"cannot use{where}: {exc.strerror or exc}", 2)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    try:
        args, extras = parser.parse_known_args(argv)
        if extras:
            parser.commands.get(args.command, parser).refuse_unknown(extras)
    except SystemExit as exc:  # --help, --version, or a wrong command line (one line)
        return exc.code if isinstance(exc.code, int) else 2
    return _run(args, out or sys.stdout)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

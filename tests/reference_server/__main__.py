"""Run the reference server in the foreground until SIGTERM/SIGINT.

Usage::

    python -m tests.reference_server --host 127.0.0.1 --port 8000 --api-key KEY \\
        --flavor vllm-0.11 [--image-latency 0.2] [--image-parallel-limit 6] \\
        [--text-latency 0.0] [--token-latency 0.0] \\
        [--provider arli|featherless|arli-proxy|aiart] [--aiart-video-polls 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from tests.reference_server.server import ReferenceServer
from tests.reference_server.wire import FLAVORS


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.reference_server",
        description="Local Arli-compatible server (vLLM/Aphrodite text API + SDNext image API).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (0 = any free port)")
    parser.add_argument("--api-key", default=None, help="required key (default: no auth)")
    parser.add_argument("--flavor", default="vllm-0.11", choices=FLAVORS)
    parser.add_argument(
        "--models",
        default="Mistral-Nemo-12B-Instruct-2407,tiny",
        help="comma-separated served text model ids (first is the default)",
    )
    parser.add_argument("--max-model-len", type=int, default=8192)
    parser.add_argument("--image-latency", type=float, default=0.0)
    parser.add_argument("--image-parallel-limit", type=int, default=6)
    parser.add_argument("--text-latency", type=float, default=0.0)
    parser.add_argument(
        "--text-parallel-limit",
        type=int,
        default=None,
        help="text requests in flight before a 429 (default: no limit)",
    )
    parser.add_argument("--token-latency", type=float, default=0.0)
    parser.add_argument("--samples-format", default="jpg", choices=("jpg", "png", "webp"))
    parser.add_argument("--sd-models-as-names", action="store_true")
    parser.add_argument("--allow-image-urls", action="store_true")
    parser.add_argument(
        "--tokenize-v1",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also serve /v1/tokenize (default: only for the aphrodite flavor)",
    )
    parser.add_argument(
        "--provider",
        default="arli",
        choices=("arli", "featherless", "arli-proxy", "aiart"),
        help="which system to imitate (default: arli)",
    )
    parser.add_argument(
        "--aiart-video-polls",
        type=int,
        default=2,
        help="aiart: polls of a video job answered 202 (in progress) before it completes",
    )
    return parser


async def _run(args: argparse.Namespace) -> None:
    server = ReferenceServer(
        api_key=args.api_key,
        flavor=args.flavor,
        models=[m.strip() for m in args.models.split(",") if m.strip()],
        max_model_len=args.max_model_len,
        image_parallel_limit=args.image_parallel_limit,
        text_parallel_limit=args.text_parallel_limit,
        image_latency=args.image_latency,
        text_latency=args.text_latency,
        token_latency=args.token_latency,
        port=args.port,
        host=args.host,
        allow_image_urls=args.allow_image_urls,
        tokenize_v1=args.tokenize_v1,
        sd_models_as_names=args.sd_models_as_names,
        samples_format=args.samples_format,
        provider=args.provider,
        aiart_video_polls=args.aiart_video_polls,
    )
    await server.astart()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    print(f"reference server ({args.flavor}) listening on {server.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.astop()


def main(argv: list[str] | None = None) -> int:
    """Entry point.

    Args:
        argv: Arguments (defaults to ``sys.argv[1:]``).

    Returns:
        The process exit code.
    """
    args = build_parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())

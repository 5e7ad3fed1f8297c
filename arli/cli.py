"""The ``arli`` command (also ``python -m arli``).

Expected failures (a missing key, a server error, a missing file) print one line saying
what went wrong and what to do, and exit with status 1 or 2; never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from arli._errors import ArliError
from arli._version import __version__

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arli", description="Arli AI from the command line (text, images, OCR)."
    )
    parser.add_argument("--version", action="version", version=f"arli-integrations {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="show the package working end to end (offline: replays recorded cassettes)"
    )
    demo.add_argument(
        "--live", action="store_true", help="run against the real service (needs ARLIAI_API_KEY)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from arli._demo import main_demo  # noqa: PLC0415 - keep `arli --help` fast

            return main_demo(args.live)
    except ArliError as exc:
        sys.stderr.write(f"arli: {type(exc).__name__}: {exc}\n")
        return 1
    except (FileNotFoundError, ImportError) as exc:
        sys.stderr.write(f"arli: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("arli: interrupted\n")
        return 130
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

"""The `bgblur` command: argparse and one module per subcommand, each with `register(subparsers)`.

This is the top layer: nothing below it (the rest of bgblur_core) imports it. Every setting in
the schema is a flag (`blur_method` -> `--blur-method`), see `options.py`.
"""
from __future__ import annotations

import importlib
import os
import select
import sys

from ..settings import SettingsError
from ..errors import StageError, describe
from ..versions import warn_untested
from .options import Parser, settings_from_args

__all__ = ["COMMAND_MODULES", "build_parser", "main", "settings_from_args"]

# One module per subcommand, in the order `bgblur --help` lists them.
COMMAND_MODULES = ("run", "demo", "settings", "models", "mask", "learn", "bench", "eval", "obs_source", "doctor")


def build_parser() -> Parser:
    parser = Parser(prog="bgblur", description="Background blur for a webcam, for OBS Studio and video calls.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f".{name}", __name__).register(sub)
    return parser


def _stdout_gone() -> bool:
    """After a BrokenPipeError: True if stdout's reader hung up (then stdout now goes nowhere)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        gone = any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll() (Windows), or no real stdout
        gone = True
    if gone:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the flush at exit does not fail again
        os.close(devnull)
    return gone


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except ImportError as e:  # a dependency that is missing or broken (e.g. OpenCV without libGL)
        print(f"bgblur: error: a dependency failed to load ({describe(e)}); run scripts/setup.sh again, "
              f"then `bgblur doctor`", file=sys.stderr)
        return 2


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "doctor":  # doctor shows it in its table
        warn_untested()
    try:
        code = args.func(args)
        sys.stdout.flush()
        return code
    except (SettingsError, StageError) as e:
        print(f"bgblur: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError as e:
        if _stdout_gone():  # e.g. `bgblur settings | head -1`: the reader has all it wanted
            return 0
        print(f"bgblur: error: {e.strerror or e}", file=sys.stderr)
        return 1

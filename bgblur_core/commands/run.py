"""`bgblur run`: the live pipeline."""
from __future__ import annotations

from .options import add_setting_flags, count, settings_from_args


def cmd_run(args) -> int:
    from ..runner import run
    return run(settings_from_args(args), frames=args.frames, stats=args.stats, control=args.control)


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="run the live pipeline: camera -> blur -> virtual camera (or file, preview, OBS)")
    add_setting_flags(p)
    p.add_argument("--frames", type=count(1), metavar="N", help="stop after N frames")
    p.add_argument("--stats", action="store_true", help="print fps, per-stage ms, CPU ms and latency as a JSON line each second on stderr")
    p.add_argument("--control", choices=("none", "stdin"), default="none",
                   help="stdin: take JSON control lines on stdin, print status JSON lines on stdout, stop when stdin closes")
    p.set_defaults(func=cmd_run)

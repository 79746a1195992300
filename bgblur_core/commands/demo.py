"""`bgblur demo`: the README's first command."""
from __future__ import annotations

import argparse

from .options import add_setting_flags, count, settings_from_args


def cmd_demo(args) -> int:
    from ..runner import demo
    return demo(settings_from_args(args), out_dir=args.out_dir, frames=args.frames, preview=args.preview)


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="run on the webcam, or the built-in scene without one; write a video and a before/after still")
    add_setting_flags(p)
    p.add_argument("--out-dir", default="out", help="where demo.mp4 and demo.png go [default out]")
    p.add_argument("--frames", type=count(1), default=150, metavar="N", help="frames to process [default 150]")
    p.add_argument("--preview", action=argparse.BooleanOptionalAction, default=None,
                   help="show a preview window [default: when a display is available]")
    p.set_defaults(func=cmd_demo)

"""`bgblur learn`: learn the empty background for the plate engine."""
from __future__ import annotations

from .options import add_setting_flags, seconds, settings_from_args


def cmd_learn(args) -> int:
    from ..segment.plate import learn_from_source
    print(learn_from_source(settings_from_args(args), args.seconds))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("learn", help="learn the empty background for the plate engine (about one second)")
    add_setting_flags(p)
    p.add_argument("--seconds", type=seconds, default=1.0, metavar="S", help="how long to watch the empty scene [default 1]")
    p.set_defaults(func=cmd_learn)

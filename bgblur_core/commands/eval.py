"""`bgblur eval`: mask quality against ground-truth masks."""
from __future__ import annotations

from ..settings import ENGINES
from .options import add_setting_flags, count, settings_from_args


def cmd_eval(args) -> int:
    from ..evaluate import evaluate
    return evaluate(settings_from_args(args), args.engines, args.images, args.video, args.video_frames, args.json)


def register(subparsers) -> None:
    from ..evaluate import DEFAULT_ENGINES
    p = subparsers.add_parser(
        "eval", conflict_handler="resolve",
        help="measure mask quality (IoU, boundary F, MAE, flicker, edge lag) against ground-truth masks")
    add_setting_flags(p)  # any setting applies to every engine; --engine below takes several
    p.add_argument("--images", metavar="DIR", help="folder of NAME.jpg|png + NAME_mask.png pairs (255 = person)")
    p.add_argument("--engine", dest="engines", nargs="+", choices=ENGINES, metavar="E",
                   help=f"engines to measure [default: {' '.join(DEFAULT_ENGINES)}]")
    p.add_argument("--video", metavar="FILE",
                   help="a video, a folder of frames or a pattern (with NAME_mask.png ground truth when available): "
                        "flicker and edge lag")
    p.add_argument("--video-frames", type=count(1), default=150, metavar="N", help="frames of --video to use [default 150]")
    p.add_argument("--json", action="store_true", help="one JSON object per engine and input, per line")
    p.set_defaults(func=cmd_eval)

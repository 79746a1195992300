"""`bgblur bench`: speed, latency and memory of each configuration against the seed reference."""
from __future__ import annotations

from .options import count


def cmd_bench(args) -> int:
    from ..bench import bench, parse_resolution
    sizes = [parse_resolution(r) for r in args.resolution or ()]
    return bench(args.configs or (), sizes, args.frames, args.warmup, args.latency_frames, args.input, args.json)


def register(subparsers) -> None:
    from ..bench import CONFIGS, DEFAULT_RESOLUTIONS
    p = subparsers.add_parser("bench", help="measure speed, latency and memory of each engine against the seed reference")
    p.add_argument("--resolution", nargs="+", metavar="WxH",
                   help=f"frame sizes [default: {' '.join(DEFAULT_RESOLUTIONS)}; with --input, its own size]")
    p.add_argument("--frames", type=count(1), default=60, metavar="N", help="measured frames per resolution [default 60]")
    p.add_argument("--warmup", type=count(0), default=5, metavar="N", help="frames run before measuring [default 5]")
    p.add_argument("--input", metavar="SRC",
                   help="a video file, an image folder or a pattern like frames/%%05d.jpg instead of the synthetic scene")
    p.add_argument("--config", dest="configs", nargs="+", choices=list(CONFIGS), metavar="NAME",
                   help=f"configurations to run [default: all: {' '.join(CONFIGS)}]; the seed always runs")
    p.add_argument("--latency-frames", type=count(0), default=45, metavar="N",
                   help="frames of the live pipeline for the latency figure, per configuration (0: skip) [default 45]")
    p.add_argument("--json", action="store_true", help="one JSON object per configuration and resolution, per line")
    p.set_defaults(func=cmd_bench)

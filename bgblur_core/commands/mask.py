"""`bgblur mask`: the alpha mask the compositor would use, for an image, a folder, a video or a pattern."""
from __future__ import annotations

from ..errors import StageError
from .options import add_setting_flags, settings_from_args


def cmd_mask(args) -> int:
    from ..maskcmd import write_masks
    if not args.input or not args.output:
        raise StageError("mask: give --input IMAGE|DIR|VIDEO|PATTERN and --output FILE|DIR")
    return write_masks(settings_from_args(args, input="auto", output="null"), args.input, args.output)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "mask", conflict_handler="resolve",
        help="write the alpha mask the compositor would use, for an image, a folder, a video or a pattern")
    add_setting_flags(p)  # --input and --output below replace the settings' own
    p.add_argument("--input", metavar="IMAGE|DIR|VIDEO|PATTERN",
                   help="an image, a folder of images, a video, or an image sequence like frames/%%05d.jpg")
    p.add_argument("--output", metavar="FILE|DIR",
                   help="MASK.png for an image; a folder for a folder (NAME_mask.png) or a sequence (00000_mask.png, ...)")
    p.set_defaults(func=cmd_mask)

"""`bgblur mask`: write the alpha mask the compositor would use (0-255, the input's size).

  --input IMAGE  --output MASK.png      one image
  --input DIR    --output DIR           NAME_mask.png for every image, each on its own
  --input VIDEO|PATTERN --output DIR    one live sequence (temporal smoothing carried from frame
                                        to frame): 00000_mask.png, 00001_mask.png, ...
A PATTERN is a numbered image sequence, such as frames/%05d.jpg. Every input is read through
`sources.open_path`, as `bgblur run --input` reads it.
"""
from __future__ import annotations

import os

import cv2
import numpy as np

from .settings import Settings, parse_input
from .sources import FILE_KINDS, ImageSequence, open_path
from .stages import StageError


def write_mask(path: str, alpha: np.ndarray) -> None:
    try:
        ok = cv2.imwrite(path, alpha)
    except cv2.error:
        ok = False
    if not ok:
        raise StageError(f"--output: cannot write {path}; use a .png name in a writable folder")


def output_folder(path: str) -> str:
    if os.path.exists(path) and not os.path.isdir(path):
        raise StageError(f"--output: {path} is a file; give a folder for a folder, video or pattern input")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise StageError(f"--output: cannot create the folder {path}: {e.strerror or e}") from None
    return path


def mask_image(stages, source, dst: str) -> None:
    """The one image of `source`: its mask at `dst` (a file, or NAME_mask.png in a folder)."""
    write_mask(dst, stages.alpha(source.read()[0]))
    print(dst)


def mask_folder(stages, source: ImageSequence, dst: str) -> int:
    """Every image of a folder on its own (no temporal state between them); NAME_mask.png in `dst`."""
    written = 0
    while (got := source.read()) is not None:
        stages.reset()  # a photo on its own: no temporal or recurrent state from the last one
        name = os.path.splitext(os.path.basename(source.path))[0]
        write_mask(os.path.join(dst, name + "_mask.png"), stages.alpha(got[0]))
        written += 1
    print(f"{written} masks written to {dst}")
    return 1 if source.skipped else 0


def mask_sequence(stages, source, dst: str) -> None:
    """A video or a numbered pattern as one live sequence; 00000_mask.png, ... in `dst`."""
    n = 0
    while (got := source.read()) is not None:
        write_mask(os.path.join(dst, f"{n:05d}_mask.png"), stages.alpha(got[0]))
        n += 1
    print(f"{n} masks written to {dst}")


def write_masks(settings: Settings, src: str, dst: str) -> int:
    """The masks of `src` (an image, a folder, a video or a pattern) into `dst`; 1 if an image was skipped.

    The input and the output are checked before the engine loads."""
    from .chain import Stages
    kind = parse_input(src).kind
    if kind not in FILE_KINDS:
        raise StageError(f"--input: {src!r} is not an image, a folder, a video or a pattern like frames/%05d.jpg")
    folder = kind == "images" and os.path.isdir(src)
    with ImageSequence(src, same_size=False) if folder else open_path(src) as source:
        if kind != "image":
            output_folder(dst)
        elif os.path.isdir(dst) or dst.endswith(os.sep):
            dst = os.path.join(output_folder(dst), os.path.splitext(os.path.basename(src))[0] + "_mask.png")
        stages = Stages(settings)
        if folder:
            return mask_folder(stages, source, dst)
        (mask_image if kind == "image" else mask_sequence)(stages, source, dst)
    return 0

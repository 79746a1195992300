"""`bgblur mask`: write the alpha mask the compositor would use (0-255, the input's size).

  --input IMAGE  --output MASK.png      one image
  --input DIR    --output DIR           NAME_mask.png for every image, each on its own
  --input VIDEO|PATTERN --output DIR    one live sequence (temporal smoothing carried from frame
                                        to frame): 00000_mask.png, 00001_mask.png, ...
A PATTERN is an image sequence OpenCV reads, such as frames/%05d.jpg.
"""
from __future__ import annotations

import os

import cv2
import numpy as np

from .sources.files import folder_images, is_image
from .stages import StageError


def write_mask(path: str, alpha: np.ndarray) -> None:
    try:
        ok = cv2.imwrite(path, alpha)
    except cv2.error:
        ok = False
    if not ok:
        raise StageError(f"--output: cannot write {path}; use a .png name in a writable folder")


def read_image(path: str) -> np.ndarray:
    frame = cv2.imread(path, cv2.IMREAD_COLOR)
    if frame is None:
        raise StageError(f"--input: cannot read {path} as an image")
    return frame


def output_folder(path: str) -> str:
    if os.path.exists(path) and not os.path.isdir(path):
        raise StageError(f"--output: {path} is a file; give a folder for a folder, video or pattern input")
    os.makedirs(path, exist_ok=True)
    return path


def mask_image(stages, src: str, dst: str) -> None:
    if os.path.isdir(dst) or dst.endswith(os.sep):
        dst = os.path.join(output_folder(dst), os.path.splitext(os.path.basename(src))[0] + "_mask.png")
    write_mask(dst, stages.alpha(read_image(src)))
    print(dst)


def mask_folder(stages, src: str, dst: str) -> int:
    """Every image in `src` on its own (no temporal state between them); NAME_mask.png in `dst`."""
    from .log import log
    names = folder_images(src)
    if not names:
        raise StageError(f"--input: no images in {src}")
    output_folder(dst)
    failed = 0
    for name in names:
        if stages.refiner is not None:
            stages.refiner.reset()
        try:
            frame = read_image(os.path.join(src, name))
        except StageError as e:
            log(str(e))
            failed += 1
            continue
        write_mask(os.path.join(dst, os.path.splitext(name)[0] + "_mask.png"), stages.alpha(frame))
    print(f"{len(names) - failed} masks written to {dst}")
    return 1 if failed else 0


def mask_sequence(stages, src: str, dst: str) -> None:
    """A video or image-sequence pattern as one live sequence; 00000_mask.png, ... in `dst`."""
    if "%" not in src and not os.path.isfile(src):
        raise StageError(f"--input: {src} does not exist; give an image, a folder, a video or a pattern like frames/%05d.jpg")
    # a pattern is read with OpenCV's own image reader: the same pixels as `--input IMAGE` gives
    cap = cv2.VideoCapture(src, cv2.CAP_IMAGES) if "%" in src else cv2.VideoCapture(src)
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        if not ok:
            raise StageError(f"--input: OpenCV cannot read {src} as a video or an image sequence")
        output_folder(dst)
        n = 0
        while ok:
            write_mask(os.path.join(dst, f"{n:05d}_mask.png"), stages.alpha(frame))
            n += 1
            ok, frame = cap.read()
    finally:
        cap.release()
    print(f"{n} masks written to {dst}")


def cmd_mask(args) -> int:
    from .chain import Stages
    from .cli import settings_from_args
    src, dst = args.input, args.output
    if not src or not dst:
        raise StageError("mask: give --input IMAGE|DIR|VIDEO|PATTERN and --output FILE|DIR")
    settings = settings_from_args(args, input="auto", output="null")
    if os.path.isdir(src):
        return mask_folder(Stages(settings), src, dst)
    if is_image(src) and "%" not in src:
        if not os.path.isfile(src):
            raise StageError(f"--input: {src} does not exist")
        mask_image(Stages(settings), src, dst)
        return 0
    mask_sequence(Stages(settings), src, dst)
    return 0


def register(subparsers) -> None:
    from .cli import add_setting_flags
    p = subparsers.add_parser(
        "mask", conflict_handler="resolve",
        help="write the alpha mask the compositor would use, for an image, a folder, a video or a pattern")
    add_setting_flags(p)
    p.add_argument("--input", metavar="IMAGE|DIR|VIDEO|PATTERN",
                   help="an image, a folder of images, a video, or an image sequence like frames/%%05d.jpg")
    p.add_argument("--output", metavar="FILE|DIR",
                   help="MASK.png for an image; a folder for a folder (NAME_mask.png) or a sequence (00000_mask.png, ...)")
    p.set_defaults(func=cmd_mask)

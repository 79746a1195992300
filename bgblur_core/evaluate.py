"""Mask quality: metrics (IoU, boundary F, MAE, flicker, edge lag) and the `bgblur eval` command.

Masks are 2-D uint8 arrays, 255 = person (soft values allowed). Binary metrics take a
mask at >= 128. The metric functions are pure: arrays in, a float out.
"""
from __future__ import annotations

import json
import math
import os
import time
from typing import Sequence

import cv2
import numpy as np

from .sources.files import folder_images
from .stages import StageError

_CROSS3 = np.ones((3, 3), np.uint8)


def _binary(mask: np.ndarray) -> np.ndarray:
    """0/1 uint8 at >= 128."""
    return (mask >= 128).view(np.uint8)


def _check(pred: np.ndarray, gt: np.ndarray) -> None:
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(f"masks must be 2-D and the same size, got {pred.shape} and {gt.shape}")


def iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Intersection over union of the person areas; 1.0 when both are empty."""
    _check(pred, gt)
    p, g = _binary(pred), _binary(gt)
    union = cv2.countNonZero(p | g)
    return 1.0 if union == 0 else cv2.countNonZero(p & g) / union


def boundary(mask: np.ndarray) -> np.ndarray:
    """0/1 boundary: the binary mask minus its 3x3 erosion (the image border is not a boundary)."""
    b = _binary(mask)
    return b - cv2.erode(b, _CROSS3)


def boundary_tolerance(shape: tuple[int, ...]) -> int:
    """round(1% of the image diagonal), in pixels."""
    return round(0.01 * math.hypot(shape[0], shape[1]))


def _dilate(b: np.ndarray, tol: int) -> np.ndarray:
    if tol <= 0:
        return b
    return cv2.dilate(b, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tol + 1, 2 * tol + 1)))


def boundary_f(pred: np.ndarray, gt: np.ndarray, tol: int | None = None) -> float:
    """Boundary F-measure: a boundary pixel matches when within `tol` px of the other boundary.

    tol defaults to round(1% of the diagonal). Both boundaries empty: 1.0; one empty: 0.0.
    """
    _check(pred, gt)
    tol = boundary_tolerance(gt.shape) if tol is None else tol
    bp, bg = boundary(pred), boundary(gt)
    n_p, n_g = cv2.countNonZero(bp), cv2.countNonZero(bg)
    if n_p == 0 or n_g == 0:
        return 1.0 if n_p == n_g else 0.0
    precision = cv2.countNonZero(bp & _dilate(bg, tol)) / n_p
    recall = cv2.countNonZero(bg & _dilate(bp, tol)) / n_g
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def mae(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean absolute error of the soft alpha, in 0..1."""
    _check(pred, gt)
    return cv2.mean(cv2.absdiff(pred, gt))[0] / 255


def still_regions(references: Sequence[np.ndarray], tol: int = 0) -> list[np.ndarray]:
    """Per consecutive pair, a 0/255 mask of pixels whose reference changed by at most `tol`.

    References are ground-truth masks (tol 0), or grey frames when there is no ground truth
    (then a small tol absorbs sensor and codec noise).
    """
    return [cv2.compare(cv2.absdiff(a, b), tol, cv2.CMP_LE) for a, b in zip(references, references[1:])]


def flicker(masks: Sequence[np.ndarray], gts: Sequence[np.ndarray] | None = None,
            still: Sequence[np.ndarray] | None = None) -> float:
    """Mean absolute change of the mask between consecutive frames (0..1), over still pixels.

    Still pixels are those whose ground truth did not change between the two frames (`gts`),
    or are given directly as one 0/255 mask per consecutive pair (`still`). 0.0 when nothing is still.
    """
    if still is None:
        if gts is None or len(gts) != len(masks):
            raise ValueError("flicker needs one ground-truth mask per frame, or the still regions")
        still = still_regions(gts)
    total, count = 0.0, 0
    for a, b, s in zip(masks, masks[1:], still):
        _check(a, b)
        n = cv2.countNonZero(s)
        if n:
            total += cv2.mean(cv2.absdiff(a, b), mask=s)[0] * n
            count += n
    return total / count / 255 if count else 0.0


def _disagreement(a: np.ndarray, b: np.ndarray) -> int:
    return cv2.countNonZero(_binary(a) ^ _binary(b))


def edge_lag(masks: Sequence[np.ndarray], gts: Sequence[np.ndarray], max_lag: int = 5) -> float:
    """How many frames the masks trail the ground truth on a moving sequence.

    The lag k (0..max_lag) minimising the pixels where mask[t] and gt[t - k] disagree, over the
    same frames for every k, refined to a fraction of a frame by a parabola through the minimum.
    0.0 when nothing moves. `gts` may also be a reference mask sequence without smoothing.
    NaN when the masks do not follow the reference at all (even at the best lag they disagree on
    more pixels than the reference's person covers): a lag means nothing then.
    """
    if len(masks) != len(gts):
        raise ValueError(f"edge_lag needs one reference per mask, got {len(masks)} and {len(gts)}")
    max_lag = min(max_lag, len(masks) - 2)
    if max_lag < 1:
        return 0.0
    err = [sum(_disagreement(masks[t], gts[t - k]) for t in range(max_lag, len(masks)))
           for k in range(max_lag + 1)]
    k = int(np.argmin(err))
    if err[k] > sum(cv2.countNonZero(_binary(g)) for g in gts[max_lag:]):
        return math.nan
    if 0 < k < max_lag:
        left, mid, right = err[k - 1], err[k], err[k + 1]
        curve = left - 2 * mid + right
        if curve > 0:
            return k + 0.5 * (left - right) / curve
    return float(k)


# -- data ----------------------------------------------------------------------------------
NOT_APPLICABLE = {"plate": "not applicable: a photo or clip has no empty background to learn the plate from"}


def image_pairs(folder: str) -> list[tuple[str, str]]:
    """(image, mask) paths for every NAME.jpg|png with a NAME_mask.png beside it, sorted by name."""
    if not os.path.isdir(folder):
        raise StageError(f"--images: {folder} is not a folder")
    pairs = []
    for name in folder_images(folder):
        mask = os.path.join(folder, os.path.splitext(name)[0] + "_mask.png")
        if os.path.isfile(mask):
            pairs.append((os.path.join(folder, name), mask))
    if not pairs:
        raise StageError(f"--images: no NAME.jpg (or .png) + NAME_mask.png pairs in {folder}")
    return pairs


def read_pair(image_path: str, mask_path: str) -> tuple[np.ndarray, np.ndarray]:
    frame = cv2.imread(image_path, cv2.IMREAD_COLOR)
    mask = cv2.imread(mask_path, cv2.IMREAD_GRAYSCALE)
    if frame is None or mask is None:
        raise StageError(f"cannot read {image_path if frame is None else mask_path} as an image")
    if mask.shape != frame.shape[:2]:
        raise StageError(f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but the image is "
                         f"{frame.shape[1]}x{frame.shape[0]}; they must match")
    return frame, mask


def iter_frames(path: str):
    """Frames of a video file, or of an image folder in name order; (frame, mask or None) pairs.

    In a folder, NAME_mask.png beside NAME.jpg is the frame's ground truth.
    """
    if os.path.isdir(path):
        images = folder_images(path)
        if not images:
            raise StageError(f"{path}: no .jpg or .png frames in this folder")
        for n in images:
            full = os.path.join(path, n)
            mask = os.path.join(path, os.path.splitext(n)[0] + "_mask.png")
            if os.path.isfile(mask):
                yield read_pair(full, mask)
            else:
                frame = cv2.imread(full, cv2.IMREAD_COLOR)
                if frame is None:
                    raise StageError(f"cannot read {full} as an image")
                yield frame, None
        return
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise StageError(f"cannot open {path} as a video or an image folder")
    try:
        ok, frame = cap.read()
        if not ok:
            raise StageError(f"{path}: the video has no frames")
        while ok:
            yield frame, None
            ok, frame = cap.read()
    finally:
        cap.release()


# -- running an engine ---------------------------------------------------------------------
def build_stages(settings):
    from .pipeline import Stages
    return Stages(settings)


def eval_images(settings, pairs: list[tuple[str, str]]) -> dict:
    """IoU, boundary F, MAE and ms per image of one engine over image pairs (each image on its own)."""
    engine = settings.engine
    row = {"engine": engine, "images": len(pairs)}
    if engine in NOT_APPLICABLE:
        return {**row, "images": 0, "mean_iou": None, "boundary_f": None, "mae": None,
                "ms_per_image": None, "worst": [], "note": NOT_APPLICABLE[engine]}
    stages = build_stages(settings)
    per_image, ms = [], []
    for i, (image_path, mask_path) in enumerate(pairs):
        frame, gt = read_pair(image_path, mask_path)
        if i == 0:
            stages.alpha(frame)  # warm-up: first-call setup is not a per-image cost
        if stages.refiner is not None:
            stages.refiner.reset()  # photos are unrelated: no temporal state between them
        t = time.perf_counter()
        alpha = stages.alpha(frame)
        ms.append((time.perf_counter() - t) * 1000)
        name = os.path.splitext(os.path.basename(image_path))[0]
        per_image.append((iou(alpha, gt), boundary_f(alpha, gt), mae(alpha, gt), name))
    ious, fs, maes, names = zip(*per_image)
    worst = [name for _, name in sorted(zip(ious, names))[:5]]
    return {**row, "mean_iou": _r(np.mean(ious)), "boundary_f": _r(np.mean(fs)), "mae": _r(np.mean(maes)),
            "ms_per_image": round(float(np.median(ms)), 2), "worst": worst}


def eval_video(settings, path: str, max_frames: int = 150) -> dict:
    """Flicker and edge lag of one engine on a moving sequence (its temporal state carries over).

    With ground-truth masks (an image folder with NAME_mask.png): against the ground truth.
    Without: still regions are pixels whose grey frame changed by at most 4 levels, and the lag
    is measured against the same engine with temporal smoothing off.
    """
    engine = settings.engine
    row = {"engine": engine, "video": path}
    if engine in NOT_APPLICABLE:
        return {**row, "frames": 0, "flicker": None, "edge_lag": None, "note": NOT_APPLICABLE[engine]}
    stages = build_stages(settings)
    reference = build_stages(settings.replace({"temporal": 0.0})) if stages.refiner is not None else None
    alphas, refs, gts, greys, ms = [], [], [], [], []
    for frame, gt in iter_frames(path):
        if len(alphas) >= max_frames:
            break
        t = time.perf_counter()
        alphas.append(stages.alpha(frame))
        ms.append((time.perf_counter() - t) * 1000)
        refs.append(reference.alpha(frame) if reference is not None else alphas[-1])
        gts.append(gt)
        greys.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    has_gt = all(g is not None for g in gts)
    if has_gt:
        row.update(reference="ground truth", flicker=_r(flicker(alphas, gts)), edge_lag=_r(edge_lag(alphas, gts)),
                   mean_iou=_r(np.mean([iou(a, g) for a, g in zip(alphas, gts)])))
    else:
        row.update(reference="still pixels; engine without temporal smoothing",
                   flicker=_r(flicker(alphas, still=still_regions(greys, tol=4))), edge_lag=_r(edge_lag(alphas, refs)))
    return {**row, "frames": len(alphas), "ms_per_frame": round(float(np.median(ms[1:] or ms)), 2)}


def _r(x) -> float | None:
    """Rounded for output; None for an undefined figure (NaN)."""
    return None if math.isnan(x) else round(float(x), 4)


# -- the command ---------------------------------------------------------------------------
DEFAULT_ENGINES = ("hsv", "selfie", "selfie-landscape", "plate")


def _image_line(r: dict) -> str:
    return (f"{r['engine']:<18}{r['images']:>7}{r['mean_iou']:>8.3f}{r['boundary_f']:>9.3f}{r['mae']:>8.3f}"
            f"{r['ms_per_image']:>9.1f}  {', '.join(r['worst'])}")


def _video_line(r: dict) -> str:
    iou_text = f"{r['mean_iou']:>8.3f}" if "mean_iou" in r else f"{'-':>8}"
    lag = f"{r['edge_lag']:>9.2f}" if r["edge_lag"] is not None else f"{'n/a':>9}"
    return (f"{r['engine']:<18}{r['frames']:>7}{r['flicker']:>9.4f}{lag}{iou_text}"
            f"{r['ms_per_frame']:>8.1f}  {r['reference']}")


TABLES = (  # (row key, heading, line)
    ("images", f"{'engine':<18}{'images':>7}{'IoU':>8}{'bound.F':>9}{'MAE':>8}{'ms/img':>9}  worst", _image_line),
    ("video", f"{'engine':<18}{'frames':>7}{'flicker':>9}{'lag(fr)':>9}{'IoU':>8}{'ms/fr':>8}  reference", _video_line),
)


def print_table(rows: list[dict]) -> None:
    first = True
    for key, heading, line in TABLES:
        table = [r for r in rows if key in r]
        if not table:
            continue
        print(("" if first else "\n") + heading)
        first = False
        for r in table:
            note = r.get("error") or r.get("note")
            print(f"{r['engine']:<18}  {note}" if note else line(r))


def cmd_eval(args) -> int:
    from .cli import settings_from_args
    if not args.images and not args.video:
        raise StageError("eval: give --images DIR (NAME.jpg + NAME_mask.png pairs) and/or --video FILE")
    pairs = image_pairs(args.images) if args.images else None
    if args.video:
        try:
            next(iter_frames(args.video))
        except StageError as e:
            raise StageError(f"--video: {e}") from None
    base = settings_from_args(args)
    rows, failed = [], False
    for engine in args.engines or DEFAULT_ENGINES:
        settings = base.replace({"engine": engine})
        jobs = []
        if pairs:
            jobs.append(({"images": 0}, lambda: eval_images(settings, pairs)))
        if args.video:
            jobs.append(({"video": args.video}, lambda: eval_video(settings, args.video, args.video_frames)))
        for kind, job in jobs:
            try:
                row = job()
            except StageError as e:  # this engine cannot run (say, its model is missing): report, go on
                failed = True
                row = {"engine": engine, **kind, "error": str(e)}
            rows.append(row)
            if args.json:
                print(json.dumps(row), flush=True)
    if not args.json:
        print_table(rows)
    return 1 if failed else 0


def register(subparsers) -> None:
    from .cli import add_setting_flags
    from .settings import ENGINES
    p = subparsers.add_parser(
        "eval", conflict_handler="resolve",
        help="measure mask quality (IoU, boundary F, MAE, flicker, edge lag) against ground-truth masks")
    add_setting_flags(p)  # any setting applies to every engine; --engine below takes several
    p.add_argument("--images", metavar="DIR", help="folder of NAME.jpg|png + NAME_mask.png pairs (255 = person)")
    p.add_argument("--engine", dest="engines", nargs="+", choices=ENGINES, metavar="E",
                   help=f"engines to measure [default: {' '.join(DEFAULT_ENGINES)}]")
    p.add_argument("--video", metavar="FILE",
                   help="a video, or a folder of frames (with NAME_mask.png ground truth when available): flicker and edge lag")
    p.add_argument("--video-frames", type=int, default=150, metavar="N", help="frames of --video to use [default 150]")
    p.add_argument("--json", action="store_true", help="one JSON object per engine and input, per line")
    p.set_defaults(func=cmd_eval)

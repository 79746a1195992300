"""Mask quality: metrics (IoU, boundary F, MAE, flicker, edge lag) and `evaluate()`, run by `bgblur eval`.

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

from .settings import Settings
from .sources import ImageSequence, folder_images, open_path
from .stages import FrameContext, StageError

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
        change, n = _change(a, b, s)
        total, count = total + change, count + n
    return total / count / 255 if count else 0.0


def _change(a: np.ndarray, b: np.ndarray, still: np.ndarray) -> tuple[float, int]:
    """The summed absolute change from mask a to b over the still pixels, and their count."""
    _check(a, b)
    n = cv2.countNonZero(still)
    return (cv2.mean(cv2.absdiff(a, b), mask=still)[0] * n, n) if n else (0.0, 0)


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
NEEDS_PLATE = "not applicable: a photo or clip has no empty background to learn the plate from"


def not_applicable(engine: str) -> str | None:
    """Why an engine cannot be evaluated on photos and clips (its class's rule), or None."""
    from .segment import engine_rule
    return NEEDS_PLATE if engine_rule(engine, "needs_plate", False) else None


def image_pairs(folder: str) -> list[tuple[str, str]]:
    """(image, mask) paths for every NAME.jpg|png with a NAME_mask.png beside it, sorted by name."""
    if not os.path.isdir(folder):
        raise StageError(f"--images: {folder} is not a folder")
    pairs = []
    for name in folder_images(folder):
        mask = mask_path_of(os.path.join(folder, name))
        if os.path.isfile(mask):
            pairs.append((os.path.join(folder, name), mask))
    if not pairs:
        raise StageError(f"--images: no NAME.jpg (or .png) + NAME_mask.png pairs in {folder}")
    return pairs


def read_pair(image_path: str, mask_path: str) -> tuple[np.ndarray, np.ndarray]:
    with open_path(image_path) as source:
        frame, _ = source.read()
    return frame, ground_truth(mask_path, frame)


def iter_frames(path: str):
    """(frame, ground-truth mask or None) of a video, an image folder (name order) or a numbered pattern.

    Read through `sources.open_path`; NAME_mask.png beside an image NAME.jpg is its ground truth.
    """
    with open_path(path) as source:
        has_gt = isinstance(source, ImageSequence)
        while (got := source.read()) is not None:
            frame = got[0]
            yield frame, ground_truth(mask_path_of(source.path), frame) if has_gt else None


def mask_path_of(image_path: str) -> str:
    return os.path.splitext(image_path)[0] + "_mask.png"


def ground_truth(mask_path: str, frame: np.ndarray) -> np.ndarray | None:
    """The ground-truth mask at `mask_path` (the frame's size), or None when there is none."""
    if not os.path.isfile(mask_path):
        return None
    mask = cv2.imread(mask_path, cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise StageError(f"cannot read {mask_path} as an image")
    if mask.shape != frame.shape[:2]:
        raise StageError(f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but the image is "
                         f"{frame.shape[1]}x{frame.shape[0]}; they must match")
    return mask


# -- running an engine ---------------------------------------------------------------------
def build_stages(settings):
    from .pipeline import Stages
    return Stages(settings)


def eval_images(settings, pairs: list[tuple[str, str]]) -> dict:
    """IoU, boundary F, MAE and ms per image of one engine over image pairs (each image on its own)."""
    engine = settings.engine
    row = {"engine": engine, "images": len(pairs)}
    if note := not_applicable(engine):
        return {**row, "images": 0, "mean_iou": None, "boundary_f": None, "mae": None,
                "ms_per_image": None, "worst": [], "note": note}
    stages = build_stages(settings)
    steps = StepScores(settings, stages.segmenter, sequence=False)
    per_image, ms = [], []
    for i, (image_path, mask_path) in enumerate(pairs):
        frame, gt = read_pair(image_path, mask_path)
        if i == 0:
            stages.alpha(frame)  # warm-up: first-call setup is not a per-image cost
        stages.reset()  # photos are unrelated: no temporal state between them
        ctx = FrameContext(frame)
        t = time.perf_counter()
        mask = stages.segment(ctx)
        alpha = stages.refiner(mask, ctx)[0]
        ms.append((time.perf_counter() - t) * 1000)
        steps.add(mask, ctx, gt)
        name = os.path.splitext(os.path.basename(image_path))[0]
        per_image.append((iou(alpha, gt), boundary_f(alpha, gt), mae(alpha, gt), name))
    ious, fs, maes, names = zip(*per_image)
    worst = [name for _, name in sorted(zip(ious, names))[:5]]
    return {**row, "mean_iou": _r(np.mean(ious)), "boundary_f": _r(np.mean(fs)), "mae": _r(np.mean(maes)),
            "ms_per_image": round(float(np.median(ms)), 2), "worst": worst, "steps": steps.rows()}


def eval_video(settings, path: str, max_frames: int = 150) -> dict:
    """Flicker and edge lag of one engine on a moving sequence (its temporal state carries over).

    With ground-truth masks (an image folder with NAME_mask.png): against the ground truth.
    Without: still regions are pixels whose grey frame changed by at most 4 levels, and the lag
    is measured against the same engine with temporal smoothing off.
    """
    engine = settings.engine
    row = {"engine": engine, "video": path}
    if note := not_applicable(engine):
        return {**row, "frames": 0, "flicker": None, "edge_lag": None, "note": note}
    stages = build_stages(settings)
    steps = StepScores(settings, stages.segmenter, sequence=True)
    reference = None if stages.refiner.hard else build_stages(settings.replace({"temporal": 0.0}))
    alphas, refs, gts, greys, ms = [], [], [], [], []
    for frame, gt in iter_frames(path):
        if len(alphas) >= max_frames:
            break
        ctx = FrameContext(frame)
        t = time.perf_counter()
        mask = stages.segment(ctx)
        alphas.append(stages.refiner(mask, ctx)[0].copy())
        ms.append((time.perf_counter() - t) * 1000)
        if gt is not None:
            steps.add(mask, ctx, gt)
        refs.append(reference.alpha(frame) if reference is not None else alphas[-1])
        gts.append(gt)
        greys.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    has_gt = all(g is not None for g in gts)
    if has_gt:
        row.update(reference="ground truth", flicker=_r(flicker(alphas, gts)), edge_lag=_r(edge_lag(alphas, gts)),
                   mean_iou=_r(np.mean([iou(a, g) for a, g in zip(alphas, gts)])), steps=steps.rows())
    else:
        row.update(reference="still pixels; engine without temporal smoothing",
                   flicker=_r(flicker(alphas, still=still_regions(greys, tol=4))), edge_lag=_r(edge_lag(alphas, refs)))
    return {**row, "frames": len(alphas), "ms_per_frame": round(float(np.median(ms[1:] or ms)), 2)}


# -- the raw model next to each refinement step ------------------------------------------------
REFINE_STEPS = (  # (label, setting, its value with the step off), in the refiner's order
    ("threshold", "mask_threshold", 0.5),
    ("soft mask", "soft_mask", False),
    ("temporal", "temporal", 0.0),
    ("min region", "min_region", 0.0),
    ("edge refine", "edge_refine", False),
    ("feather", "feather", 0),
)


def refinement_steps(settings) -> list[tuple[str, Settings]]:
    """The raw model (refine off), then the refinement with `settings`' own steps switched on one at
    a time, in the refiner's order; the last is `settings` itself. (label, settings) pairs."""
    current = {"refine": "on", **{name: off for _, name, off in REFINE_STEPS}}
    steps = [("raw", settings.replace({"refine": "off"}))]
    for label, name, off in REFINE_STEPS:
        if settings[name] != off:
            current[name] = settings[name]
            value = "" if isinstance(off, bool) else f" {settings[name]}"
            steps.append((f"+ {label}{value}", settings.replace(current)))
    return steps


class StepScore:
    """Mean IoU and boundary F of one refinement step's alphas, and with `sequence` their flicker."""

    def __init__(self, label: str, refiner):
        self.label, self.refiner = label, refiner
        self.ious, self.fs, self.change, self.still = [], [], 0.0, 0
        self._last = None  # the previous frame's (alpha, ground truth)

    def add(self, mask: np.ndarray, ctx, gt: np.ndarray, sequence: bool) -> None:
        if not sequence:
            self.refiner.reset()  # photos are unrelated: no temporal state between them
        alpha = self.refiner(mask, ctx)[0].copy()
        self.ious.append(iou(alpha, gt))
        self.fs.append(boundary_f(alpha, gt))
        if sequence and self._last is not None:
            change, n = _change(self._last[0], alpha, still_regions([self._last[1], gt])[0])
            self.change, self.still = self.change + change, self.still + n
        self._last = (alpha, gt)

    def row(self, sequence: bool) -> dict:
        row = {"step": self.label, "mean_iou": _r(np.mean(self.ious)), "boundary_f": _r(np.mean(self.fs))}
        if sequence:
            row["flicker"] = _r(self.change / self.still / 255 if self.still else 0.0)
        return row


class StepScores:
    """The raw model and each refinement step (`refinement_steps`) scored on the masks the engine
    made once: every step refines the same mask. `sequence`: the frames are one sequence (temporal
    state carries over); else each is a photo on its own. No rows when the engine's masks are not
    refined."""

    def __init__(self, settings, segmenter, sequence: bool):
        from .chain import refiner_for
        self.sequence = sequence
        self.steps = [] if refiner_for(settings, segmenter).hard else [
            StepScore(label, refiner_for(s, segmenter)) for label, s in refinement_steps(settings)]

    def add(self, mask: np.ndarray, ctx, gt: np.ndarray) -> None:
        for step in self.steps:
            step.add(mask, ctx, gt, self.sequence)

    def rows(self) -> list[dict]:
        return [step.row(self.sequence) for step in self.steps]


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


def _step_line(s: dict) -> str:
    """A refinement step under its engine's row: IoU and boundary F (to 4 places: steps move them by
    less than 0.001), and flicker on a sequence."""
    flick = f"  flicker {s['flicker']:.4f}" if "flicker" in s else ""
    return f"  {s['step']:<23}IoU {s['mean_iou']:.4f}  bound.F {s['boundary_f']:.4f}{flick}"


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
            for step in r.get("steps", ()):
                print(_step_line(step))


def evaluate(base: Settings, engines: Sequence[str], images: str | None = None, video: str | None = None,
             video_frames: int = 150, as_json: bool = False) -> int:
    """`bgblur eval`: each engine over the image pairs in `images` and/or the sequence `video`; 1 if one failed."""
    if not images and not video:
        raise StageError("eval: give --images DIR (NAME.jpg + NAME_mask.png pairs) and/or --video FILE")
    pairs = image_pairs(images) if images else None
    if video:
        try:
            next(iter_frames(video))
        except StageError as e:
            raise StageError(f"--video: {str(e).removeprefix('input: ')}") from None
    rows, failed = [], False
    for engine in engines or DEFAULT_ENGINES:
        settings = base.replace({"engine": engine})
        jobs = []
        if pairs:
            jobs.append(({"images": 0}, lambda: eval_images(settings, pairs)))
        if video:
            jobs.append(({"video": video}, lambda: eval_video(settings, video, video_frames)))
        for kind, job in jobs:
            try:
                row = job()
            except StageError as e:  # this engine cannot run (say, its model is missing): report, go on
                failed = True
                row = {"engine": engine, **kind, "error": str(e)}
            rows.append(row)
            if as_json:
                print(json.dumps(row), flush=True)
    if not as_json:
        print_table(rows)
    return 1 if failed else 0

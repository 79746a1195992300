"""The per-frame chain: Segmenter -> Refiner -> Compositor, built from one Settings."""
from __future__ import annotations

import time

import cv2
import numpy as np

from .blur import Pyramid
from .compose import Compositor
from .refine import make_refiner
from .segment import make_segmenter
from .settings import Settings


def refinement_active(settings: Settings) -> bool:
    return settings.refine == "on" or (settings.refine == "auto" and settings.engine != "hsv")


def apply_threads(threads: int) -> None:
    """OpenCV's worker threads for the per-frame work (setting `threads`; 0: one per core).

    One thread costs the least CPU per frame: the per-frame calls are short, and waking and
    joining workers for each costs more than the work they share (about 20% more CPU with two)."""
    n = threads if threads > 0 else -1  # cv2: -1 resets to one per core
    if threads == 0 or cv2.getNumThreads() != n:
        cv2.setNumThreads(n)


class Stages:
    """The per-frame stages built from one Settings; rebuilt as a whole on change."""

    def __init__(self, settings: Settings, segmenter=None):
        self.settings = settings
        apply_threads(settings.threads)
        self.segmenter = segmenter or make_segmenter(settings)
        self.refiner = make_refiner(settings) if refinement_active(settings) else None
        self.compositor = Compositor(settings, hard=self.refiner is None)

    def alpha(self, frame: np.ndarray, stage_ms: dict[str, float] | None = None, pyramid: Pyramid | None = None,
              box: bool = False):
        """The alpha the compositor applies to `frame`: uint8 at frame size, 255 = person (a fresh array).

        box=True: (alpha, its non-zero box or None); the alpha is then a reused buffer."""
        ms = stage_ms if stage_ms is not None else {}
        pyramid = pyramid or Pyramid(frame)
        t = time.perf_counter()
        mask = self.segmenter(frame, pyramid)
        t = lap(ms, "segment", t)
        where = None
        if self.refiner is not None:
            if box:
                mask, where = self.refiner.composite_alpha(mask, frame, pyramid)
            else:
                mask = self.refiner(mask, frame, pyramid)
        elif mask.shape != frame.shape[:2]:
            mask = cv2.resize(mask, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)
            cv2.threshold(mask, 127, 255, cv2.THRESH_BINARY, dst=mask)
        lap(ms, "refine", t)
        return (mask, where) if box else mask

    def __call__(self, frame: np.ndarray, stage_ms: dict[str, float] | None = None, fps: float | None = None) -> np.ndarray:
        """One frame through segmenter, refiner and compositor; per-stage ms added to `stage_ms`.

        The frame's halvings (`Pyramid`) are made once and shared by the stages."""
        ms = stage_ms if stage_ms is not None else {}
        s = self.settings
        pyramid = Pyramid(frame)
        alpha, box = None, None
        if s.enabled and s.effect not in ("privacy", "none"):
            alpha, box = self.alpha(frame, ms, pyramid, box=True)
        t = time.perf_counter()
        out = self.compositor(frame, alpha, fps, pyramid, box)
        lap(ms, "compose", t)
        return out

    def reuse_from(self, old: "Stages") -> "Stages":
        """Keep the old refiner's temporal state when only unrelated settings changed."""
        if self.refiner is not None and old.refiner is not None and self.segmenter.__class__ is old.segmenter.__class__:
            self.refiner.adopt(old.refiner)
        return self


def lap(ms: dict[str, float], stage: str, t: float) -> float:
    now = time.perf_counter()
    ms[stage] = ms.get(stage, 0.0) + (now - t) * 1000
    return now

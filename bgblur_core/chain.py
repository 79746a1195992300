"""The per-frame chain: Segmenter -> Refiner -> Compositor, built from one Settings."""
from __future__ import annotations

import time

import cv2
import numpy as np

from .compose import Compositor
from .refine import make_refiner
from .segment import make_segmenter
from .settings import Settings


def refinement_active(settings: Settings) -> bool:
    return settings.refine == "on" or (settings.refine == "auto" and settings.engine != "hsv")


class Stages:
    """The per-frame stages built from one Settings; rebuilt as a whole on change."""

    def __init__(self, settings: Settings, segmenter=None):
        self.settings = settings
        self.segmenter = segmenter or make_segmenter(settings)
        self.refiner = make_refiner(settings) if refinement_active(settings) else None
        self.compositor = Compositor(settings, hard=self.refiner is None)

    def alpha(self, frame: np.ndarray, stage_ms: dict[str, float] | None = None) -> np.ndarray:
        """The alpha the compositor applies to `frame`: uint8 at frame size, 255 = person."""
        ms = stage_ms if stage_ms is not None else {}
        t = time.perf_counter()
        mask = self.segmenter(frame)
        t = lap(ms, "segment", t)
        if self.refiner is not None:
            mask = self.refiner(mask, frame)
        elif mask.shape != frame.shape[:2]:
            mask = cv2.resize(mask, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)
            cv2.threshold(mask, 127, 255, cv2.THRESH_BINARY, dst=mask)
        lap(ms, "refine", t)
        return mask

    def __call__(self, frame: np.ndarray, stage_ms: dict[str, float] | None = None, fps: float | None = None) -> np.ndarray:
        """One frame through segmenter, refiner and compositor; per-stage ms added to `stage_ms`."""
        ms = stage_ms if stage_ms is not None else {}
        s = self.settings
        alpha = self.alpha(frame, ms) if s.enabled and s.effect not in ("privacy", "none") else None
        t = time.perf_counter()
        out = self.compositor(frame, alpha, fps)
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

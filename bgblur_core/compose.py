"""Compositor: frame + alpha -> output frame (blur, privacy, replacement), plus the blur variants."""
from __future__ import annotations

import cv2
import numpy as np

from .blur import BLURS
from .seed import draw_fps


class Compositor:
    """Keeps the person from `frame` where alpha is set, and the effect's background elsewhere.

    `hard` (the seed's select): alpha is 0/255 and is applied with a per-pixel copy, so the
    hsv engine with the exact blur is byte-identical to the seed.
    """

    def __init__(self, settings, hard: bool):
        self.effect = settings.effect if settings.enabled else "none"
        self.blur = BLURS[settings.blur_method]
        self.ksize, self.sigma = settings.blur_kernel, settings.blur_sigma
        self.show_fps = settings.show_fps
        self.hard = hard

    def background(self, frame: np.ndarray) -> np.ndarray:
        return self.blur(frame, self.ksize, self.sigma)

    def __call__(self, frame: np.ndarray, alpha: np.ndarray | None, fps: float | None = None) -> np.ndarray:
        if self.effect == "none":
            out = frame.copy()
        elif self.effect == "privacy" or alpha is None:
            out = self.background(frame)
        else:
            out = self.background(frame)
            if self.hard:
                cv2.copyTo(frame, alpha, out)
            else:
                out = blend(frame, out, alpha)
        if self.show_fps and fps is not None:
            draw_fps(out, fps)
        return out


def blend(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """fg where alpha is 255, bg where 0, mixed in between."""
    w = alpha.astype(np.float32) * (1 / 255)
    return cv2.blendLinear(fg, bg, w, 1 - w)

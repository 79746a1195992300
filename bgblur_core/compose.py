"""Compositor: frame + alpha -> output frame (blur, privacy, replacement), plus the blur variants."""
from __future__ import annotations

import cv2
import numpy as np

from .seed import draw_fps


def gaussian_sigma(ksize: int, sigma: float) -> float:
    """The sigma OpenCV uses for `GaussianBlur(ksize, sigma)` (sigma 0: derived from ksize)."""
    return sigma if sigma > 0 else 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8


def blur_exact(frame: np.ndarray, ksize: int, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(frame, (ksize, ksize), sigma)


def blur_fast(frame: np.ndarray, ksize: int, sigma: float) -> np.ndarray:
    """A visually equivalent Gaussian blur: blur at reduced resolution, then scale back up."""
    s = gaussian_sigma(ksize, sigma)
    factor = max(1, int(s / 1.5))
    if factor == 1:
        return cv2.GaussianBlur(frame, (ksize, ksize), sigma)
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    # INTER_AREA already averages `factor` pixels, which is roughly sigma factor/2 of blur.
    s_small = max(0.5, ((s / factor) ** 2 - 0.25) ** 0.5)
    k_small = 2 * int(3 * s_small) + 1
    small = cv2.GaussianBlur(small, (k_small, k_small), s_small)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


BLURS = {"exact": blur_exact, "fast": blur_fast}


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

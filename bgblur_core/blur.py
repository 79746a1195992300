"""Background blurs: the seed-exact Gaussian and a fast, visually equivalent one."""
from __future__ import annotations

import cv2
import numpy as np


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

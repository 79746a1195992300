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
    """A visually equivalent Gaussian blur (PSNR about 50 dB against the exact one at the default
    strength): blur at 1/2, 1/4 or 1/8 resolution, then scale back up.

    The factor is the largest power of two not above sigma. Halving with INTER_AREA is OpenCV's
    fast 2x2 average; the averaging and the bilinear upscale already blur by a variance of
    factor^2 / 4 full-resolution px^2, so the small Gaussian only adds the rest.
    """
    s = gaussian_sigma(ksize, sigma)
    factor = 1
    while factor * 2 <= s:
        factor *= 2
    if factor == 1:
        return cv2.GaussianBlur(frame, (ksize, ksize), sigma)
    h, w = frame.shape[:2]
    small, f = frame, 1
    while f < factor:
        f *= 2
        small = cv2.resize(small, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    s_small = max(0.5, ((s / factor) ** 2 - 0.25) ** 0.5)
    k_small = 2 * int(3 * s_small + 0.5) + 1
    small = cv2.GaussianBlur(small, (k_small, k_small), s_small)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


BLURS = {"exact": blur_exact, "fast": blur_fast}

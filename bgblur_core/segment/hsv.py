"""The seed method's segmenter: foreground where H, S and V lie inside the thresholds.

The mask is byte-identical to `inRange(cvtColor(frame, BGR2HSV), lower, upper)`. When the hue
range is the full 0..179 (the seed's default) it is computed without the HSV image: V is the
largest channel, and S depends only on V and the smallest channel, falling as the smallest
rises. So for each V the passing smallest-channel values form one range, read from tables that
OpenCV's own conversion fills in once. That takes about half the time of cvtColor + inRange.
"""
from __future__ import annotations

import cv2
import numpy as np

HUE_MAX = 179  # the largest hue BGR2HSV gives 8-bit frames


def min_channel_ranges(lower, upper) -> tuple[np.ndarray, np.ndarray]:
    """Per V (0..255), the inclusive range of min(B, G, R) whose S and V pass (lo > hi: none)."""
    v = np.arange(256, dtype=np.uint8)[:, None]
    m = np.minimum(np.arange(256, dtype=np.uint8)[None, :], v)  # smallest channel m <= v
    grid = np.dstack(np.broadcast_arrays(v, v, m)).astype(np.uint8)  # BGR = (v, v, m)
    hsv = cv2.cvtColor(grid, cv2.COLOR_BGR2HSV)
    s_ok = (hsv[..., 1] >= lower[1]) & (hsv[..., 1] <= upper[1])
    v_ok = (hsv[..., 2] >= lower[2]) & (hsv[..., 2] <= upper[2])
    ok = s_ok & v_ok & (np.arange(256)[None, :] <= np.arange(256)[:, None])
    lo, hi = np.full(256, 255, np.uint8), np.zeros(256, np.uint8)
    for value, row in enumerate(ok):
        passing = np.flatnonzero(row)
        if passing.size:
            lo[value], hi[value] = passing[0], passing[-1]
            if passing.size != passing[-1] - passing[0] + 1:
                raise AssertionError("S is not monotonic in the smallest channel")
    return lo, hi


class HsvSegmenter:
    refine_auto = False  # refine=auto leaves the seed method unrefined, so it stays seed-exact
    uses = ("hsv_h_min", "hsv_h_max", "hsv_s_min", "hsv_s_max", "hsv_v_min", "hsv_v_max")

    def __init__(self, settings):
        self.lower = np.array((settings.hsv_h_min, settings.hsv_s_min, settings.hsv_v_min), np.uint8)
        self.upper = np.array((settings.hsv_h_max, settings.hsv_s_max, settings.hsv_v_max), np.uint8)
        self._hsv = None
        self._ranges = self._line = None
        if settings.hsv_h_min == 0 and settings.hsv_h_max >= HUE_MAX:
            self._ranges = min_channel_ranges(self.lower, self.upper)
            lo, hi = self._ranges
            # One comparison suffices when no range has a lower end (the seed's S and V maxima of 255)
            self._below = None
            if not lo[lo <= hi].any() and int(hi.max()) < 255:
                self._below = np.where(lo <= hi, hi.astype(np.int16) + 1, 0).astype(np.uint8)  # pass: min < below[V]
                self._line = linear_form(self._below)
        self._planes = self._size = None

    def _buffers(self, frame: np.ndarray):
        size = frame.shape[:2]
        if self._size != size:
            self._size = size
            self._planes = [np.empty(size, np.uint8) for _ in range(5)]
        return self._planes

    def __call__(self, frame: np.ndarray, pyramid=None) -> np.ndarray:
        if self._ranges is None or frame.ndim != 3 or frame.shape[2] != 3:
            self._hsv = cv2.cvtColor(frame, cv2.COLOR_BGR2HSV, dst=self._hsv if _fits(self._hsv, frame) else None)
            return cv2.inRange(self._hsv, self.lower, self.upper)
        b, g, r, top, low = self._buffers(frame)
        cv2.split(frame, [b, g, r])
        cv2.max(b, g, top)
        cv2.max(top, r, top)  # V
        cv2.min(b, g, low)
        cv2.min(low, r, low)  # the smallest channel
        if self._line is not None:  # below[V] as two cheap arithmetic passes (cv2.LUT is the slowest step here)
            v_from, scale, offset = self._line
            cv2.threshold(top, v_from - 1, 255, cv2.THRESH_TOZERO, dst=b)
            cv2.convertScaleAbs(b, dst=b, alpha=scale, beta=offset)
            return cv2.compare(low, b, cv2.CMP_LT)
        if self._below is not None:
            return cv2.compare(low, cv2.LUT(top, self._below, dst=b), cv2.CMP_LT)
        lo, hi = self._ranges
        return cv2.inRange(low, cv2.LUT(top, lo, dst=b), cv2.LUT(top, hi, dst=g))


def linear_form(below: np.ndarray):
    """(v_from, scale, offset) with which `below` (per V, 0..255) is, exactly, 0 for V < v_from and
    round(scale * V + offset) from there: OpenCV's own threshold and convertScaleAbs reproduce the
    table for every V, checked here; None when no such line fits (the table is used then)."""
    passing = np.flatnonzero(below)
    if passing.size == 0 or np.any(below[passing[0]:] == 0):
        return None
    v_from = int(passing[0])
    v = np.arange(v_from, 256, dtype=np.float64)
    y = below[v_from:].astype(np.float64)
    slope = (y[-1] - y[0]) / max(1.0, v[-1] - v[0])
    ks = np.linspace(slope - 0.01, slope + 0.01, 4001)[:, None]
    c_lo = np.maximum((y - 0.5 - ks * v).max(axis=1), -0.5)
    c_hi = np.minimum((y + 0.5 - ks * v).min(axis=1), 0.5)
    every_v = np.arange(256, dtype=np.uint8)[None]
    for i in np.argsort(c_lo - c_hi)[:20]:  # the widest fits first
        if c_hi[i] <= c_lo[i]:
            break
        k, c = float(ks[i, 0]), float((c_lo[i] + c_hi[i]) / 2)
        t = cv2.threshold(every_v, v_from - 1, 255, cv2.THRESH_TOZERO)[1]
        if np.array_equal(cv2.convertScaleAbs(t, alpha=k, beta=c)[0], below):
            return v_from, k, c
    return None


def _fits(buf, frame) -> bool:
    return buf is not None and buf.shape == frame.shape

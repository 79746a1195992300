"""Shared parts of every source: the Pacer, BaseSource and as_bgr (see the package docstring)."""
from __future__ import annotations

import time

import cv2
import numpy as np

from ..stages import Closeable


class Pacer:
    """Sleeps so that successive `wait()` calls return `fps` times a second; never bursts to catch up."""

    def __init__(self, fps: float):
        self.period = 1.0 / max(fps, 1e-3)
        self._next: float | None = None

    def wait(self) -> float:
        now = time.monotonic()
        if self._next is None or now - self._next > self.period:
            self._next = now
        elif self._next > now:
            time.sleep(self._next - now)
            now = time.monotonic()
        self._next += self.period
        return now


class BaseSource(Closeable):
    name = "source"
    size: tuple[int, int] = (0, 0)
    fps: float = 30.0
    dropped = 0  # frames the source threw away because a newer one arrived
    skipped = 0  # frames that failed to decode and were skipped
    placeholder = False  # True while read() hands out a "camera lost" placeholder frame
    # read() -> (frame, capture time) | None: each source's own (see stages.Source)


def as_bgr(frame: np.ndarray) -> np.ndarray:
    """Grey or BGRA frames (some cameras and PNGs) as 3-channel BGR uint8."""
    if frame.dtype != np.uint8:
        frame = cv2.convertScaleAbs(frame, alpha=255.0 / 65535) if frame.dtype == np.uint16 else frame.astype(np.uint8)
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame

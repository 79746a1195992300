"""The seed method's segmenter: foreground where H, S and V lie inside the thresholds."""
from __future__ import annotations

import cv2
import numpy as np


class HsvSegmenter:
    def __init__(self, settings):
        self.lower = np.array((settings.hsv_h_min, settings.hsv_s_min, settings.hsv_v_min), np.uint8)
        self.upper = np.array((settings.hsv_h_max, settings.hsv_s_max, settings.hsv_v_max), np.uint8)
        self._hsv = None

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        self._hsv = cv2.cvtColor(frame, cv2.COLOR_BGR2HSV, dst=self._hsv if _fits(self._hsv, frame) else None)
        return cv2.inRange(self._hsv, self.lower, self.upper)


def _fits(buf, frame) -> bool:
    return buf is not None and buf.shape == frame.shape

"""The seed tutorial's steps 2-5, written plainly from SEED.md: the reference the hsv engine must match."""
from __future__ import annotations

import cv2
import numpy as np

SEED_LOWER = (0, 75, 40)
SEED_UPPER = (180, 255, 255)
SEED_KERNEL = 25


def seed_reference(frame: np.ndarray, lower=SEED_LOWER, upper=SEED_UPPER, ksize: int = SEED_KERNEL,
                   sigma: float = 0) -> np.ndarray:
    hsv = cv2.cvtColor(frame, cv2.COLOR_BGR2HSV)
    mask = cv2.inRange(hsv, np.array(lower), np.array(upper))
    blurred = cv2.GaussianBlur(frame, (ksize, ksize), sigma)
    mask3 = np.zeros_like(frame)
    mask3[:, :, 0] = mask
    mask3[:, :, 1] = mask
    mask3[:, :, 2] = mask
    return np.where(mask3 == 255, frame, blurred)


def draw_fps(frame: np.ndarray, fps: float) -> np.ndarray:
    """SEED.md step 6: the green FPS label at (10, 20), drawn in place."""
    cv2.putText(frame, f"FPS: {fps:.1f}", (10, 20), cv2.FONT_HERSHEY_PLAIN, 2, (0, 255, 0), 2)
    return frame

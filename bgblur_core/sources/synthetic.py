"""The synthetic scene: a deterministic room with a moving figure, its clean plate and ground-truth mask."""
from __future__ import annotations

import math
import os
import time
from functools import lru_cache

import cv2
import numpy as np

from .base import BaseSource, Pacer

# -- the synthetic scene ----------------------------------------------------------------
SYNTHETIC_PERIOD = 150  # frames; the motion repeats every 5 s at 30 fps
WHITEBOARD_TEXT = ("Q3 ROADMAP", "1. launch beta", "2. fix login bug", "3. hire 2 devs", "budget: $48k")
SKIN, SKIN_SHADE = (120, 160, 215), (100, 138, 192)
HAIR, SWEATER, COLLAR = (40, 62, 105), (150, 112, 24), (205, 210, 215)


@lru_cache(maxsize=4)
def _synthetic_background(w: int, h: int) -> np.ndarray:
    """The static room, drawn once per size: a lit wall, a whiteboard with writing, shelves with books."""
    sx, sy = w / 1280, h / 720
    s = min(sx, sy)

    def P(x, y):
        return int(round(x * sx)), int(round(y * sy))

    # wall: low-saturation beige with a soft light falloff from the top left (one channel at a time:
    # at 4K a full 3-channel float image would cost 100 MB)
    light = 1.05 - 0.25 * np.hypot(np.arange(w, dtype=np.float32) / w, np.arange(h, dtype=np.float32)[:, None] / h)
    bg = np.empty((h, w, 3), np.uint8)
    for c, level in enumerate((150, 160, 166)):
        bg[..., c] = (light * np.float32(level)).clip(0, 255)
    # whiteboard with dark marker writing
    cv2.rectangle(bg, P(50, 60), P(520, 400), (118, 120, 124), max(1, int(8 * s)))
    cv2.rectangle(bg, P(58, 68), P(512, 392), (232, 235, 236), -1)
    for i, line in enumerate(WHITEBOARD_TEXT):
        scale = (1.3 if i == 0 else 1.0) * s
        cv2.putText(bg, line, P(90, 130 + 58 * i), cv2.FONT_HERSHEY_SIMPLEX, scale, (48, 46, 44),
                    max(1, int(round(3 * s))), cv2.LINE_AA)
    cv2.line(bg, P(90, 142), P(330, 142), (48, 46, 44), max(1, int(3 * s)))
    cv2.rectangle(bg, P(70, 392), P(500, 404), (110, 112, 115), -1)  # marker tray
    # shelves with muted books and one saturated red mug (the seed method keeps that sharp)
    rng = np.random.default_rng(1234)
    for shelf_y in (190, 360, 530):
        x = 880
        while x < 1230:
            bw, bh = int(rng.integers(16, 36)), int(rng.integers(90, 140))
            grey = int(rng.integers(70, 175))
            tint = rng.integers(-14, 15, 3)
            color = tuple(int(np.clip(grey + t, 0, 255)) for t in tint)
            cv2.rectangle(bg, P(x, shelf_y - bh), P(x + bw - 3, shelf_y), color, -1)
            x += bw + int(rng.integers(0, 8))
        cv2.rectangle(bg, P(860, shelf_y), P(1250, shelf_y + 16), (96, 110, 124), -1)
    cv2.rectangle(bg, P(1170, 470), P(1210, 530), (40, 40, 190), -1)
    # a framed low-saturation print and a light switch
    cv2.rectangle(bg, P(600, 70), P(760, 230), (90, 92, 96), max(1, int(6 * s)))
    cv2.rectangle(bg, P(606, 76), P(754, 224), (170, 175, 178), -1)
    cv2.circle(bg, P(660, 140), int(40 * s), (140, 150, 150), -1)
    cv2.rectangle(bg, P(806, 380), P(836, 430), (212, 214, 214), -1)
    return bg


@lru_cache(maxsize=4)
def _synthetic_noise(w: int, h: int) -> tuple[np.ndarray, ...]:
    """Four planes of mild sensor noise; frame n adds one and subtracts the next. They are views of
    one plane shifted by a row each, so they cost one frame's memory, not four."""
    plane = np.random.default_rng(99).integers(0, 5, (h + 3, w, 3), dtype=np.uint8)
    return tuple(plane[k:k + h] for k in range(4))


def _figure_pose(n: int, w: int, h: int) -> tuple[float, float, float, float]:
    """(centre x, head y offset, lean, scale) of the figure in frame n."""
    s = min(w / 1280, h / 720)
    t = 2 * math.pi * (n % SYNTHETIC_PERIOD) / SYNTHETIC_PERIOD
    cx = w / 2 + s * (170 * math.sin(t) + 35 * math.sin(3 * t))
    bob = s * 12 * math.sin(2 * t)
    lean = s * 28 * math.sin(t + 0.8)
    return cx, bob, lean, s


def _draw_figure(img: np.ndarray, n: int, mask: bool) -> None:
    """Draw the figure of frame n into img (colours), or its silhouette (255) when mask."""
    h, w = img.shape[:2]
    cx, bob, lean, s = _figure_pose(n, w, h)

    def P(x, y):  # figure coordinates: x from the figure's centre, y up from the frame's bottom
        return int(round(cx + x * s)), int(round(h - y * s))

    def S(r):
        return max(1, int(round(r * s)))

    def c(color):
        return 255 if mask else color

    hx, hy = lean, 390 - bob / max(s, 1e-6)  # head centre in figure coordinates
    cv2.ellipse(img, P(0, -70), (S(310), S(250)), 0, 180, 360, c(SWEATER), -1)  # shoulders and torso
    cv2.rectangle(img, P(-46 + lean * 0.3, 290), P(46 + lean * 0.3, 140), c(SKIN_SHADE), -1)  # neck
    cv2.ellipse(img, P(lean * 0.2, 165), (S(80), S(40)), 0, 180, 360, c(COLLAR), -1)  # collar
    cv2.ellipse(img, P(lean * 0.2, 170), (S(58), S(26)), 0, 180, 360, c(SKIN_SHADE), -1)
    for side in (-1, 1):
        cv2.ellipse(img, P(hx + side * 86, hy), (S(14), S(26)), 0, 0, 360, c(SKIN_SHADE), -1)  # ears
    cv2.ellipse(img, P(hx, hy), (S(86), S(112)), 0, 0, 360, c(SKIN), -1)  # face
    cv2.ellipse(img, P(hx, hy + 40), (S(94), S(90)), 0, 180, 360, c(HAIR), -1)  # hair
    cv2.ellipse(img, P(hx, hy + 46), (S(92), S(30)), 0, 0, 180, c(HAIR), -1)
    if mask:
        return
    for side in (-1, 1):
        cv2.ellipse(img, P(hx + side * 34, hy + 8), (S(12), S(7)), 0, 0, 360, (52, 40, 34), -1)  # eyes
        cv2.line(img, P(hx + side * 22, hy + 30), P(hx + side * 50, hy + 34), HAIR, S(5))  # brows
    cv2.ellipse(img, P(hx, hy - 52), (S(28), S(10)), 0, 0, 180, (80, 82, 176), -1)  # mouth
    cv2.line(img, P(hx, hy - 2), P(hx - 8, hy - 28), SKIN_SHADE, S(4))  # nose


def _add_noise(frame: np.ndarray, n: int) -> np.ndarray:
    noise = _synthetic_noise(frame.shape[1], frame.shape[0])
    cv2.add(frame, noise[n % 4], dst=frame)
    cv2.subtract(frame, noise[(n + 1) % 4], dst=frame)
    return frame


def synthetic_frame(n: int, w: int, h: int) -> np.ndarray:
    """Frame n of the synthetic scene at w x h: the same bytes every time."""
    frame = _synthetic_background(w, h).copy()
    _draw_figure(frame, n, mask=False)
    return _add_noise(frame, n)


def synthetic_background(n: int, w: int, h: int) -> np.ndarray:
    """Frame n of the synthetic scene without the person (a clean plate), sensor noise included."""
    return _add_noise(_synthetic_background(w, h).copy(), n)


def synthetic_person_mask(n: int, w: int, h: int) -> np.ndarray:
    """The ground truth of frame n: uint8, 255 where the figure is."""
    mask = np.zeros((h, w), np.uint8)
    _draw_figure(mask, n, mask=True)
    return mask


# -- a time code in the picture, for measuring latency end to end (e.g. into OBS) ----------------
TIMECODE_ENV = "BGBLUR_SYNTHETIC_TIMECODE"  # "1": the synthetic scene carries its capture time
TIMECODE_BITS = 20  # milliseconds of time.monotonic() modulo 2**20 (17 minutes)
TIMECODE_ONE, TIMECODE_ZERO = (0, 0, 255), (255, 0, 0)  # saturated red / blue: the hsv engine keeps them sharp


def draw_timecode(frame: np.ndarray, t: float) -> None:
    """Write `t` (monotonic seconds) into the frame's top band as TIMECODE_BITS red/blue blocks, MSB first."""
    h, w = frame.shape[:2]
    ms, band = int(t * 1000) % (1 << TIMECODE_BITS), max(8, h // 12)
    for i in range(TIMECODE_BITS):
        bit = ms >> (TIMECODE_BITS - 1 - i) & 1
        x0, x1 = i * w // TIMECODE_BITS, (i + 1) * w // TIMECODE_BITS
        frame[:band, x0:x1] = TIMECODE_ONE if bit else TIMECODE_ZERO


def read_timecode(img: np.ndarray) -> int:
    """The milliseconds draw_timecode wrote, read back from a (scaled, re-encoded) BGR picture of the frame."""
    h, w = img.shape[:2]
    y, ms = max(8, h // 12) // 2, 0
    for i in range(TIMECODE_BITS):
        b, _, r = (int(v) for v in img[y, (2 * i + 1) * w // (2 * TIMECODE_BITS)])
        ms = ms << 1 | (r > b)
    return ms


class Synthetic(BaseSource):
    """The built-in scene, endless; paced at `fps` when realtime (with a time code when TIMECODE_ENV is 1)."""

    def __init__(self, w: int, h: int, fps: float, realtime: bool):
        self.size, self.fps, self.name = (w, h), float(fps), "synthetic"
        self._pacer = Pacer(fps) if realtime else None
        self.n = 0
        self.timecode = os.environ.get(TIMECODE_ENV) == "1"

    def read(self):
        frame = synthetic_frame(self.n, *self.size)
        self.n += 1
        now = self._pacer.wait() if self._pacer else time.monotonic()
        if self.timecode:
            draw_timecode(frame, now)
        return frame, now


class SyntheticCamera:
    """A camera device (the cv2.VideoCapture interface `Camera` reads) that delivers the synthetic
    scene at `fps`, like a real webcam: for measuring the live pipeline without one (`bgblur bench`)."""

    def __init__(self, size: tuple[int, int], fps: float):
        self.size, self._pacer, self.n = size, Pacer(fps), 0

    def isOpened(self) -> bool:
        return True

    def set(self, prop, value) -> bool:
        return False

    def read(self):
        frame = synthetic_frame(self.n, *self.size)
        self.n += 1
        self._pacer.wait()
        return True, frame

    def release(self) -> None:
        pass

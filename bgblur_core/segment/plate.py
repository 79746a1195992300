"""The clean-plate engine: compare each frame with a learned picture of the empty scene.

For users who want no neural model, or have a static camera. `learn_plate()` takes the median of
about a second of the empty scene and saves it (reused across runs). Each frame is compared with
it at reduced resolution, in YCrCb: chroma differences count fully; brightness differences count
half, after a global gain that follows exposure and lighting changes, and a pixel may be up to
SHADOW darker than the plate with the same chroma (a shadow) before that counts at all.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..blur import Pyramid, shrink
from ..paths import cache_dir
from ..stages import StageError

PLATE_MAX_SIDE = 320  # comparison resolution: the frame halved until its long side is at most this
SHADOW = 0.3  # a pixel up to 30% darker than the plate, same chroma, is a shadow, not a person
LUMA_WEIGHT = 0.5  # brightness differences count half as much as chroma differences
GAIN_RANGE = (0.5, 2.0)  # the global brightness correction stays within this
LEARN_HINT = "run `bgblur learn --input SRC` (or the Learn background command) with nobody in the picture"


def plate_file(settings) -> Path:
    """settings.plate_path, else plate.png in the bgblur cache (`paths.cache_dir()`)."""
    if settings.plate_path:
        return Path(settings.plate_path).expanduser()
    return cache_dir() / "plate.png"


def load_plate(path: Path) -> np.ndarray:
    if not path.is_file():
        raise StageError(f"plate engine: no background learned yet ({path} does not exist); {LEARN_HINT}")
    plate = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if plate is None:
        raise StageError(f"plate engine: cannot read {path} as an image; {LEARN_HINT} again")
    return plate


def plate_size(width: int, height: int) -> tuple[int, int]:
    while max(width, height) > PLATE_MAX_SIDE:
        width, height = (width + 1) // 2, (height + 1) // 2
    return width, height


class PlateSegmenter:
    """frame -> person probability (uint8, 255 = person) at reduced resolution."""

    needs_plate = True  # built from a learned background: rebuilt after learning one
    uses = ("plate_threshold", "plate_path")

    def __init__(self, settings):
        self.path = plate_file(settings)
        self.plate = load_plate(self.path)
        threshold = settings.plate_threshold
        # distance -> probability: 0 up to half the threshold, 128 at it, 255 from 1.5x
        x = np.arange(256, dtype=np.float32)
        self._ramp = np.clip((x - threshold / 2) * (255 / threshold), 0, 255).astype(np.uint8)
        self._size = None  # the frame size the reference below was made for
        self._background = None  # previous frame's background pixels, for the gain

    def _prepare(self, width: int, height: int) -> None:
        plate = self.plate
        if plate.shape[:2] != (height, width):
            from ..log import log
            log(f"plate: the learned background is {plate.shape[1]}x{plate.shape[0]} but the camera gives "
                f"{width}x{height}; scaled it to fit. Re-learn the background for a clean cut-out")
            plate = cv2.resize(plate, (width, height), interpolation=cv2.INTER_AREA)
        size = plate_size(width, height)
        y, cr, cb = cv2.split(cv2.cvtColor(shrink(plate, size), cv2.COLOR_BGR2YCrCb))
        self._luma, self._cr, self._cb = y, cr, cb
        self._shadow_floor = cv2.convertScaleAbs(y, alpha=1 - SHADOW)
        self._size, self._work = (width, height), size
        self._background = None

    def __call__(self, frame: np.ndarray, pyramid=None) -> np.ndarray:
        height, width = frame.shape[:2]
        if self._size != (width, height):
            self._prepare(width, height)
        y, cr, cb = cv2.split(cv2.cvtColor((pyramid or Pyramid(frame)).resized(self._work), cv2.COLOR_BGR2YCrCb))
        y = cv2.multiply(y, self._gain(y))  # follow exposure and lighting changes
        chroma = cv2.add(cv2.absdiff(cr, self._cr), cv2.absdiff(cb, self._cb))
        brighter = cv2.subtract(y, self._luma)
        darker = cv2.subtract(self._shadow_floor, y)  # darker than a shadow could make it
        distance = cv2.addWeighted(chroma, 1.0, cv2.add(brighter, darker), LUMA_WEIGHT, 0)
        prob = cv2.LUT(distance, self._ramp)
        self._background = cv2.compare(prob, 128, cv2.CMP_LT)
        return prob

    def _gain(self, y: np.ndarray) -> float:
        """Plate brightness / frame brightness over the last frame's background pixels."""
        mask = self._background
        if mask is not None and cv2.countNonZero(mask) < mask.size // 10:
            mask = None  # hardly any background seen: use the whole frame
        frame_mean = cv2.mean(y, mask=mask)[0]
        plate_mean = cv2.mean(self._luma, mask=mask)[0]
        return float(np.clip(plate_mean / max(frame_mean, 1.0), *GAIN_RANGE))


def learn_plate(frames: list[np.ndarray], settings) -> str:
    """Save the median of `frames` (about a second of the empty scene) as the plate; its path."""
    if not frames:
        raise StageError("learn: no frames to learn the background from")
    shape = frames[0].shape
    if any(f.shape != shape for f in frames):
        raise StageError("learn: the frames changed size while learning; learn the background again")
    plate = np.empty(shape, np.uint8)
    step = max(1, (1 << 22) // max(1, len(frames) * shape[1] * 3))  # rows per chunk: about 4 MB of pixels
    for top in range(0, shape[0], step):
        rows = np.stack([f[top:top + step] for f in frames])
        plate[top:top + step] = np.median(rows, axis=0)
    path = plate_file(settings)
    tmp = path.with_name(path.stem + ".part" + (path.suffix or ".png"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(tmp), plate):
            raise OSError(0, "OpenCV cannot write an image with that name; use a .png path")
        os.replace(tmp, path)
    except (OSError, cv2.error) as e:
        if tmp.exists():
            tmp.unlink()
        reason = getattr(e, "strerror", None) or str(e)
        raise StageError(f"plate_path: cannot save the background to {path}: {reason}") from None
    return str(path)


def learn_from_source(settings, seconds: float = 1.0) -> str:
    """Learn the plate from about `seconds` of the source `settings.input` names; the saved path."""
    from ..log import log
    from ..sources import open_source
    if not seconds > 0:
        raise StageError(f"learn: {seconds} seconds is not allowed; expected a number above 0")
    source = open_source(settings, realtime=False)
    try:
        count = max(1, round(seconds * (source.fps or settings.fps)))
        log(f"learning the background from {source.name}: {count} frames; keep out of the picture")
        frames = []
        while len(frames) < count:
            got = source.read()
            if got is None:
                break
            frames.append(got[0].copy())
    finally:
        source.close()
    path = learn_plate(frames, settings)
    log(f"background learned from {len(frames)} frames and saved to {path}")
    return path

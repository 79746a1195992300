"""An image sequence source: every image in a folder in name order, or a numbered pattern (frames/%05d.jpg)."""
from __future__ import annotations

import os
import re
import time

import cv2
import numpy as np

from ..log import log
from ..settings import NUMBERED, is_image
from ..stages import StageError
from .base import BaseSource, Pacer, as_bgr


def folder_images(folder: str) -> list[str]:
    """The image file names in `folder`, sorted, leaving out NAME_mask.png ground truth."""
    return sorted(n for n in os.listdir(folder) if is_image(n) and not os.path.splitext(n)[0].endswith("_mask"))


def pattern_images(pattern: str) -> list[str]:
    """The files a numbered pattern such as frames/%05d.jpg names, in number order."""
    folder, name = os.path.split(pattern)
    match = NUMBERED.search(name)
    digits = r"\d{%s,}" % match.group(1) if match.group(1) else r"\d+"  # %05d: at least 5 digits
    regex = re.compile(re.escape(name[:match.start()]) + f"({digits})" + re.escape(name[match.end():]) + "$")
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return []
    found = sorted((int(m.group(1)), n) for n in names if (m := regex.match(n)))
    return [os.path.join(folder, n) for _, n in found]


def read_image(path: str) -> np.ndarray | None:
    """An image file as BGR uint8 (grey, alpha and 16-bit images converted), or None."""
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    return None if image is None or image.size == 0 else as_bgr(image)


class ImageSequence(BaseSource):
    """The images of a folder (sorted by name) or a numbered pattern, one per read.

    Loops when `loop`; paced at `fps` when realtime. An image that cannot be decoded is skipped
    and counted in `.skipped`. `.path` is the file of the frame read last. `.size` is the first
    image's; the others are scaled to it, as a video's frames are, unless `same_size` is off
    (`bgblur mask` on a folder: every photo at its own size).
    """

    def __init__(self, spec: str, fps: float = 30.0, loop: bool = False, realtime: bool = False,
                 same_size: bool = True):
        if os.path.isdir(spec):
            self.paths = [os.path.join(spec, n) for n in folder_images(spec)]
        else:
            self.paths = pattern_images(spec)
        if not self.paths:
            raise StageError(f"input: cannot read {spec!r}: no images in it")
        self.name, self.fps, self.loop = f"images {spec}", float(fps), loop
        self._pacer = Pacer(fps) if realtime else None
        self._next = 0
        self.path = ""
        self.size = None
        self.same_size = same_size
        first = self._frame()
        if first is None:
            raise StageError(f"input: cannot read {spec!r}: none of its images can be decoded")
        self.size = (first.shape[1], first.shape[0])
        self._pending = first

    def _frame(self) -> np.ndarray | None:
        """The next image that decodes, or None at the end (after one full pass when looping)."""
        for _ in range(len(self.paths)):
            if self._next >= len(self.paths):
                if not self.loop:
                    return None
                self._next = 0
            path = self.paths[self._next]
            self._next += 1
            frame = read_image(path)
            if frame is not None:
                self.path = path
                if self.same_size and self.size and (frame.shape[1], frame.shape[0]) != self.size:
                    frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
                return frame
            self.skipped += 1
            log(f"input: skipped {path}: not an image OpenCV can decode")
        return None

    def read(self):
        if self._pending is not None:
            frame, self._pending = self._pending, None
        else:
            frame = self._frame()
        if frame is None:
            return None
        now = self._pacer.wait() if self._pacer else time.monotonic()
        return frame, now

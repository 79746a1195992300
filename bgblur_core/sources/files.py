"""File sources: a still image (repeated) and a video file (looped, paced, skipping bad frames)."""
from __future__ import annotations

import time
from typing import Callable

import cv2
import numpy as np

from ..fileinfo import file_problem
from ..log import log
from ..stages import StageError
from .base import BaseSource, Pacer, as_bgr
from .images import read_image

MAX_DECODE_FAILURES = 8  # consecutive failed reads of a file before we call it the end


# -- files --------------------------------------------------------------------------------
def _cannot_read(path: str, why: str) -> StageError:
    return StageError(f"input: cannot read {path!r}: {why}")


class StillImage(BaseSource):
    """One image, repeated: paced at `fps` when realtime; `frames` limits it (None: forever)."""

    def __init__(self, path: str, fps: float, realtime: bool, frames: int | None = None):
        why = file_problem(path)
        if why:
            raise _cannot_read(path, why)
        self.image = read_image(path)
        if self.image is None:
            raise _cannot_read(path, "not an image OpenCV can decode")
        self.size = (self.image.shape[1], self.image.shape[0])
        self.name, self.fps, self.frames = f"image {path}", float(fps), frames
        self._pacer = Pacer(fps) if realtime else None
        self._sent = 0

    def read(self):
        if self.frames is not None and self._sent >= self.frames:
            return None
        self._sent += 1
        now = self._pacer.wait() if self._pacer else time.monotonic()
        return self.image.copy(), now


class VideoFile(BaseSource):
    """A video file; loops when `loop`; paced to the file's fps when realtime.

    A frame that fails to decode mid-stream is skipped and counted in `.skipped`.
    """

    def __init__(self, path: str, loop: bool, realtime: bool, fallback_fps: float = 30.0,
                 capture_factory: Callable = cv2.VideoCapture):
        why = file_problem(path)
        if why:
            raise _cannot_read(path, why)
        self.path, self.loop, self._factory = path, loop, capture_factory
        self.name = f"video {path}"
        self._cap = self._open()
        first = self._next_frame()
        if first is None:
            self._cap.release()
            raise _cannot_read(path, "not a video or image OpenCV can decode")
        self._pending = first
        self.size = (first.shape[1], first.shape[0])
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if 1 <= fps <= 240 else float(fallback_fps)
        self._pacer = Pacer(self.fps) if realtime else None
        self.loops = 0

    def _open(self):
        cap = self._factory(self.path)
        if not cap.isOpened():
            raise _cannot_read(self.path, "not a video or image OpenCV can decode")
        return cap

    def _next_frame(self) -> np.ndarray | None:
        """The next decodable frame; None at the end (MAX_DECODE_FAILURES failed reads in a row)."""
        for failures in range(MAX_DECODE_FAILURES):
            ok, frame = self._cap.read()
            if ok and frame is not None and frame.size:
                if failures:
                    self.skipped += failures
                    log(f"input: skipped {failures} frame(s) of {self.path} that failed to decode")
                return as_bgr(frame)
        return None

    def _frame(self) -> np.ndarray | None:
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        frame = self._next_frame()
        if frame is None and self.loop:
            self._cap.release()
            self._cap = self._open()
            self.loops += 1
            frame = self._next_frame()
        if frame is not None and (frame.shape[1], frame.shape[0]) != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        return frame

    def read(self):
        frame = self._frame()
        if frame is None:
            return None
        now = self._pacer.wait() if self._pacer else time.monotonic()
        return frame, now

    def close(self) -> None:
        self._cap.release()

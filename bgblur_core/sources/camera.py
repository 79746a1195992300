"""Cameras: the threaded newest-frame Camera, opening and probing devices, and the placeholder frame."""
from __future__ import annotations

import glob
import os
import re
import sys
import threading
import time
from typing import Callable

import cv2
import numpy as np

from ..log import log
from ..stages import StageError
from .base import BaseSource, as_bgr

# -- cameras ----------------------------------------------------------------------------
VCAM_NAMES = ("bgblur", "loopback", "dummy video device", "obs virtual camera", "virtual camera")


def linux_video_nodes() -> list[int]:
    """The N of every /dev/videoN, in order."""
    nodes = (re.fullmatch(r"/dev/video(\d+)", p) for p in glob.glob("/dev/video*"))
    return sorted(int(m.group(1)) for m in nodes if m)


def is_virtual_camera(index: int) -> bool:
    try:
        with open(f"/sys/class/video4linux/video{index}/name", encoding="utf-8") as f:
            name = f.read().strip().lower()
    except OSError:
        return False
    return any(v in name for v in VCAM_NAMES)


def real_camera_nodes(skip_device: str = "") -> list[int]:
    """The N of every /dev/videoN that is neither a virtual camera nor `skip_device`, in order."""
    return [i for i in linux_video_nodes() if f"/dev/video{i}" != skip_device and not is_virtual_camera(i)]


def open_capture(target: int | str):
    """cv2.VideoCapture for a camera; on Linux through V4L2 directly (no probing of other backends)."""
    if sys.platform.startswith("linux"):
        return cv2.VideoCapture(target, cv2.CAP_V4L2)
    return cv2.VideoCapture(target)


def _quiet_opencv():
    """Silence OpenCV's log while opening cameras that may not exist (we say what failed ourselves)."""
    try:
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        return lambda: cv2.utils.logging.setLogLevel(level)
    except AttributeError:
        return lambda: None


def _probe(target, factory: Callable) -> bool:
    cap = factory(target)
    try:
        return bool(cap.isOpened())
    finally:
        cap.release()


def cameras_that_open(factory: Callable = open_capture, skip=(), candidates=None) -> list[int]:
    """Camera indices that open (by default: on Linux the /dev/videoN nodes, elsewhere 0..4)."""
    if candidates is None:
        candidates = linux_video_nodes() if sys.platform.startswith("linux") else range(5)
    restore = _quiet_opencv()
    try:
        return [i for i in candidates if i not in skip and _probe(i, factory)]
    finally:
        restore()


def placeholder_frame(size: tuple[int, int], text: str) -> np.ndarray:
    """A dark frame clearly marked with `text`, large enough to read even when blurred."""
    w, h = size
    frame = np.full((h, w, 3), 32, np.uint8)
    s = min(w / 1280, h / 720)
    scale, thick = 1.6 * s, max(2, int(round(5 * s)))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    cv2.rectangle(frame, (0, 0), (w - 1, h - 1), (0, 160, 255), max(2, int(10 * s)))
    cv2.putText(frame, text, ((w - tw) // 2, (h + th) // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 200, 255), thick, cv2.LINE_AA)
    return frame


class Camera(BaseSource):
    """A webcam with a reader thread that always keeps only the newest frame.

    When the camera stops delivering (reads fail, or no frame for `lost_after` s) the thread
    reopens it with exponential backoff, and `read()` meanwhile returns a marked placeholder
    frame at the requested fps (`.placeholder` is True for those), so the output never stops.
    """

    def __init__(self, target: int | str, width: int, height: int, fps: float, mjpg: bool,
                 capture_factory: Callable = open_capture, lost_after: float = 1.0,
                 backoff: tuple[float, float] = (0.25, 4.0), first_frame_timeout: float = 3.0,
                 list_cameras: bool = True, wait: bool = False):
        self.target, self.fps = target, float(fps)
        self.name = f"camera {target}"
        self._request = (width, height, fps, mjpg)
        self._factory, self.lost_after, self.backoff = capture_factory, lost_after, backoff
        self.dropped = self.reconnects = self.placeholders = 0
        self.placeholder = False  # True when the last read() returned a placeholder
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._frame_time = 0.0
        self._seq = self._taken = 0
        self._reconnecting = False
        self._closed = threading.Event()
        self._placeholder_base: np.ndarray | None = None
        self._next_placeholder = 0.0
        self._cap = self._open()
        if self._cap is None and wait:  # start lost: placeholders at the requested size until it opens
            log(f"input: {self.name} did not open; showing a placeholder and retrying")
            self.size, self._last_good, self._cap = (width, height), time.monotonic() - lost_after, _Closed()
            self._thread = threading.Thread(target=self._run, name=f"{self.name} reader", daemon=True)
            self._thread.start()
            return
        if self._cap is None:
            raise self._not_opened() if list_cameras else StageError(f"input: {self.name} did not open")
        ok, frame = self._first_frame(first_frame_timeout)
        if not ok:
            if not self._stalled:
                self._cap.release()
            raise StageError(f"input: {self.name} opened but delivered no frame in {first_frame_timeout:g} s; "
                             "is another program using it?")
        frame = as_bgr(frame)
        self.size = (frame.shape[1], frame.shape[0])
        self._store(frame)
        self._thread = threading.Thread(target=self._run, name=f"{self.name} reader", daemon=True)
        self._thread.start()

    # -- opening ---------------------------------------------------------------------
    def _open(self):
        """A configured, opened capture, or None."""
        restore = _quiet_opencv()
        try:
            cap = self._factory(self.target)
            if not cap.isOpened():
                cap.release()
                return None
        finally:
            restore()
        width, height, fps, mjpg = self._request
        if mjpg:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        cap.set(cv2.CAP_PROP_FPS, fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # where the backend supports it: less latency
        return cap

    def _not_opened(self) -> StageError:
        why = ""
        if isinstance(self.target, str) and not os.path.exists(self.target):
            why = " (no such device)"
        found = cameras_that_open(self._factory, skip=(self.target,))
        listing = f"cameras that open: {', '.join(map(str, found))}" if found else \
            "no camera found; try --input synthetic or a video file"
        return StageError(f"input: {self.name} did not open{why}; {listing}")

    def _first_frame(self, timeout: float):
        """(True, frame) once the camera delivers, or (False, None) after `timeout` s, even when a
        read blocks (a stalled device): the reads run on a helper thread that we stop waiting for."""
        deadline = time.monotonic() + timeout
        got: list = []

        def grab() -> None:
            while not got and time.monotonic() < deadline:
                ok, frame = self._cap.read()
                if ok and frame is not None and frame.size:
                    got.append(frame)
                    return
                time.sleep(0.05)

        thread = threading.Thread(target=grab, name=f"{self.name} first frame", daemon=True)
        thread.start()
        thread.join(timeout + 0.5)
        self._stalled = thread.is_alive()  # still blocked in read(): the capture must not be released
        return (True, got[0]) if got else (False, None)

    # -- the reader thread ---------------------------------------------------------------
    def _store(self, frame: np.ndarray) -> None:
        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        with self._cond:
            if self._seq != self._taken:
                self.dropped += 1  # the previous frame was never read: stale, dropped
            self._frame, self._frame_time = frame, time.monotonic()
            self._seq += 1
            self._last_good = self._frame_time
            self._reconnecting = False
            self._cond.notify_all()

    def _run(self) -> None:
        failures = 0
        while not self._closed.is_set():
            ok, frame = self._cap.read()
            if ok and frame is not None and frame.size:
                failures = 0
                self._store(as_bgr(frame))
                continue
            failures += 1
            if failures < 5 and time.monotonic() - self._last_good < self.lost_after:
                self._closed.wait(0.02)
                continue
            self._reconnect()
            failures = 0

    def _reconnect(self) -> None:
        with self._cond:
            self._reconnecting = True
            self._cond.notify_all()
        log(f"input: {self.name} stopped delivering frames; reconnecting")
        self._cap.release()
        delay = self.backoff[0]
        while not self._closed.wait(delay):
            cap = self._open()
            if cap is not None:
                ok, frame = cap.read()
                if ok and frame is not None and frame.size:
                    self._cap = cap
                    self.reconnects += 1
                    log(f"input: {self.name} is back")
                    self._store(as_bgr(frame))
                    return
                cap.release()
            delay = min(delay * 2, self.backoff[1])
        self._cap = _Closed()

    # -- the consumer side ---------------------------------------------------------------
    @property
    def lost(self) -> bool:
        return self._reconnecting or time.monotonic() - self._last_good >= self.lost_after

    def read(self):
        """The newest frame not yet read, waiting for it; placeholders at fps while the camera is lost."""
        with self._cond:
            while not self._closed.is_set():
                if self._seq != self._taken:
                    self._taken = self._seq
                    self.placeholder = False
                    return self._frame, self._frame_time
                now = time.monotonic()
                if not self.lost:
                    self._cond.wait(self._last_good + self.lost_after - now)
                    continue
                if now >= self._next_placeholder:
                    self._next_placeholder = max(self._next_placeholder, now) + 1 / self.fps
                    self.placeholder = True
                    self.placeholders += 1
                    return self._placeholder(now), now
                self._cond.wait(self._next_placeholder - now)
        return None

    def _placeholder(self, now: float) -> np.ndarray:
        if self._placeholder_base is None:
            self._placeholder_base = placeholder_frame(self.size, f"{self.name} lost - reconnecting")
        frame = self._placeholder_base.copy()
        w, h = self.size
        s = min(w / 1280, h / 720)
        cv2.putText(frame, f"no signal for {now - self._last_good:.0f} s", (int(40 * s), h - int(40 * s)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.9 * s, (200, 200, 200), max(1, int(2 * s)), cv2.LINE_AA)
        return frame

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=2.0)
        if not self._thread.is_alive():  # never release a capture another thread is blocked reading
            self._cap.release()


class _Closed:
    def read(self):
        return False, None

    def release(self) -> None:
        pass

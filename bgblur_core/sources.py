"""Sources: webcam (threaded newest-frame grabber), video file, still image and the synthetic scene.

Every source has `.read() -> (frame, capture_time_monotonic) | None`, `.size` (w, h), `.fps`,
`.name`, `.close()` and works as a context manager. See `open_source()`.
"""
from __future__ import annotations

import glob
import math
import os
import re
import sys
import threading
import time
from functools import lru_cache
from typing import Callable

import cv2
import numpy as np

from .stages import StageError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pgm", ".ppm")
MAX_DECODE_FAILURES = 8  # consecutive failed reads of a file before we call it the end


def _log(message: str) -> None:
    from .pipeline import log  # imported late: pipeline imports the stages, not us
    log(message)


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


class BaseSource:
    name = "source"
    size: tuple[int, int] = (0, 0)
    fps: float = 30.0
    dropped = 0  # frames the source threw away because a newer one arrived
    skipped = 0  # frames that failed to decode and were skipped

    def read(self) -> tuple[np.ndarray, float] | None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def as_bgr(frame: np.ndarray) -> np.ndarray:
    """Grey or BGRA frames (some cameras and PNGs) as 3-channel BGR uint8."""
    if frame.dtype != np.uint8:
        frame = cv2.convertScaleAbs(frame, alpha=255.0 / 65535) if frame.dtype == np.uint16 else frame.astype(np.uint8)
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame


# -- files --------------------------------------------------------------------------------
def _file_problem(path: str) -> str | None:
    """Why `path` cannot be read, in a few words, or None when it looks readable."""
    if not os.path.exists(path):
        return "no such file"
    if os.path.isdir(path):
        return "it is a directory"
    if not os.access(path, os.R_OK):
        return "permission denied"
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as e:
        return (e.strerror or str(e)).lower()
    return None


def _cannot_read(path: str, why: str) -> StageError:
    return StageError(f"input: cannot read {path!r}: {why}")


class StillImage(BaseSource):
    """One image, repeated: paced at `fps` when realtime; `frames` limits it (None: forever)."""

    def __init__(self, path: str, fps: float, realtime: bool, frames: int | None = None):
        why = _file_problem(path)
        if why:
            raise _cannot_read(path, why)
        image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if image is None or image.size == 0:
            raise _cannot_read(path, "not an image OpenCV can decode")
        self.image = as_bgr(image)
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
        why = _file_problem(path)
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
                    _log(f"input: skipped {failures} frame(s) of {self.path} that failed to decode")
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

    # wall: low-saturation beige with a soft light falloff from the top left
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1.05 - 0.25 * np.hypot(xx / w, yy / h)
    bg = (np.array((150, 160, 166), np.float32) * light[..., None]).clip(0, 255).astype(np.uint8)
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
    """Four fixed planes of mild sensor noise; frame n adds one and subtracts the next."""
    rng = np.random.default_rng(99)
    return tuple(rng.integers(0, 5, (h, w, 3), dtype=np.uint8) for _ in range(4))


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


class Synthetic(BaseSource):
    """The built-in scene, endless; paced at `fps` when realtime."""

    def __init__(self, w: int, h: int, fps: float, realtime: bool):
        self.size, self.fps, self.name = (w, h), float(fps), "synthetic"
        self._pacer = Pacer(fps) if realtime else None
        self.n = 0

    def read(self):
        frame = synthetic_frame(self.n, *self.size)
        self.n += 1
        now = self._pacer.wait() if self._pacer else time.monotonic()
        return frame, now


# -- cameras ----------------------------------------------------------------------------
VCAM_NAMES = ("bgblur", "loopback", "dummy video device", "obs virtual camera", "virtual camera")


def linux_video_nodes() -> list[int]:
    """The N of every /dev/videoN, in order."""
    nodes = (re.fullmatch(r"/dev/video(\d+)", p) for p in glob.glob("/dev/video*"))
    return sorted(int(m.group(1)) for m in nodes if m)


def _is_virtual_camera(index: int) -> bool:
    try:
        with open(f"/sys/class/video4linux/video{index}/name", encoding="utf-8") as f:
            name = f.read().strip().lower()
    except OSError:
        return False
    return any(v in name for v in VCAM_NAMES)


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
                 list_cameras: bool = True):
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
        if self._cap is None:
            raise self._not_opened() if list_cameras else StageError(f"input: {self.name} did not open")
        ok, frame = self._first_frame(first_frame_timeout)
        if not ok:
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
        deadline = time.monotonic() + timeout
        while True:
            ok, frame = self._cap.read()
            if ok and frame is not None and frame.size:
                return True, frame
            if time.monotonic() >= deadline:
                return False, None
            time.sleep(0.05)

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
        _log(f"input: {self.name} stopped delivering frames; reconnecting")
        self._cap.release()
        delay = self.backoff[0]
        while not self._closed.wait(delay):
            cap = self._open()
            if cap is not None:
                ok, frame = cap.read()
                if ok and frame is not None and frame.size:
                    self._cap = cap
                    self.reconnects += 1
                    _log(f"input: {self.name} is back")
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


# -- dispatch ---------------------------------------------------------------------------
def _camera_target(spec: str) -> int | str | None:
    if spec.isdigit():
        return int(spec)
    if re.fullmatch(r"/dev/video\d+", spec):
        return spec
    return None


def _auto(settings, realtime: bool, capture_factory: Callable) -> BaseSource:
    """The webcam if one opens (index 0 first, then any /dev/videoN), else the synthetic scene."""
    if sys.platform.startswith("linux"):
        vcam = settings.vcam_device
        nodes = [i for i in linux_video_nodes() if f"/dev/video{i}" != vcam and not _is_virtual_camera(i)]
        candidates = sorted(nodes, key=lambda i: i != 0)
    else:
        candidates = [0]
    for index in candidates:
        try:
            cam = Camera(index, settings.width, settings.height, settings.fps, settings.mjpg, capture_factory,
                         list_cameras=False)
        except StageError:
            continue
        _log(f"auto input: using {cam.name} ({cam.size[0]}x{cam.size[1]})")
        return cam
    _log("auto input: no webcam opened; using the built-in synthetic scene")
    return Synthetic(settings.width, settings.height, settings.fps, realtime)


def _only_still_outputs(output: str) -> bool:
    from .sinks import IMAGE_EXTS as STILL_OUTPUTS, output_parts
    parts = output_parts(output)
    return bool(parts) and all(os.path.splitext(p)[1].lower() in STILL_OUTPUTS for p in parts)


def open_source(settings, realtime: bool, capture_factory: Callable = open_capture) -> BaseSource:
    """The source `settings.input` names: auto, synthetic, a camera index or /dev/videoN, or a file.

    `realtime`: pace files and generated frames at their fps (for live outputs).
    A still image, when not realtime, repeats forever (`--frames` limits it), except when every
    output is a single image, or `loop` is off: then it is one frame.
    """
    spec = settings.input.strip()
    if spec == "auto":
        return _auto(settings, realtime, capture_factory)
    if spec == "synthetic":
        return Synthetic(settings.width, settings.height, settings.fps, realtime)
    target = _camera_target(spec)
    if target is not None:
        return Camera(target, settings.width, settings.height, settings.fps, settings.mjpg, capture_factory)
    if not spec:
        raise StageError("input: empty; use auto, synthetic, a camera index, /dev/videoN or a file")
    if os.path.splitext(spec)[1].lower() in IMAGE_EXTS:
        once = not realtime and (_only_still_outputs(settings.output) or not settings.loop)
        return StillImage(spec, settings.fps, realtime, frames=1 if once else None)
    return VideoFile(spec, settings.loop, realtime, settings.fps)

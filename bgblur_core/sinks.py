"""Sinks: virtual camera, OBS stream, video or image file, preview window, null.

Every sink has `.send(frame)`, `.close()`, `.name` and works as a context manager; `send` checks
the frame's shape and dtype like pyvirtualcam does. `open_sinks()` builds them from `output`.
A sink that wants the pipeline to stop (the preview's `q`) sets `.stop_requested`.
"""
from __future__ import annotations

import os
import socket
import sys

import cv2
import numpy as np

from .stages import Closeable, StageError

LIVE = ("virtualcam", "obs-stream", "preview")
VIDEO_FOURCC = {".mp4": "mp4v", ".avi": "MJPG"}
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp")
OUTPUTS_HELP = "virtualcam, obs-stream[:PORT], preview, null, or a .mp4/.avi/.png/.jpg path"


def output_parts(output: str) -> list[str]:
    return [p.strip() for p in output.split(",") if p.strip()]


def is_live(output: str) -> bool:
    """True when any output is watched live (virtual camera, OBS stream, preview): sources pace themselves."""
    return any(p.split(":")[0] in LIVE for p in output_parts(output))


class BaseSink(Closeable):
    name = "sink"
    stop_requested = False

    def __init__(self, size: tuple[int, int]):
        self.size = size
        self._shape = (size[1], size[0], 3)

    def check(self, frame: np.ndarray) -> None:
        if not isinstance(frame, np.ndarray):
            raise StageError(f"output {self.name}: frame must be a numpy array, got {type(frame).__name__}")
        if frame.shape != self._shape:
            raise StageError(f"output {self.name}: invalid frame shape: {frame.shape} != {self._shape}")
        if frame.dtype != np.uint8:
            raise StageError(f"output {self.name}: invalid frame dtype: {frame.dtype} != uint8")

    def send(self, frame: np.ndarray) -> None:
        self.check(frame)


class NullSink(BaseSink):
    name = "null"


# -- virtual camera -------------------------------------------------------------------
def vcam_howto() -> str:
    """How to get a virtual camera device on this OS, in one sentence."""
    if sys.platform.startswith("linux"):
        return ('create one with: sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="bgblur" '
                "(package v4l2loopback-dkms)")
    if sys.platform == "darwin":
        return ("install OBS Studio 30+ and click Start Virtual Camera once, then allow its system extension "
                "in System Settings (a restart may be needed)")
    return "install OBS Studio 26.1+ (it registers the OBS Virtual Camera) and click Start Virtual Camera once"


def _vcam_error(message: str, device: str) -> str:
    """pyvirtualcam's error as one line that says what to do."""
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    low = first.lower()
    if device and "does not exist" in low:
        return f"output virtualcam: device {device} does not exist; {vcam_howto()}"
    if "no v4l2 loopback device" in low or "is not installed" in low:
        return f"output virtualcam: no virtual camera device found; {vcam_howto()}"
    return f"output virtualcam: {first}"


class VirtualCamSink(BaseSink):
    name = "virtualcam"

    def __init__(self, size: tuple[int, int], fps: float, device: str = "", backend: str = ""):
        super().__init__(size)
        import pyvirtualcam
        from pyvirtualcam.camera import BACKENDS
        self.cam = None
        if backend and backend not in BACKENDS:
            raise StageError(f"output virtualcam: backend {backend!r} is not available here; "
                             f"use one of {', '.join(BACKENDS)} (or leave vcam_backend empty)")
        try:
            self.cam = pyvirtualcam.Camera(size[0], size[1], fps, fmt=pyvirtualcam.PixelFormat.BGR,
                                           device=device or None, backend=backend or None)
        except (RuntimeError, ValueError) as e:
            raise StageError(_vcam_error(str(e), device)) from None
        self.name = f"virtualcam {self.cam.device}"

    def send(self, frame: np.ndarray) -> None:
        self.check(frame)
        self.cam.send(frame)
        self.cam.sleep_until_next_frame()

    def close(self) -> None:
        if self.cam is not None:
            self.cam.close()
            self.cam = None


# -- files ----------------------------------------------------------------------------
def _writable_temp(path: str) -> str:
    """A temp name next to `path`, created and checked now so a bad path fails before any processing."""
    folder = os.path.dirname(os.path.abspath(path))
    stem, ext = os.path.splitext(os.path.basename(path))
    if os.path.isdir(path):
        raise StageError(f"output: cannot write {path!r}: it is a directory")
    if not os.path.isdir(folder):
        why = "its folder is not a folder" if os.path.exists(folder) else "no such folder"
        raise StageError(f"output: cannot write {path!r}: {why}")
    temp = os.path.join(folder, f".{stem}.part{ext}")
    try:
        with open(temp, "wb"):
            pass
    except OSError as e:
        raise StageError(f"output: cannot write {path!r}: {(e.strerror or str(e)).lower()}") from None
    return temp


class _FileSink(BaseSink):
    def __init__(self, path: str, size: tuple[int, int]):
        super().__init__(size)
        self.path, self.name = path, path
        self.temp = _writable_temp(path)
        self.frames = 0

    def _finish(self, ok: bool) -> None:
        """Move the temp file into place, or remove it when nothing (valid) was written."""
        if ok and self.frames:
            os.replace(self.temp, self.path)
        elif os.path.exists(self.temp):
            os.remove(self.temp)


class VideoFileSink(_FileSink):
    def __init__(self, path: str, size: tuple[int, int], fps: float):
        super().__init__(path, size)
        fourcc = cv2.VideoWriter_fourcc(*VIDEO_FOURCC[os.path.splitext(path)[1].lower()])
        self.writer = cv2.VideoWriter(self.temp, fourcc, float(fps), size)
        if not self.writer.isOpened():
            self._finish(False)
            raise StageError(f"output: cannot write {path!r}: OpenCV has no video writer for it")

    def send(self, frame: np.ndarray) -> None:
        self.check(frame)
        self.writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None
            self._finish(True)


class ImageFileSink(_FileSink):
    """A single image: the last frame sent, written at close."""

    def __init__(self, path: str, size: tuple[int, int]):
        super().__init__(path, size)
        self.ext = os.path.splitext(path)[1].lower()
        self.last = np.empty(self._shape, np.uint8)
        self.closed = False

    def send(self, frame: np.ndarray) -> None:
        self.check(frame)
        np.copyto(self.last, frame)
        self.frames += 1

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        ok = False
        if self.frames:
            ok, data = cv2.imencode(self.ext, self.last)
            if ok:
                with open(self.temp, "wb") as f:
                    f.write(data.tobytes())
        self._finish(ok)


# -- preview window -------------------------------------------------------------------
def display_available() -> bool:
    """Whether a window can open: always on Windows and macOS; on Linux an X display must answer."""
    if not sys.platform.startswith("linux"):
        return True
    if os.environ.get("QT_QPA_PLATFORM", "xcb") not in ("xcb", ""):
        return True
    display = os.environ.get("DISPLAY", "")
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return False
    try:
        if host in ("", "unix"):
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(0.5)
                for address in (f"\0/tmp/.X11-unix/X{number}", f"/tmp/.X11-unix/X{number}"):
                    try:
                        s.connect(address)
                        return True
                    except OSError:
                        continue
            return False
        with socket.create_connection((host, 6000 + int(number)), timeout=0.5):
            return True
    except OSError:
        return False


def _qt_fonts() -> None:
    """opencv-python points Qt at a font folder it does not ship; use the system's to avoid warnings."""
    if not os.path.isdir(os.environ.get("QT_QPA_FONTDIR", "/")):
        for folder in ("/usr/share/fonts/truetype", "/usr/share/fonts"):
            if os.path.isdir(folder):
                os.environ["QT_QPA_FONTDIR"] = folder
                return


class PreviewSink(BaseSink):
    """An OpenCV window; `q`, Esc or closing the window sets `stop_requested`."""

    title = "bgblur preview (q quits)"

    def __init__(self, size: tuple[int, int]):
        super().__init__(size)
        self.name = "preview"
        if not display_available():
            raise StageError("output preview: no display found (DISPLAY is not set or does not answer); "
                             "use a file output, or run it on a desktop")
        _qt_fonts()
        try:
            cv2.namedWindow(self.title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
            cv2.resizeWindow(self.title, *size)
        except cv2.error as e:
            raise StageError(f"output preview: cannot open a window: {str(e).strip().splitlines()[-1]}") from None
        self.open = True
        self.shown = 0

    def visible(self) -> bool:
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:
            return False

    def send(self, frame: np.ndarray) -> None:
        self.check(frame)
        if not self.open or self.stop_requested:
            return
        if self.shown and not self.visible():
            self.stop_requested = True  # the user closed the window; don't reopen it
            return
        cv2.imshow(self.title, frame)
        self.shown += 1
        if (cv2.waitKey(1) & 0xFF) in (ord("q"), ord("Q"), 27):
            self.stop_requested = True

    def close(self) -> None:
        if self.open:
            self.open = False
            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)
            except cv2.error:
                pass


# -- dispatch -------------------------------------------------------------------------
def _obs_stream(part: str, size, fps):
    from .obsstream import ObsStreamSink, stream_port
    return ObsStreamSink(stream_port(part), size, fps)


def open_sink(part: str, settings, size: tuple[int, int], fps: float | None = None):
    fps = fps or settings.fps
    kind = part.split(":")[0]
    if part == "null":
        return NullSink(size)
    if part == "virtualcam":
        return VirtualCamSink(size, settings.fps, settings.vcam_device, settings.vcam_backend)
    if part == "preview":
        return PreviewSink(size)
    if kind == "obs-stream":
        return _obs_stream(part, size, fps)
    ext = os.path.splitext(part)[1].lower()
    if ext in VIDEO_FOURCC:
        return VideoFileSink(part, size, fps)
    if ext in IMAGE_EXTS:
        return ImageFileSink(part, size)
    raise StageError(f"output: {part!r} is not a known output; use {OUTPUTS_HELP}")


def open_sinks(settings, size: tuple[int, int], fps: float | None = None) -> list:
    """Every sink in the comma-separated `settings.output`, opened now (so bad paths fail first).

    `fps`: the source's rate, used for video files and the OBS stream (default: settings.fps).
    """
    parts = output_parts(settings.output)
    if not parts:
        raise StageError(f"output: empty; use {OUTPUTS_HELP}")
    sinks = []
    try:
        for part in parts:
            sinks.append(open_sink(part, settings, size, fps))
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    return sinks

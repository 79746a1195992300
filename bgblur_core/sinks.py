"""Sinks: virtual camera, OBS stream, video or image file, preview window, null.

Every sink has `.send(frame)`, `.close()`, `.name` and works as a context manager; `send` checks
the frame's shape and dtype like pyvirtualcam does. `open_sinks()` builds them from `settings.outputs`
(the `output` setting, parsed at validation) through a registry of kinds (`register_sink`).
A sink that wants the pipeline to stop (the preview's `q`) sets `.stop_requested`.
"""
from __future__ import annotations

import os
import socket
import sys
from typing import Callable

import cv2
import numpy as np

from . import atomic
from .log import log
from .settings import OBS_STREAM_PORT, VIDEO_FOURCC, Output
from .stages import Closeable, StageError


def is_live(outputs: tuple[Output, ...]) -> bool:
    """True when any output is watched live (virtual camera, OBS stream, preview): sources pace themselves."""
    return any(o.live for o in outputs)


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


def close_all(sinks) -> None:
    """Close every sink, even when one fails (a file that came out incomplete); then raise the first error."""
    error = None
    for sink in sinks:
        try:
            sink.close()
        except StageError as e:
            error = error or e
    if error is not None:
        raise error


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


def vcam_backends() -> str:
    """pyvirtualcam's built-in backends on this OS, as its documentation lists them."""
    if sys.platform.startswith("linux"):
        return "v4l2loopback"
    return "obs" if sys.platform == "darwin" else "obs or unitycapture"


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
        self.cam = None
        unknown_backend = False
        previous_hook, sys.unraisablehook = sys.unraisablehook, lambda _: None  # see below
        try:
            self.cam = pyvirtualcam.Camera(size[0], size[1], fps, fmt=pyvirtualcam.PixelFormat.BGR,
                                           device=device or None, backend=backend or None)
        except KeyError:  # no backend of that name on this OS; the half-built Camera's __del__ then
            unknown_backend = True  # fails as this block ends: the hook above keeps that off stderr
        except (RuntimeError, ValueError) as e:
            raise StageError(_vcam_error(str(e), device)) from None
        finally:
            sys.unraisablehook = previous_hook
        if unknown_backend:
            raise StageError(f"output virtualcam: backend {backend!r} is not available here; "
                             f"use {vcam_backends()} (or leave vcam_backend empty)")
        self.device = self.cam.device  # for the pipeline's status (the OBS input that shows it)
        self.name = f"virtualcam {self.device}"

    def send(self, frame: np.ndarray) -> None:
        self.check(frame)
        self.cam.send(frame)
        self.cam.sleep_until_next_frame()

    def close(self) -> None:
        if self.cam is not None:
            self.cam.close()
            self.cam = None


# -- files: written whole or not at all (see atomic.py) ---------------------------------
class _FileSink(BaseSink):
    def __init__(self, path: str, size: tuple[int, int]):
        super().__init__(size)
        self.path, self.name = path, path
        self.temp = atomic.writable_temp(path)
        self.frames = 0


class VideoFileSink(_FileSink):
    def __init__(self, path: str, size: tuple[int, int], fps: float):
        super().__init__(path, size)
        fourcc = cv2.VideoWriter_fourcc(*VIDEO_FOURCC[os.path.splitext(path)[1].lower()])
        self.writer = cv2.VideoWriter(self.temp, fourcc, float(fps), size)
        self._log_level = cv2.utils.logging.getLogLevel()  # a failed write is reported by close(), in one line,
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # not as a warning per frame
        if not self.writer.isOpened():
            self.close()
            raise StageError(f"output: cannot write {path!r}: OpenCV has no video writer for it")

    def send(self, frame: np.ndarray) -> None:
        self.check(frame)
        self.writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        """Move the finished video into place; a video that came out incomplete is removed, raising StageError."""
        if self.writer is None:
            return
        self.writer.release()
        self.writer = None
        cv2.utils.logging.setLogLevel(self._log_level)
        if not self.frames:
            atomic.discard(self.temp)
        elif atomic.video_complete(self.temp, self.frames):
            os.replace(self.temp, self.path)
        else:
            atomic.discard(self.temp)
            raise atomic.write_failed(self.path, "the video came out incomplete (is the disk full?)")


class ImageFileSink(_FileSink):
    """A single image: the last frame sent, written at close."""

    def __init__(self, path: str, size: tuple[int, int]):
        super().__init__(path, size)
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
        atomic.discard(self.temp)
        if self.frames:
            atomic.write_image(self.path, self.last)


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


# -- the registry ---------------------------------------------------------------------
# output kind (settings.Output.kind) -> factory(spec, settings, size, fps) -> an open sink
SINKS: dict[str, Callable] = {}


def register_sink(kind: str, factory: Callable) -> None:
    SINKS[kind] = factory


def _obs_stream(spec: Output, settings, size, fps):
    from .obsstream import ObsStreamSink
    return ObsStreamSink(spec.port, size, fps)


def _virtualcam(spec: Output, settings, size, fps):
    return VirtualCamSink(size, settings.fps, settings.vcam_device, settings.vcam_backend)


def _auto(spec: Output, settings, size, fps):
    """The virtual camera; without a device, obs-stream on its default port (needs no driver), saying so."""
    try:
        return _virtualcam(spec, settings, size, fps)
    except StageError as e:
        sink = _obs_stream(Output("obs-stream", port=OBS_STREAM_PORT), settings, size, fps)
        log(f"{str(e).removeprefix('output ')}; output auto: sending to obs-stream:{OBS_STREAM_PORT} instead "
            "(OBS: a Media Source, or `bgblur obs-source`)")
        return sink


for _kind, _factory in (
        ("null", lambda spec, settings, size, fps: NullSink(size)),
        ("virtualcam", _virtualcam),
        ("auto", _auto),
        ("preview", lambda spec, settings, size, fps: PreviewSink(size)),
        ("obs-stream", _obs_stream),
        ("video", lambda spec, settings, size, fps: VideoFileSink(spec.path, size, fps)),
        ("image", lambda spec, settings, size, fps: ImageFileSink(spec.path, size))):
    register_sink(_kind, _factory)


def open_sink(spec: Output, settings, size: tuple[int, int], fps: float | None = None):
    factory = SINKS.get(spec.kind)
    if factory is None:
        raise StageError(f"output: no sink for {spec.kind!r} outputs; registered: {', '.join(SINKS)}")
    return factory(spec, settings, size, fps or settings.fps)


def open_sinks(settings, size: tuple[int, int], fps: float | None = None) -> list:
    """Every sink in `settings.outputs`, opened now (so bad paths fail first).

    `fps`: the source's rate, used for video files and the OBS stream (default: settings.fps).
    """
    sinks = []
    try:
        for spec in settings.outputs:
            sinks.append(open_sink(spec, settings, size, fps))
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    return sinks

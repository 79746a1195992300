"""Sources: webcam (threaded newest-frame grabber), video file, still image, image sequence and the synthetic scene.

Every source has `.read() -> (frame, capture_time_monotonic) | None`, `.size` (w, h), `.fps`,
`.name`, `.close()` and works as a context manager. `open_source()` opens the one the `input`
setting names through a registry of kinds (`register_source`); `open_path()` opens a file,
folder or pattern for the measuring commands (bench, eval, mask).
"""
from __future__ import annotations

import sys
from typing import Callable

from ..log import log
from ..settings import IMAGE_EXTS, Input, validate
from ..stages import StageError
from .base import BaseSource, Pacer, as_bgr
from .camera import (
    VCAM_NAMES,
    Camera,
    cameras_that_open,
    linux_video_nodes,
    open_capture,
    placeholder_frame,
    real_camera_nodes,
)
from .files import MAX_DECODE_FAILURES, StillImage, VideoFile
from .images import ImageSequence, folder_images
from .synthetic import (
    COLLAR,
    HAIR,
    SKIN,
    SKIN_SHADE,
    SWEATER,
    SYNTHETIC_PERIOD,
    WHITEBOARD_TEXT,
    Synthetic,
    SyntheticCamera,
    synthetic_background,
    synthetic_frame,
    synthetic_person_mask,
)

__all__ = ["BaseSource", "Camera", "ImageSequence", "Pacer", "StillImage", "Synthetic", "VideoFile", "as_bgr",
           "cameras_that_open", "folder_images", "linux_video_nodes", "open_capture", "open_path", "open_source",
           "register_source", "placeholder_frame", "SyntheticCamera", "synthetic_background",
           "synthetic_frame", "synthetic_person_mask", "IMAGE_EXTS", "MAX_DECODE_FAILURES", "SYNTHETIC_PERIOD",
           "VCAM_NAMES", "WHITEBOARD_TEXT", "COLLAR", "HAIR", "SKIN", "SKIN_SHADE", "SWEATER"]


# -- the registry -----------------------------------------------------------------------
# input kind (settings.Input.kind) -> factory(spec, settings, realtime, capture_factory) -> an open source
SOURCES: dict[str, Callable] = {}


def register_source(kind: str, factory: Callable) -> None:
    SOURCES[kind] = factory


def open_source(settings, realtime: bool, capture_factory: Callable = open_capture) -> BaseSource:
    """The source `settings.input` names: auto, synthetic, a camera, an image, an image sequence or a video.

    `realtime`: pace files and generated frames at their fps (for live outputs).
    A still image, when not realtime, repeats forever (`--frames` limits it), except when every
    output is a single image, or `loop` is off: then it is one frame.
    """
    spec = settings.input_spec
    factory = SOURCES.get(spec.kind)
    if factory is None:
        raise StageError(f"input: no source for {spec.kind!r} inputs; registered: {', '.join(SOURCES)}")
    return factory(spec, settings, realtime, capture_factory)


def open_path(path: str, loop: bool = False) -> BaseSource:
    """A video, an image, an image folder or a numbered pattern, read as fast as it decodes (bench, eval, mask).

    Not looping, an image is one frame and a sequence or video ends after its last frame.
    """
    settings = validate(input=path, output="null", loop=loop)
    if settings.input_spec.kind not in FILE_KINDS:
        raise StageError(f"input: {path!r} is not a file, a folder of images or a pattern like frames/%05d.jpg")
    return open_source(settings, realtime=False)


def _auto(spec: Input, settings, realtime: bool, capture_factory: Callable) -> BaseSource:
    """The webcam if one opens (index 0 first, then any /dev/videoN), else the synthetic scene."""
    if sys.platform.startswith("linux"):
        candidates = sorted(real_camera_nodes(settings.vcam_device), key=lambda i: i != 0)
    else:
        candidates = [0]
    for index in candidates:
        try:
            cam = Camera(index, settings.width, settings.height, settings.fps, settings.mjpg, capture_factory,
                         list_cameras=False)
        except StageError:
            continue
        log(f"auto input: using {cam.name} ({cam.size[0]}x{cam.size[1]})")
        return cam
    log("auto input: no webcam opened; using the built-in synthetic scene")
    return Synthetic(settings.width, settings.height, settings.fps, realtime)


def _synthetic(spec: Input, settings, realtime: bool, capture_factory: Callable) -> BaseSource:
    return Synthetic(settings.width, settings.height, settings.fps, realtime)


def _camera(spec: Input, settings, realtime: bool, capture_factory: Callable) -> BaseSource:
    return Camera(spec.target, settings.width, settings.height, settings.fps, settings.mjpg, capture_factory,
                  wait=settings.wait_for_camera)


def _image(spec: Input, settings, realtime: bool, capture_factory: Callable) -> BaseSource:
    once = not realtime and (all(o.kind == "image" for o in settings.outputs) or not settings.loop)
    return StillImage(spec.target, settings.fps, realtime, frames=1 if once else None)


def _images(spec: Input, settings, realtime: bool, capture_factory: Callable) -> BaseSource:
    return ImageSequence(spec.target, settings.fps, settings.loop, realtime)


def _video(spec: Input, settings, realtime: bool, capture_factory: Callable) -> BaseSource:
    return VideoFile(spec.target, settings.loop, realtime, settings.fps)


FILE_KINDS = ("image", "images", "video")
for _kind, _factory in (("auto", _auto), ("synthetic", _synthetic), ("camera", _camera), ("image", _image),
                        ("images", _images), ("video", _video)):
    register_source(_kind, _factory)

"""Sources: webcam (threaded newest-frame grabber), video file, still image and the synthetic scene.

Every source has `.read() -> (frame, capture_time_monotonic) | None`, `.size` (w, h), `.fps`,
`.name`, `.close()` and works as a context manager. See `open_source()`.
"""
from __future__ import annotations

import os
import re
import sys
from typing import Callable

from ..log import log
from ..stages import StageError
from .base import BaseSource, Pacer, as_bgr
from .camera import (
    VCAM_NAMES,
    Camera,
    _is_virtual_camera,
    cameras_that_open,
    linux_video_nodes,
    open_capture,
    placeholder_frame,
)
from .files import IMAGE_EXTS, MAX_DECODE_FAILURES, StillImage, VideoFile
from .synthetic import (
    COLLAR,
    HAIR,
    SKIN,
    SKIN_SHADE,
    SWEATER,
    SYNTHETIC_PERIOD,
    WHITEBOARD_TEXT,
    Synthetic,
    synthetic_background,
    synthetic_frame,
    synthetic_person_mask,
)

__all__ = ["BaseSource", "Camera", "Pacer", "StillImage", "Synthetic", "VideoFile", "as_bgr", "cameras_that_open",
           "linux_video_nodes", "open_capture", "open_source", "placeholder_frame", "synthetic_background",
           "synthetic_frame", "synthetic_person_mask", "IMAGE_EXTS", "MAX_DECODE_FAILURES", "SYNTHETIC_PERIOD",
           "VCAM_NAMES", "WHITEBOARD_TEXT", "COLLAR", "HAIR", "SKIN", "SKIN_SHADE", "SWEATER"]


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
        log(f"auto input: using {cam.name} ({cam.size[0]}x{cam.size[1]})")
        return cam
    log("auto input: no webcam opened; using the built-in synthetic scene")
    return Synthetic(settings.width, settings.height, settings.fps, realtime)


def _only_still_outputs(output: str) -> bool:
    from ..sinks import IMAGE_EXTS as STILL_OUTPUTS
    from ..sinks import output_parts
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

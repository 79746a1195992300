"""Wires sources, pipeline, sinks and control adapters for `bgblur run` and `bgblur demo`."""
from __future__ import annotations

import os
import signal
import sys

import cv2
import numpy as np

from . import atomic, sinks, sources
from .control import stdin as stdin_control
from .log import log, stats_line
from .pipeline import Pipeline
from .settings import Settings
from .stages import StageError


def open_source(settings: Settings):
    return sources.open_source(settings, realtime=sinks.is_live(settings.outputs))


def make_pipeline(settings: Settings) -> Pipeline:
    pipeline = Pipeline(settings, open_source, sinks.open_sinks)
    log(f"input: {pipeline.source.name}; output: {pipeline.settings.output}; engine: {pipeline.settings.engine}")
    return pipeline


def _stop_on_signals(pipeline: Pipeline) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: pipeline.stop())


def _print_stats(event: dict) -> None:
    if "status" in event:
        stats_line(event["status"])


def run(settings: Settings, frames: int | None = None, stats: bool = False, control: str = "none") -> int:
    pipeline = make_pipeline(settings)
    _stop_on_signals(pipeline)
    if stats:
        pipeline.subscribe(_print_stats)
    if control == "stdin":
        pipeline.subscribe(stdin_control.print_events)
        stdin_control.start(pipeline)
    from .control.obsws import ObsControl
    obs = ObsControl(pipeline)
    obs.start()
    try:
        pipeline.run(frames)
    finally:
        obs.stop()
    return 0


def side_by_side(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    gap = np.full((before.shape[0], 8, 3), 255, np.uint8)
    return cv2.hconcat([before, gap, after])


def demo(settings: Settings, out_dir: str = "out", frames: int = 150, preview: bool | None = None) -> int:
    """The README's first command: a video and a before/after still, and a preview when there is a display."""
    if preview is None:
        preview = bool(os.environ.get("DISPLAY") or sys.platform in ("win32", "darwin"))
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise StageError(f"--out-dir: cannot create the folder {out_dir}: {e.strerror or e}") from None
    video = os.path.join(out_dir, "demo.mp4")
    output = video + (",preview" if preview else "")
    pipeline = make_pipeline(settings.replace({"output": output}))
    _stop_on_signals(pipeline)
    last = None
    n = 0
    try:
        while n < frames and pipeline.step():
            n += 1
            last = pipeline.last
    finally:
        pipeline.close()
    still = os.path.join(out_dir, "demo.png")
    if last is not None:
        atomic.write_image(still, side_by_side(*last))  # whole, or not at all (a full disk: one line)
    log(f"wrote {video} ({n} frames) and {still} (before | after)")
    return 0

"""The contracts between pipeline stages.

Source -> Segmenter -> Refiner -> Compositor -> Sink, passing plain arrays:
- a frame is an H x W x 3 uint8 BGR numpy array;
- a mask (segmenter output) is a 2-D uint8 array, 255 = person, at any
  resolution (usually the model's); the refiner scales it to the frame;
- an alpha (refiner output) is an H x W uint8 array at frame size, 255 = person, with its box
  (x, y, w, h) outside which it is 0; the refiner always returns (alpha, box).
Each stage holds only its own small state and never reaches into another. What the stages share
about one frame (its halvings, the per-stage timings) travels in one `FrameContext`.
"""
from __future__ import annotations

import time
from typing import Protocol

import numpy as np

from .blur import Pyramid
from .errors import EngineError, StageError, describe  # noqa: F401  (the stages' errors)

Box = tuple[int, int, int, int]  # (x, y, w, h)


class FrameContext:
    """One frame on its way through the stages: the frame, its shared halvings, per-stage wall ms."""

    __slots__ = ("frame", "pyramid", "ms")

    def __init__(self, frame: np.ndarray, ms: dict[str, float] | None = None):
        self.frame = frame
        self.pyramid = Pyramid(frame)
        self.ms = {} if ms is None else ms

    def lap(self, stage: str, t: float) -> float:
        """Add the ms since `t` (time.perf_counter()) to `stage`; returns now."""
        return lap(self.ms, stage, t)


def lap(ms: dict[str, float], stage: str, t: float) -> float:
    now = time.perf_counter()
    ms[stage] = ms.get(stage, 0.0) + (now - t) * 1000
    return now


class Closeable:
    """Context-manager support for a stage that holds a device, file or socket."""

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Source(Protocol):
    size: tuple[int, int]  # (width, height)
    fps: float
    name: str  # what the user sees, e.g. "camera 0" or "synthetic"
    dropped: int  # stale frames thrown away for a newer one
    skipped: int  # frames that failed to decode
    placeholder: bool  # the last read() was a "camera lost" placeholder

    def read(self) -> tuple[np.ndarray, float] | None:
        """The newest frame and its capture time (time.monotonic()), or None at end of stream."""

    def close(self) -> None: ...


class Segmenter(Protocol):
    """Engine rules are class attributes, read by the pipeline (defaults when absent):
    refine_auto (True): refine=auto refines this engine's masks; matte (False): its unrefined
    output is a soft matte, kept soft (else cut at the half level); needs_plate (False): it needs a
    learned background; uses (None: all): the settings it is built from, beyond engine and threads;
    snap_fit (None): the edge snap's radius and lean for its masks (refine.MaskRefiner's).
    An optional reset() forgets recurrent state; the pipeline calls it when the source changes."""

    def __call__(self, frame: np.ndarray, pyramid=None) -> np.ndarray:
        """A uint8 mask, 255 = person, at any resolution; `pyramid` (blur.Pyramid) holds the frame's shared halvings."""


class Refiner(Protocol):
    hard: bool  # the alpha is 0/255 and is applied by the seed's per-pixel select

    def __call__(self, mask: np.ndarray, ctx: FrameContext) -> tuple[np.ndarray, Box]:
        """The alpha at the frame's size (uint8, 255 = person; a reused buffer, valid until the next
        call) and its box, outside which it is 0."""

    def reset(self) -> None:
        """Forget temporal state (a new sequence starts)."""

    def adopt(self, other: "Refiner") -> None:
        """Carry on from another refiner's temporal state."""


class Compositor(Protocol):
    def __call__(self, frame: np.ndarray, alpha: np.ndarray | None, pyramid=None, box=None) -> np.ndarray:
        """The output frame; alpha None means 'the whole frame is background'."""


class Sink(Protocol):
    name: str
    stop_requested: bool  # set by a sink that asks the pipeline to stop (the preview's `q`)

    def send(self, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...

"""The contracts between pipeline stages.

Source -> Segmenter -> Refiner -> Compositor -> Sink, passing plain arrays:
- a frame is an H x W x 3 uint8 BGR numpy array;
- a mask (segmenter output) is a 2-D uint8 array, 255 = person, at any
  resolution (usually the model's); the refiner scales it to the frame;
- an alpha (refiner output) is an H x W uint8 array at frame size, 255 = person.
Each stage holds only its own small state and never reaches into another.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np


class StageError(RuntimeError):
    """A one-line, user-facing error raised by a stage (bad file, missing device, ...)."""


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
    def __call__(self, frame: np.ndarray, pyramid=None) -> np.ndarray:
        """A uint8 mask, 255 = person, at any resolution; `pyramid` (blur.Pyramid) holds the frame's shared halvings."""


class Refiner(Protocol):
    def __call__(self, mask: np.ndarray, frame: np.ndarray, pyramid=None) -> np.ndarray:
        """The alpha at the frame's size: uint8, 255 = person."""

    def reset(self) -> None:
        """Forget temporal state (a new sequence starts)."""


class Compositor(Protocol):
    def __call__(self, frame: np.ndarray, alpha: np.ndarray | None, fps=None, pyramid=None, box=None) -> np.ndarray:
        """The output frame; alpha None means 'the whole frame is background'."""


class Sink(Protocol):
    name: str
    stop_requested: bool  # set by a sink that asks the pipeline to stop (the preview's `q`)

    def send(self, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...

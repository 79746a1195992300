"""The rvm engine: Robust Video Matting (MobileNetV3), a recurrent matting network (GPL-3.0 model).

The model carries four recurrent state tensors from frame to frame: that is where its temporal
stability comes from. The state is dropped, and the next frame starts fresh, on a change of frame
size, on `reset()` (the pipeline calls it when the source changes; an engine switch builds a new
segmenter) and on a scene cut, detected here from a 16x9 grey thumbnail of consecutive frames.

The model runs on the frame scaled so that its longer side is `rvm_size` (the shorter follows the
frame's shape, in multiples of 4) at its own resolution (downsample_ratio 1), and its soft alpha
is returned as uint8, 255 = person, like the selfie models' probability.
"""
from __future__ import annotations

import cv2
import numpy as np

from .. import models
from ..stages import StageError
from . import runtime
from .neural import check_model_file, rgb_planes

INPUTS = ("src", "r1i", "r2i", "r3i", "r4i", "downsample_ratio")
OUTPUTS = ("pha", "r1o", "r2o", "r3o", "r4o")
THUMB = (16, 9)
SCENE_CUT = 20  # mean absolute grey-level change of the thumbnail that counts as a cut: continuous footage
# changes at most 3.2 (DAVIS lucia's walk; the talking-head clips 2.4), unrelated photos 28 and up


def input_size(frame_w: int, frame_h: int, long_side: int) -> tuple[int, int]:
    """(w, h) of the model's input: the longer side `long_side`, the shorter in proportion; both
    multiples of 4 (the decoder crops its upsampled maps to fit any size; 4 keeps the shape closest)."""
    longer = long_side // 4 * 4
    shorter = max(16, int(round(longer * min(frame_w, frame_h) / max(frame_w, frame_h) / 4)) * 4)
    return (longer, shorter) if frame_w >= frame_h else (shorter, longer)


class RvmSegmenter:
    """Robust Video Matting, MobileNetV3: RGB 0..1 NCHW and the recurrent state in, alpha and state out."""

    spec = models.MODELS["rvm"]
    uses = ("model_path", "runtime", "rvm_size")  # beyond engine and threads (the pipeline's rebuild rule)

    def __init__(self, path: str, runtime_name: str = "auto", threads: int = 1, long_side: int = 256):
        self.path, self.long_side = path, long_side
        check_model_file(path, ".onnx")
        self.runner = runtime.load(path, runtime_name, threads, INPUTS, OUTPUTS)
        self.runtime = self.runner.name  # what runs it, for the status, bench and doctor
        self._ratio = np.array([1.0], np.float32)
        self._size = None
        self.reset()
        self._check()

    def reset(self) -> None:
        """Forget the recurrent state: the next frame starts a new sequence."""
        self._state, self._thumb, self._shape = None, None, None

    def _check(self) -> None:
        """Run the model once at load time: a mismatched model fails now, not mid-stream."""
        w, h = self.spec.input_size
        src = np.random.default_rng(0).random((1, 3, h, w), np.float32)
        try:
            out = self.runner.run(src, *self._zero_state(), self._ratio)
        except (cv2.error, ValueError, RuntimeError, TypeError):
            out = None
        if out is None or len(out) != len(OUTPUTS) or out[0].size != w * h:
            raise StageError(f"model {self.path} does not fit the rvm engine (needs Robust Video Matting's "
                             f"inputs {', '.join(INPUTS)} and outputs {', '.join(OUTPUTS)})")

    @staticmethod
    def _zero_state() -> list[np.ndarray]:
        return [np.zeros((1, 1, 1, 1), np.float32) for _ in range(4)]  # the model broadcasts each to its state shape

    def scene_cut(self, thumb: np.ndarray) -> bool:
        """Whether this frame's thumbnail differs from the last one's as a cut to another scene does."""
        last, self._thumb = self._thumb, thumb
        return last is not None and cv2.norm(thumb, last, cv2.NORM_L1) / thumb.size > SCENE_CUT

    def normalise(self, frame: np.ndarray, pyramid=None) -> np.ndarray:
        """The frame as a 1x3xHxW float32 RGB blob in 0..1 at the model's input size."""
        h, w = frame.shape[:2]
        size = input_size(w, h, self.long_side)
        if size != self._size:
            self._size = size
            self._small = np.empty((size[1], size[0], 3), np.uint8)
            self._blob = np.empty((1, 3, size[1], size[0]), np.float32)
        if pyramid is not None:
            pyramid.resized(size, dst=self._small)
        else:
            cv2.resize(frame, size, dst=self._small, interpolation=cv2.INTER_AREA)
        return rgb_planes(self._small, self._blob)

    def __call__(self, frame: np.ndarray, pyramid=None) -> np.ndarray:
        """The alpha as uint8 0..255 (255 = person) at the model's input size."""
        blob = self.normalise(frame, pyramid)
        thumb = cv2.cvtColor(cv2.resize(self._small, THUMB, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        if frame.shape != self._shape or self.scene_cut(thumb):
            self._state = None
        self._shape = frame.shape
        pha, *state = self.runner.run(blob, *(self._state or self._zero_state()), self._ratio)
        self._state = state
        return cv2.convertScaleAbs(pha.reshape(blob.shape[2:]), alpha=255.0)


def make_rvm_segmenter(settings) -> RvmSegmenter:
    path = settings.model_path or str(models.model_path("rvm"))
    return RvmSegmenter(path, settings.runtime, settings.threads, settings.rvm_size)


# cycle_engine skips rvm until the user has fetched it: switching must never start a GPL download
make_rvm_segmenter.available = lambda: models.is_cached(models.MODELS["rvm"])

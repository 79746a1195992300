"""The rvm engine: Robust Video Matting (MobileNetV3), a recurrent matting network (GPL-3.0 model).

The model carries four recurrent state tensors from frame to frame: that is where its temporal
stability comes from. The state is dropped, and the next frame starts fresh, on a change of frame
size, on `reset()` (the pipeline calls it when the source changes; an engine switch builds a new
segmenter) and on a scene cut, detected here from a 16x9 grey thumbnail of consecutive frames.

The model sees the person's region of the frame (`crop.PersonCrop`; the whole frame first) at
about the pixel count of the whole frame scaled to a longer side of `rvm_size`, at its own
resolution (downsample_ratio 1). Its soft alpha is returned as uint8, 255 = person, like the
selfie models' probability: over the whole frame, at twice that scale when it saw a region.
"""
from __future__ import annotations

import cv2
import numpy as np

from .. import models
from ..blur import Pyramid
from ..stages import StageError
from . import runtime
from .crop import PersonCrop, input_size
from .neural import check_model_file, rgb_planes

INPUTS = ("src", "r1i", "r2i", "r3i", "r4i", "downsample_ratio")
OUTPUTS = ("pha", "r1o", "r2o", "r3o", "r4o")
THUMB = (16, 9)
SCENE_CUT = 20  # mean absolute grey-level change of the thumbnail that counts as a cut: continuous footage
# changes at most 3.2 (DAVIS lucia's walk; the talking-head clips 2.4), unrelated photos 28 and up


class RvmSegmenter:
    """Robust Video Matting, MobileNetV3: RGB 0..1 NCHW and the recurrent state in, alpha and state out."""

    spec = models.MODELS["rvm"]
    refine_auto = False  # every refinement step lowers its boundary F (dev and DAVIS): the matte is kept as it is
    matte = True
    uses = ("model_path", "runtime", "rvm_size")  # beyond engine and threads (the pipeline's rebuild rule)

    def __init__(self, path: str, runtime_name: str = "auto", threads: int = 1, long_side: int = 256):
        self.path, self.long_side = path, long_side
        check_model_file(path, ".onnx")
        self.runner = runtime.load(path, runtime_name, threads, INPUTS, OUTPUTS)
        self.runtime = self.runner.name  # what runs it, for the status, bench and doctor
        self._ratio = np.array([1.0], np.float32)
        self._size = None
        self.crop = PersonCrop(long_side)
        self.reset()
        self._check()

    def reset(self) -> None:
        """Forget the recurrent state: the next frame starts a new sequence."""
        self._state, self._thumb, self._shape = None, None, None
        self.crop.reset()

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

    def normalise(self, frame: np.ndarray, pyramid=None, region=None, size=None) -> np.ndarray:
        """The frame's `region` (default: all of it) as a 1x3xHxW float32 RGB blob in 0..1 at the
        input `size` (default: the whole frame's)."""
        h, w = frame.shape[:2]
        size = size or input_size(w, h, self.long_side)
        if size != self._size:
            self._size = size
            self._small = np.empty((size[1], size[0], 3), np.uint8)
            self._blob = np.empty((1, 3, size[1], size[0]), np.float32)
        (pyramid or Pyramid(frame)).resized(size, dst=self._small, region=region)
        return rgb_planes(self._small, self._blob)

    def __call__(self, frame: np.ndarray, pyramid=None) -> np.ndarray:
        """The alpha as uint8 0..255 (255 = person) over the whole frame, at the model's scale."""
        h, w = frame.shape[:2]
        pyramid = pyramid or Pyramid(frame)
        thumb = cv2.cvtColor(pyramid.resized(THUMB), cv2.COLOR_BGR2GRAY)
        if frame.shape != self._shape or self.scene_cut(thumb):
            self._state = None
            self.crop.reset()
        self._shape = frame.shape
        region, size = self.crop.plan(w, h)
        if size != self._size:
            self._state = None  # the recurrent state has the input's shape
        blob = self.normalise(frame, pyramid, region, size)
        pha, *state = self.runner.run(blob, *(self._state or self._zero_state()), self._ratio)
        self._state = state
        alpha = cv2.convertScaleAbs(pha.reshape(blob.shape[2:]), alpha=255.0)
        self.crop.follow(alpha, w, h)
        return alpha if region == (0, 0, w, h) else placed(alpha, region, w, h, 2 * self.long_side)


def placed(alpha: np.ndarray, region, frame_w: int, frame_h: int, long_side: int) -> np.ndarray:
    """`alpha` (over `region` of the frame) in a zero alpha over the whole frame, whose longer side
    is `long_side` (at most the frame's)."""
    cw, ch = input_size(frame_w, frame_h, min(long_side, max(frame_w, frame_h)))
    x0, y0, x1, y1 = region
    cx0, cy0 = round(x0 * cw / frame_w), round(y0 * ch / frame_h)
    cx1, cy1 = max(cx0 + 1, round(x1 * cw / frame_w)), max(cy0 + 1, round(y1 * ch / frame_h))
    out = np.zeros((ch, cw), np.uint8)
    out[cy0:cy1, cx0:cx1] = cv2.resize(alpha, (cx1 - cx0, cy1 - cy0), interpolation=cv2.INTER_LINEAR)
    return out


def make_rvm_segmenter(settings) -> RvmSegmenter:
    path = settings.model_path or str(models.model_path("rvm"))
    return RvmSegmenter(path, settings.runtime, settings.threads, settings.rvm_size)


# cycle_engine skips rvm until the user has fetched it: switching must never start a GPL download
make_rvm_segmenter.available = lambda: models.is_cached(models.MODELS["rvm"])

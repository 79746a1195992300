"""Neural person segmenters: the MediaPipe selfie models, run by LiteRT or OpenCV's DNN (`runtime.py`).

Each model is a small class that owns its input size, normalisation and output decoding;
`NEURAL_MODELS` maps an engine name to its class, so a model is added without touching the pipeline.
The output is the person probability as uint8 (0..255) at the model's resolution: the refiner
thresholds it and scales it to the frame once.
"""
from __future__ import annotations

import cv2
import numpy as np

from .. import models
from ..fileinfo import file_problem
from ..stages import StageError
from . import runtime


def check_model_file(path: str, kind: str) -> None:
    """A one-line StageError when `path` cannot be read as a file."""
    why = file_problem(path)
    if why:
        why = "does not exist" if why == "no such file" else f"cannot be read: {why}"
        raise StageError(f"model_path: {path} {why}; give a {kind} file, or leave it empty for the built-in model")


def rgb_planes(bgr: np.ndarray, out: np.ndarray) -> np.ndarray:
    """`bgr` (HxWx3 uint8) as planar RGB in 0..1, written into `out` (1x3xHxW float32)."""
    for c, plane in enumerate(reversed(cv2.split(bgr))):
        np.multiply(plane, np.float32(1 / 255), out=out[0, c])
    return out


class SelfieModel:
    """MediaPipe selfie segmentation (general, 256x256): RGB 0..1 in, person probability out."""

    spec = models.MODELS["selfie"]
    uses = ("model_path", "runtime")  # the settings it is built from, beyond engine and threads (the pipeline's rebuild rule)
    # The edge snap starts from the probability cut 0.05 above the threshold: this model reaches a
    # little past people's outlines, and from its surer core the frame's edges place them. A lean of
    # 0.1 carves low-confidence parts out of the person, such as a white collar (README: Refinement).
    snap_fit = {"radius": 0.02, "lean": 0.05}

    def __init__(self, path: str, runtime_name: str = "auto", threads: int = 1):
        self.path = path
        check_model_file(path, ".tflite")
        self.runner = runtime.load(path, runtime_name, threads)
        self.runtime = self.runner.name  # what runs it, for the status, bench and doctor
        w, h = self.size = self.spec.input_size
        self._small = np.empty((h, w, 3), np.uint8)
        self._blob = np.empty((1, h, w, 3) if self.runner.channels_last else (1, 3, h, w), np.float32)
        self._check()

    def _check(self) -> None:
        """Run the model once at load time: a mismatched model fails now, not mid-stream."""
        w, h = self.size
        self._blob[:] = np.random.default_rng(0).random(self._blob.shape, np.float32)
        try:
            out = self.runner.run(self._blob)[0]
        except (cv2.error, ValueError, RuntimeError):
            out = None
        if out is None or out.size != w * h:
            raise StageError(f"model {self.path} does not fit the {self.spec.name} engine "
                             f"(needs a {w}x{h} RGB input and a 1-channel person probability output)")

    def normalise(self, frame: np.ndarray, pyramid=None) -> np.ndarray:
        """The frame as a float32 RGB blob in 0..1 (NHWC or NCHW, as the runtime wants), in a reused buffer.

        Sampled bilinearly, as MediaPipe's own image-to-tensor step does, from the smallest of the
        frame's area-averaged halvings (`pyramid`) that is at least the model's size."""
        src = frame if pyramid is None else pyramid.at_least(self.size)
        cv2.resize(src, self.size, dst=self._small, interpolation=cv2.INTER_LINEAR)
        if not self.runner.channels_last:
            return rgb_planes(self._small, self._blob)
        cv2.cvtColor(self._small, cv2.COLOR_BGR2RGB, dst=self._small)
        np.multiply(self._small, np.float32(1 / 255), out=self._blob[0])
        return self._blob

    def run(self, blob: np.ndarray) -> np.ndarray:
        """Person probability 0..1, float32 HxW at model resolution."""
        w, h = self.size
        return self.runner.run(blob)[0].reshape(h, w)

    def __call__(self, frame: np.ndarray, pyramid=None) -> np.ndarray:
        """The person probability as uint8 0..255 at model resolution."""
        return cv2.convertScaleAbs(self.run(self.normalise(frame, pyramid)), alpha=255.0)


class SelfieLandscapeModel(SelfieModel):
    """MediaPipe selfie segmentation, landscape (256x144): cheaper, same input and output."""

    spec = models.MODELS["selfie-landscape"]
    # Its coarser output (144 rows) takes a shorter snap and no lean: with a radius of 2%, or any
    # lean, the snap lowers the dev photos' IoU (README: Refinement).
    snap_fit = {"radius": 0.015, "lean": 0.0}


NEURAL_MODELS = {"selfie": SelfieModel, "selfie-landscape": SelfieLandscapeModel}


def make_neural_segmenter(settings) -> SelfieModel:
    model = NEURAL_MODELS[settings.engine]
    path = settings.model_path or str(models.model_path(settings.engine))
    return model(path, settings.runtime, settings.threads)

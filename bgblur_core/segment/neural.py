"""Neural person segmenters, run with OpenCV's DNN module (no other runtime).

Each model is a small class that owns its input size, normalisation and output decoding;
`NEURAL_MODELS` maps an engine name to its class, so a model is added without touching the pipeline.
The output is the person probability as uint8 (0..255) at the model's resolution: the refiner
thresholds it and scales it to the frame once.
"""
from __future__ import annotations

import os

import cv2
import numpy as np

from .. import models
from ..stages import StageError


def load_net(path: str) -> cv2.dnn.Net:
    """A TFLite model as an OpenCV DNN net, or a one-line StageError."""
    if not os.path.isfile(path):
        raise StageError(f"model_path: {path} does not exist; give a .tflite file, or leave it empty for the built-in model")
    try:
        net = cv2.dnn.readNetFromTFLite(path, engine=cv2.dnn.ENGINE_CLASSIC)
    except cv2.error:
        net = None
    if net is None or net.empty():
        raise StageError(f"model file {path} is not a readable TFLite model; pick another file, "
                         f"or run `bgblur models fetch` for the built-in one")
    return net


class SelfieModel:
    """MediaPipe selfie segmentation (general, 256x256): RGB 0..1 NCHW in, person probability out.

    The model ends in a 2x2 stride-2 transposed convolution and a sigmoid. OpenCV's DNN spends
    about half the inference time in that one layer, so when the model has that shape we stop
    the net just before it and decode it here: 4 dot products per feature pixel (a tiny matmul).
    """

    spec = models.MODELS["selfie"]

    def __init__(self, path: str):
        self.path = path
        self.net = load_net(path)
        w, h = self.size = self.spec.input_size
        self._small = np.empty((h, w, 3), np.uint8)
        self._blob = np.empty((1, 3, h, w), np.float32)
        self._head = None  # (layer before the head, weights 4xC, bias) when decoding the head here
        self._check()

    def _check(self) -> None:
        """Run the model once at load time: a mismatched model fails now, not mid-stream."""
        w, h = self.size
        rng = np.random.default_rng(0)
        self._blob[:] = rng.random(self._blob.shape, np.float32)
        try:
            self.net.setInput(self._blob)
            full = self.net.forward()
        except cv2.error:
            full = None
        if full is None or full.size != w * h:
            raise StageError(f"model {self.path} does not fit the {self.spec.name} engine "
                             f"(needs a {w}x{h} RGB input and a 1-channel person probability output)")
        self._head = self._find_head()
        if self._head is not None:
            self._half_weights = self._head[1] / 2
        if self._head is not None and np.abs(self.run(self._blob) - full.reshape(h, w)).max() > 1e-4:
            self._head = None  # not the shape we expected: let OpenCV run the whole net

    def _find_head(self):
        names = self.net.getLayerNames()
        if len(names) < 3 or [self.net.getLayer(n).type for n in names[-2:]] != ["Deconvolution", "Sigmoid"]:
            return None
        blobs = self.net.getLayer(names[-2]).blobs
        if len(blobs) != 2 or blobs[0].ndim != 4 or blobs[0].shape[1:] != (1, 2, 2):
            return None
        weights = np.ascontiguousarray(blobs[0].reshape(-1, 4).T)  # (4 = dy*2+dx, C)
        return names[-3], weights, np.float32(blobs[1].ravel()[0])

    def normalise(self, frame: np.ndarray, pyramid=None) -> np.ndarray:
        """The frame as a 1x3xHxW float32 RGB blob in 0..1, in a reused buffer.

        Sampled bilinearly, as MediaPipe's own image-to-tensor step does, from the smallest of the
        frame's area-averaged halvings (`pyramid`) that is at least the model's size."""
        src = frame if pyramid is None else pyramid.at_least(self.size)
        cv2.resize(src, self.size, dst=self._small, interpolation=cv2.INTER_LINEAR)
        for c, plane in enumerate(reversed(cv2.split(self._small))):  # BGR -> planar RGB in 0..1
            np.multiply(plane, np.float32(1 / 255), out=self._blob[0, c])
        return self._blob

    def run(self, blob: np.ndarray) -> np.ndarray:
        """Person probability 0..1, float32 HxW at model resolution."""
        self.net.setInput(blob)
        if self._head is None:
            w, h = self.size
            return self.net.forward().reshape(h, w)
        layer, weights, bias = self._head
        features = self.net.forward(layer)  # 1 x C x h/2 x w/2
        c, fh, fw = features.shape[1:]
        # each feature pixel -> its 2x2 output pixels; einsum, not matmul: BLAS threads would wake and
        # spin on every frame, costing more CPU than this tiny product
        logits = np.einsum("kc,cn->kn", weights, features.reshape(c, fh * fw), optimize=False)
        logits = logits.reshape(2, 2, fh, fw).transpose(2, 0, 3, 1).reshape(2 * fh, 2 * fw)
        logits += bias
        np.clip(logits, -30, 30, out=logits)
        np.negative(logits, out=logits)
        np.exp(logits, out=logits)
        logits += 1
        return np.divide(1, logits, out=logits)

    def __call__(self, frame: np.ndarray, pyramid=None) -> np.ndarray:
        """The person probability as uint8 0..255 at model resolution."""
        blob = self.normalise(frame, pyramid)
        if self._head is None:
            return cv2.convertScaleAbs(self.run(blob), alpha=255.0)
        # the head decoded straight to uint8: 255 sigmoid(x) = 127.5 + 127.5 tanh(x / 2), one pass
        # over the small (4 x features) logits, then the 2x2 pixel shuffle on bytes
        self.net.setInput(blob)
        layer, weights, bias = self._head
        features = self.net.forward(layer)
        c, fh, fw = features.shape[1:]
        half_logits = np.einsum("kc,cn->kn", self._half_weights, features.reshape(c, fh * fw), optimize=False)
        half_logits += bias / 2
        np.tanh(half_logits, out=half_logits)
        prob = cv2.convertScaleAbs(half_logits, alpha=127.5, beta=127.5)
        out = np.empty((2 * fh, 2 * fw), np.uint8)
        for k in range(4):  # row k of the head: output pixel (2y + k // 2, 2x + k % 2) of feature pixel (y, x)
            out[k // 2::2, k % 2::2] = prob[k].reshape(fh, fw)
        return out


class SelfieLandscapeModel(SelfieModel):
    """MediaPipe selfie segmentation, landscape (256x144): cheaper, same input and output."""

    spec = models.MODELS["selfie-landscape"]


NEURAL_MODELS = {"selfie": SelfieModel, "selfie-landscape": SelfieLandscapeModel}


def make_neural_segmenter(settings) -> SelfieModel:
    model = NEURAL_MODELS[settings.engine]
    path = settings.model_path or str(models.model_path(settings.engine))
    return model(path)

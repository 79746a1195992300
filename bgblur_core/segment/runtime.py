"""Inference runtimes behind one small interface: `load(path, runtime) -> Runner`.

- LiteRT (`ai-edge-litert`, XNNPACK): Google's own runtime for the MediaPipe `.tflite` files,
  about 2-3x faster than OpenCV's DNN module on them; installed where its wheel exists.
- onnxruntime: `.onnx` files (the rvm engine), about 15% faster than OpenCV's DNN on rvm.
- OpenCV DNN: every platform, both formats; the fallback when another runtime is missing or
  cannot load a file (one line says so).

A Runner takes NCHW float32 inputs (the model's input order, or named) and returns the outputs
as float32 arrays in the order asked for. `channels_last` runners (LiteRT) take NHWC images instead.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

import cv2
import numpy as np

from ..log import log
from ..stages import StageError

BEST = {".tflite": "litert", ".onnx": "onnxruntime"}  # auto's pick per model format, OpenCV DNN when not installed
MODULES = {"litert": "ai_edge_litert.interpreter", "onnxruntime": "onnxruntime"}
DISTS = {"litert": "ai-edge-litert", "onnxruntime": "onnxruntime"}
FILE_HINT = "pick another file, or run `bgblur models fetch` for the built-in one"


def _fmt(path: str) -> str:
    return os.path.splitext(path)[1].lower()


def installed(runtime: str) -> bool:
    if runtime == "opencv":
        return True
    try:
        import_module(MODULES[runtime])
        return True
    except Exception:  # a broken install is as good as none: OpenCV DNN runs instead
        return False


def choose(requested: str, path: str) -> str:
    """The runtime `load` tries first for this model file: `requested`, or auto's pick."""
    if requested != "auto":
        return requested
    best = BEST.get(_fmt(path), "opencv")
    return best if installed(best) else "opencv"


def opencv_classic(path: str = "model.tflite") -> int | None:
    """OpenCV 5.0's classic DNN engine for a .tflite file, when this build still has it (5.1 has only
    the new one); None: the build's default engine. (The classic engine cannot read rvm's .onnx.)

    Measured on the selfie models at one thread: 5.0's classic engine with the head decoded in
    numpy (see OpenCVRunner) 7.6 ms, 5.0's new engine 21 ms, 5.1's engine 8.2 ms."""
    return None if _fmt(path) == ".onnx" else getattr(cv2.dnn, "ENGINE_CLASSIC", None)


def opencv_engine(path: str = "model.tflite") -> str:
    """Which OpenCV DNN engine runs a model file of this kind, e.g. "OpenCV 5.1.0 DNN (new engine)"."""
    return f"OpenCV {cv2.__version__} DNN ({'classic' if opencv_classic(path) is not None else 'new'} engine)"


def describe(runtime: str, threads: int = 1, path: str = "model.tflite") -> str:
    """A runtime's display name, with its version."""
    if runtime == "opencv":
        return opencv_engine(path)
    try:
        v = version(DISTS[runtime])
    except PackageNotFoundError:
        v = "?"
    label = {"litert": f"LiteRT {v} (XNNPACK", "onnxruntime": f"onnxruntime {v} (CPU"}[runtime]
    return f"{label}, {threads} thread{'s' if threads != 1 else ''})"


def runtime_name(requested: str = "auto", path: str = "model.tflite", threads: int = 1) -> str:
    """The runtime that would run a model file of this kind, without loading one (for doctor and bench)."""
    return describe(choose(requested, path), threads, path)


# -- the runners -----------------------------------------------------------------------------
class OpenCVRunner:
    """OpenCV's DNN module. With OpenCV 5.0's classic engine, a net that ends in a 2x2 stride-2
    transposed convolution and a sigmoid (the selfie models) is stopped before that layer and the
    head is decoded in numpy: the classic engine spends over half its time there (19 -> 7.6 ms).
    5.1's engine gains nothing from it, so there it runs the whole net."""

    channels_last = False

    def __init__(self, path: str, inputs: tuple[str, ...] = (), outputs: tuple[str, ...] = ()):
        classic = opencv_classic(path)
        if _fmt(path) == ".onnx" and opencv_classic() is not None:
            # measured: 5.0's new engine gives rvm alphas up to 255/255 off onnxruntime's on real photos
            raise StageError(f"OpenCV {cv2.__version__}'s DNN computes {os.path.basename(path)} wrongly; "
                             "install onnxruntime (pip install onnxruntime), or OpenCV 5.1 or later")
        read = cv2.dnn.readNetFromONNX if _fmt(path) == ".onnx" else cv2.dnn.readNetFromTFLite
        try:
            net = read(path) if classic is None else read(path, engine=classic)
        except cv2.error:
            net = None
        if net is None or net.empty():
            raise StageError(f"model file {path} is not a readable {_fmt(path)[1:]} model; {FILE_HINT}")
        self.net, self.inputs, self.outputs = net, inputs, outputs
        self._all_outputs = list(net.getUnconnectedOutLayersNames())
        self.name = opencv_engine(path)
        self.head = find_head(net) if classic is not None and not outputs else None
        self._head_checked = False

    def run(self, *arrays: np.ndarray) -> list[np.ndarray]:
        if self.inputs:
            for name, a in zip(self.inputs, arrays):
                self.net.setInput(a, name)
        else:
            self.net.setInput(arrays[0])
        if self.outputs:  # OpenCV 5.0 forwards only all of a net's outputs at once: pick the ones asked for
            got = dict(zip(self._all_outputs, self.net.forward(self._all_outputs)))
            return [got[name] for name in self.outputs]
        if self.head is None:
            return [self.net.forward()]
        layer, weights, bias = self.head
        prob = decode_head(self.net.forward(layer), weights, bias)
        if not self._head_checked:  # once: the decoded head must match the whole net, else run the whole net
            self._head_checked = True
            whole = self.net.forward()
            if whole.size != prob.size or np.abs(whole.reshape(prob.shape) - prob).max() > 1e-4:
                self.head = None
                return [whole]
        return [prob]


def find_head(net):
    """(the layer before the head, weights 4xC, bias) when the net ends in Deconvolution 2x2/2 + Sigmoid."""
    names = net.getLayerNames()
    if len(names) < 3 or [net.getLayer(n).type for n in names[-2:]] != ["Deconvolution", "Sigmoid"]:
        return None
    blobs = net.getLayer(names[-2]).blobs
    if len(blobs) != 2 or blobs[0].ndim != 4 or blobs[0].shape[1:] != (1, 2, 2):
        return None
    weights = np.ascontiguousarray(blobs[0].reshape(-1, 4).T)  # (4 = dy*2+dx, C)
    return names[-3], weights, np.float32(blobs[1].ravel()[0])


def decode_head(features: np.ndarray, weights: np.ndarray, bias: np.float32) -> np.ndarray:
    """The 2x2 stride-2 transposed convolution and sigmoid: 1 x 1 x 2h x 2w probability."""
    c, fh, fw = features.shape[1:]
    # each feature pixel -> its 2x2 output pixels; einsum, not matmul: BLAS threads would wake and
    # spin on every frame, costing more CPU than this tiny product
    logits = np.einsum("kc,cn->kn", weights, features.reshape(c, fh * fw), optimize=False)
    logits = logits.reshape(2, 2, fh, fw).transpose(2, 0, 3, 1).reshape(1, 1, 2 * fh, 2 * fw)
    logits += bias
    np.clip(logits, -30, 30, out=logits)
    np.negative(logits, out=logits)
    np.exp(logits, out=logits)
    logits += 1
    return np.divide(1, logits, out=logits)


@contextlib.contextmanager
def native_info_silenced():
    """Drop the INFO lines a native library prints straight to fd 2 (LiteRT's "Created ... XNNPACK
    delegate"), so an error after a model loads stays one line; anything else is passed on."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = [ln for ln in caught.read().decode(errors="replace").splitlines(True) if not ln.startswith("INFO: ")]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


class LiteRTRunner:
    """LiteRT's interpreter with XNNPACK, on `threads` threads: NHWC in, as the .tflite file says."""

    channels_last = True

    def __init__(self, path: str, threads: int = 1, inputs=(), outputs=()):
        if _fmt(path) != ".tflite":
            raise StageError(f"LiteRT runs .tflite files, not {os.path.basename(path)}")
        from ai_edge_litert.interpreter import Interpreter
        try:
            with native_info_silenced():
                self.it = Interpreter(model_path=path, num_threads=threads)
                self.it.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise StageError(f"model file {path} is not a readable TFLite model for LiteRT ({e}); {FILE_HINT}") from None
        self._in = [d["index"] for d in self.it.get_input_details()]
        self._out = [d["index"] for d in self.it.get_output_details()]
        self.name = describe("litert", threads)

    def run(self, *arrays: np.ndarray) -> list[np.ndarray]:
        for index, a in zip(self._in, arrays):
            self.it.set_tensor(index, a)
        self.it.invoke()
        return [self.it.get_tensor(i) for i in self._out]


class OnnxRuntimeRunner:
    """onnxruntime's CPU provider on `threads` threads, workers that sleep instead of spinning."""

    channels_last = False

    def __init__(self, path: str, threads: int = 1, inputs=(), outputs=()):
        if _fmt(path) != ".onnx":
            raise StageError(f"onnxruntime runs .onnx files, not {os.path.basename(path)}")
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = so.inter_op_num_threads = threads
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.log_severity_level = 3  # errors only: its warnings are about the graph, not for the user
        try:
            self.sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for a bad file
            raise StageError(f"model file {path} is not a readable ONNX model for onnxruntime "
                             f"({str(e).splitlines()[0][:120]}); {FILE_HINT}") from None
        self.inputs = inputs or tuple(i.name for i in self.sess.get_inputs())
        self.outputs = list(outputs) or None
        self.name = describe("onnxruntime", threads)

    def run(self, *arrays: np.ndarray) -> list[np.ndarray]:
        return self.sess.run(self.outputs, dict(zip(self.inputs, arrays)))


RUNNERS = {"litert": LiteRTRunner, "onnxruntime": OnnxRuntimeRunner}


def load(path: str, runtime: str = "auto", threads: int = 1, inputs: tuple[str, ...] = (),
         outputs: tuple[str, ...] = ()):
    """The model at `path` on `runtime` (auto: the best installed one for its format).

    A runtime other than OpenCV DNN that is missing or fails to load the file: one line, then
    OpenCV DNN. OpenCV DNN failing too: a one-line StageError."""
    chosen = choose(runtime, path)
    threads = threads if threads > 0 else (os.cpu_count() or 1)
    unreadable = None  # the first runtime's verdict on the file itself, if OpenCV DNN fails on it too
    if chosen != "opencv":
        try:
            return RUNNERS[chosen](path, threads, inputs, outputs)
        except Exception as e:  # ImportError, a broken wheel, a file it cannot read: OpenCV DNN still may
            why = str(e) if isinstance(e, StageError) else f"{type(e).__name__}: {e}"
            log(f"runtime {chosen} cannot run {os.path.basename(path)} ({why.splitlines()[0][:160]}); "
                f"using {opencv_engine(path)} instead")
            unreadable = e if isinstance(e, StageError) and FILE_HINT in str(e) else None
    try:
        return OpenCVRunner(path, inputs, outputs)
    except StageError:
        if unreadable is not None:
            raise unreadable from None
        raise

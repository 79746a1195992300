"""The neural engines on the real photos of ../shared/evaldata/dev, with the real MediaPipe models."""
from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from bgblur_core import models
from bgblur_core.chain import Stages
from bgblur_core.evaluate import boundary_f, iou
from bgblur_core.segment import make_segmenter
from bgblur_core.segment.neural import NEURAL_MODELS
from bgblur_core.settings import validate
from bgblur_core.stages import StageError
from _seg_helpers import dev_set, photo_alphas, raw_settings


@pytest.fixture(scope="module")
def dev(real_models):
    return dev_set()


def scores(alphas, gts) -> tuple[float, float]:
    return (float(np.mean([iou(a, g) for a, g in zip(alphas, gts)])),
            float(np.mean([boundary_f(a, g) for a, g in zip(alphas, gts)])))


def test_selfie_with_default_settings_reaches_iou_0955_and_boundary_f_087(dev):
    """0.87, not the 0.88 of the remove.bg-tuned defaults: a refinement step is kept only where it lowers
    IoU on none of dev and DAVIS (issue 11), so the steps that fitted the dev set's machine-made outlines
    (a 0.6 threshold, a dilating feather) are off, and dev's boundary F is 0.872 where it was 0.877."""
    settings = validate()
    assert settings.engine == "selfie"
    photos, gts = [p for _, p, _ in dev], [g for _, _, g in dev]
    mean_iou, mean_f = scores(photo_alphas(settings, photos), gts)
    print(f"selfie default: IoU {mean_iou:.4f}, boundary F {mean_f:.4f} over {len(dev)} photos")
    assert mean_iou >= 0.955
    assert mean_f >= 0.87


@pytest.mark.parametrize("engine", ["selfie", "selfie-landscape"])
def test_refinement_raises_boundary_f_over_the_raw_model_without_lowering_iou(dev, engine):
    photos, gts = [p for _, p, _ in dev], [g for _, _, g in dev]
    raw_iou, raw_f = scores(photo_alphas(raw_settings(engine=engine), photos), gts)
    ref_iou, ref_f = scores(photo_alphas(validate(engine=engine), photos), gts)
    print(f"{engine}: raw IoU {raw_iou:.4f} F {raw_f:.4f}; refined IoU {ref_iou:.4f} F {ref_f:.4f}")
    assert ref_f > raw_f
    assert ref_iou >= raw_iou
    if engine == "selfie":  # the reference figures for the raw model: about 0.954 and 0.868
        assert raw_iou == pytest.approx(0.954, abs=0.01) and raw_f == pytest.approx(0.868, abs=0.015)


@pytest.mark.parametrize("engine", ["selfie", "selfie-landscape"])
def test_segmenter_gives_the_person_probability_at_model_resolution(dev, engine):
    seg = make_segmenter(validate(engine=engine))
    w, h = models.MODELS[engine].input_size
    _, photo, gt = dev[0]
    mask = seg(photo)
    assert mask.dtype == np.uint8 and mask.shape == (h, w)
    small_gt = cv2.resize(gt, (w, h), interpolation=cv2.INTER_AREA)
    assert iou(mask, small_gt) > 0.9
    assert 0 < np.count_nonzero((mask > 20) & (mask < 235)) < mask.size // 10  # soft, but only at the edges


@pytest.mark.parametrize("engine", ["selfie", "selfie-landscape"])
@pytest.mark.parametrize("runtime", ["litert", "opencv"])
def test_the_uint8_mask_is_the_rounded_float_probability(dev, engine, runtime):
    """__call__ gives the same bytes as rounding 255 x the float probability of run(), on either runtime."""
    seg = make_segmenter(validate(engine=engine, runtime=runtime))
    assert seg.runtime.lower().startswith(runtime)
    for _, photo, _ in dev[:6]:
        expected = cv2.convertScaleAbs(seg.run(seg.normalise(photo)), alpha=255.0)
        assert np.abs(seg(photo).astype(int) - expected).max() <= 1


def test_every_registered_model_has_its_spec():
    from bgblur_core.segment.matting import RvmSegmenter
    classes = {**NEURAL_MODELS, "rvm": RvmSegmenter}
    assert set(classes) == set(models.MODELS)
    for name, model in classes.items():
        assert model.spec is models.MODELS[name]


def test_model_path_overrides_the_built_in_model(dev, tmp_path):
    own = tmp_path / "my-model.tflite"
    shutil.copy(models.model_path("selfie-landscape"), own)
    seg = make_segmenter(validate(engine="selfie-landscape", model_path=str(own)))
    assert seg.path == str(own)
    ref = make_segmenter(validate(engine="selfie-landscape"))
    assert np.array_equal(seg(dev[2][1]), ref(dev[2][1]))


def test_a_missing_or_corrupt_model_file_is_a_one_line_error(tmp_path):
    with pytest.raises(StageError) as e:
        make_segmenter(validate(model_path=str(tmp_path / "nope.tflite")))
    assert "does not exist" in str(e.value) and "\n" not in str(e.value)
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(StageError) as e:
        make_segmenter(validate(model_path=str(junk)))
    assert str(junk) in str(e.value) and "bgblur models fetch" in str(e.value) and "\n" not in str(e.value)


def test_each_selfie_model_refines_with_its_own_snap_fit_and_an_engine_switch_takes_the_new_one(real_models):
    selfie = Stages(validate(engine="selfie"))
    landscape = selfie.rebuilt(selfie.settings.replace({"engine": "selfie-landscape"}))
    assert (selfie.refiner.snap.radius, landscape.refiner.snap.radius) == (0.02, 0.015)
    back = landscape.rebuilt(landscape.settings.replace({"engine": "selfie"}))
    assert back.refiner.snap.radius == 0.02 and back.refiner is not selfie.refiner

"""The hsv engine with --blur-method exact is byte-identical to the seed (SEED.md steps 2-5)."""
import cv2
import numpy as np
import pytest

from bgblur_core.pipeline import Stages
from bgblur_core.refine import HardCut
from bgblur_core.seed import seed_reference
from bgblur_core.settings import validate

THRESHOLDS = [
    {},  # the seed's defaults
    {"hsv_s_min": 40, "hsv_v_min": 90},
    {"hsv_h_min": 5, "hsv_h_max": 30, "hsv_s_min": 20, "hsv_s_max": 200, "hsv_v_min": 10, "hsv_v_max": 250},
    {"hsv_s_min": 0, "hsv_v_min": 0},  # everything foreground
    {"hsv_s_min": 255, "hsv_v_min": 255, "hsv_h_max": 0},  # nearly nothing foreground
    {"blur_strength": 5.0},  # the exact blur is the seed's 25x25 kernel whatever the strength
]


def exact_stages(**kw) -> Stages:
    return Stages(validate({"engine": "hsv", "blur_method": "exact", **kw}))


def reference(frame, s):
    return seed_reference(frame, (s.hsv_h_min, s.hsv_s_min, s.hsv_v_min), (s.hsv_h_max, s.hsv_s_max, s.hsv_v_max))


@pytest.mark.parametrize("thresholds", THRESHOLDS, ids=lambda t: ",".join(f"{k}={v}" for k, v in t.items()) or "seed")
def test_real_photos_match_the_seed_byte_for_byte(dev_pairs, thresholds):
    stages = exact_stages(**thresholds)
    assert isinstance(stages.refiner, HardCut)  # refine=auto keeps the seed method unrefined
    for image, _ in dev_pairs:
        frame = cv2.imread(str(image))
        out = stages(frame)
        assert out.dtype == np.uint8 and out.shape == frame.shape
        assert np.array_equal(out, reference(frame, stages.settings)), image.name


@pytest.mark.parametrize("thresholds", THRESHOLDS[:3])
def test_synthetic_and_random_frames_match_the_seed(thresholds):
    from bgblur_core.sources import synthetic_frame
    stages = exact_stages(**thresholds)
    rng = np.random.default_rng(7)
    frames = [synthetic_frame(n, 640, 480) for n in (0, 17, 45)]
    frames += [rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)]
    for frame in frames:
        assert np.array_equal(stages(frame), reference(frame, stages.settings))


def test_the_mask_really_selects(dev_pairs):
    """Guard against a trivially-equal pipeline: on a real photo, the output differs from both input and blur."""
    stages = exact_stages()
    frame = cv2.imread(str(dev_pairs[0][0]))
    out = stages(frame)
    assert not np.array_equal(out, frame)
    assert not np.array_equal(out, cv2.GaussianBlur(frame, (25, 25), 0))

"""The hsv segmenter's fast path (no HSV image) gives the exact mask of cvtColor + inRange, for every colour.

A mask pixel depends only on that pixel's colour, so checking all 2^24 BGR colours once proves it
for every frame. The blur_fast check guards "visually equivalent" with a number.
"""
import cv2
import numpy as np
import pytest

from bgblur_core.blur import blur_fast
from bgblur_core.segment.hsv import HsvSegmenter
from bgblur_core.settings import validate

THRESHOLDS = [
    {},  # the seed's
    {"hsv_s_min": 40, "hsv_v_min": 90},
    {"hsv_s_min": 0, "hsv_v_min": 0},
    {"hsv_s_min": 255, "hsv_v_min": 255},
    {"hsv_s_min": 20, "hsv_s_max": 200, "hsv_v_min": 10, "hsv_v_max": 250},
    {"hsv_h_max": 179, "hsv_s_min": 0, "hsv_s_max": 0, "hsv_v_min": 0, "hsv_v_max": 0},
    {"hsv_v_max": 100, "hsv_s_min": 1},
    {"hsv_h_min": 5, "hsv_h_max": 30},  # a hue range: the cvtColor path
]


@pytest.fixture(scope="module")
def every_colour():
    n = np.arange(2 ** 24, dtype=np.uint32)
    img = np.stack([(n >> 16) & 255, (n >> 8) & 255, n & 255], -1).astype(np.uint8).reshape(4096, 4096, 3)
    return img, cv2.cvtColor(img, cv2.COLOR_BGR2HSV)


@pytest.mark.parametrize("thresholds", THRESHOLDS, ids=lambda t: ",".join(f"{k}={v}" for k, v in t.items()) or "seed")
def test_every_colour_gives_the_inrange_mask(every_colour, thresholds):
    img, hsv = every_colour
    segmenter = HsvSegmenter(validate({"engine": "hsv", **thresholds}))
    assert (segmenter._ranges is not None) == ("hsv_h_min" not in thresholds)  # the fast path is really taken
    assert np.array_equal(segmenter(img), cv2.inRange(hsv, segmenter.lower, segmenter.upper))


def test_fast_path_reuses_buffers_but_returns_a_fresh_mask():
    segmenter = HsvSegmenter(validate({"engine": "hsv"}))
    rng = np.random.default_rng(3)
    a, b = (rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(2))
    mask_a = segmenter(a)
    kept = mask_a.copy()
    segmenter(b)
    assert np.array_equal(mask_a, kept)
    assert segmenter(rng.integers(0, 256, (30, 20, 3), dtype=np.uint8)).shape == (30, 20)  # a new size


@pytest.mark.parametrize("sigma", [0.8, 1.7, 4.1, 10.8, 16.2, 36.0])  # up to 5% of 720 px
def test_fast_blur_is_visually_equivalent_to_the_full_resolution_gaussian(sigma):
    from bgblur_core.sources import synthetic_frame
    frame = synthetic_frame(3, 1280, 720)
    fast = blur_fast(frame, sigma)
    assert fast.shape == frame.shape and fast.dtype == np.uint8
    assert cv2.PSNR(fast, cv2.GaussianBlur(frame, (0, 0), sigma)) >= 42


@pytest.mark.parametrize("shape", [(1, 1, 3), (5, 7, 3), (3, 1000, 3), (241, 321, 3)])
def test_fast_blur_keeps_any_frame_size(shape):
    frame = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    assert blur_fast(frame, 4.1).shape == shape
    assert blur_fast(frame, 30.0).shape == shape


@pytest.mark.parametrize("thresholds", [{}, {"hsv_s_min": 40, "hsv_v_min": 90}, {"hsv_s_min": 1, "hsv_v_min": 1},
                                        {"hsv_s_min": 200, "hsv_v_min": 200}],
                         ids=lambda t: ",".join(f"{k}={v}" for k, v in t.items()) or "seed")
def test_the_per_v_table_as_a_line_is_exact_for_every_colour(every_colour, thresholds):
    """With the seed's thresholds the table lookup (cv2.LUT, slow) is replaced by threshold + convertScaleAbs:
    it must give the inRange mask for all 2^24 colours."""
    img, hsv = every_colour
    segmenter = HsvSegmenter(validate({"engine": "hsv", **thresholds}))
    assert segmenter._line is not None  # the arithmetic form is really taken
    assert np.array_equal(segmenter(img), cv2.inRange(hsv, segmenter.lower, segmenter.upper))

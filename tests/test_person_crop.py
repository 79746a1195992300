"""Where the rvm engine looks (segment/crop.py), and the soft matte kept as it is (refine.SoftMatte):
synthetic alphas with known boxes, no model."""
from __future__ import annotations

import cv2
import numpy as np

from bgblur_core.refine import HardCut, SoftMatte, make_refiner
from bgblur_core.segment import crop
from bgblur_core.segment.crop import PersonCrop, fitted, input_size, shape_for
from bgblur_core.segment.matting import RvmSegmenter, placed
from bgblur_core.settings import validate
from bgblur_core.stages import FrameContext

W, H = 1280, 720


def person(size, box) -> np.ndarray:
    """A uint8 alpha at size = (w, h), 255 inside box = (x0, y0, x1, y1) (input px)."""
    a = np.zeros(size[::-1], np.uint8)
    x0, y0, x1, y1 = box
    a[y0:y1, x0:x1] = 255
    return a


def contains(outer, inner) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def test_the_first_frame_is_seen_whole_at_the_frames_input_size():
    c = PersonCrop(256)
    assert c.plan(W, H) == ((0, 0, W, H), (256, 144))
    assert c.plan(W, H) == ((0, 0, W, H), (256, 144))  # nobody followed yet: still whole


def test_the_region_follows_a_narrow_person_with_a_tall_input_of_the_same_pixel_count():
    c = PersonCrop(256)
    region, size = c.plan(W, H)
    c.follow(person(size, (90, 20, 150, 144)), W, H)  # frame px x 450..750, y 100..720
    region, size = c.plan(W, H)
    tight = (450, 100, 750, 720)
    assert contains(region, tight) and contains((0, 0, W, H), region)
    assert region[0] > 300 and region[2] < 900  # much narrower than the frame: the model sees the person larger
    assert size[1] > size[0]  # a tall input for a tall region...
    assert abs(size[0] * size[1] - 256 * 144) < 0.05 * 256 * 144  # ...of the whole frame's pixel count
    rw, rh = region[2] - region[0], region[3] - region[1]
    assert abs(rw / rh - size[0] / size[1]) < 0.02  # and of the input's shape: not squashed


def test_a_region_wider_than_the_frame_allows_is_cut_to_the_frame_the_only_squashed_case():
    c = PersonCrop(256)
    _, size = c.plan(W, H)
    c.follow(person(size, (110, 20, 130, 144)), W, H)  # 100 px wide, 620 tall: the 4x zoom limit widens it
    region, size = c.plan(W, H)
    assert region[3] - region[1] == H and region[2] - region[0] >= W * crop.MIN_SHARE - 1


def test_the_region_stays_while_the_person_moves_inside_it_and_moves_when_they_leave():
    c = PersonCrop(256)
    _, size = c.plan(W, H)
    c.follow(person(size, (100, 20, 140, 144)), W, H)
    region, size = c.plan(W, H)
    sx, sy = size[0] / (region[2] - region[0]), size[1] / (region[3] - region[1])

    def at(x0, y0, x1, y1):  # frame px -> this region's input px
        return person(size, (round((x0 - region[0]) * sx), round((y0 - region[1]) * sy),
                             round((x1 - region[0]) * sx), round((y1 - region[1]) * sy)))

    c.follow(at(510, 100, 710, 720), W, H)  # a small step
    assert c.plan(W, H) == (region, size)
    c.follow(at(region[2] - 60, 100, region[2], 720), W, H)  # at the region's right edge
    moved, _ = c.plan(W, H)
    assert moved[2] > region[2]


def test_nobody_in_the_region_means_the_whole_frame_next_and_reset_starts_over():
    c = PersonCrop(256)
    _, size = c.plan(W, H)
    c.follow(person(size, (100, 20, 140, 144)), W, H)
    region, size = c.plan(W, H)
    assert region != (0, 0, W, H)
    c.follow(np.zeros(size[::-1], np.uint8), W, H)
    assert c.plan(W, H)[0] == (0, 0, W, H)
    c.follow(person(size, (100, 20, 140, 144)), W, H)
    c.reset()
    assert c.plan(W, H) == ((0, 0, W, H), (256, 144))


def test_a_speck_is_nobody():
    c = PersonCrop(256)
    _, size = c.plan(W, H)
    c.follow(person(size, (10, 10, 13, 13)), W, H)  # 9 px of 36864: below MIN_PERSON
    assert c.plan(W, H)[0] == (0, 0, W, H)


def test_a_person_filling_the_frame_keeps_the_whole_frame_and_its_input():
    c = PersonCrop(256)
    _, size = c.plan(W, H)
    c.follow(person(size, (20, 10, 236, 144)), W, H)
    assert c.plan(W, H) == ((0, 0, W, H), (256, 144))


def test_regions_are_on_the_grid_of_the_frames_third_halving_or_at_its_edge():
    for want in ((3, 5, 333, 601), (101, 0, 700, 719), (900, 200, 1280, 720)):
        region = fitted(want, (160, 224), (W, H))
        assert all(v % 8 == 0 for v in region[:2]) and contains(region, want)
        assert (region[2] % 8 == 0 or region[2] == W) and (region[3] % 8 == 0 or region[3] == H)
    assert fitted((0, 0, 850, 479), (256, 144), (854, 480))[2:] == (854, 480)


def test_the_zoom_is_at_most_four_times():
    region = fitted((600, 300, 610, 310), (256, 144), (W, H))
    assert region[2] - region[0] >= W * crop.MIN_SHARE - 1 and region[3] - region[1] >= H * crop.MIN_SHARE - 1
    assert contains(region, (600, 300, 610, 310))


def test_a_region_at_the_frame_edge_is_moved_inside_it():
    region = fitted((0, 500, 200, 720), (256, 144), (W, H))
    assert region[0] == 0 and region[3] == H and contains(region, (0, 500, 200, 720))
    region = fitted((1200, 600, 1280, 720), (256, 144), (W, H))
    assert contains((0, 0, W, H), region) and region[2] == W and region[3] == H


def test_shapes_and_sizes():
    assert shape_for(1.0, 36864) == (192, 192)
    assert shape_for(0.5, 36864) == (136, 272)
    assert input_size(1280, 720, 256) == (256, 144) and input_size(720, 1280, 256) == (144, 256)


def test_placed_puts_the_alpha_where_its_region_is_in_the_whole_frame():
    alpha = np.full((200, 100), 255, np.uint8)
    out = placed(alpha, (320, 0, 640, 720), W, H, 512)
    assert out.shape == (288, 512)
    cols = np.nonzero(out.max(axis=0))[0]
    assert cols[0] == 128 and cols[-1] == 255 and out[:, 128:256].min() == 255 and out.sum() == 255 * 128 * 288


def test_rvm_keeps_its_matte_soft_when_unrefined_and_other_engines_cut_it():
    assert RvmSegmenter.matte and not RvmSegmenter.refine_auto
    assert isinstance(make_refiner(validate(engine="rvm"), auto=False, matte=True), SoftMatte)
    assert isinstance(make_refiner(validate(refine="off"), matte=False), HardCut)
    frame = np.zeros((H, W, 3), np.uint8)
    mask = np.zeros((144, 256), np.uint8)
    mask[40:100, 100:160] = 200
    mask[40:100, 160] = 90  # a soft edge
    alpha, (x, y, w, h) = SoftMatte()(mask, FrameContext(frame))
    assert alpha.shape == (H, W) and not SoftMatte.hard
    assert alpha.max() == 200 and 0 < np.count_nonzero((alpha > 0) & (alpha < 200))  # soft, not cut to 0/255
    expected = cv2.resize(mask, (W, H), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(alpha, expected)
    assert np.count_nonzero(alpha[y:y + h, x:x + w]) == np.count_nonzero(alpha)  # the box holds all of it
    assert x <= 500 and x + w >= 5 * 161 and w < 400
    full = cv2.resize(mask, (W, H))
    assert SoftMatte()(full, FrameContext(frame))[0] is full  # already at frame size: as it is
    empty, box = SoftMatte()(np.zeros((144, 256), np.uint8), FrameContext(frame))
    assert box == (0, 0, 0, 0) and not empty.any()


def test_the_soft_mattes_box_holds_all_of_it_and_lies_in_the_frame_from_any_mask_size():
    frame = np.zeros((H, W, 3), np.uint8)
    for mask_size in ((256, 144), (2560, 1440), (300, 170)):  # scaled up 5x, down 2x, up by a fraction
        mw, mh = mask_size
        for blob in ((mw // 3, mh // 3, mw // 2, mh // 2), (mw // 2, mh // 2, mw, mh)):  # inside; at the far corner
            mask = person(mask_size, blob)
            alpha, (x, y, w, h) = SoftMatte()(mask, FrameContext(frame))
            assert np.array_equal(alpha, cv2.resize(mask, (W, H), interpolation=cv2.INTER_LINEAR))
            assert 0 <= x and 0 <= y and x + w <= W and y + h <= H, (mask_size, blob)
            assert np.count_nonzero(alpha[y:y + h, x:x + w]) == np.count_nonzero(alpha), (mask_size, blob)


def test_a_region_is_scaled_from_the_frames_shared_halvings_like_the_region_itself():
    from bgblur_core.blur import Pyramid
    rng = np.random.default_rng(1)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (H, W, 3), np.uint8), (0, 0), 3)  # smooth: halving order barely matters
    pyramid = Pyramid(frame)
    for region, size in (((400, 64, 880, 720), (160, 224)), ((0, 0, W, H), (256, 144)), ((8, 16, 1272, 720), (500, 300))):
        x0, y0, x1, y1 = region
        direct = cv2.resize(frame[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
        got = pyramid.resized(size, region=region)
        assert got.shape == direct.shape
        assert np.abs(got.astype(int) - direct).mean() < 1.5, region
    assert np.array_equal(pyramid.resized((256, 144), region=(0, 0, W, H)), pyramid.resized((256, 144)))

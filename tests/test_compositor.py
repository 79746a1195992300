"""The compositor's paths one by one, in process: effect off, privacy, the seed's hard select, the soft blend
anywhere in the frame, replacement backgrounds made once per size, how far light wrap reaches, the blend in place."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from bgblur_core.compose import Compositor, blend, cover, load_image, parse_color
from bgblur_core.settings import validate
from bgblur_core.stages import StageError

H, W = 120, 160
RNG = np.random.default_rng(11)
FRAME = RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)


def right_person() -> np.ndarray:
    """A hard-edged person in the right part of the frame (their box starts past its own width)."""
    alpha = np.zeros((H, W), np.uint8)
    alpha[40:100, 110:150] = 255
    return alpha


def compositor(hard=False, **settings) -> Compositor:
    return Compositor(validate(engine="hsv", **settings), hard=hard)


@pytest.mark.parametrize("settings", [{"effect": "none"}, {"effect": "privacy", "enabled": False},
                                      {"effect": "color", "enabled": False}])
def test_no_effect_passes_the_frame_through_as_a_new_array(settings):
    for hard in (False, True):
        out = compositor(hard, **settings)(FRAME, right_person())
        assert out is not FRAME and np.array_equal(out, FRAME)


def test_privacy_blurs_the_person_too():
    comp = compositor(effect="privacy")
    blurred = comp.background(FRAME, writable=True)
    assert not np.array_equal(blurred, FRAME)
    for hard in (False, True):
        assert np.array_equal(compositor(hard, effect="privacy")(FRAME, right_person()), blurred)
    assert np.array_equal(compositor(effect="blur")(FRAME, None), blurred)  # no alpha yet: all background


@pytest.mark.parametrize("hard", [False, True])
def test_the_person_is_kept_and_the_rest_replaced_wherever_the_person_is(hard):
    alpha = right_person()
    out = compositor(hard, effect="color", background_color="#102030")(FRAME, alpha)
    assert (out[alpha == 255] == FRAME[alpha == 255]).all()
    assert (out[alpha == 0] == (0x30, 0x20, 0x10)).all()
    assert parse_color("#a1b2c3") == (0xC3, 0xB2, 0xA1)


def test_a_replacement_background_is_made_once_per_frame_size():
    comp = compositor(effect="color")
    first = comp.background(FRAME)
    assert comp.background(FRAME) is first  # the same array, not remade
    copy = comp.background(FRAME, writable=True)
    assert copy is not first and np.array_equal(copy, first)
    dst = np.zeros_like(FRAME)
    assert comp.background(FRAME, writable=True, dst=dst) is dst and np.array_equal(dst, first)
    small = np.zeros((60, 80, 3), np.uint8)
    assert comp.background(small).shape == (60, 80, 3) and comp.background(FRAME).shape == FRAME.shape


def edge_tint(light_wrap: float, width=1280, height=720) -> np.ndarray:
    """How much lighter a grey person (the left half) gets, per column, in front of a white background."""
    frame = np.full((height, width, 3), 100, np.uint8)
    alpha = np.zeros((height, width), np.uint8)
    alpha[:, :width // 2] = 255
    out = compositor(effect="color", background_color="#ffffff", light_wrap=light_wrap)(frame, alpha)
    assert (out[:, width // 2:] == 255).all()  # the background itself is untouched
    return out[height // 2, :width // 2, 0].astype(int) - 100


def test_light_wrap_is_as_strong_as_asked_at_the_edge_and_reaches_about_3_percent_of_the_width_in():
    half, full = edge_tint(0.5), edge_tint(1.0)
    assert 35 <= half[-1] <= 60 and abs(full[-1] - 2 * half[-1]) <= 3, (half[-3:], full[-3:])
    reach = int((half > 5).sum())
    assert 0.025 * 1280 <= reach <= 0.045 * 1280, reach
    assert (half[:-100] == 0).all()  # deep inside: untouched
    assert (edge_tint(0.0) == 0).all()


def test_light_wrap_on_an_image_background_too(tmp_path):
    path = tmp_path / "white.png"
    cv2.imwrite(str(path), np.full((90, 160, 3), 255, np.uint8))
    frame = np.full((H, W, 3), 100, np.uint8)
    alpha = np.zeros((H, W), np.uint8)
    alpha[:, :W // 2] = 255
    lit = compositor(effect="image", background_image=str(path), light_wrap=1.0)(frame, alpha)
    assert lit[H // 2, W // 2 - 1, 0] > 130 and lit[H // 2, 0, 0] == 100


def test_cover_averages_when_it_shrinks_and_keeps_the_aspect():
    checks = (np.indices((300, 300)).sum(0) % 2 * 255).astype(np.uint8)
    out = cover(cv2.merge([checks] * 3), 100, 100)  # 3:1 down: every output pixel averages 3x3 checks
    assert out.shape == (100, 100, 3) and 100 < out.min() and out.max() < 155
    wide = np.zeros((200, 400, 3), np.uint8)
    wide[:, 150:250] = 255  # a centre band a quarter of the width
    out = cover(wide, 100, 100)  # scaled by 1/2 to 200x100, then the centre 100 columns
    assert (out[:, 30:70] == 255).all() and (out[:, :20] == 0).all() and (out[:, 80:] == 0).all()
    up = cover(np.array([[[0] * 3, [255] * 3]], np.uint8), 40, 20)  # 2x1 up to 40x20: a smooth ramp
    assert len(np.unique(up[10, :, 0])) > 10


def test_an_empty_background_image_path_is_one_line():
    with pytest.raises(StageError) as e:
        load_image("")
    assert str(e.value) == "background_image: empty; set it to a .jpg or .png file for effect image"


def test_blend_in_place_over_many_row_bands():
    fg = RNG.integers(0, 256, (480, 1280, 3), dtype=np.uint8)  # far more rows than one band holds
    bg = RNG.integers(0, 256, (480, 1280, 3), dtype=np.uint8)
    alpha = RNG.integers(0, 256, (480, 1280), dtype=np.uint8)
    expected = blend(fg, bg, alpha)
    exact = (fg.astype(int) * alpha[..., None] + bg.astype(int) * (255 - alpha[..., None])) / 255
    assert np.abs(expected - exact).max() <= 1
    in_place = bg.copy()
    assert blend(fg, in_place, alpha, dst=in_place) is in_place and np.array_equal(in_place, expected)


def test_cover_interpolates_a_moderate_upscale_evenly():
    """Scaled up 1.5x, a ramp stays a ramp with even steps (not copied pixels and doubled steps)."""
    ramp = np.tile(np.round(np.arange(10) * 255 / 9).astype(np.uint8), (5, 1))
    steps = np.diff(cover(cv2.merge([ramp] * 3), 15, 7)[3, 1:-1, 0].astype(int))
    assert steps.max() - steps.min() <= 2, steps


def test_the_hard_path_keeps_the_frame_wherever_alpha_is_not_zero():
    """The seed's select: any non-zero alpha is the person, kept as it is; the soft path blends it instead."""
    alpha = np.zeros((H, W), np.uint8)
    alpha[20:60, 30:90] = 1
    alpha[60:100, 30:90] = 200
    person = alpha > 0
    hard = compositor(True, effect="color", background_color="#102030")(FRAME, alpha)
    assert (hard[person] == FRAME[person]).all() and (hard[~person] == (0x30, 0x20, 0x10)).all()
    soft = compositor(False, effect="color", background_color="#102030")(FRAME, alpha)
    assert (soft[20:60, 30:90] != FRAME[20:60, 30:90]).any()


@pytest.mark.parametrize("effect", ["color", "image"])
def test_before_the_first_mask_a_replacement_fills_the_whole_frame(tmp_path, effect):
    frame = RNG.integers(0, 256, (67, 93, 3), dtype=np.uint8)  # a size of its own: no earlier output's memory
    path = tmp_path / "bg.png"
    cv2.imwrite(str(path), np.full((67, 93, 3), (40, 90, 200), np.uint8))
    for hard in (False, True):
        out = compositor(hard, effect=effect, background_color="#c85a28", background_image=str(path))(frame, None)
        assert (out == (40, 90, 200)).all()


def test_light_wrap_reaches_the_same_share_of_the_width_at_a_smaller_size():
    """At 320 px wide the glow's profile is the 1280 px one scaled down (away from the last few edge px)."""
    small, big = edge_tint(0.5, 320, 180), edge_tint(0.5).reshape(-1, 4).mean(axis=1)
    assert np.abs(small - big)[:-3].max() <= 3, (small[-20:], big[-20:].round())


@pytest.mark.parametrize("size", [(642, 362), (853, 479)])
def test_light_wrap_at_a_frame_size_not_a_multiple_of_four(size):
    tint = edge_tint(1.0, *size)
    assert tint[-1] > 50 and (tint[: size[0] // 4] == 0).all()


@pytest.mark.parametrize("stripes", ["vertical", "horizontal"])
def test_light_wrap_carries_the_backgrounds_blurred_light_not_its_texture(tmp_path, stripes):
    """Black and white stripes 4 px wide: their glow is an even grey, lighter than the grey person, on the side
    and the top edge alike."""
    h, w = 240, 320
    image = np.zeros((h, w, 3), np.uint8)
    lines = np.arange(w if stripes == "vertical" else h) % 8 < 4
    if stripes == "vertical":
        image[:, lines] = 255
    else:
        image[lines] = 255
    path = tmp_path / "stripes.png"
    cv2.imwrite(str(path), image)
    alpha = np.zeros((h, w), np.uint8)
    alpha[60:, 80:240] = 255  # the person: top edge at row 60, sides at columns 80 and 240
    out = compositor(effect="image", background_image=str(path), light_wrap=1.0)(np.full((h, w, 3), 100, np.uint8), alpha)
    tint = out[60:, 80:240, 0].astype(int) - 100
    assert 0 <= tint.min() and tint.max() <= 32, (tint.min(), tint.max())  # the stripes' mean is 127.5
    assert tint[1, 60:100].min() > 10 and tint[90:130, 1].min() > 10  # the top edge and the side are lit

"""Effects: image and colour replacement, light wrap, the uint8 blend, and each effect from the CLI."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from bgblur_core import sinks
from bgblur_core.blur import blur_around, blur_fast, blur_sigma
from bgblur_core.compose import Compositor, blend, cover
from bgblur_core.pipeline import Pipeline
from bgblur_core.runner import open_source
from bgblur_core.settings import validate
from bgblur_core.stages import StageError
from _seg_helpers import DEV, bgblur

H, W = 120, 160
RNG = np.random.default_rng(3)
FRAME = RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)


@pytest.fixture
def banded(tmp_path):
    """A 300x100 image: blue, green and red thirds (left to right)."""
    img = np.zeros((100, 300, 3), np.uint8)
    img[:, :100], img[:, 100:200], img[:, 200:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    path = tmp_path / "bands.png"
    cv2.imwrite(str(path), img)
    return path


def person_alpha() -> np.ndarray:
    alpha = np.zeros((H, W), np.uint8)
    alpha[30:90, 50:110] = 255
    return cv2.GaussianBlur(alpha, (9, 9), 0)


def test_image_background_covers_the_frame_keeping_its_aspect(banded):
    comp = Compositor(validate(effect="image", background_image=str(banded)), hard=False)
    out = comp(FRAME, np.zeros((H, W), np.uint8))
    # 300x100 scaled to cover 160x120 -> 360x120, centre crop: green in the middle, blue/red at the sides
    assert tuple(out[60, 80]) == (0, 255, 0)
    assert tuple(out[60, 2]) == (255, 0, 0) and tuple(out[60, W - 3]) == (0, 0, 255)
    assert out.shape == FRAME.shape
    assert comp(FRAME, np.zeros((H, W), np.uint8)) is not comp._fixed["bg"]  # the cached background is never handed out


def test_cover_crops_the_centre_of_a_tall_image():
    tall = np.zeros((400, 100, 3), np.uint8)
    tall[175:225] = 200
    out = cover(tall, 100, 100)  # rows 150..249 of the image
    assert out.shape == (100, 100, 3) and out[50, 50, 0] == 200 and out[0, 0, 0] == 0 and out[99, 0, 0] == 0


def test_color_replaces_the_background_and_keeps_the_person():
    comp = Compositor(validate(effect="color", background_color="#00ff00"), hard=False)
    alpha = person_alpha()
    out = comp(FRAME, alpha)
    assert (out[alpha == 0] == (0, 255, 0)).all()
    assert (out[alpha == 255] == FRAME[alpha == 255]).all()


def test_blend_is_uint8_exact_at_0_and_255_and_within_one_level_between():
    fg, bg = FRAME, RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)
    alpha = RNG.integers(0, 256, (H, W), dtype=np.uint8)
    alpha[:10], alpha[-10:] = 0, 255
    out = blend(fg, bg, alpha)
    assert out.dtype == np.uint8
    a = alpha[..., None] / 255
    exact = fg * a + bg * (1 - a)
    assert np.abs(out - exact).max() <= 1.0
    assert (out[:10] == bg[:10]).all() and (out[-10:] == fg[-10:]).all()


def test_hard_path_is_the_seed_select():
    alpha = np.where(person_alpha() > 127, 255, 0).astype(np.uint8)
    comp = Compositor(validate(engine="hsv", blur_method="exact"), hard=True)
    out = comp(FRAME, alpha)
    blurred = cv2.GaussianBlur(FRAME, (25, 25), 0)
    assert np.array_equal(out, np.where(alpha[..., None] == 255, FRAME, blurred))


@pytest.mark.parametrize("size", [(960, 540), (640, 360)])
def test_the_blur_looks_the_same_at_every_resolution(size):
    """The strength is relative to the frame: a 1080p frame blurred then scaled down is the smaller frame blurred."""
    from bgblur_core.sources import synthetic_frame
    big = synthetic_frame(5, 1920, 1080)
    small = cv2.resize(big, size, interpolation=cv2.INTER_AREA)
    for strength in (0.5, 1.5, 4.0):
        comp = Compositor(validate(blur_strength=strength), hard=False)
        scaled = cv2.resize(comp.background(big), size, interpolation=cv2.INTER_AREA)
        assert cv2.PSNR(scaled, comp.background(small)) >= 44, strength
    seed = Compositor(validate(blur_method="exact"), hard=False)  # the seed's fixed 25 px kernel does not scale
    assert cv2.PSNR(cv2.resize(seed.background(big), size, interpolation=cv2.INTER_AREA), seed.background(small)) < 35


def test_a_stronger_blur_hides_more():
    from bgblur_core.sources import synthetic_frame
    frame = synthetic_frame(5, 1280, 720)
    detail = []  # mean absolute step between neighbouring pixels
    for strength in (0.2, 0.5, 1.5, 5.0):
        grey = cv2.cvtColor(Compositor(validate(blur_strength=strength), hard=False).background(frame), cv2.COLOR_BGR2GRAY)
        detail.append(np.abs(np.diff(grey.astype(np.float32), axis=1)).mean())
    assert all(a > 1.5 * b for a, b in zip(detail, detail[1:])), detail


def wall_and_person() -> tuple[np.ndarray, np.ndarray]:
    """A dark person on a bright, even wall (640x480), and their alpha."""
    frame = np.full((480, 640, 3), 200, np.uint8)
    alpha = np.zeros((480, 640), np.uint8)
    cv2.rectangle(alpha, (220, 120), (420, 479), 255, -1)
    frame[alpha == 255] = (30, 20, 10)
    return frame, alpha


def test_the_blur_leaves_no_halo_of_the_person_on_the_wall_around_them():
    frame, alpha = wall_and_person()
    sigma = blur_sigma(1.5, 480)
    plain, around = blur_fast(frame, sigma), blur_fast(frame, sigma, person=alpha)
    ring = (cv2.dilate(alpha, np.ones((41, 41), np.uint8)) > 0) & (alpha == 0)  # the 20 px of wall around them
    assert np.abs(plain[ring].astype(int) - 200).max() > 60  # the plain blur smears the person onto the wall
    assert np.abs(around[ring].astype(int) - 200).max() <= 2
    far = cv2.dilate(alpha, np.ones((161, 161), np.uint8)) == 0
    assert np.abs(around[far].astype(int) - plain[far]).max() <= 2  # away from them, the same blur (rounding)
    inside = cv2.erode(alpha, np.ones((81, 81), np.uint8)) == 255  # no wall within reach: their own colour, not 0
    assert inside.any() and np.abs(around[inside].astype(int) - (30, 20, 10)).max() <= 1


def test_the_blur_around_the_person_is_an_average_of_the_image_never_outside_its_range():
    rng = np.random.default_rng(11)
    for h, w in [(9, 16), (60, 80), (45, 80), (90, 160)]:
        for _ in range(5):
            small = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            person = cv2.resize(((rng.random((h // 3 + 1, w // 3 + 1)) > 0.5) * 255).astype(np.uint8),
                                (w * 8, h * 8), interpolation=cv2.INTER_LINEAR)  # any size: sampled at small's
            out = blur_around(small, person, 5, 1.2)
            assert out.shape == small.shape and out.dtype == np.uint8
            lo, hi = small.reshape(-1, 3).min(0), small.reshape(-1, 3).max(0)
            assert (out >= lo).all() and (out <= hi).all()


def test_the_blur_effect_keeps_the_person_out_and_the_seeds_exact_blur_stays_the_seeds():
    frame, alpha = wall_and_person()
    wall = alpha == 0
    out = Compositor(validate(), hard=False)(frame, alpha)
    assert np.array_equal(out[wall], blur_fast(frame, blur_sigma(1.5, 480), person=alpha)[wall])
    exact = Compositor(validate(blur_method="exact"), hard=False)(frame, alpha)
    assert np.array_equal(exact[wall], cv2.GaussianBlur(frame, (25, 25), 0)[wall])
    privacy = Compositor(validate(effect="privacy"), hard=False)(frame, alpha)
    assert np.array_equal(privacy, blur_fast(frame, blur_sigma(1.5, 480)))  # privacy blurs the person too, as is


def test_light_wrap_tints_the_persons_edge_only():
    alpha = np.zeros((H, W), np.uint8)
    alpha[20:100, 40:120] = 255
    frame = np.full((H, W, 3), 60, np.uint8)
    off = Compositor(validate(effect="color", background_color="#ffffff"), hard=False)(frame, alpha)
    on = Compositor(validate(effect="color", background_color="#ffffff", light_wrap=1.0), hard=False)(frame, alpha)
    assert on[60, 41, 0] > off[60, 41, 0] + 20  # just inside the edge: lit by the white background
    assert on[60, 80, 0] == off[60, 80, 0] == 60  # deep inside: untouched
    assert (on[alpha == 0] == 255).all()  # the background itself is unchanged


def test_light_wrap_applies_to_replaced_backgrounds_only():
    assert Compositor(validate(effect="blur", light_wrap=1.0), hard=False).light_wrap == 0


@pytest.mark.parametrize("path, why", [("", "empty"), ("/nonexistent/bg.jpg", "does not exist"), ("BAD", "cannot read")])
def test_an_unreadable_background_image_fails_at_construction(tmp_path, path, why):
    if path == "BAD":
        path = str(tmp_path / "bad.jpg")
        (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(StageError) as e:
        Compositor(validate(effect="image", background_image=path), hard=False)
    assert why in str(e.value) and "\n" not in str(e.value)


def test_pipeline_keeps_its_settings_when_the_background_image_is_bad(tmp_path, banded):
    pipeline = Pipeline(validate(input="synthetic", output="null", engine="hsv", width=320, height=240),
                        open_source, sinks.open_sinks)
    try:
        assert pipeline.apply({"effect": "image", "background_image": str(banded)})
        assert pipeline.apply({"background_image": str(tmp_path / "missing.png")}) is False
        assert pipeline.settings.background_image == str(banded) and "does not exist" in pipeline.last_error
        assert pipeline.step()
    finally:
        pipeline.close()


@pytest.mark.parametrize("flags", [
    ["--effect", "blur", "--blur-strength", "3"],
    ["--effect", "image", "--background-image", "BANDS", "--light-wrap", "0.5"],
    ["--effect", "color", "--background-color", "#00ff00"],
    ["--effect", "privacy"],
    ["--effect", "none"],
], ids=lambda f: f[1])
def test_every_effect_works_from_the_cli(real_models, tmp_path, banded, flags):
    photo = DEV / "vs_062.jpg"  # a sharp background
    out = tmp_path / "out.png"
    flags = [str(banded) if f == "BANDS" else f for f in flags]
    r = bgblur("run", "--input", photo, "--output", out, "--frames", "1", *flags)
    assert r.returncode == 0, r.stderr
    result, original = cv2.imread(str(out)), cv2.imread(str(photo))
    assert result.shape == original.shape
    gt = cv2.imread(str(DEV / "vs_062_mask.png"), cv2.IMREAD_GRAYSCALE)
    kernel = np.ones((61, 61), np.uint8)  # well inside or outside: away from the feather and the light wrap
    person, background = cv2.erode(gt, kernel) == 255, cv2.erode(255 - gt, kernel) == 255
    changed = np.abs(result.astype(int) - original.astype(int)).max(axis=2) > 12
    effect = flags[1]
    if effect == "none":
        assert np.array_equal(result, original)
        return
    if effect in ("blur", "privacy"):
        assert sharpness(result, background) < 0.5 * sharpness(original, background)
    else:
        assert changed[background].mean() > 0.95
    if effect == "privacy":
        assert sharpness(result, person) < 0.5 * sharpness(original, person)
    else:
        assert changed[person].mean() < 0.02
    if effect == "color":
        assert (result[background] == (0, 255, 0)).all(axis=1).mean() > 0.99


def sharpness(image: np.ndarray, region: np.ndarray) -> float:
    return float(np.abs(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_32F))[region].mean())


def test_each_output_is_a_new_frame():
    comp = Compositor(validate(effect="color"), hard=False)
    alpha = person_alpha()
    first = comp(FRAME, alpha)
    kept = first.copy()
    second = comp(FRAME, np.zeros_like(alpha))
    assert second is not first and np.array_equal(first, kept)
    assert (second == (0, 255, 0)).all()


@pytest.mark.parametrize("effect", ["blur", "color"])
def test_blending_inside_the_given_box_is_blending_everywhere(effect):
    """The person is blended in over the background inside alpha's bounding box only; same result."""
    alpha = person_alpha()
    comp = Compositor(validate(effect=effect), hard=False)
    x, y, w, h = cv2.boundingRect(alpha)
    boxed = comp(FRAME, alpha, box=(x, y, w, h)).copy()
    assert np.array_equal(boxed, blend(FRAME, comp.background(FRAME, person=alpha), alpha))
    assert np.array_equal(boxed, comp(FRAME, alpha))  # box found from alpha itself


def test_blend_into_the_background_in_place():
    bg = RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)
    alpha = person_alpha()
    expected = blend(FRAME, bg, alpha)
    out = bg.copy()
    roi = (slice(20, 100), slice(40, 120))
    blend(FRAME[roi], out[roi], alpha[roi], dst=out[roi])
    assert np.array_equal(out[roi], expected[roi])
    out[roi] = bg[roi]
    assert np.array_equal(out, bg)  # nothing written outside


def test_the_threads_setting_sets_opencvs_worker_threads():
    from bgblur_core.chain import Stages
    before = cv2.getNumThreads()
    try:
        Stages(validate(engine="hsv", threads=1))
        assert cv2.getNumThreads() == 1
        Stages(validate(engine="hsv", threads=2))
        assert cv2.getNumThreads() == 2
    finally:
        cv2.setNumThreads(before)

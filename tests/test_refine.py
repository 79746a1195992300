"""Mask refinement: temporal smoothing on real video, moving edges, feathering, islands, edges, state."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from bgblur_core.chain import Stages
from bgblur_core.evaluate import boundary_f, flicker, iou
from bgblur_core.refine import HardCut, MaskRefiner, make_refiner, remove_small_regions
from bgblur_core.settings import SettingsError, validate
from bgblur_core.stages import FrameContext
from _seg_helpers import dev_set, lucia, photo_alphas, raw_settings

W, H = 320, 240
RNG = np.random.default_rng(7)
BACKGROUND = cv2.GaussianBlur(RNG.integers(40, 150, (H, W, 3), dtype=np.uint8), (3, 3), 0)
PERSON = cv2.GaussianBlur(RNG.integers(120, 250, (H, W, 3), dtype=np.uint8), (3, 3), 0)


def scene(edge: int, visible: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A frame with the person left of column `edge`, and a coarse probability mask of it."""
    person = np.zeros((H, W), np.uint8)
    person[:, :edge] = 255
    frame = BACKGROUND.copy()
    if visible:
        cv2.copyTo(PERSON, person, frame)
    return frame, cv2.resize(person, (W // 2, H // 2), interpolation=cv2.INTER_AREA)


def edge_of(alpha: np.ndarray) -> float:
    """Where the person (on the left) ends: the mean first column below 128 over the middle rows."""
    rows = alpha[H // 4: 3 * H // 4]
    return float(np.mean([np.argmax(r < 128) if (r < 128).any() else W for r in rows]))


def refined(refiner, mask: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """The refiner's alpha for one frame (a copy: the refiner reuses its buffer)."""
    alpha, box = refiner(mask, FrameContext(frame))
    assert alpha.shape == frame.shape[:2] and alpha.dtype == np.uint8
    return alpha.copy()


def refine_sequence(edges, settings, visible=True) -> list[float]:
    refiner = make_refiner(settings)
    return [edge_of(refined(refiner, *scene(e, visible)[::-1])) for e in edges]


@pytest.mark.parametrize("visible", [True, False], ids=["moving-person", "motion-unseen-in-the-frame"])
@pytest.mark.parametrize("direction", [1, -1], ids=["edge-advances", "edge-recedes"])
@pytest.mark.parametrize("temporal", [0.8, 0.95])
def test_a_moving_edge_is_never_more_than_one_frame_behind(visible, direction, temporal):
    start = 60 if direction > 0 else 260
    edges = [start] * 5 + [start + direction * 9 * t for t in range(1, 20)] + [start + direction * 9 * 19] * 4
    settings = validate(temporal=temporal)
    slack = settings.feather + 3  # the outward feather and the soft edge move the 128 level a few px out
    out = refine_sequence(edges, settings, visible)
    for t in range(1, len(edges)):
        lo, hi = sorted((edges[t - 1], edges[t]))
        assert lo - 2 <= out[t] <= hi + slack, (t, edges[t - 1], edges[t], out[t])


def test_temporal_smoothing_follows_a_moving_person_at_once():
    """With the person visibly moving, the smoothed edge matches the unsmoothed one frame by frame."""
    edges = [60 + 9 * t for t in range(20)]
    smooth = refine_sequence(edges, validate(temporal=0.95))
    plain = refine_sequence(edges, validate(temporal=0.0))
    assert max(abs(a - b) for a, b in zip(smooth, plain)) <= 2


def test_on_davis_lucia_smoothing_cuts_flicker_by_30_percent_and_iou_does_not_drop(real_models):
    frames, gts = lucia()
    raw_stages, stages = Stages(raw_settings()), Stages(validate())
    raw = [raw_stages.alpha(f) for f in frames]
    refined = [stages.alpha(f) for f in frames]
    raw_flicker, refined_flicker = flicker(raw, gts), flicker(refined, gts)
    raw_iou = np.mean([iou(a, g) for a, g in zip(raw, gts)])
    refined_iou = np.mean([iou(a, g) for a, g in zip(refined, gts)])
    print(f"davis_lucia: flicker raw {raw_flicker:.5f} -> refined {refined_flicker:.5f} "
          f"({100 * (1 - refined_flicker / raw_flicker):.1f}% less); IoU raw {raw_iou:.4f} -> {refined_iou:.4f}")
    assert refined_flicker <= 0.7 * raw_flicker
    assert refined_iou >= raw_iou


def test_smoothing_is_what_cuts_flicker_on_davis_lucia(real_models):
    frames, gts = lucia()
    on, off = Stages(validate()), Stages(validate(temporal=0.0))
    assert flicker([on.alpha(f) for f in frames], gts) < 0.9 * flicker([off.alpha(f) for f in frames], gts)


def square_mask(size=(W, H), box=(100, 80, 120, 100)) -> np.ndarray:
    mask = np.zeros((size[1], size[0]), np.uint8)
    x, y, w, h = box
    mask[y:y + h, x:x + w] = 255
    return mask


def plain(**kw):
    """Only the step under test: no smoothing, no guided filter, no feather, hard cut."""
    return validate(**{"temporal": 0.0, "edge_refine": False, "feather": 0, "soft_mask": False, "min_region": 0.0, **kw})


@pytest.mark.parametrize("scale", [1, 2])
def test_feather_fades_outward_over_its_width_in_output_pixels(scale):
    size = (W * scale, H * scale)
    mask = square_mask(size, (100 * scale, 80 * scale, 120 * scale, 100 * scale))
    frame = np.full((size[1], size[0], 3), 128, np.uint8)
    alpha = refined(make_refiner(plain(feather=10)), mask, frame)
    assert alpha.shape == mask.shape and alpha.dtype == np.uint8
    inner = cv2.erode(mask, np.ones((2 * scale + 1, 2 * scale + 1), np.uint8))
    assert (alpha[inner == 255] == 255).all()  # the person is not faded...
    assert alpha[mask == 255].min() >= 200  # ...bar the final upscale's anti-aliasing on the rim
    unfeathered = refined(make_refiner(plain(feather=0, soft_mask=True)), mask, frame)
    assert (alpha >= unfeathered).all()  # feathering only adds alpha outside, never takes it away
    row = alpha[(80 + 50) * scale]
    right = (100 + 120) * scale  # first column outside the square
    outside = row[right:right + 16].astype(int)
    assert outside[0] > 160 and outside[3] > 20  # fades out...
    assert (np.diff(outside) <= 0).all()  # ...monotonically...
    assert outside[12:].max() == 0  # ...and is gone 10 px (plus the final upscale's px) out


def test_soft_mask_off_and_no_feather_gives_a_hard_cut_at_the_threshold():
    prob = np.zeros((H, W), np.uint8)
    prob[:, :100] = round(0.55 * 255)
    frame = np.full((H, W, 3), 128, np.uint8)
    alpha = refined(make_refiner(plain(mask_threshold=0.5)), prob, frame)
    assert set(np.unique(alpha)) == {0, 255} and alpha[:, :98].min() == 255
    assert refined(make_refiner(plain(mask_threshold=0.6)), prob, frame).max() == 0
    soft = refined(make_refiner(plain(soft_mask=True, mask_threshold=0.5)), prob, frame)
    assert 128 <= soft[0, 50] < 255  # a soft alpha close to the threshold


def test_small_islands_go_and_small_holes_fill_but_big_ones_and_border_gaps_stay():
    alpha = np.zeros((100, 100), np.uint8)
    alpha[20:80, 20:80] = 255  # the person
    alpha[40:43, 40:43] = 0  # a small hole
    alpha[30:60, 60:75] = 0  # a big hole
    alpha[5:8, 90:93] = 255  # a small island
    alpha[90:100, 0:3] = 0  # (background anyway)
    alpha[85:100, 40:42] = 255  # a small island touching the border: still an island
    out = remove_small_regions(alpha.copy(), 0.005)  # 50 px
    assert out[41, 41] == 255 and out[45, 65] == 0
    assert out[6, 91] == 0 and out[90, 41] == 0
    gap = np.full((100, 100), 255, np.uint8)
    gap[95:100, 48:52] = 0  # a small background gap at the border, e.g. between arm and body
    assert remove_small_regions(gap.copy(), 0.005)[97, 50] == 0


def test_min_region_through_the_refiner():
    mask = square_mask()
    mask[10:14, 10:14] = 255  # 16 px island of 76800: 0.02%
    frame = np.full((H, W, 3), 100, np.uint8)
    assert refined(make_refiner(plain(min_region=0.5)), mask, frame)[12, 12] == 0
    assert refined(make_refiner(plain(min_region=0.0)), mask, frame)[12, 12] == 255


@pytest.mark.parametrize("offset", [2, 3])
def test_edge_refinement_snaps_a_coarse_mask_onto_the_frame_edge(offset):
    frame = BACKGROUND.copy()
    frame[:, :150] = (30, 160, 220)  # the person: a flat, clearly different colour, edge at x = 150
    mask = np.zeros((H, W), np.uint8)
    mask[:, :150 + offset] = 255  # the model's edge, a few px off, and coarse
    mask = cv2.resize(cv2.resize(mask, (W // 4, H // 4), interpolation=cv2.INTER_AREA), (W, H))
    snapped = edge_of(refined(make_refiner(plain(edge_refine=True, soft_mask=True)), mask, frame))
    unsnapped = edge_of(refined(make_refiner(plain(soft_mask=True)), mask, frame))
    assert abs(snapped - 150) <= 1.5
    assert abs(snapped - 150) < abs(unsnapped - 150) - 0.5


def test_reset_forgets_and_adopt_carries_the_temporal_state():
    """A one-frame dropout of part of the person is bridged only by a refiner holding the history."""
    frame, mask = scene(160)
    dropout = mask.copy()
    dropout[30:90, 50:80] = 0  # a notch open to the background: not a hole that min_region would fill
    notch = (slice(70, 170), slice(110, 150))  # in the frame
    a = make_refiner(validate())
    for _ in range(5):
        refined(a, mask, frame)
    b = make_refiner(validate(feather=4, temporal=0.8))  # settings changed mid-stream; 0.8 bridges a one-frame dropout
    b.adopt(a)
    carried = refined(b, dropout, frame)
    assert carried[notch].min() == 255, "the carried history keeps the person through the dropout"
    assert refined(make_refiner(validate()), dropout, frame)[notch].max() < 128, "without history the notch is background"
    c = make_refiner(validate(temporal=0.8))  # a history that would bridge the dropout, were it kept
    for _ in range(5):
        refined(c, mask, frame)
    c.reset()
    assert refined(c, dropout, frame)[notch].max() < 128, "after reset, no history"  # (the edge snap may tint it)


def test_alpha_is_frame_sized_for_any_mask_size():
    frame = np.zeros((180, 320, 3), np.uint8)
    refiner = make_refiner(validate())
    for shape in [(256, 256), (144, 256), (180, 320), (720, 1280)]:
        alpha, box = refiner(np.zeros(shape, np.uint8), FrameContext(frame))
        assert alpha.shape == (180, 320) and alpha.dtype == np.uint8 and box == (0, 0, 0, 0)


@pytest.mark.parametrize("change", [{"temporal": 1.5}, {"feather": -1}, {"mask_threshold": 2}, {"min_region": 50}])
def test_refinement_settings_out_of_range_are_one_line_errors(change):
    with pytest.raises(SettingsError) as e:
        validate().replace(change)
    assert "\n" not in str(e.value) and next(iter(change)) in str(e.value)


def test_a_gap_open_to_the_side_of_the_persons_box_is_background_not_a_hole():
    """Only the person's bounding box is labelled: a gap reaching its side joins the background around it."""
    alpha = np.zeros((100, 100), np.uint8)
    alpha[20:80, 20:80] = 255
    alpha[45:50, 60:80] = 0  # 100 px notch open to the box's right side: not a hole
    alpha[30:33, 30:33] = 0  # 9 px hole: filled
    out = remove_small_regions(alpha.copy(), 0.02)  # 200 px
    assert out[47, 70] == 0 and out[31, 31] == 255
    assert np.array_equal(remove_small_regions(np.zeros((50, 60), np.uint8), 0.01), np.zeros((50, 60), np.uint8))


@pytest.mark.parametrize("size", [(1280, 720), (640, 480), (1366, 768)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("settings", [{}, {"soft_mask": False, "feather": 0}, {"edge_refine": False, "min_region": 0.0}],
                         ids=["default", "hard", "plain"])
def test_the_boxed_alpha_is_the_whole_work_alpha_scaled_up(size, settings):
    """The refiner scales up only the person's box (the rest cleared): the same alpha as scaling the whole."""
    w, h = size
    s = validate(**settings)
    whole, boxed = make_refiner(s), make_refiner(s)
    for t in range(4):
        frame = cv2.resize(scene(120 + 15 * t)[0], (w, h), interpolation=cv2.INTER_LINEAR)
        mask = np.zeros((144, 256), np.uint8)
        cv2.ellipse(mask, (60 + 10 * t, 100), (40, 70), 0, 0, 360, 230, -1)
        small, _ = whole.small_alpha(mask, FrameContext(frame))
        expected = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        if not s.soft_mask and s.feather == 0:
            expected = cv2.threshold(expected, 127, 255, cv2.THRESH_BINARY)[1]
        alpha, (x, y, bw, bh) = boxed(mask, FrameContext(frame))
        assert alpha.shape == (h, w) and np.array_equal(alpha, expected)
        outside = np.ones((h, w), bool)
        outside[y:y + bh, x:x + bw] = False
        assert 0 < bw * bh < w * h and not expected[outside].any()
    nobody = make_refiner(s)(np.zeros((144, 256), np.uint8), FrameContext(frame))
    assert nobody[1][2] == 0 and not nobody[0].any()


def test_no_refinement_is_a_hard_cut_refiner_with_the_same_contract():
    """refine off (or auto for an engine that is not refined): the mask scaled to the frame and cut at
    the half level; a frame-sized mask is passed on as it is (the seed's hsv mask)."""
    assert isinstance(make_refiner(validate(refine="auto"), auto=False), HardCut)
    assert isinstance(make_refiner(validate(refine="off")), HardCut)
    assert isinstance(make_refiner(validate(refine="on"), auto=False), MaskRefiner)
    assert isinstance(make_refiner(validate(refine="auto")), MaskRefiner)
    cut = make_refiner(validate(refine="off"))
    assert cut.hard and not make_refiner(validate()).hard
    frame = np.zeros((240, 320, 3), np.uint8)
    prob = np.zeros((120, 160), np.uint8)
    prob[:, :60] = 140  # above the half level
    prob[:, 60:100] = 120  # below it
    alpha, box = cut(prob, FrameContext(frame))
    alpha = alpha.copy()  # the refiner's buffer is reused by the next call
    assert alpha.shape == (240, 320) and box == (0, 0, 320, 240)
    assert set(np.unique(alpha)) == {0, 255} and alpha[:, :118].min() == 255 and alpha[:, 122:].max() == 0
    own = np.full((240, 320), 7, np.uint8)
    assert cut(own, FrameContext(frame))[0] is own  # already at frame size: untouched, no copy
    cut.reset()
    cut.adopt(make_refiner(validate()))  # no state to forget or carry
    assert np.array_equal(cut(prob, FrameContext(frame))[0], alpha)


# -- quality: the default refinement against the raw model, on machine-made and human-drawn masks ------
def scores(alphas, gts) -> tuple[float, float]:
    """Mean IoU and mean boundary F."""
    return float(np.mean([iou(a, g) for a, g in zip(alphas, gts)])), float(np.mean([boundary_f(a, g) for a, g in zip(alphas, gts)]))


@pytest.mark.parametrize("engine", ["selfie", "selfie-landscape"])
def test_the_default_refinement_is_not_below_the_raw_model_on_dev_photos_and_davis(real_models, engine):
    """dev: remove.bg's masks; DAVIS lucia: human-drawn, scored as photos (state reset) and as a sequence."""
    dev = dev_set()
    photos, photo_gts = [p for _, p, _ in dev], [g for _, _, g in dev]
    frames, frame_gts = lucia()
    default, raw = validate(engine=engine), raw_settings(engine=engine)
    sequence = Stages(default)
    results = {
        "dev": (scores(photo_alphas(raw, photos), photo_gts), scores(photo_alphas(default, photos), photo_gts)),
        "davis photos": (scores(photo_alphas(raw, frames), frame_gts), scores(photo_alphas(default, frames), frame_gts)),
        "davis sequence": (scores(photo_alphas(raw, frames), frame_gts),
                           scores([sequence.alpha(f) for f in frames], frame_gts)),
    }
    for name, ((raw_iou, raw_f), (iou_, f)) in results.items():
        print(f"{engine} {name}: IoU raw {raw_iou:.4f} -> {iou_:.4f}, boundary F raw {raw_f:.4f} -> {f:.4f}")
    for name, ((raw_iou, raw_f), (iou_, f)) in results.items():
        assert iou_ >= raw_iou and f >= raw_f, name


def test_no_refinement_is_the_mask_scaled_to_the_frame_and_cut_at_half():
    frame = np.zeros((H, W, 3), np.uint8)
    cut = make_refiner(validate(refine="off"))
    assert isinstance(cut, HardCut) and cut.hard and isinstance(make_refiner(validate(), auto=False), HardCut)
    assert isinstance(make_refiner(validate(refine="on"), auto=False), MaskRefiner) and not MaskRefiner.hard
    half = np.zeros((H // 2, W // 2), np.uint8)
    half[:, : W // 4] = 255  # the person: the left half
    alpha, box = cut(half, FrameContext(frame))
    assert alpha.shape == (H, W) and set(np.unique(alpha)) == {0, 255} and box == (0, 0, W, H)
    assert (alpha[:, : W // 2 - 2] == 255).all() and (alpha[:, W // 2 + 2:] == 0).all()
    for level, expected in [(127, 0), (128, 255)]:  # cut at the half level
        assert (cut(np.full((H // 2, W // 2), level, np.uint8), FrameContext(frame))[0] == expected).all()
    full = np.full((H, W), 77, np.uint8)  # already at frame size (the hsv engine's): taken as it is
    assert cut(full, FrameContext(frame))[0] is full

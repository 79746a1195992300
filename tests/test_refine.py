"""Mask refinement: temporal smoothing on real video, moving edges, feathering, islands, edges, state."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from bgblur_core.chain import Stages, build_segmenter
from bgblur_core.evaluate import StepScores, boundary_f, flicker, iou
from bgblur_core.refine import (FEATHER_LUT, RESIDUAL_LEVELS, EdgeSnap, HardCut, MaskRefiner, box, guide_coefficients, make_refiner,
                                refine_grid, remove_small_regions, work_size)
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


@pytest.mark.parametrize("engine", ["selfie", "selfie-landscape"])
def test_on_davis_lucia_smoothing_cuts_flicker_by_30_percent_and_iou_does_not_drop(real_models, engine):
    frames, gts = lucia()
    raw_stages, stages = Stages(raw_settings(engine=engine)), Stages(validate(engine=engine))
    raw = [raw_stages.alpha(f) for f in frames]
    refined = [stages.alpha(f) for f in frames]
    raw_flicker, refined_flicker = flicker(raw, gts), flicker(refined, gts)
    raw_iou = np.mean([iou(a, g) for a, g in zip(raw, gts)])
    refined_iou = np.mean([iou(a, g) for a, g in zip(refined, gts)])
    print(f"{engine} davis_lucia: flicker raw {raw_flicker:.5f} -> refined {refined_flicker:.5f} "
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


def coarse_edge(frame_edge: int = 150, offset: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A frame with a flat-coloured person left of column `frame_edge`, and a coarse mask `offset` px off."""
    frame = BACKGROUND.copy()
    frame[:, :frame_edge] = (30, 160, 220)
    mask = np.zeros((H, W), np.uint8)
    mask[:, :frame_edge + offset] = 255
    return frame, cv2.resize(cv2.resize(mask, (W // 4, H // 4), interpolation=cv2.INTER_AREA), (W, H))


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
    outside_person = mask == 0  # (inside, the unfeathered cut is made at frame size: no anti-aliasing to compare)
    assert (alpha[outside_person] >= unfeathered[outside_person]).all()  # feathering only adds alpha outside
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
    frame, mask = coarse_edge(150, offset)  # the person: a flat, clearly different colour; the model's edge off
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
        if whole.cut_at_frame is not None:
            expected = cv2.LUT(expected, whole.cut_at_frame)
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


@pytest.mark.parametrize("engine", ["selfie", "selfie-landscape"])
def test_each_default_refinement_step_raises_boundary_f_and_lowers_iou_nowhere(real_models, engine):
    """Each step on by default, switched on in the refiner's order (as `bgblur eval` lists them),
    raises boundary F and lowers IoU on none of: the dev photos (remove.bg's masks), DAVIS lucia as
    photos (state reset) and as a sequence (human-drawn). The soft mask changes no cut: equal."""
    settings = validate(engine=engine)
    segmenter = build_segmenter(settings)
    dev = dev_set()
    frames, frame_gts = lucia()
    sets = {"dev": ([p for _, p, _ in dev], [g for _, _, g in dev], False),
            "davis photos": (frames, frame_gts, False), "davis sequence": (frames, frame_gts, True)}
    table = {}
    for name, (images, gts, sequence) in sets.items():
        scores = StepScores(settings, segmenter, sequence)
        for image, gt in zip(images, gts):
            ctx = FrameContext(image)
            scores.add(segmenter(image, ctx.pyramid), ctx, gt)
        table[name] = [(step.label, float(np.mean(step.ious)), float(np.mean(step.fs))) for step in scores.steps]
    labels = [label for label, _, _ in table["dev"]]
    assert labels == ["raw", "+ soft mask", "+ temporal 0.5", "+ edge refine"]
    for k, label in enumerate(labels[1:], 1):
        for name, rows in table.items():
            (_, iou_before, f_before), (_, iou_after, f_after) = rows[k - 1], rows[k]
            print(f"{engine} {label} {name}: IoU {iou_before:.5f} -> {iou_after:.5f}, F {f_before:.5f} -> {f_after:.5f}")
            assert iou_after >= iou_before and f_after >= f_before, (label, name)
            if label == "+ soft mask":
                assert (iou_after, f_after) == (iou_before, f_before), name
        if label != "+ soft mask":
            assert any(rows[k][2] > rows[k - 1][2] for rows in table.values()), label


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


# -- the steps one by one, on small arrays ---------------------------------------------------------------
@pytest.mark.parametrize("r", [1, 2])
def test_box_is_the_mean_over_the_window_with_the_edge_pixels_mirrored(r):
    img = RNG.random((6, 9), dtype=np.float32)
    padded = np.pad(img, r, mode="symmetric")  # ...cba|abc...: the edge pixel repeated
    k = 2 * r + 1
    expected = np.mean([padded[dy:dy + 6, dx:dx + 9] for dy in range(k) for dx in range(k)], axis=0)
    out = box(img, r)
    assert out.dtype == np.float32 and np.abs(out - expected).max() < 1e-5


def test_the_guided_filters_model_recovers_an_alpha_that_is_linear_in_the_colours():
    guide = RNG.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    src = (0.5 * guide[..., 0] + 0.25 * guide[..., 1]).astype(np.float32) / 255 + np.float32(0.1)
    a, b = guide_coefficients(guide, src, 2, 0.0)
    assert a.shape == (40, 50, 3) and b.shape == (40, 50)
    assert np.abs(a - (0.5, 0.25, 0.0)).max() < 1e-4 and np.abs(b - 0.1).max() < 1e-4
    shrunk, _ = guide_coefficients(guide, src, 2, 0.01)  # the regulariser pulls the slopes towards 0
    assert 0.3 < shrunk[..., 0].mean() < 0.48 and 0.1 < shrunk[..., 1].mean() < 0.24
    flat = np.full((40, 50, 3), 90, np.uint8)  # no colour variation: the model is the local mean of src
    a, b = guide_coefficients(flat, src, 2, 0.01)
    assert np.abs(a).max() < 1e-6 and np.abs(b - box(box(src, 2), 2)).max() < 1e-5


def person_with_holes() -> np.ndarray:
    """A 60x60 person at (20, 20) with 4 px holes one px in from each side of its box, and 2x2 gaps in each side."""
    alpha = np.zeros((100, 100), np.uint8)
    alpha[20:80, 20:80] = 255
    for y, x in [(21, 40), (77, 40), (40, 21), (40, 77)]:  # holes: one px of person between them and the box's side
        alpha[y:y + 2, x:x + 2] = 0
    for y, x in [(20, 60), (78, 60), (60, 20), (60, 78)]:  # gaps: open to the box's side
        alpha[y:y + 2, x:x + 2] = 0
    return alpha


def test_holes_one_px_from_the_boxs_side_fill_and_gaps_in_its_side_stay():
    out = remove_small_regions(person_with_holes(), 0.005)  # 50 px
    for y, x in [(21, 40), (77, 40), (40, 21), (40, 77)]:
        assert (out[y:y + 2, x:x + 2] == 255).all(), (y, x)
    for y, x in [(20, 60), (78, 60), (60, 20), (60, 78)]:
        assert (out[y:y + 2, x:x + 2] == 0).all(), (y, x)


def test_removing_islands_and_holes_leaves_the_soft_edge_as_it_is():
    alpha = cv2.GaussianBlur(square_mask((100, 100), (20, 20, 60, 60)), (9, 9), 0)  # soft values around the edge
    alpha[48:50, 48:50] = 40  # a faint small hole: filled
    alpha[5:8, 90:93] = 128  # a small island at the half level: it is person, and goes
    alpha[90:93, 5:8] = 127  # a faint small blob below the half level: not person, kept
    out = remove_small_regions(alpha.copy(), 0.005)
    assert (out[48:50, 48:50] == 255).all() and (out[5:8, 90:93] == 0).all() and (out[90:93, 5:8] == 127).all()
    rest = np.ones_like(alpha, bool)
    rest[48:50, 48:50] = rest[5:8, 90:93] = False
    assert np.array_equal(out[rest], alpha[rest])


def test_a_lone_small_person_is_kept_and_the_share_is_a_strict_minimum():
    alpha = np.zeros((100, 100), np.uint8)
    alpha[10:15, 10:20] = 255  # the only person, 50 px
    assert np.array_equal(remove_small_regions(alpha.copy(), 0.01), alpha)  # smaller than 100 px, but alone
    alpha[60:70, 60:90] = 255  # a bigger second region
    assert remove_small_regions(alpha.copy(), 0.005)[12, 12] == 255  # 50 px: exactly the share, kept
    assert remove_small_regions(alpha.copy(), 0.0051)[12, 12] == 0  # 51 px minimum: an island


def test_feathering_makes_the_person_whole_down_to_the_half_level_and_fades_from_there():
    refiner = make_refiner(plain(feather=6))
    alpha = np.zeros((9, 40), np.uint8)
    alpha[:, :10] = 255
    alpha[:, 10], alpha[:, 11], alpha[:, 12] = 200, 128, 127  # the soft edge; 128 is still person
    out = refiner.feather_outward(alpha, 6.0)
    assert out is alpha and (out[:, :12] == 255).all()  # in place; the person's edge is the 128 column
    row = out[4, 11:20].astype(int)
    assert 150 < row[1] < 255 and (np.diff(row) <= 0).all() and row[7:].max() == 0  # gone 6 px out


def test_a_fade_narrower_than_a_work_pixel_only_makes_the_person_solid_as_the_distance_fade_would():
    refiner = make_refiner(plain(feather=2))
    rng = np.random.default_rng(5)
    alpha = cv2.GaussianBlur(((rng.random((40, 60)) > 0.6) * 255).astype(np.uint8), (0, 0), 1.5)
    alpha[alpha < 128] = 0  # outside: 0, so any fade that reaches out shows
    for width in (0.25, 0.5, 1.0, 1.05):
        dist = cv2.distanceTransform(cv2.compare(alpha, 128, cv2.CMP_LT), cv2.DIST_L2, 3)
        fade = FEATHER_LUT[np.clip(np.round(dist * 255 / width), 0, 255).astype(np.uint8)]
        expected = np.maximum(alpha, fade)  # the whole fade, computed here from its definition
        out = refiner.feather_outward(alpha.copy(), width)
        assert np.array_equal(out, expected), width
        assert np.array_equal(out == 255, alpha >= 128)
        reaches_out = (out[alpha < 128] > alpha[alpha < 128]).any()
        assert reaches_out == (width > 1.0), width


def test_adopting_works_between_refiners_with_and_without_smoothing():
    frame, mask = scene(160)
    fresh = refined(make_refiner(validate(temporal=0.0)), mask, frame)
    for ours, theirs in [(0.0, 0.8), (0.8, 0.0)]:
        other = make_refiner(validate(temporal=theirs))
        refined(other, mask, frame)
        refiner = make_refiner(validate(temporal=ours))
        refiner.adopt(other)  # nothing to carry over
        assert np.array_equal(refined(refiner, mask, frame), fresh)


def test_an_adopted_history_is_a_copy_the_other_refiner_cannot_change():
    frame, mask = scene(160)
    dropout = mask.copy()
    dropout[30:90, 50:80] = 0
    source = make_refiner(validate(temporal=0.8))
    for _ in range(5):
        refined(source, mask, frame)
    carried, untouched = make_refiner(validate(temporal=0.8)), make_refiner(validate(temporal=0.8))
    carried.adopt(source)
    untouched.adopt(source)
    expected = refined(untouched, dropout, frame)
    for _ in range(2):  # the other carries on with frames of its own (its buffers take turns)
        refined(source, np.zeros_like(mask), frame)
    assert np.array_equal(refined(carried, dropout, frame), expected)


def test_a_person_at_the_frames_side_stays_whole_while_the_camera_pans():
    """The flow brings in, at the frame's side, what was outside the last frame: the person there stays person."""
    texture = cv2.GaussianBlur(RNG.integers(0, 256, (H, W + 100, 3), dtype=np.uint8), (5, 5), 0)
    refiner = make_refiner(plain(temporal=0.95, soft_mask=True))
    for t in range(8):
        shift = 5 * t  # the scene moves right; the person fills the left half and more
        mask = np.zeros((H, W), np.uint8)
        mask[:, :W // 2 + shift] = 255
        alpha = refined(refiner, mask, np.ascontiguousarray(texture[:, 100 - shift:100 - shift + W]))
        assert alpha[:, :W // 2 - 5].min() == 255, t


@pytest.mark.parametrize("size", [(1366, 768), (1280, 720), (640, 480), (1282, 720), (1280, 730)],
                         ids=lambda s: f"{s[0]}x{s[1]}")  # whole scale factors: both, neither, one side only
@pytest.mark.parametrize("corner", ["top-left", "bottom-right"])
def test_the_box_holds_all_of_a_person_who_touches_the_frames_sides(size, corner):
    w, h = size
    frame = cv2.resize(scene(160)[0], size, interpolation=cv2.INTER_LINEAR)
    mask = np.zeros((144, 256), np.uint8)
    centre, axes = ((20, 15), (60, 50)) if corner == "top-left" else ((246, 129), (25, 70))  # wide / narrow and low
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, -1)
    for settings in ({}, {"soft_mask": False, "feather": 0}):
        alpha, (x, y, bw, bh) = make_refiner(validate(**settings))(mask, FrameContext(frame))
        inside = np.zeros((h, w), bool)
        inside[y:y + bh, x:x + bw] = True
        assert alpha[inside].max() == 255 and not alpha[~inside].any(), (settings, (x, y, bw, bh))
        edge = alpha[0, 0] if corner == "top-left" else alpha[-1, -1]
        assert edge == 255  # the person reaches the frame's corner
        if settings:
            assert set(np.unique(alpha)) == {0, 255}  # the hard cut, all over the box


@pytest.mark.parametrize("size", [(360, 640), (640, 360)], ids=["portrait", "landscape"])
def test_a_mask_bigger_than_the_work_size_is_area_averaged_like_the_frame(size):
    """A mask is brought down to the work size the way the frame is: averaged, not sampled."""
    w, h = size
    frame = cv2.resize(scene(160)[0], size, interpolation=cv2.INTER_LINEAR)
    big = np.zeros((h * 3 // 4, w * 3 // 4), np.uint8)  # 1.5 times the work size
    big[:, ::2] = 255  # fine stripes: their average is a flat 127.5
    refiner = make_refiner(plain(soft_mask=True))
    averaged = cv2.resize(big, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    assert np.array_equal(refiner.small_alpha(big, FrameContext(frame))[0],
                          refiner.small_alpha(averaged, FrameContext(frame))[0])


@pytest.mark.parametrize("size, radius", [((320, 180), 4), ((180, 320), 4), ((320, 240), 4), ((200, 150), 2), ((64, 48), 1),
                                          ((16, 16), 1)])
def test_the_guide_radius_is_2_percent_of_the_work_diagonal_at_half_size_and_at_least_1(size, radius):
    assert EdgeSnap().box_radius(size) == radius


def test_edge_refinement_snaps_a_horizontal_edge_too():
    frame, mask = coarse_edge(120)
    frame, mask = np.ascontiguousarray(frame.transpose(1, 0, 2)[:H]), np.ascontiguousarray(mask.T[:H])
    # cut at 0.6, the coarse mask's edge starts 2.5 px below the frame's; every column is snapped onto it
    snapped = make_refiner(plain(edge_refine=True, soft_mask=True, mask_threshold=0.6))
    alpha = refined(snapped, mask, np.ascontiguousarray(frame))
    rows = alpha[:, 40:200]  # the person: the top 120 rows
    assert (rows[:118] >= 128).all() and (rows[122:] < 128).all()


def test_snapping_a_part_of_the_image_is_snapping_the_whole_image_there():
    """Given the whole image's size, the snap on a part uses the whole image's radius: the same result inside it."""
    frame, mask = coarse_edge()
    snap = EdgeSnap()
    whole = snap(mask.copy(), frame)
    y0, y1, x0, x1 = 40, 200, 100, 220
    part = snap(mask[y0:y1, x0:x1].copy(), frame[y0:y1, x0:x1], (W, H))
    reach = snap.reach((W, H))
    assert np.array_equal(part[reach:-reach, reach:-reach], whole[y0 + reach:y1 - reach, x0 + reach:x1 - reach])


@pytest.mark.parametrize("size, work", [((1280, 720), (320, 180)), ((720, 1280), (180, 320)), ((320, 240), (320, 240)),
                                        ((160, 120), (160, 120)), ((1000, 2), (320, 1)), ((2, 1000), (1, 320))])
def test_the_work_size_has_a_long_side_of_at_most_320_and_never_a_zero_side(size, work):
    assert work_size(*size) == work


def flat_alpha(refiner, probability: int, grey: int) -> int:
    """The alpha for a flat frame of `grey` and a flat probability (with the soft ramp: alpha follows the probability)."""
    return int(refined(refiner, np.full((H, W), probability, np.uint8), np.full((H, W, 3), grey, np.uint8))[H // 2, W // 2])


@pytest.mark.parametrize("grey_change", [0, 20, 34, 44, 54, 64, 120])
def test_the_historys_weight_falls_from_temporal_to_0_as_the_frames_grey_error_grows(grey_change):
    """A still, flat frame: the smoothed probability is now + weight * (previous - now), where the weight is
    `temporal` for a grey error up to RESIDUAL_LEVELS[0], 0 from RESIDUAL_LEVELS[1], linear in between."""
    lo, hi = RESIDUAL_LEVELS
    weight = 0.8 * (1 - min(1.0, max(0.0, (grey_change - lo) / (hi - lo))))
    soft = {"soft_mask": True, "mask_threshold": 0.6}  # alpha rises with the probability from 115 to 191
    refiner = make_refiner(plain(temporal=0.8, **soft))
    flat_alpha(refiner, 190, 90)
    smoothed = flat_alpha(refiner, 150, 90 + grey_change)
    expected = round(150 + weight * 40)
    without_history = make_refiner(plain(temporal=0.0, **soft))
    assert flat_alpha(without_history, expected - 2, 0) <= smoothed <= flat_alpha(without_history, expected + 2, 0), weight


@pytest.mark.parametrize("direction", ["down", "right"])
def test_smoothing_follows_the_scene_so_a_flickering_mask_on_a_moving_person_stays_steady(direction):
    """The camera pans 4 px a frame while the model flickers on part of the person, 190 / 140 (threshold 153):
    carried along the flow, the history settles on the average; without it, the output would flicker too."""
    canvas = cv2.GaussianBlur(RNG.integers(0, 256, (H + 100, W + 100, 3), dtype=np.uint8), (3, 3), 0)
    refiner = make_refiner(plain(temporal=0.8, soft_mask=True, mask_threshold=0.6))
    decisions = []
    for t in range(8):
        prob = np.zeros((H + 100, W + 100), np.uint8)
        prob[:, :300] = 255
        prob[120:220, 150:250] = 190 if t % 2 else 140  # in the scene: it moves with it
        y, x = (100 - 4 * t, 50) if direction == "down" else (50, 100 - 4 * t)
        alpha = refined(refiner, np.ascontiguousarray(prob[y:y + H, x:x + W]), np.ascontiguousarray(canvas[y:y + H, x:x + W]))
        decisions.append((alpha[140 - y:200 - y, 170 - x:230 - x] >= 128).mean())
    assert min(decisions[4:]) > 0.95, decisions  # the averages, about 162 and 168: person, steadily


def test_the_smoother_carries_on_when_the_frame_size_changes():
    frame, mask = scene(160)
    refiner = make_refiner(validate(temporal=0.8))
    for size in [(W, H)] * 2 + [(W // 2, H // 2)] * 3 + [(W, H)] * 2:
        alpha = refined(refiner, mask, cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
        assert abs(edge_of(cv2.resize(alpha, (W, H), interpolation=cv2.INTER_NEAREST)) - 160) <= 8


@pytest.mark.parametrize("shape", [(100, 400), (400, 100)], ids=["wider", "taller"])
def test_a_mask_longer_than_the_work_size_but_not_bigger_on_both_sides_is_scaled_bilinearly(shape):
    frame = scene(160)[0]
    mask = cv2.GaussianBlur(RNG.integers(0, 256, shape, dtype=np.uint8), (5, 5), 0)
    refiner = make_refiner(plain(soft_mask=True))
    scaled = cv2.resize(mask, (W, H), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(refiner.small_alpha(mask, FrameContext(frame))[0], refiner.small_alpha(scaled, FrameContext(frame))[0])


def test_a_mask_that_fits_in_the_frame_and_the_work_size_is_refined_on_its_own_grid():
    """Nothing of the model's output is resampled away: without a step that looks at the frame the
    probability stays on the model's grid; the edge snap works at the work size."""
    frame = cv2.resize(scene(160)[0], (1280, 720), interpolation=cv2.INTER_LINEAR)
    mask = cv2.GaussianBlur(RNG.integers(0, 256, (256, 256), dtype=np.uint8), (5, 5), 0)
    small = make_refiner(plain(soft_mask=True)).small_alpha(mask, FrameContext(frame))[0]
    assert np.array_equal(small, mask)  # the probability itself: the cut is made at frame size
    snapped = make_refiner(plain(soft_mask=True, edge_refine=True)).small_alpha(mask, FrameContext(frame))[0]
    assert snapped.shape == (180, 320)


@pytest.mark.parametrize("size", [(1280, 720), (854, 480), (640, 480), (1366, 768)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("shape", [(256, 256), (144, 256)], ids=["selfie", "landscape"])
@pytest.mark.parametrize("soft", [True, False], ids=["soft", "hard"])
def test_refinement_without_a_step_that_moves_the_edge_is_exactly_the_raw_models_mask(size, shape, soft):
    """Refinement's base loses nothing: refined with only the soft ramp (or only the hard cut), the
    mask cut at the half level is the raw model's, pixel for pixel, so each step is judged on its own."""
    frame = cv2.resize(scene(160)[0], size, interpolation=cv2.INTER_LINEAR)
    raw = make_refiner(validate(refine="off"))
    refiner = make_refiner(plain(soft_mask=soft, mask_threshold=0.5))
    for seed in range(3):
        rng = np.random.default_rng(seed)
        mask = cv2.GaussianBlur(rng.integers(0, 256, shape, dtype=np.uint8), (0, 0), 3)
        mask = cv2.normalize(mask, None, 0, 255, cv2.NORM_MINMAX)  # edges at every slope, crossing 0.5 all over
        expected = raw(mask, FrameContext(frame))[0].copy()
        alpha = refiner(mask, FrameContext(frame))[0]
        assert np.array_equal(alpha >= 128, expected >= 128)
        assert soft == (np.count_nonzero((alpha > 0) & (alpha < 255)) > 0)


@pytest.mark.parametrize("mask_shape, frame, grid", [
    ((256, 256), (1280, 720), (256, 256)),  # selfie's output: its own grid
    ((144, 256), (1280, 720), (256, 144)),  # selfie-landscape's
    ((320, 320), (1280, 720), (320, 320)),  # as long as the work size
    ((120, 320), (320, 240), (320, 120)),  # as wide as the frame
    ((240, 200), (320, 240), (200, 240)),  # as tall as the frame
    ((321, 200), (1280, 720), (320, 180)),  # longer than the work size: the work size
    ((256, 256), (320, 180), (320, 180)),  # taller than the frame
    ((256, 400), (320, 240), (320, 240)),  # wider than the frame
])
def test_the_probability_is_refined_on_the_masks_own_grid_when_it_fits_the_frame_and_the_work_size(mask_shape, frame, grid):
    assert refine_grid(mask_shape, *frame) == grid


def flat_square_alpha(settings, probability: int, snap_fit: dict) -> int:
    """The alpha in the middle of a large square of flat `probability` on a flat frame (no edge to snap to)."""
    mask = np.zeros((H, W), np.uint8)
    mask[40:200, 60:260] = probability
    refiner = make_refiner(settings, snap_fit=snap_fit)
    return int(refined(refiner, mask, np.full((H, W, 3), 90, np.uint8))[120, 160])


def test_the_snap_starts_from_the_probability_cut_at_the_threshold_plus_the_engines_lean():
    snap, lean = plain(edge_refine=True), {"radius": 0.02, "lean": 0.1}
    assert flat_square_alpha(snap, 153, lean) == 255 and flat_square_alpha(snap, 152, lean) == 0  # 0.5 + 0.1 = 153
    assert flat_square_alpha(snap, 128, {}) == 255  # no lean: the threshold
    feathered = plain(feather=4)  # no snap: the lean does not apply, the threshold does
    assert flat_square_alpha(feathered, 128, lean) == 255 and flat_square_alpha(feathered, 127, lean) == 0


def test_without_a_feather_the_snapped_edge_is_soft_on_both_sides_of_the_half_level():
    frame, mask = coarse_edge(150)
    alpha = refined(make_refiner(plain(edge_refine=True, soft_mask=True)), mask, frame)
    row = alpha[H // 2, 140:160]
    assert ((row > 128) & (row < 255)).any() and ((row > 0) & (row < 128)).any()


def test_islands_and_holes_are_judged_by_the_threshold_when_the_cut_is_made_at_frame_size():
    mask = np.zeros((H, W), np.uint8)
    mask[40:200, 60:260] = 255
    mask[100:104, 150:154] = 140  # below the threshold of 0.6 (153): a small hole
    frame = np.full((H, W, 3), 90, np.uint8)
    alpha = refined(make_refiner(plain(mask_threshold=0.6, min_region=0.5, soft_mask=True)), mask, frame)
    assert alpha[102, 152] == 255
    assert refined(make_refiner(plain(mask_threshold=0.6, soft_mask=True)), mask, frame)[102, 152] < 128  # kept as a hole


def test_a_probability_at_the_threshold_is_person_and_the_soft_ramp_is_linear_around_it():
    hard, soft = make_refiner(plain(mask_threshold=0.6)), make_refiner(plain(mask_threshold=0.6, soft_mask=True))
    assert flat_alpha(hard, 153, 90) == 255 and flat_alpha(hard, 152, 90) == 0  # 0.6 x 255 = 153
    for probability in (120, 140, 153, 154, 160, 175):
        ideal = 127.5 + (probability - 153) / 0.3  # 0 at 0.15 below the threshold, 255 at 0.15 above
        assert abs(flat_alpha(soft, probability, 90) - ideal) <= 0.5, probability


def test_min_region_is_a_share_of_the_image_and_never_takes_the_person():
    mask = square_mask()
    mask[10:22, 10:26] = 255  # 192 px = 0.25% of 320 x 240: kept at min_region 0.25
    mask[10:22, 290:306] = 255
    mask[21, 305] = 0  # 191 px: removed
    frame = np.full((H, W, 3), 100, np.uint8)
    alpha = refined(make_refiner(plain(min_region=0.25)), mask, frame)
    assert alpha[15, 15] == 255 and alpha[15, 295] == 0 and (alpha[mask == 255][:10] == 255).all()
    assert (alpha[80:180, 100:220] == 255).all()  # the person


def test_a_person_one_work_pixel_wide_is_kept():
    mask = np.zeros((H, W), np.uint8)
    mask[50:150, 100] = 255
    alpha = refined(make_refiner(plain()), mask, np.full((H, W, 3), 100, np.uint8))
    assert (alpha[50:150, 100] == 255).all() and alpha.sum() == 100 * 255


def test_the_feather_is_as_wide_as_asked_on_a_wide_frame_too():
    """16:9 at 1280 x 720: the work image is a quarter of the width, so 20 px of feather are 5 work px."""
    mask = np.zeros((720, 1280), np.uint8)
    mask[200:520, 400:800] = 255
    alpha = refined(make_refiner(plain(feather=20)), mask, np.full((720, 1280, 3), 100, np.uint8))
    row = alpha[360, 800:830].astype(int)
    assert row[14] > 10 and row[24:].max() == 0, row  # fades over about 20 px (plus the upscale's 4)


def test_edge_refinement_grows_a_mask_that_stops_short_of_the_frame_edge():
    frame, mask = coarse_edge(150, -3)
    assert abs(edge_of(refined(make_refiner(plain(edge_refine=True, soft_mask=True)), mask, frame)) - 150) <= 1.5


def test_the_feather_reaches_into_the_frames_side():
    mask = np.zeros((H, W), np.uint8)
    mask[60:180, :100] = 255  # the person touches the left side
    alpha = refined(make_refiner(plain(feather=10)), mask, np.full((H, W, 3), 100, np.uint8))
    assert alpha[183, 0] == alpha[183, 50] > 0 and alpha[56, 0] == alpha[56, 50] > 0


def test_a_far_island_does_not_change_how_the_person_is_refined():
    """An island moves the refined part's corner (by an odd or even number of px) and grows it: the person's
    snapped alpha is the same (the snap's half-size grid and radius follow the whole image, not the part)."""
    frame = BACKGROUND.copy()
    frame[60:, 150:] = (30, 160, 220)  # the person, in the bottom-right corner
    mask = np.zeros((H, W), np.uint8)
    mask[57:, 147:] = 255  # a few px off, and coarse
    mask = cv2.resize(cv2.resize(mask, (W // 4, H // 4), interpolation=cv2.INTER_AREA), (W, H))
    alone = refined(make_refiner(validate(min_region=0.0)), mask, frame)
    for corner in (40, 41):
        with_island = mask.copy()
        with_island[corner - 30:corner - 24, corner:corner + 6] = 255
        alpha = refined(make_refiner(validate(min_region=0.0)), with_island, frame)
        assert np.array_equal(alpha[50:, 140:], alone[50:, 140:]), corner


@pytest.mark.parametrize("width", [1, 2])
def test_a_blob_the_edge_refinement_removes_leaves_an_empty_alpha(width):
    mask = np.zeros((H, W), np.uint8)
    mask[100:102, 100:100 + width] = 200  # a speck on a flat frame: the guided filter spreads it below its clamp
    alpha, box = make_refiner(plain(edge_refine=True, soft_mask=True))(mask, FrameContext(np.full((H, W, 3), 100, np.uint8)))
    assert box == (0, 0, 0, 0) and not alpha.any()


def test_even_a_1_px_feather_makes_the_soft_edge_solid_down_to_the_half_level():
    mask = cv2.GaussianBlur(square_mask(), (21, 21), 0)  # a soft edge ramp
    soft = refined(make_refiner(plain(soft_mask=True)), mask, np.full((H, W, 3), 100, np.uint8))
    feathered = refined(make_refiner(plain(soft_mask=True, feather=1)), mask, np.full((H, W, 3), 100, np.uint8))
    assert ((soft > 128) & (soft < 255)).any()
    assert np.array_equal(feathered >= 128, soft >= 128) and set(np.unique(feathered[feathered >= 128])) == {255}


def test_an_island_anywhere_leaves_the_persons_snapped_alpha_alone():
    """The refined part's far end moves with an island (odd or even px): the snap's half-size grid stays put."""
    frame, mask = coarse_edge()  # the person left of column 150, away from the right and bottom sides
    alone = refined(make_refiner(validate(min_region=0.0)), mask, frame)
    for x in (243, 244):
        with_island = mask.copy()
        with_island[100:106, x:x + 6] = 255
        alpha = refined(make_refiner(validate(min_region=0.0)), with_island, frame)
        assert np.array_equal(alpha[:, :200], alone[:, :200]), x


def test_an_island_below_leaves_the_persons_snapped_alpha_alone():
    """The same along y: the part's bottom end moves with an island, the snap's half-size grid stays put."""
    frame = BACKGROUND.copy()
    frame[:110] = (30, 160, 220)  # the person above row 110, and a coarse mask 3 px off
    mask = np.zeros((H, W), np.uint8)
    mask[:113] = 255
    mask = cv2.resize(cv2.resize(mask, (W // 4, H // 4), interpolation=cv2.INTER_AREA), (W, H))
    alone = refined(make_refiner(validate(min_region=0.0)), mask, frame)
    for y in (203, 204):
        with_island = mask.copy()
        with_island[y:y + 6, 100:106] = 255
        alpha = refined(make_refiner(validate(min_region=0.0)), with_island, frame)
        assert np.array_equal(alpha[:160], alone[:160]), y


def test_a_small_hole_in_a_person_who_fills_their_box_is_filled():
    alpha = np.zeros((100, 100), np.uint8)
    alpha[10:90, 10:90] = 255
    alpha[50:53, 50:53] = 0  # the only background inside the person's box
    assert (remove_small_regions(alpha.copy(), 0.005)[10:90, 10:90] == 255).all()
    big = alpha.copy()
    big[30:70, 30:70] = 0  # a hole above the share stays
    assert (remove_small_regions(big.copy(), 0.005)[30:70, 30:70] == 0).all()

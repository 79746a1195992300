"""The arithmetic of `bgblur_core.evaluate` on hand-made masks with known answers, and `bgblur eval`."""
import json
import math
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from bgblur_core.evaluate import boundary, boundary_f, boundary_tolerance, edge_lag, flicker, iou, mae

ROOT = Path(__file__).resolve().parents[1]
EVALDATA = ROOT.parent / "shared" / "evaldata"


def square(top, left, size, shape=(100, 100), value=255):
    m = np.zeros(shape, np.uint8)
    m[top:top + size, left:left + size] = value
    return m


def test_iou_known_answers():
    gt = np.zeros((50, 50), np.uint8)
    gt[0:10, 0:20] = 255
    pred = np.zeros_like(gt)
    pred[0:10, 0:10] = 255
    assert iou(pred, gt) == pytest.approx(0.5)
    assert iou(gt, gt) == 1.0
    assert iou(np.zeros_like(gt), np.zeros_like(gt)) == 1.0  # nothing to find, nothing found
    assert iou(np.zeros_like(gt), gt) == 0.0


def test_iou_thresholds_soft_masks_at_128():
    gt = square(0, 0, 10, value=200)
    assert iou(square(0, 0, 10, value=128), gt) == 1.0
    assert iou(square(0, 0, 10, value=127), gt) == 0.0


def test_metrics_reject_mismatched_sizes():
    with pytest.raises(ValueError, match="same size"):
        iou(np.zeros((10, 10), np.uint8), np.zeros((10, 12), np.uint8))


def test_boundary_is_the_mask_minus_its_3x3_erosion():
    b = boundary(square(20, 20, 40))
    assert b.sum() == 4 * 40 - 4  # the square's outline, one pixel thick
    assert b[20, 20] == 1 and b[40, 40] == 0
    # a mask touching the image border has no boundary along the border
    full = np.full((10, 10), 255, np.uint8)
    assert boundary(full).sum() == 0


def test_boundary_tolerance_is_one_percent_of_the_diagonal():
    assert boundary_tolerance((100, 100)) == 1
    assert boundary_tolerance((720, 1280)) == 15
    assert boundary_tolerance((1080, 1920)) == 22


def test_boundary_f_known_answers():
    gt = square(20, 20, 40)
    assert boundary_f(gt, gt) == 1.0
    # shifted 3 px right, no tolerance: only the 2 x 37 pixels of the shared top and bottom edges match
    shifted = square(20, 23, 40)
    assert boundary_f(shifted, gt, tol=0) == pytest.approx(74 / 156)
    # shifted 1 px: within the default 1 px tolerance of a 100x100 image
    assert boundary_f(square(20, 21, 40), gt) == 1.0
    assert boundary_f(square(20, 21, 40), gt, tol=0) < 1.0
    # far apart: nothing matches
    assert boundary_f(square(0, 0, 10), square(80, 80, 10)) == 0.0


def test_boundary_f_empty_cases():
    empty = np.zeros((100, 100), np.uint8)
    assert boundary_f(empty, empty) == 1.0
    assert boundary_f(empty, square(20, 20, 40)) == 0.0
    assert boundary_f(square(20, 20, 40), empty) == 0.0


def test_boundary_f_precision_recall_harmonic_mean():
    gt = square(20, 20, 40)
    # pred = gt plus a far-away blob: recall 1, precision 156 / (156 + 36) -> F = 2PR / (P + R)
    pred = gt.copy()
    pred[85:95, 85:95] = 255
    p, r = 156 / (156 + 36), 1.0
    assert boundary_f(pred, gt) == pytest.approx(2 * p * r / (p + r))


def test_mae_known_answers():
    gt = np.zeros((10, 10), np.uint8)
    gt[:5] = 255
    assert mae(np.full_like(gt, 255), gt) == pytest.approx(0.5)
    assert mae(np.full((4, 4), 51, np.uint8), np.zeros((4, 4), np.uint8)) == pytest.approx(0.2)
    assert mae(gt, gt) == 0.0


def test_flicker_counts_change_in_still_regions_only():
    gts = [np.zeros((10, 10), np.uint8)] * 3
    blip = np.zeros((10, 10), np.uint8)
    blip[0, :] = 255  # 10 pixels switch on, then off again
    masks = [gts[0], blip, gts[0]]
    assert flicker(masks, gts) == pytest.approx(20 / 200)
    # a mask that follows a moving ground truth exactly does not flicker
    moving = [square(2, 2 + i, 4, (10, 10)) for i in range(3)]
    assert flicker(moving, moving) == 0.0
    assert flicker([gts[0]] * 3, gts) == 0.0


def test_flicker_with_given_still_regions():
    a, b = np.zeros((4, 4), np.uint8), np.full((4, 4), 255, np.uint8)
    still = np.zeros((4, 4), np.uint8)
    still[:2] = 255  # only half the pixels are still: they all changed fully
    assert flicker([a, b], still=[still]) == pytest.approx(1.0)
    assert flicker([a, b], still=[np.zeros((4, 4), np.uint8)]) == 0.0


def test_edge_lag_finds_the_delay_of_a_moving_edge():
    gts = [square(30, 5 + 3 * t, 30) for t in range(16)]
    assert edge_lag(gts, gts) == 0.0
    delayed = [gts[max(t - 2, 0)] for t in range(16)]
    assert edge_lag(delayed, gts) == pytest.approx(2.0)
    still = [gts[0]] * 16
    assert edge_lag(still, still) == 0.0


def test_edge_lag_is_undefined_for_masks_that_do_not_follow():
    gts = [square(30, 5 + 3 * t, 30) for t in range(16)]
    unrelated = [square(0, 0, 100)] * 16  # everything is person
    assert math.isnan(edge_lag(unrelated, gts))


# -- `bgblur eval` ---------------------------------------------------------------------------
IMAGE_KEYS = {"engine", "images", "mean_iou", "boundary_f", "mae", "ms_per_image", "worst"}


def bgblur_eval(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "bgblur_core", "eval", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def write_pair(folder: Path, name: str, hit: bool):
    """A grey picture with a saturated red square: the hsv engine finds exactly that square."""
    frame = np.full((60, 100, 3), 128, np.uint8)
    frame[10:40, 20:50] = (0, 0, 255)
    mask = np.zeros((60, 100), np.uint8)
    if hit:
        mask[10:40, 20:50] = 255
    else:
        mask[10:40, 60:90] = 255  # ground truth away from the square: no overlap, no shared edge
    cv2.imwrite(str(folder / f"{name}.png"), frame)
    cv2.imwrite(str(folder / f"{name}_mask.png"), mask)


def test_eval_json_on_hand_made_pairs_has_known_answers(tmp_path):
    for i in range(3):
        write_pair(tmp_path, f"good{i}", hit=True)
    write_pair(tmp_path, "bad", hit=False)
    (tmp_path / "notes.txt").write_text("not an image")
    r = bgblur_eval("--images", str(tmp_path), "--engine", "hsv", "--json")
    assert r.returncode == 0, r.stderr
    (row,) = [json.loads(line) for line in r.stdout.splitlines()]
    assert IMAGE_KEYS <= set(row)
    assert row["engine"] == "hsv" and row["images"] == 4
    assert row["mean_iou"] == pytest.approx(0.75)  # three perfect, one disjoint
    assert row["boundary_f"] == pytest.approx(0.75, abs=0.01)
    assert row["mae"] == pytest.approx((2 * 30 * 30 / (60 * 100)) / 4, abs=1e-4)
    assert row["worst"][0] == "bad" and len(row["worst"]) == 4
    assert row["ms_per_image"] > 0


def test_eval_on_the_real_photos_all_engines(tmp_path):
    r = bgblur_eval("--images", str(EVALDATA / "dev"), "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["engine"]: row for row in map(json.loads, r.stdout.splitlines())}
    assert set(rows) == {"hsv", "selfie", "selfie-landscape", "plate"}
    for engine in ("hsv", "selfie", "selfie-landscape"):
        row = rows[engine]
        assert IMAGE_KEYS <= set(row) and row["images"] == 25 and len(row["worst"]) == 5
        assert 0 <= row["mean_iou"] <= 1 and 0 <= row["boundary_f"] <= 1 and 0 <= row["mae"] <= 1
    # the neural engines do what the seed method cannot
    assert rows["selfie"]["mean_iou"] > rows["hsv"]["mean_iou"] + 0.3
    assert rows["plate"]["mean_iou"] is None and "not applicable" in rows["plate"]["note"]


def test_eval_video_with_ground_truth_reports_flicker_and_lag():
    r = bgblur_eval("--video", str(EVALDATA / "video" / "davis_lucia"), "--engine", "hsv", "selfie-landscape",
                    "--video-frames", "12", "--json")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["engine"] for row in rows] == ["hsv", "selfie-landscape"]
    for row in rows:
        assert row["frames"] == 12 and row["reference"] == "ground truth"
        assert 0 <= row["flicker"] <= 1 and 0 <= row["mean_iou"] <= 1
    # hsv does not follow the walking person at all, so its lag is undefined; the neural engine's is known
    assert rows[0]["edge_lag"] is None
    assert 0 <= rows[1]["edge_lag"] <= 5


def test_eval_video_file_without_ground_truth_table():
    r = bgblur_eval("--video", str(EVALDATA / "clips" / "videoretalking_face_5.mp4"), "--engine", "hsv",
                    "--video-frames", "8")
    assert r.returncode == 0, r.stderr
    assert "flicker" in r.stdout and "hsv" in r.stdout and "still pixels" in r.stdout


@pytest.mark.parametrize("args, message", [
    ([], "give --images DIR"),
    (["--images", "/nonexistent"], "--images: /nonexistent is not a folder"),
    (["--images", str(ROOT / "bgblur_core")], "no NAME.jpg (or .png) + NAME_mask.png pairs"),
    (["--images", str(ROOT), "--engine", "nope"], "invalid choice"),
    (["--video", "/nonexistent.mp4", "--engine", "hsv"], "--video: cannot read '/nonexistent.mp4': no such file"),
])
def test_eval_bad_input_gives_one_line_errors(args, message):
    r = bgblur_eval(*args)
    assert r.returncode != 0
    assert message in r.stderr and "Traceback" not in r.stderr


def test_eval_reports_the_raw_model_next_to_each_refinement_step():
    """Photos and a sequence: the raw model first, then each default step switched on in turn, ending at the default."""
    from bgblur_core.evaluate import boundary_f, refinement_steps
    from bgblur_core.settings import validate
    from _seg_helpers import LUCIA, lucia, photo_alphas, raw_settings
    r = bgblur_eval("--images", str(LUCIA), "--video", str(LUCIA), "--engine", "selfie", "hsv", "--json")
    assert r.returncode == 0, r.stderr
    photos, video, hsv_photos, hsv_video = [json.loads(line) for line in r.stdout.splitlines()]
    labels = [label for label, _ in refinement_steps(validate())]
    assert labels[0] == "raw" and len(labels) >= 3 and "+ temporal 0.5" in labels
    for row in (photos, video):
        assert [s["step"] for s in row["steps"]] == labels
        assert row["steps"][-1]["mean_iou"] == row["mean_iou"]  # all steps on: the default itself
    assert photos["steps"][-1]["boundary_f"] == photos["boundary_f"]
    assert video["steps"][-1]["flicker"] == video["flicker"] and "flicker" not in photos["steps"][0]
    frames, gts = lucia()
    raw = photo_alphas(raw_settings(), frames)
    assert photos["steps"][0]["mean_iou"] == pytest.approx(np.mean([iou(a, g) for a, g in zip(raw, gts)]), abs=1e-4)
    assert photos["steps"][0]["boundary_f"] == pytest.approx(np.mean([boundary_f(a, g) for a, g in zip(raw, gts)]), abs=1e-4)
    assert video["steps"][0]["mean_iou"] == photos["steps"][0]["mean_iou"]  # the raw model has no state
    assert hsv_photos["steps"] == [] and hsv_video["steps"] == []  # the seed method is not refined

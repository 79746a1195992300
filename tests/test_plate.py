"""The clean-plate engine: learning, saving and reusing the plate, tolerance, bad plates, `bgblur learn`."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from bgblur_core.chain import Stages
from bgblur_core.evaluate import iou
from bgblur_core.segment.plate import PlateSegmenter, learn_plate, plate_file
from bgblur_core.settings import validate
from bgblur_core.sources import synthetic_background, synthetic_frame, synthetic_person_mask
from bgblur_core.stages import StageError
from _seg_helpers import bgblur

W, H = 640, 360
POSES = range(0, 150, 15)


@pytest.fixture
def settings(tmp_path):
    s = validate(engine="plate", plate_path=str(tmp_path / "plate.png"))
    learn_plate([synthetic_background(i, W, H) for i in range(20)], s)
    return s


def mean_iou(settings, frame_of=lambda f: f) -> float:
    stages = Stages(settings)
    scores = []
    for n in POSES:
        stages.refiner.reset()
        alpha = stages.alpha(frame_of(synthetic_frame(n, W, H)))
        scores.append(iou(alpha, synthetic_person_mask(n, W, H)))
    return float(np.mean(scores))


def test_learned_plate_is_saved_reused_and_finds_the_person(settings):
    path = plate_file(settings)
    assert path.is_file() and cv2.imread(str(path)).shape == (H, W, 3)
    assert [p.name for p in path.parent.iterdir()] == ["plate.png"]  # written atomically: no temp file left
    assert mean_iou(settings) > 0.93  # a new segmenter reads the saved plate


def test_the_plate_is_the_median_so_a_passer_by_is_not_learned(tmp_path):
    s = validate(engine="plate", plate_path=str(tmp_path / "p.png"))
    frames = [synthetic_background(i, W, H) for i in range(9)]
    for f in frames[:3]:
        f[100:200, 100:200] = (0, 0, 255)  # someone crossing during 3 of 9 frames
    learn_plate(frames, s)
    assert np.abs(cv2.imread(s.plate_path).astype(int) - synthetic_background(0, W, H).astype(int))[100:200, 100:200].mean() < 8


@pytest.mark.parametrize("name, change", [
    ("20% darker (exposure)", lambda f: cv2.convertScaleAbs(f, alpha=0.8)),
    ("15% brighter", lambda f: cv2.convertScaleAbs(f, alpha=1.15)),
    ("camera noise", lambda f: cv2.add(f, np.random.default_rng(1).normal(0, 6, f.shape).astype(np.int16), dtype=cv2.CV_8U)),
])
def test_tolerates_lighting_changes_and_noise(settings, name, change):
    assert mean_iou(settings, change) > 0.9, name


def test_a_shadow_on_the_background_is_not_a_person(settings):
    n = 30
    frame = synthetic_frame(n, W, H)
    person = synthetic_person_mask(n, W, H)
    shadow = np.zeros((H, W), np.uint8)
    cv2.ellipse(shadow, (W // 2 + 150, H // 2), (90, 140), 0, 0, 360, 255, -1)
    shadow[person > 0] = 0
    darkened = cv2.convertScaleAbs(frame, alpha=0.75)  # a soft shadow: 25% darker, same colours
    cv2.copyTo(darkened, shadow, frame)
    alpha = Stages(settings).alpha(frame)
    assert np.count_nonzero(alpha[shadow > 0] >= 128) < 0.02 * np.count_nonzero(shadow)
    assert iou(alpha, person) > 0.9


def test_no_plate_yet_says_to_run_bgblur_learn(tmp_path):
    with pytest.raises(StageError) as e:
        PlateSegmenter(validate(engine="plate", plate_path=str(tmp_path / "none.png")))
    assert "bgblur learn" in str(e.value) and "\n" not in str(e.value)


def test_an_unreadable_plate_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(StageError) as e:
        PlateSegmenter(validate(engine="plate", plate_path=str(bad)))
    assert str(bad) in str(e.value) and "\n" not in str(e.value)


def test_a_plate_of_another_resolution_is_scaled_and_says_so(settings, capsys):
    stages = Stages(settings)
    big = cv2.resize(synthetic_frame(45, W, H), (2 * W, 2 * H))
    alpha = stages.alpha(big)
    err = capsys.readouterr().err
    assert "scaled" in err and "640x360" in err and "1280x720" in err and err.count("\n") == 1
    assert iou(alpha, cv2.resize(synthetic_person_mask(45, W, H), (2 * W, 2 * H))) > 0.85


def test_learn_needs_frames_of_one_size(tmp_path):
    s = validate(plate_path=str(tmp_path / "p.png"))
    with pytest.raises(StageError):
        learn_plate([], s)
    with pytest.raises(StageError, match="changed size"):
        learn_plate([np.zeros((10, 10, 3), np.uint8), np.zeros((12, 10, 3), np.uint8)], s)


def test_bgblur_learn_from_a_video_of_the_empty_room(tmp_path):
    video = tmp_path / "empty.avi"
    out = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (W, H))
    for i in range(15):
        out.write(synthetic_background(i, W, H))
    out.release()
    plate = tmp_path / "learned" / "plate.png"
    r = bgblur("learn", "--input", video, "--seconds", "1", "--plate-path", plate)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(plate) and "learned from 10 frames" in r.stderr
    learned = cv2.imread(str(plate))
    assert np.abs(learned.astype(int) - synthetic_background(0, W, H).astype(int)).mean() < 4  # codec noise only
    r = bgblur("learn", "--input", tmp_path / "missing.mp4", "--plate-path", plate)
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_the_default_plate_lives_in_the_one_cache_folder_the_models_use(monkeypatch, tmp_path):
    from bgblur_core import models
    monkeypatch.setenv("BGBLUR_CACHE_DIR", str(tmp_path / "c"))
    assert plate_file(validate(engine="plate")) == tmp_path / "c" / "plate.png"
    monkeypatch.delenv("BGBLUR_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert plate_file(validate(engine="plate")) == tmp_path / "x" / "bgblur" / "models" / "plate.png"
    assert models.cached_path(models.MODELS["selfie"]).parent == plate_file(validate(engine="plate")).parent

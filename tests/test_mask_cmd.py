"""`bgblur mask`: one image, a folder (each image on its own), a video or a pattern (one live sequence)."""
from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from bgblur_core import models
from bgblur_core.chain import Stages
from bgblur_core.evaluate import iou
from bgblur_core.settings import validate
from _seg_helpers import DEV, LUCIA, bgblur

PHOTOS = ["vs_062", "vs_084", "vs_189"]


def truth(name: str) -> np.ndarray:
    return cv2.imread(str(DEV / f"{name}_mask.png"), cv2.IMREAD_GRAYSCALE)


def read(path) -> np.ndarray:
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert mask is not None, f"{path} was not written"
    return mask


def test_one_image_gives_the_compositors_alpha(real_models, tmp_path):
    photo = DEV / "vs_084.jpg"
    out = tmp_path / "mask.png"
    r = bgblur("mask", "--input", photo, "--output", out)
    assert r.returncode == 0, r.stderr
    mask, image = read(out), cv2.imread(str(photo))
    assert mask.dtype == np.uint8 and mask.shape == image.shape[:2]
    assert np.array_equal(mask, Stages(validate()).alpha(image))
    assert iou(mask, truth("vs_084")) > 0.9  # and that alpha is the person, not any agreed-on array


def test_settings_flags_apply(real_models, tmp_path):
    photo = DEV / "vs_062.jpg"
    out = tmp_path / "hard.png"
    r = bgblur("mask", "--input", photo, "--output", out, "--engine", "hsv", "--refine", "off")
    assert r.returncode == 0, r.stderr
    mask = read(out)
    assert set(np.unique(mask)) <= {0, 255} and mask.shape == cv2.imread(str(photo)).shape[:2]
    r = bgblur("mask", "--input", photo, "--output", out, "--engine", "selfie-landscape", "--feather", "0")
    assert r.returncode == 0, r.stderr
    assert np.array_equal(read(out), Stages(validate(engine="selfie-landscape", feather=0)).alpha(cv2.imread(str(photo))))


# rvm on consecutive frames: no scene cut between them, so only the reset keeps its state from carrying over
@pytest.mark.parametrize("engine, folder, names", [("selfie", DEV, PHOTOS), ("rvm", LUCIA, ["00000", "00001", "00002"])])
def test_a_folder_gives_name_mask_png_for_each_image_each_on_its_own(real_models, tmp_path, engine, folder, names):
    models.fetch([engine])
    src = tmp_path / "photos"
    src.mkdir()
    for name in names:  # a working copy outside the project, in the test's temporary folder
        shutil.copy(folder / f"{name}.jpg", src)
        shutil.copy(folder / f"{name}_mask.png", src)  # ground truth beside them is not an input
    out = tmp_path / "masks"
    r = bgblur("mask", "--input", src, "--output", out, "--engine", engine)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"{n}_mask.png" for n in names]
    for name in names:  # no state carried from one photo to the next
        image = cv2.imread(str(src / f"{name}.jpg"))
        assert np.array_equal(read(out / f"{name}_mask.png"), Stages(validate(engine=engine)).alpha(image))
        gt = cv2.imread(str(folder / f"{name}_mask.png"), cv2.IMREAD_GRAYSCALE)
        assert iou(read(out / f"{name}_mask.png"), gt) > 0.8


def test_a_pattern_is_one_live_sequence_with_temporal_smoothing_carried(real_models, tmp_path):
    out = tmp_path / "seq"
    r = bgblur("mask", "--input", LUCIA / "%05d.jpg", "--output", out)
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"{i:05d}_mask.png" for i in range(70)]
    stages = Stages(validate())  # the same frames through one pipeline, in order
    frames = [cv2.imread(str(LUCIA / f"{i:05d}.jpg")) for i in range(8)]
    live = [stages.alpha(f) for f in frames]
    for i, alpha in enumerate(live):
        assert np.array_equal(read(out / f"{i:05d}_mask.png"), alpha), i
    assert not np.array_equal(live[7], Stages(validate()).alpha(frames[7]))  # the state did carry over


def test_a_video_file_gives_one_mask_per_frame_in_order(real_models, tmp_path):
    video = tmp_path / "clip.avi"
    frames = [cv2.imread(str(LUCIA / f"{i:05d}.jpg")) for i in range(6)]
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    out = tmp_path / "vid"
    r = bgblur("mask", "--input", video, "--output", out, "--engine", "selfie-landscape")
    assert r.returncode == 0, r.stderr
    masks = [read(out / f"{i:05d}_mask.png") for i in range(6)]
    assert len(list(out.iterdir())) == 6 and all(m.shape == (h, w) for m in masks)


@pytest.mark.parametrize("args, words", [
    (["--input", "/nonexistent/photo.jpg", "--output", "x.png"], "cannot read '/nonexistent/photo.jpg': no such file"),
    (["--input", "/nonexistent/clip.mp4", "--output", "out"], "cannot read '/nonexistent/clip.mp4': no such file"),
    (["--input", "/nonexistent/%05d.jpg", "--output", "out"], "cannot read '/nonexistent/%05d.jpg': no images in it"),
    (["--input", "synthetic", "--output", "out"], "--input: 'synthetic' is not an image, a folder, a video or a pattern"),
    (["--input", str(DEV), "--output", "/dev/null/x"], "--output: cannot create the folder /dev/null/x"),
    (["--output", "x.png"], "--input"),
])
def test_bad_input_is_a_one_line_error(tmp_path, args, words):
    r = bgblur("mask", *args, cwd=tmp_path)
    assert r.returncode == 2 and words in r.stderr and r.stderr.count("\n") == 1

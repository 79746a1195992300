"""The default blur hides: tesseract reads the synthetic whiteboard in the input and none of it in the output.

At 640x480, 1280x720 and 1920x1080, through the real pipeline (default engine, refinement and blur),
and for privacy too. The reader gets several tries per image: the whole frame, the whiteboard cropped,
and the crop contrast-stretched, each as a block of text and as sparse text. A missing tesseract
fails these tests: it is part of the test set-up (scripts/setup.sh --test).
"""
from __future__ import annotations

import re
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from bgblur_core.blur import blur_sigma
from bgblur_core.chain import Stages
from bgblur_core.settings import validate
from bgblur_core.sources.synthetic import WHITEBOARD_TEXT, synthetic_frame, synthetic_person_mask

SIZES = [(640, 480), (1280, 720), (1920, 1080)]
FRAME = 37  # the person stands right of the whiteboard: all of its writing is visible
WORDS = {w.lower() for line in WHITEBOARD_TEXT for w in re.findall(r"[A-Za-z]{4,}", line)}  # 7 words


def tesseract() -> str:
    path = shutil.which("tesseract")
    if path is None:
        pytest.fail("tesseract is not installed: the OCR blur test needs it (apt-get install tesseract-ocr, "
                    "or scripts/setup.sh --test)")
    return path


def read_words(image: np.ndarray, psm: int) -> set[str]:
    """The whiteboard's words that tesseract reads in `image` (page segmentation mode `psm`)."""
    ok, png = cv2.imencode(".png", image)
    assert ok
    text = subprocess.run([tesseract(), "stdin", "stdout", "--psm", str(psm)], input=png.tobytes(),
                          capture_output=True, timeout=120, check=True).stdout.decode(errors="replace")
    return {w.lower() for w in re.findall(r"[A-Za-z]+", text)} & WORDS


def whiteboard(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    return frame[60 * h // 720:400 * h // 720, 50 * w // 1280:520 * w // 1280]


def best_reading(frame: np.ndarray) -> set[str]:
    """Every word read in any of the views, in either mode."""
    crop = whiteboard(frame)
    stretched = cv2.normalize(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), None, 0, 255, cv2.NORM_MINMAX)
    return set().union(*(read_words(view, psm) for view in (frame, crop, stretched) for psm in (6, 11)))


def output(effect: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(input, output) of the default pipeline with `effect` on the synthetic scene at `size`."""
    frame = synthetic_frame(FRAME, *size)
    return frame, Stages(validate(effect=effect))(frame)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_default_blur_leaves_no_whiteboard_word_readable(real_models, size):
    frame, out = output("blur", size)
    assert read_words(frame, 6) == WORDS  # the writing is there to be read...
    assert best_reading(out) == set()  # ...and the blur hides all of it


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_person_stays_sharp_and_privacy_blurs_them_as_strongly(real_models, size):
    frame, blurred = output("blur", size)
    _, private = output("privacy", size)
    person = synthetic_person_mask(FRAME, *size)
    inside = cv2.erode(person, np.ones((size[1] // 30, size[1] // 30), np.uint8)) == 255  # away from the edge
    reach = 2 * round(4 * blur_sigma(1.5, size[1])) + 1  # the blur's reach: the person's colours are kept out within it
    background = cv2.dilate(Stages(validate()).alpha(frame), np.ones((reach, reach), np.uint8)) == 0
    changed = np.abs(blurred.astype(int) - frame.astype(int)).max(axis=2) > 2
    assert changed[inside].mean() < 0.001  # the person as the camera saw them
    assert sharpness(blurred, inside) > 0.95 * sharpness(frame, inside)
    assert background.mean() > 0.3  # privacy: the background's blur, the same strength...
    assert np.abs(private[background].astype(int) - blurred[background]).max() <= 2  # (rounding)
    assert sharpness(private, inside) < 0.1 * sharpness(frame, inside)  # ...over the person too
    assert best_reading(private) == set()


def sharpness(image: np.ndarray, region: np.ndarray) -> float:
    return float(np.abs(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_32F))[region].mean())

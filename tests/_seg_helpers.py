"""Shared helpers for the segmentation tests: evaluation data and the CLI."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from bgblur_core.chain import Stages
from bgblur_core.settings import validate

ROOT = Path(__file__).resolve().parents[1]
EVALDATA = ROOT.parent / "shared" / "evaldata"
DEV = EVALDATA / "dev"
LUCIA = EVALDATA / "video" / "davis_lucia"
BGBLUR = [sys.executable, "-m", "bgblur_core"]


def bgblur(*args, timeout=300, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*BGBLUR, *map(str, args)], capture_output=True, text=True, timeout=timeout, **kw)


def dev_set() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, photo, mask) for every photo of ../shared/evaldata/dev."""
    photos = sorted(DEV.glob("*.jpg"))
    assert photos, f"no evaluation photos under {DEV}: ../shared must sit beside the project"
    return [(p.stem, cv2.imread(str(p)), cv2.imread(str(p.with_name(p.stem + "_mask.png")), cv2.IMREAD_GRAYSCALE))
            for p in photos]


def lucia() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The 70 frames of davis_lucia and their human masks."""
    frames = sorted(p for p in LUCIA.glob("*.jpg"))
    assert len(frames) == 70, f"davis_lucia frames missing under {LUCIA}"
    return ([cv2.imread(str(p)) for p in frames],
            [cv2.imread(str(p.with_name(p.stem + "_mask.png")), cv2.IMREAD_GRAYSCALE) for p in frames])


def photo_alphas(settings, photos) -> list[np.ndarray]:
    """The alpha of each photo on its own (no temporal state between unrelated photos)."""
    stages = Stages(settings)
    out = []
    for photo in photos:
        if stages.refiner is not None:
            stages.refiner.reset()
        out.append(stages.alpha(photo))
    return out


def raw_settings(**kw):
    """The raw model: its probability cut at 0.5 and scaled to the frame, no refinement."""
    return validate(refine="off", **kw)

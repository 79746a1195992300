"""Where bgblur keeps its files: the one cache-directory function."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The bgblur cache folder (models, the learned background): $BGBLUR_CACHE_DIR, else
    $XDG_CACHE_HOME/bgblur/models, else ~/.cache/bgblur/models."""
    if os.environ.get("BGBLUR_CACHE_DIR"):
        return Path(os.environ["BGBLUR_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bgblur" / "models"

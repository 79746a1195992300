"""One-line messages for the user, on stderr."""
from __future__ import annotations

import sys


def log(message: str) -> None:
    """One line for the user, on stderr."""
    print(f"bgblur: {message}", file=sys.stderr, flush=True)

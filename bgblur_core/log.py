"""The core's two output channels: one-line messages on stderr, JSON event lines on stdout.

Several threads write (the pipeline, the control adapters, sender threads): one lock serialises
them, and every line is written whole with a single write and flush.
"""
from __future__ import annotations

import json
import sys
import threading

_lock = threading.Lock()


def _write(stream, line: str) -> None:
    with _lock:
        try:
            stream.write(line)
            stream.flush()
        except (OSError, ValueError):  # the reader is gone (broken pipe, closed): nobody to tell
            pass


def log(message: str) -> None:
    """One line for the user, on stderr."""
    _write(sys.stderr, f"bgblur: {' '.join(message.splitlines())}\n")


def stats_line(status: dict) -> None:
    """A status as one JSON line on stderr (`--stats`), never split by another thread's message."""
    _write(sys.stderr, json.dumps(status) + "\n")


def event_line(event: dict) -> None:
    """One event as one whole JSON line on stdout: the only writer of stdout event lines."""
    _write(sys.stdout, json.dumps(event) + "\n")

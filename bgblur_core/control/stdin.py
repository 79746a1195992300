"""stdin control: one JSON control message per line in; events as JSON lines on stdout.

When stdin closes (the parent died or let go) the pipeline stops, so no orphan is left.
"""
from __future__ import annotations

import json
import sys
import threading

from .messages import MessageError, parse_line


def start(pipeline, stream=None) -> threading.Thread:
    stream = stream or sys.stdin

    def read() -> None:
        for line in stream:
            if not line.strip():
                continue
            try:
                pipeline.submit(parse_line(line))
            except MessageError as e:
                pipeline.error(f"ignored control message: {e}")
        pipeline.stop()

    thread = threading.Thread(target=read, name="stdin-control", daemon=True)
    thread.start()
    return thread


def print_events(event: dict) -> None:
    """A pipeline listener: each event as one JSON line on stdout, for the OBS script."""
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()

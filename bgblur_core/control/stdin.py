"""stdin control: one JSON control message per line in; events as JSON lines on stdout.

Lines are read as bytes, bounded in length and decoded leniently; a bad line, or any error in
handling one, is one logged line and the next line is read as usual. When stdin closes (the
parent died or let go) the pipeline stops, so no orphan is left.
"""
from __future__ import annotations

import os
import sys
import threading
from functools import partial

from ..log import event_line, log
from .messages import MAX_LINE, MessageError, parse_line


def lines(read, limit: int = MAX_LINE):
    """The lines of a byte stream, from `read(n)` (b"" at its end); a line longer than `limit` is
    yielded cut just past it (parse_line rejects it) and the rest of it is skipped."""
    buf, skipping = b"", False
    while chunk := read(65536):
        buf += chunk
        while (end := buf.find(b"\n")) >= 0:
            line, buf = buf[:end + 1], buf[end + 1:]
            if not skipping:
                yield line
            skipping = False
        if len(buf) > limit:
            if not skipping:
                yield buf[:limit + 1]
            buf, skipping = b"", True
    if buf and not skipping:
        yield buf


def start(pipeline, stream=None) -> threading.Thread:
    """Read control lines on a thread: from `stream` (a binary file), else straight from fd 0.

    fd 0 is read with os.read, not through sys.stdin: a daemon thread blocked inside sys.stdin's
    buffer holds its lock, and Python then aborts at exit ("could not acquire lock for <stdin>").
    """
    read = partial(os.read, sys.stdin.fileno()) if stream is None else getattr(stream, "read1", stream.read)

    def run() -> None:
        try:
            for line in lines(read):
                try:
                    if line.strip():
                        pipeline.submit(parse_line(line))
                except MessageError as e:
                    pipeline.error(f"ignored control message: {e}")
                except Exception as e:  # a bug must not end control: say it and read on
                    log(f"stdin control: ignored a line after an internal error: {type(e).__name__}: {e}"[:300])
        except Exception as e:  # reading itself failed: as if stdin closed
            log(f"stdin control: cannot read stdin ({type(e).__name__}); stopping")
        finally:
            pipeline.stop()

    thread = threading.Thread(target=run, name="stdin-control", daemon=True)
    thread.start()
    return thread


def print_events(event: dict) -> None:
    """A pipeline listener: each event as one JSON line on stdout, for the OBS script."""
    event_line(event)

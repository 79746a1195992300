"""Why a path cannot be read as a file, in a few words: one answer for inputs, models and settings files."""
from __future__ import annotations

import os
import stat

_SPECIAL = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def file_problem(path: str) -> str | None:
    """None when `path` is a readable regular file; else e.g. "no such file" or "it is a directory".

    Never opens anything but a regular file: opening a FIFO would wait for a writer forever.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as e:
        return (e.strerror or str(e)).lower()
    for test, kind in _SPECIAL:
        if test(mode):
            return f"it is {kind}" + ("" if kind == "a directory" else ", not a regular file")
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as e:
        return (e.strerror or str(e)).lower()
    return None

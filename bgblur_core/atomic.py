"""Files written whole or not at all: a temporary name beside the target, moved into place only
after a successful, verified close; on any write error the temporary file is removed.

OpenCV's VideoWriter does not report write errors (a full disk only logs a warning), so a video
is verified after release: its top-level boxes (.mp4) or RIFF chunks (.avi) must end exactly at
the end of the file and hold the index the writer adds last (moov / idx1), and OpenCV must read
back the frame count that was written.
"""
from __future__ import annotations

import os
import struct

import cv2
import numpy as np

from .errors import StageError


def _why(e: OSError) -> str:
    return (e.strerror or str(e)).lower()


def writable_temp(path: str) -> str:
    """A temp name next to `path`, created and checked now so a bad path fails before any processing."""
    folder = os.path.dirname(os.path.abspath(path))
    stem, ext = os.path.splitext(os.path.basename(path))
    if os.path.isdir(path):
        raise StageError(f"output: cannot write {path!r}: it is a directory")
    if not os.path.isdir(folder):
        why = "its folder is not a folder" if os.path.exists(folder) else "no such folder"
        raise StageError(f"output: cannot write {path!r}: {why}")
    temp = os.path.join(folder, f".{stem}.part{ext}")
    try:
        with open(temp, "wb"):
            pass
    except OSError as e:
        raise StageError(f"output: cannot write {path!r}: {_why(e)}") from None
    return temp


def discard(temp: str) -> None:
    try:
        os.remove(temp)
    except FileNotFoundError:
        pass


def write_failed(path: str, why: str) -> StageError:
    return StageError(f"output: cannot finish {path!r}: {why}; the partial file was removed")


def _top_level(f, total: int, riff: bool) -> list[tuple[bytes, int, int]] | None:
    """(kind, start, end) of each top-level box or chunk; None when one runs past the end of the file."""
    parts, pos = [], 0
    while pos < total:
        f.seek(pos)
        head = f.read(16)
        if len(head) < 8:
            return None
        if riff:
            kind, size = struct.unpack("<4sI", head[:8])
            end = pos + 8 + size + (size & 1)
        else:
            size, kind = struct.unpack(">I4s", head[:8])
            if size == 1 and len(head) == 16:
                size = struct.unpack(">Q", head[8:16])[0]
            end = pos + size if size >= 8 else total + 1  # size 0 ("to the end") is never written by a finished file
        if end > total:
            return None
        parts.append((kind, pos, end))
        pos = end
    return parts


def container_whole(path: str) -> bool:
    """Whether an .mp4 or .avi file ends exactly where its boxes/chunks say and holds its index."""
    riff = path.lower().endswith(".avi")
    total = os.path.getsize(path)
    with open(path, "rb") as f:
        parts = _top_level(f, total, riff)
        if not parts:
            return False
        if not riff:
            return any(kind == b"moov" for kind, _, _ in parts)
        kind, start, end = parts[0]
        # inside 'RIFF' size 'AVI ': hdrl, movi, idx1
        inner = _top_level(_Window(f, start + 12), end - start - 12, True)
        return kind == b"RIFF" and bool(inner) and any(k == b"idx1" for k, _, _ in inner)


class _Window:
    """A file seen from `offset` on, for walking the chunks inside a RIFF chunk."""

    def __init__(self, f, offset: int):
        self.f, self.offset = f, offset

    def seek(self, pos: int) -> None:
        self.f.seek(self.offset + pos)

    def read(self, n: int) -> bytes:
        return self.f.read(n)


def video_complete(path: str, frames: int) -> bool:
    """Whether a video just written holds all `frames`: whole container, and OpenCV reads the count back."""
    if not container_whole(path):
        return False
    cap = cv2.VideoCapture(path)
    try:
        return cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == frames
    finally:
        cap.release()


def write_bytes(temp: str, data: bytes) -> None:
    """Write and flush to disk, so a full disk raises OSError here and not later."""
    with open(temp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_image(path: str, image: np.ndarray) -> None:
    """Encode and write an image whole (temp name, then rename); one-line StageError on failure."""
    temp = writable_temp(path)
    try:
        ok, data = cv2.imencode(os.path.splitext(path)[1].lower(), image)
        if not ok:
            raise write_failed(path, "OpenCV cannot encode this format")
        write_bytes(temp, data.tobytes())
        os.replace(temp, path)
    except OSError as e:
        discard(temp)
        raise write_failed(path, _why(e)) from None
    except BaseException:
        discard(temp)
        raise

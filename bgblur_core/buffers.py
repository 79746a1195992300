"""Arrays reused from frame to frame, by name: a hot loop should not allocate (fresh pages cost)."""
from __future__ import annotations

import numpy as np


class Buffers:
    def __init__(self):
        self._arrays: dict[str, np.ndarray] = {}

    def __call__(self, name: str, shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
        """An array of exactly `shape` and `dtype`, reallocated only when they change."""
        a = self._arrays.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self._arrays[name] = np.empty(shape, dtype)
        return a

    def view(self, name: str, shape: tuple[int, ...], dtype=np.uint8) -> np.ndarray:
        """A view of `shape` into a buffer that only grows (for bands of varying height)."""
        big = self._arrays.get(name)
        if big is None or big.dtype != dtype or big.shape[2:] != shape[2:] or big.shape[0] < shape[0] or big.shape[1] < shape[1]:
            rows = max(shape[0], 0 if big is None else big.shape[0])
            cols = max(shape[1], 0 if big is None else big.shape[1])
            big = self._arrays[name] = np.empty((rows, cols, *shape[2:]), dtype)
        return big[:shape[0], :shape[1]]

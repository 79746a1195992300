"""Per-second pipeline figures."""
from __future__ import annotations

import time

STAGES = ("capture", "segment", "refine", "compose", "output")


class Stats:
    """Per-second figures: fps, per-stage wall ms, CPU ms per frame and capture-to-output latency."""

    def __init__(self):
        self.frames = 0
        self.dropped = 0
        self._reset(time.monotonic())

    def _reset(self, now: float) -> None:
        self._t0, self._cpu0, self._n = now, time.process_time(), 0
        self._ms = dict.fromkeys(STAGES, 0.0)
        self._latency = 0.0

    def add(self, stage_ms: dict[str, float], latency_s: float) -> None:
        self.frames += 1
        self._n += 1
        for k, v in stage_ms.items():
            self._ms[k] += v
        self._latency += latency_s

    def pending(self) -> bool:
        return self._n > 0

    def due(self, period: float = 1.0) -> bool:
        return time.monotonic() - self._t0 >= period

    def snapshot(self) -> dict:
        now = time.monotonic()
        n = max(self._n, 1)
        snap = {
            "fps": round(self._n / max(now - self._t0, 1e-9), 2),
            "cpu_ms": round((time.process_time() - self._cpu0) * 1000 / n, 2),
            "latency_ms": round(self._latency * 1000 / n, 2),
            "stage_ms": {k: round(v / n, 2) for k, v in self._ms.items()},
            "frames": self.frames,
            "dropped": self.dropped,
        }
        self._reset(now)
        return snap

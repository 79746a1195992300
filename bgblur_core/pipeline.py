"""The pipeline: owns the stages, timing, stats, settings changes and commands.

Control adapters only call `submit()`; everything else happens on the pipeline's thread.
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Callable

import numpy as np

from .chain import Stages, lap
from .control.messages import Control
from .log import log
from .segment import make_segmenter
from .settings import BY_NAME, ENGINES, Settings, SettingsError, next_engine
from .stages import StageError
from .stats import Stats

__all__ = ["Pipeline", "Stages", "log"]
REOPEN_SOURCE = {"input", "width", "height", "fps", "mjpg", "loop"}
REOPEN_SINKS = {"output", "vcam_device", "vcam_backend", "fps"}
STAGE_GROUPS = {"engine", "refine", "effect"}  # settings groups the per-frame stages are built from


class Pipeline:
    def __init__(self, settings: Settings, open_source: Callable, open_sinks: Callable):
        self._open_source, self._open_sinks = open_source, open_sinks
        self.controls: queue.Queue[Control] = queue.Queue()
        self.listeners: list[Callable[[dict], None]] = []
        self.stats = Stats()
        self.last_error = ""
        self._stop = threading.Event()
        self._fps_label = 0.0
        self._last_out = None
        self._learning: list[np.ndarray] | None = None
        self._privacy_restore: str | None = None
        self.last: tuple[np.ndarray, np.ndarray] | None = None  # (input, output) of the latest frame
        self.stages = self._build_with_fallback(settings)
        self.settings = self.stages.settings
        self.source = open_source(self.settings)
        try:
            self.sinks = open_sinks(self.settings, self.source.size, self.source.fps)
        except BaseException:
            self.source.close()
            raise

    # -- settings and commands --------------------------------------------------------
    def _build_with_fallback(self, settings: Settings) -> Stages:
        """At start, a neural or plate engine that cannot be built falls back to hsv, saying so."""
        try:
            segmenter = make_segmenter(settings)
        except StageError as e:
            if settings.engine == "hsv":
                raise
            self.error(f"{e}; falling back to the hsv engine")
            settings = settings.replace({"engine": "hsv"})
            segmenter = make_segmenter(settings)
        return Stages(settings, segmenter)

    def submit(self, control: Control) -> None:
        """Thread-safe: queue a validated change or command for the pipeline's thread."""
        self.controls.put(control)

    def error(self, message: str) -> None:
        self.last_error = message
        log(message)
        self._emit({"error": message})

    def apply(self, changes: dict) -> bool:
        """Apply a settings change; on any error keep running on the previous settings."""
        if not changes:
            return True
        try:
            new = self.settings.replace(changes)
        except SettingsError as e:
            self.error(str(e))
            return False
        changed = set(self.settings.diff(new))
        if not changed:
            return True
        try:
            rebuild = any(BY_NAME[k].group in STAGE_GROUPS for k in changed)
            stages = Stages(new).reuse_from(self.stages) if rebuild else self.stages
            source = self._open_source(new) if changed & REOPEN_SOURCE else None
        except (StageError, SettingsError) as e:
            self.error(f"{e}; keeping the previous settings")
            return False
        if source is not None:
            self.source.close()
            self.source = source
        self.last_error = ""
        if changed & REOPEN_SINKS or source is not None:
            for sink in self.sinks:  # first, so a new sink can take the same port or device
                sink.close()
            try:
                self.sinks = self._open_sinks(new, self.source.size, self.source.fps)
            except StageError as e:
                self.error(f"{e}; keeping the previous output")
                new = new.replace({k: self.settings[k] for k in REOPEN_SINKS})
                self.sinks = self._open_sinks(new, self.source.size, self.source.fps)
        self.stages, self.settings = stages, new
        return not self.last_error

    def command(self, name: str) -> None:
        s = self.settings
        if name == "toggle":
            self.apply({"enabled": not s.enabled})
        elif name == "privacy":
            if s.effect == "privacy":
                self.apply({"effect": self._privacy_restore or "blur"})
            else:
                self._privacy_restore = s.effect
                self.apply({"effect": "privacy", "enabled": True})
        elif name == "cycle_engine":  # skipping engines that cannot run here (no model, no plate)
            engine = s.engine
            for _ in ENGINES[1:]:
                engine = next_engine(engine, ENGINES)
                if self.apply({"engine": engine}):
                    break
        elif name == "learn_background":
            self._learning = []
            log("learning the background: step out of the picture for a second")
        else:  # for the adapters (create_source: the obs-websocket one)
            self._emit({"command": name})

    def _drain_controls(self) -> None:
        while True:
            try:
                control = self.controls.get_nowait()
            except queue.Empty:
                return
            self.apply(control.changes)
            if control.command:
                self.command(control.command)

    def _learn(self, frame: np.ndarray) -> None:
        self._learning.append(frame.copy())
        if len(self._learning) < max(10, self.settings.fps):
            return
        from .segment.plate import learn_plate
        frames, self._learning = self._learning, None
        try:
            path = learn_plate(frames, self.settings)
        except StageError as e:
            self.error(str(e))
            return
        log(f"background learned and saved to {path}")
        if self.settings.engine == "plate":
            self.stages = Stages(self.settings)

    # -- frames ------------------------------------------------------------------------
    def process(self, frame: np.ndarray, stage_ms: dict[str, float] | None = None) -> np.ndarray:
        return self.stages(frame, stage_ms, self._fps_label)

    def step(self) -> bool:
        """Read, process and send one frame; False at end of input."""
        self._drain_controls()
        t0 = time.perf_counter()
        got = self.source.read()
        if got is None:
            return False
        frame, captured = got
        ms: dict[str, float] = {}
        t = lap(ms, "capture", t0)
        if self._learning is not None:
            self._learn(frame)
        # A camera placeholder ("reconnecting") is shown as it is, not blurred away.
        out = frame if self.source.placeholder else self.process(frame, ms)
        t = time.perf_counter()
        for sink in self.sinks:
            sink.send(out)
            if sink.stop_requested:
                self.stop()
        lap(ms, "output", t)
        now = time.monotonic()
        if self._last_out is not None:
            self._fps_label = 1.0 / max(now - self._last_out, 1e-6)
        self._last_out = now
        self.stats.add(ms, now - captured)
        self.stats.dropped = self.source.dropped + self.source.skipped
        self.last = (frame, out)
        return True

    def status(self, snapshot: dict | None = None) -> dict:
        s = self.settings
        return {"engine": s.engine, "effect": s.effect, "enabled": s.enabled,
                "input": self.source.name, "output": s.output,
                "last_error": self.last_error, **(snapshot or {})}

    def _emit(self, event: dict) -> None:
        for listener in self.listeners:
            listener(event)

    def stop(self) -> None:
        self._stop.set()

    def run(self, max_frames: int | None = None) -> int:
        """Run until stop(), end of input or max_frames; returns the number of frames sent."""
        sent = 0
        try:
            while not self._stop.is_set() and (max_frames is None or sent < max_frames):
                if not self.step():
                    break
                sent += 1
                if self.stats.due():
                    self._emit({"status": self.status(self.stats.snapshot())})
            if self.stats.pending():
                self._emit({"status": self.status(self.stats.snapshot())})
        finally:
            self.close()
        return sent

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
        self.sinks = []
        self.source.close()

"""The pipeline: owns the stages, timing, stats, settings changes and commands.

Control adapters see it only through `PipelinePort` (pipeline_api.py): they submit `Control`s,
subscribe to events, read `status()` and report errors. Everything else happens on the
pipeline's thread. Queued changes are coalesced: before each frame, every change waiting is
merged and applied once, so a burst costs at most one rebuild per frame, and only of the stages
it touches. A control whose values do not validate is reported in one line and dropped, the rest
of the burst applies; a merged change whose stage cannot be built (a missing image or model)
keeps the previous settings as a whole.
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Callable

import numpy as np

from .chain import Stages
from .log import log
from .pipeline_api import Control, Listener
from .seed import draw_fps
from .segment import engine_rule
from .settings import BY_NAME, ENGINES, Settings, SettingsError, next_engine
from .sinks import close_all
from .stages import EngineError, StageError, describe, lap
from .stats import Stats

__all__ = ["Pipeline", "Stages", "Control", "log"]
FALLBACK_ENGINE = "hsv"  # needs no model and no learned background: it always starts


class Pipeline:
    def __init__(self, settings: Settings, open_source: Callable, open_sinks: Callable):
        self._open_source, self._open_sinks = open_source, open_sinks
        self.controls: queue.Queue[Control] = queue.Queue()
        self.listeners: list[Listener] = []
        self.stats = Stats()
        self.last_error = ""
        self.builds = 0  # how many times stages were (re)built: each costs a frame's time at most
        self._stop = threading.Event()
        self._fps_label = 0.0
        self._last_out = None
        self._learning: list[np.ndarray] | None = None
        self._privacy_restore: str | None = None
        self.last: tuple[np.ndarray, np.ndarray] | None = None  # (input, output) of the latest frame
        self.stages: Stages | None = None
        self.stages = self._build_with_fallback(settings)
        self.settings = self.stages.settings
        self.source = open_source(self.settings)
        try:
            self.sinks = open_sinks(self.settings, self.source.size, self.source.fps)
        except BaseException:
            self.source.close()
            raise

    # -- the adapters' interface (PipelinePort) ----------------------------------------
    def submit(self, control: Control) -> None:
        """Thread-safe: queue a validated change or command for the pipeline's thread."""
        self.controls.put(control)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener) if listener in self.listeners else None

    def status(self, snapshot: dict | None = None) -> dict:
        s = self.settings
        return {"engine": s.engine, "effect": s.effect, "enabled": s.enabled,
                "input": self.source.name, "input_lost": self.source.placeholder, "output": s.output,
                "vcam_device": next((d for d in (getattr(k, "device", "") for k in self.sinks) if d), ""),
                "last_error": self.last_error, **(snapshot or {})}

    def error(self, message: str) -> None:
        self.last_error = message
        log(message)
        self._emit({"error": message})

    def resolved(self, message: str) -> None:
        if self.last_error == message:
            self.last_error = ""

    # -- settings and commands --------------------------------------------------------
    def _build(self, settings: Settings, segmenter: bool = False) -> Stages:
        """Stages for `settings`: the first built whole, later ones sharing what a change does not touch."""
        stages = Stages(settings) if self.stages is None else self.stages.rebuilt(settings, segmenter)
        self.builds += 1
        return stages

    def _build_with_fallback(self, settings: Settings) -> Stages:
        """At start, an engine that cannot be built (no model, no plate, a broken dependency) falls
        back to hsv, saying so in one line."""
        try:
            return self._build(settings)
        except EngineError as e:
            if settings.engine == FALLBACK_ENGINE:
                raise
            self.error(f"{e}; falling back to the {FALLBACK_ENGINE} engine")
        return self._build(settings.replace({"engine": FALLBACK_ENGINE}))

    def apply(self, changes: dict) -> bool:
        """Apply a settings change, rebuilding only the stages it touches; on any error keep
        running on the previous settings."""
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
        touched = {BY_NAME[k].stage for k in changed}
        try:
            stages = self._build(new) if touched & {"segmenter", "refiner", "compositor"} else self.stages
            source = self._open_source(new) if "source" in touched else None
        except (StageError, SettingsError) as e:
            self.error(f"{e}; keeping the previous settings")
            return False
        except Exception as e:  # a bug or a broken dependency in a stage: still one line
            self.error(f"cannot apply {', '.join(sorted(changed))}: {describe(e)}; keeping the previous settings")
            return False
        if source is not None:
            self.source.close()
            self.source = source
            stages.reset()  # a new sequence: no temporal or recurrent state carries over
        self.last_error = ""
        if "sink" in touched or source is not None:
            try:
                close_all(self.sinks)  # first, so a new sink can take the same port or device
            except StageError as e:  # a file that could not be finished (a full disk): say so, go on
                self.error(str(e))
            try:
                self.sinks = self._open_sinks(new, self.source.size, self.source.fps)
            except StageError as e:
                self.error(f"{e}; keeping the previous output")
                new = new.replace({k: self.settings[k] for k in BY_NAME if BY_NAME[k].stage == "sink"})
                self.sinks = self._open_sinks(new, self.source.size, self.source.fps)
        self.stages, self.settings = stages, new
        return not self.last_error

    def command(self, name: str) -> None:
        if name in ("toggle", "privacy"):
            self.apply(self._command_changes(name, self.settings))
        elif name == "cycle_engine":  # skipping engines that cannot run here (no model, no plate)
            engine = self.settings.engine
            for _ in ENGINES[1:]:
                engine = next_engine(engine, ENGINES)
                if engine_rule(engine, "available", lambda: True)() and self.apply({"engine": engine}):
                    break
        elif name == "learn_background":
            self._learning = []
            log("learning the background: step out of the picture for a second")
        else:  # for the adapters (create_source: the obs-websocket one)
            self._emit({"command": name})

    def _command_changes(self, name: str, values) -> dict:
        """The settings change a toggle or privacy command makes when `values` are current."""
        if name == "toggle":
            return {"enabled": not values["enabled"]}
        if values["effect"] == "privacy":
            return {"effect": self._privacy_restore or "blur"}
        self._privacy_restore = values["effect"]
        return {"effect": "privacy", "enabled": True}

    def _drain_controls(self) -> None:
        """Apply every queued control: runs of changes (and toggle/privacy) merged and applied once,
        other commands in order between them."""
        run: list[Control] = []
        while not self._stop.is_set():
            try:
                control = self.controls.get_nowait()
            except queue.Empty:
                break
            run.append(control)
            if control.command not in (None, "toggle", "privacy"):
                self._apply_run(run[:-1])
                self.command(control.command)
                run = []
        self._apply_run(run)

    def _apply_run(self, controls: list[Control]) -> None:
        if not controls:
            return
        restore = self._privacy_restore
        merged = self._merge(controls, check=False)  # validated once, as a whole...
        try:
            self.settings.replace(merged)
        except SettingsError:  # ...and only when that fails, control by control, to drop the bad ones
            self._privacy_restore = restore
            merged = self._merge(controls, check=True)
        self.apply(merged)

    def _merge(self, controls: list[Control], check: bool) -> dict:
        merged: dict = {}
        for control in controls:
            if control.changes:
                try:
                    if check:
                        self.settings.replace({**merged, **control.changes})
                    merged.update(control.changes)
                except SettingsError as e:
                    self.error(f"{e}; ignored that change")
            if control.command:
                merged.update(self._command_changes(control.command, {**self.settings, **merged}))
        return merged

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
        if getattr(self.stages.segmenter, "needs_plate", False):
            try:
                self.stages = self._build(self.settings, segmenter=True)
            except StageError as e:
                self.error(str(e))

    # -- frames ------------------------------------------------------------------------
    def process(self, frame: np.ndarray, stage_ms: dict[str, float] | None = None) -> np.ndarray:
        """One frame through the stages; an engine failing mid-stream is one line and hsv takes over."""
        try:
            return self.stages(frame, stage_ms)
        except EngineError as e:
            if self.settings.engine == FALLBACK_ENGINE:
                raise
            self.error(f"{e}; switched to the {FALLBACK_ENGINE} engine")
            if not self.apply({"engine": FALLBACK_ENGINE}):
                raise
        return self.stages(frame, stage_ms)

    def step(self) -> bool:
        """Read, process and send one frame; False at end of input."""
        self._drain_controls()
        t0 = time.perf_counter()
        got = self.source.read()
        if got is None:
            return False
        frame, captured = got
        # free the previous frame pair before making the next (50 MB at 4K); only now, so that it
        # stays readable while the source waits for the next frame
        self.last = None
        ms: dict[str, float] = {}
        t = lap(ms, "capture", t0)
        if self._learning is not None:
            self._learn(frame)
        # A camera placeholder ("reconnecting") is shown as it is, not blurred away.
        out = frame if self.source.placeholder else self.process(frame, ms)
        t = time.perf_counter()
        if self.settings.show_fps and out is not frame:
            draw_fps(out, self._fps_label)
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

    def _emit(self, event: dict) -> None:
        for listener in tuple(self.listeners):
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
        except StageError:
            raise
        except Exception as e:  # never a traceback: one line, and the caller exits non-zero
            raise StageError(f"the pipeline stopped: {describe(e)}") from e
        finally:
            self.close()
        return sent

    def close(self) -> None:
        sinks, self.sinks = self.sinks, []
        try:
            close_all(sinks)
        finally:
            self.source.close()

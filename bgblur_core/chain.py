"""The per-frame chain: Segmenter -> Refiner -> Compositor, built from one Settings.

Each stage is rebuilt on its own: `Stages.rebuilt(settings)` rebuilds only the stages whose
settings changed (`Setting.stage`) and shares the others, so a blur change never reloads the
model and the refiner's temporal state lives on while the segmenter does. Engine rules are read
from the segmenter's class (`refine_auto`, `matte`, `snap_fit`, `uses`), not decided here.
"""
from __future__ import annotations

import time

import cv2
import numpy as np

from .compose import Compositor
from .refine import make_refiner
from .segment import make_segmenter
from .settings import BY_NAME, Settings
from .stages import Box, EngineError, FrameContext, lap

__all__ = ["Stages", "FrameContext", "apply_threads", "lap"]
ALWAYS_REBUILD_SEGMENTER = {"engine", "threads"}  # the engine itself, and the threads its runtime is built with


def apply_threads(threads: int) -> None:
    """OpenCV's worker threads for the per-frame work (setting `threads`; 0: one per core).

    One thread costs the least CPU per frame: the per-frame calls are short, and waking and
    joining workers for each costs more than the work they share (about 20% more CPU with two)."""
    n = threads if threads > 0 else -1  # cv2: -1 resets to one per core
    if threads == 0 or cv2.getNumThreads() != n:
        cv2.setNumThreads(n)


def build_segmenter(settings: Settings):
    """The engine's segmenter; any failure (a missing model, a broken dependency) is one EngineError."""
    apply_threads(settings.threads)
    try:
        return make_segmenter(settings)
    except Exception as e:
        raise EngineError(settings.engine, "starting", e) from e


def refiner_for(settings: Settings, segmenter):
    """The refiner `settings` ask for, by the engine's rules (`refine_auto`, `matte`, `snap_fit`)."""
    return make_refiner(settings, getattr(segmenter, "refine_auto", True), getattr(segmenter, "matte", False),
                        getattr(segmenter, "snap_fit", None))


class Stages:
    """The per-frame stages built from one Settings: segmenter, refiner and compositor."""

    def __init__(self, settings: Settings, segmenter=None, refiner=None, compositor=None):
        self.settings = settings
        self.segmenter = segmenter if segmenter is not None else build_segmenter(settings)
        self.refiner = refiner if refiner is not None else refiner_for(settings, self.segmenter)
        self.compositor = compositor if compositor is not None else Compositor(settings, hard=self.refiner.hard)

    def touches_segmenter(self, changed) -> bool:
        uses = getattr(self.segmenter, "uses", None)  # None: every segmenter setting
        return any(k in ALWAYS_REBUILD_SEGMENTER or (BY_NAME[k].stage == "segmenter" and (uses is None or k in uses))
                   for k in changed)

    def rebuilt(self, settings: Settings, segmenter: bool = False) -> "Stages":
        """The stages for `settings`, sharing the ones the change does not touch (`segmenter`: rebuild
        it anyway, e.g. after learning a background). Self is left as it was if anything fails."""
        changed = set(self.settings.diff(settings))
        touched = {BY_NAME[k].stage for k in changed}
        new_segmenter = segmenter or self.touches_segmenter(changed)
        seg = build_segmenter(settings) if new_segmenter else self.segmenter
        refiner = None
        if "refiner" in touched or type(seg) is not type(self.segmenter):
            refiner = refiner_for(settings, seg)
            if type(seg) is type(self.segmenter):  # the same kind of masks: carry the temporal state on
                refiner.adopt(self.refiner)
        hard = (refiner or self.refiner).hard
        compositor = None if "compositor" in touched or hard != self.refiner.hard else self.compositor
        return Stages(settings, seg, refiner or self.refiner, compositor)

    def reset(self) -> None:
        """A new sequence starts (the source changed): forget temporal and recurrent state."""
        reset = getattr(self.segmenter, "reset", None)
        if reset is not None:
            reset()
        self.refiner.reset()

    def segment(self, ctx: FrameContext) -> np.ndarray:
        """The segmenter's mask of the frame (any size, 255 = person)."""
        t = time.perf_counter()
        try:
            mask = self.segmenter(ctx.frame, ctx.pyramid)
        except Exception as e:
            raise EngineError(self.settings.engine, "running", e) from e
        ctx.lap("segment", t)
        return mask

    def masked(self, ctx: FrameContext) -> tuple[np.ndarray, Box]:
        """Segment and refine: the alpha at frame size (a reused buffer) and its box."""
        mask = self.segment(ctx)
        t = time.perf_counter()
        alpha_box = self.refiner(mask, ctx)
        ctx.lap("refine", t)
        return alpha_box

    def alpha(self, frame: np.ndarray) -> np.ndarray:
        """The alpha the compositor applies to `frame`: uint8 at frame size, 255 = person (a fresh array)."""
        return self.masked(FrameContext(frame))[0].copy()

    def __call__(self, frame: np.ndarray, stage_ms: dict[str, float] | None = None) -> np.ndarray:
        """One frame through segmenter, refiner and compositor; per-stage ms added to `stage_ms`.

        The frame's halvings (`Pyramid`) are made once and shared by the stages."""
        ctx = FrameContext(frame, stage_ms)
        s = self.settings
        alpha, box = None, None
        if s.enabled and s.effect not in ("privacy", "none"):
            alpha, box = self.masked(ctx)
        t = time.perf_counter()
        out = self.compositor(frame, alpha, ctx.pyramid, box)
        ctx.lap("compose", t)
        return out

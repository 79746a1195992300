"""Never a traceback: any exception while building or running an engine is one line and the core
goes on (at start: on hsv; on a change: on the previous settings; mid-stream: on hsv).

Exceptions are injected where an engine is made (the registry's factory, the model loader's seat)
and where it runs (the segmenter's call), in-process and in a real `python -m bgblur_core run`."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from bgblur_core import segment
from bgblur_core.runner import make_pipeline
from bgblur_core.settings import validate
from bgblur_core.stages import EngineError

FAULTS = [AttributeError("module 'cv2.dnn' has no attribute 'ENGINE_CLASSIC'"), ImportError("No module named 'ai_edge_litert'"),
          RuntimeError("XNNPACK delegate failed"), ValueError("cannot reshape array of size 0"), MemoryError()]
IDS = [type(e).__name__ for e in FAULTS]


def settings(**kw):
    return validate({"input": "synthetic", "output": "null", "width": 320, "height": 240, **kw})


def failing_factory(fault):
    def factory(_settings):
        raise fault
    return factory


class Exploding:
    """A segmenter that works for `good` frames, then raises `fault` on every call."""

    def __init__(self, fault, good=2):
        self.fault, self.good, self.calls = fault, good, 0

    def __call__(self, frame, pyramid=None):
        self.calls += 1
        if self.calls > self.good:
            raise self.fault
        return np.full(frame.shape[:2], 255, np.uint8)


def one_line(text: str, *needles: str) -> None:
    assert "\n" not in text and "Traceback" not in text
    for needle in needles:
        assert needle in text, (needle, text)


@pytest.mark.parametrize("fault", FAULTS, ids=IDS)
def test_an_engine_that_fails_to_start_falls_back_to_hsv_in_one_line(monkeypatch, fault):
    monkeypatch.setitem(segment.ENGINES, "selfie", failing_factory(fault))
    p = make_pipeline(settings(engine="selfie"))
    try:
        assert p.settings.engine == "hsv" and p.step()
        one_line(p.last_error, "engine selfie", type(fault).__name__, "falling back to the hsv engine", "bgblur doctor")
    finally:
        p.close()


@pytest.mark.parametrize("fault", FAULTS, ids=IDS)
def test_an_engine_that_fails_on_a_change_keeps_the_previous_settings(monkeypatch, fault):
    monkeypatch.setitem(segment.ENGINES, "selfie", failing_factory(fault))
    p = make_pipeline(settings(engine="hsv"))
    try:
        stages = p.stages
        assert not p.apply({"engine": "selfie", "blur_strength": 3.0})
        assert p.settings.engine == "hsv" and p.settings.blur_strength != 3.0 and p.stages is stages
        one_line(p.last_error, "engine selfie", type(fault).__name__, "keeping the previous settings")
        assert p.step()
    finally:
        p.close()


@pytest.mark.parametrize("fault", FAULTS, ids=IDS)
def test_an_engine_that_fails_mid_stream_is_one_line_and_hsv_takes_over(monkeypatch, fault):
    exploding = Exploding(fault)
    monkeypatch.setitem(segment.ENGINES, "selfie", lambda _s: exploding)
    p = make_pipeline(settings(engine="selfie"))
    events = []
    p.subscribe(events.append)
    try:
        for _ in range(5):
            assert p.step()  # every frame is sent, the failing one included
        assert exploding.calls == 3 and p.settings.engine == "hsv" and p.stats.frames == 5
        errors = [e["error"] for e in events if "error" in e]
        assert len(errors) == 1
        one_line(errors[0], "engine selfie failed while running", type(fault).__name__, "switched to the hsv engine")
    finally:
        p.close()


def test_a_corrupt_model_file_falls_back_to_hsv_saying_which_file(tmp_path):
    model = tmp_path / "broken.tflite"
    model.write_bytes(b"TFL3" + bytes(range(256)) * 8)
    p = make_pipeline(settings(engine="selfie", model_path=str(model)))
    try:
        assert p.settings.engine == "hsv" and p.step()
        one_line(p.last_error, str(model), "falling back to the hsv engine")
    finally:
        p.close()


def test_hsv_failing_mid_stream_is_a_one_line_error_not_a_traceback(monkeypatch):
    monkeypatch.setitem(segment.ENGINES, "hsv", lambda _s: Exploding(RuntimeError("boom"), good=0))
    p = make_pipeline(settings(engine="hsv"))
    with pytest.raises(EngineError) as e:
        p.run(3)
    one_line(str(e.value), "engine hsv failed while running", "RuntimeError: boom")


# -- in a real core process ------------------------------------------------------------------------
INJECT = """
import numpy as np
from bgblur_core import segment

class Exploding:
    def __init__(self, good):
        self.good, self.calls = good, 0
    def __call__(self, frame, pyramid=None):
        self.calls += 1
        if self.calls > self.good:
            raise {fault}
        return np.full(frame.shape[:2], 255, np.uint8)

def factory(settings):
    if {at_start}:
        raise {fault}
    return Exploding({good})

segment.register_engine("{engine}", factory)
"""


def run_core(tmp_path, fault: str, at_start: bool, engine: str = "selfie", good: int = 3, frames: int = 10):
    """`python -m bgblur_core run` with the fault injected through a sitecustomize module."""
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent(INJECT.format(fault=fault, at_start=at_start,
                                                                               good=good, engine=engine)))
    import os
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "bgblur_core", "run", "--input", "synthetic", "--output", "null",
                           "--width", "320", "--height", "240", "--engine", engine, "--frames", str(frames), "--stats"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)


@pytest.mark.parametrize("fault", ["AttributeError('no ENGINE_CLASSIC')", "ImportError('no module')",
                                   "RuntimeError('bad delegate')", "MemoryError()"])
@pytest.mark.parametrize("at_start", [True, False], ids=["at-start", "mid-stream"])
def test_a_core_process_never_shows_a_traceback(tmp_path, fault, at_start):
    r = run_core(tmp_path, fault, at_start)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    name = fault.split("(")[0]
    lines = [line for line in r.stderr.splitlines() if name in line and line.startswith("bgblur:")]
    assert len(lines) == 1, r.stderr
    assert ("falling back to the hsv engine" if at_start else "switched to the hsv engine") in lines[0]
    stats = [line for line in r.stderr.splitlines() if line.startswith("{")]
    assert stats and '"frames": 10' in stats[-1], r.stderr  # every frame went out


def test_a_core_process_whose_hsv_engine_fails_exits_2_in_one_line(tmp_path):
    r = run_core(tmp_path, "RuntimeError('boom')", at_start=False, engine="hsv", good=0)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("bgblur: error: engine hsv failed while running")


def test_any_other_failure_while_running_ends_the_run_in_one_line():
    p = make_pipeline(settings(engine="hsv"))

    def broken(*_args):
        raise ValueError("operands could not be broadcast together")
    p.stages.compositor = broken
    from bgblur_core.stages import StageError
    with pytest.raises(StageError) as e:
        p.run(3)
    one_line(str(e.value), "the pipeline stopped", "ValueError: operands could not be broadcast")

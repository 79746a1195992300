"""The pipeline's settings changes and commands, on the real synthetic source and real sinks."""
import numpy as np
import pytest

from bgblur_core.control.messages import parse
from bgblur_core.runner import make_pipeline
from bgblur_core.settings import validate


@pytest.fixture
def pipeline():
    p = make_pipeline(validate({"input": "synthetic", "output": "null", "engine": "hsv", "width": 320, "height": 240}))
    yield p
    p.close()


def run_control(p, message):
    p.submit(parse(message))
    assert p.step()
    return p.last


def test_a_setting_change_applies_on_the_next_frame(pipeline):
    before = run_control(pipeline, {"set": {"blur_kernel": 5}})
    assert pipeline.settings.blur_kernel == 5
    after = run_control(pipeline, {"set": {"effect": "none"}})
    assert np.array_equal(after[1], after[0])  # effect none passes the frame through
    assert not np.array_equal(before[1], before[0])


def test_an_invalid_change_keeps_the_previous_settings(pipeline):
    events = []
    pipeline.listeners.append(events.append)
    assert not pipeline.apply({"engine": "hsv", "blur_kernel": 4})
    assert pipeline.settings.blur_kernel == 25
    assert not pipeline.apply({"effect": "image", "background_image": "/nonexistent.png"})
    assert pipeline.settings.effect == "blur"
    assert "/nonexistent.png" in pipeline.last_error and "keeping the previous settings" in pipeline.last_error
    assert [e for e in events if "error" in e]
    assert pipeline.step()


def test_a_bad_output_keeps_the_previous_output(pipeline):
    assert not pipeline.apply({"output": "/nonexistent-dir/x.mp4"})
    assert pipeline.settings.output == "null" and [s.name for s in pipeline.sinks] == ["null"]
    assert pipeline.step()


def test_commands_toggle_privacy_and_cycle_engine(pipeline):
    run_control(pipeline, {"command": "toggle"})
    assert pipeline.settings.enabled is False
    frame, out = pipeline.last
    assert np.array_equal(frame, out)
    run_control(pipeline, {"command": "toggle"})
    assert pipeline.settings.enabled is True
    pipeline.apply({"effect": "none"})
    run_control(pipeline, {"command": "privacy"})
    assert pipeline.settings.effect == "privacy"
    run_control(pipeline, {"command": "privacy"})
    assert pipeline.settings.effect == "none"  # privacy off restores what was there
    engines = []
    for _ in range(4):
        run_control(pipeline, {"command": "cycle_engine"})
        engines.append(pipeline.settings.engine)
    # plate has no learned background here, so cycling skips it, saying why
    assert engines == ["selfie", "selfie-landscape", "hsv", "selfie"]
    assert pipeline.stages.settings.engine == "selfie"


def test_source_and_size_change_at_run_time(pipeline):
    assert pipeline.apply({"width": 160, "height": 120})
    assert pipeline.step() and pipeline.last[1].shape == (120, 160, 3)


def test_an_engine_that_cannot_start_falls_back_to_hsv_and_says_so(tmp_path):
    p = make_pipeline(validate({"input": "synthetic", "output": "null", "engine": "plate", "width": 320, "height": 240,
                                "plate_path": str(tmp_path / "none.png")}))
    try:
        assert p.settings.engine == "hsv" and p.step()
        assert "falling back to the hsv engine" in p.status()["last_error"]
        assert "\n" not in p.last_error
    finally:
        p.close()


def test_a_bad_background_image_at_start_is_an_error_not_a_fallback():
    from bgblur_core.stages import StageError
    with pytest.raises(StageError, match="/nonexistent.png"):
        make_pipeline(validate({"input": "synthetic", "output": "null", "effect": "image",
                                "background_image": "/nonexistent.png"}))

"""obs-websocket control against a real OBS 29: remote control, presets, status, auth, reconnect, source."""
import argparse
import contextlib
import threading
import time

import cv2
import numpy as np
import pytest
from obswebsocket import requests as obsreq

from bgblur_core import runner
from bgblur_core.control.messages import Control
from bgblur_core.control.obs_client import AUTH_FAILED
from bgblur_core.commands.obs_source import register
from bgblur_core.control.obs_source import SOURCE_NAME, source_spec
from bgblur_core.control.obsws import ObsControl, ScenePresets
from bgblur_core.settings import validate
from obs_harness import EventLog, ObsInstance, free_port, screenshot, sharpness, wait_for

PASSWORD = "s3cret-pass"
PRESETS = {"BRB": {"effect": "privacy"}, "Screen": {"enabled": False}}


@contextlib.contextmanager
def core(obs: ObsInstance, **changes):
    """The real pipeline (synthetic input, hsv, obs-stream output) on a thread, with ObsControl."""
    settings = validate({"input": "synthetic", "engine": "hsv", "width": 320, "height": 240, "fps": 15,
                         "output": f"obs-stream:{free_port()}", "obs_enabled": True, "obs_port": obs.port,
                         "obs_password": obs.password, **changes})
    pipeline = runner.make_pipeline(settings)
    errors: list[str] = []
    pipeline.subscribe(lambda e: errors.append(e["error"]) if "error" in e else None)
    control = ObsControl(pipeline)
    control.start()
    thread = threading.Thread(target=pipeline.run, daemon=True)
    thread.start()
    try:
        yield pipeline, control, errors
    finally:
        pipeline.stop()
        thread.join(10)
        control.stop()


def frames_flow(pipeline, more: int = 5) -> bool:
    start = pipeline.stats.frames
    wait_for(lambda: pipeline.stats.frames >= start + more, 10, what="frames to keep flowing")
    return True


def send(client, data: dict) -> None:
    assert client.call(obsreq.BroadcastCustomEvent(eventData=data)).status


def bgblur_inputs(client) -> list[dict]:
    return [i for i in client.call(obsreq.GetInputList()).datain["inputs"] if i["inputName"] == SOURCE_NAME]


@pytest.fixture
def obs(tmp_path):
    with ObsInstance(tmp_path, scenes=("Scene", "BRB", "Screen"), password=PASSWORD) as instance:
        yield instance


@pytest.mark.obs
def test_custom_events_set_and_command_reach_the_pipeline(obs):
    with core(obs) as (pipeline, control, errors):
        assert control.connected.wait(15), errors
        remote = obs.client()  # another websocket client, like a Stream Deck
        send(remote, {"bgblur": {"set": {"blur_strength": 3.0, "effect": "color"}}})
        wait_for(lambda: pipeline.settings.blur_strength == 3.0 and pipeline.settings.effect == "color")
        send(remote, {"bgblur": {"command": "toggle"}})
        wait_for(lambda: pipeline.settings.enabled is False, what="toggle to turn the effect off")
        send(remote, {"bgblur": {"set": {"enabled": True}, "command": "privacy"}})
        wait_for(lambda: pipeline.settings.effect == "privacy" and pipeline.settings.enabled)
        assert errors == []


@pytest.mark.obs
def test_malformed_custom_events_change_nothing_and_crash_nothing(obs):
    with core(obs) as (pipeline, control, errors):
        assert control.connected.wait(15), errors
        remote = obs.client()
        before = pipeline.settings
        send(remote, {"bgblur": {"set": {"blur_strength": 50}}})  # out of range
        send(remote, {"bgblur": {"set": {"no_such_setting": 1}}})
        send(remote, {"bgblur": {"command": "explode"}})
        send(remote, {"bgblur": "toggle"})
        send(remote, {"somebody_else": {"set": {"blur_strength": 3.0}}})  # not ours: silently ignored
        wait_for(lambda: len(errors) >= 4, what="the four malformed messages to be reported")
        assert all(e.startswith("ignored control message: ") and "\n" not in e for e in errors), errors
        assert "blur_strength" in errors[0] and "no_such_setting" in errors[1] and "explode" in errors[2]
        assert len(errors) == 4
        frames_flow(pipeline)
        assert pipeline.settings == before
        send(remote, {"bgblur": {"set": {"blur_strength": 0.9}}})  # still listening
        wait_for(lambda: pipeline.settings.blur_strength == 0.9)


@pytest.mark.obs
def test_scene_presets_follow_the_program_scene(obs):
    with core(obs, scene_presets=PRESETS) as (pipeline, control, errors):
        assert control.connected.wait(15), errors
        remote = obs.client()

        def go(scene):
            assert remote.call(obsreq.SetCurrentProgramScene(sceneName=scene)).status

        go("BRB")
        wait_for(lambda: pipeline.settings.effect == "privacy", what="the BRB preset")
        go("Screen")  # preset to preset: BRB's change is undone, Screen's applied
        wait_for(lambda: pipeline.settings.effect == "blur" and pipeline.settings.enabled is False)
        go("Scene")  # no preset: back to what it was before
        wait_for(lambda: pipeline.settings.enabled is True)
        assert pipeline.settings.effect == "blur"
        go("BRB")
        wait_for(lambda: pipeline.settings.effect == "privacy")
        send(remote, {"bgblur": {"set": {"effect": "color"}}})  # the user changes it while BRB is live
        wait_for(lambda: pipeline.settings.effect == "color")
        go("Scene")
        frames_flow(pipeline)
        assert pipeline.settings.effect == "color"  # the user's choice is kept
        assert errors == []


@pytest.mark.obs
def test_preset_of_the_scene_live_at_connect_is_applied(obs):
    obs.client().call(obsreq.SetCurrentProgramScene(sceneName="BRB"))
    with core(obs, scene_presets=PRESETS) as (pipeline, control, errors):
        wait_for(lambda: pipeline.settings.effect == "privacy", 15, what="the preset of the live scene")


def test_scene_presets_restore_logic():
    presets = ScenePresets()
    s = validate(scene_presets={"A": {"effect": "privacy", "blur_strength": 3.0}, "B": {"effect": "none"}})
    assert presets.on_scene("Scene", s) == {}
    assert presets.on_scene("A", s) == {"effect": "privacy", "blur_strength": 3.0}
    # the pipeline has not applied A yet when B arrives: restoring still gives the right result
    assert presets.on_scene("B", s) == {"effect": "none", "blur_strength": 1.5}
    s = s.replace({"effect": "none"})
    assert presets.on_scene("Scene", s) == {"effect": "blur"}
    assert presets.on_scene("Scene", s.replace({"effect": "blur"})) == {}


@pytest.mark.obs
def test_status_is_broadcast_at_most_once_a_second(obs):
    listener = obs.client()
    events = EventLog(listener)
    with core(obs) as (pipeline, control, errors):
        assert control.connected.wait(15), errors
        first = events.wait("CustomEvent", lambda d: "bgblur_status" in d, timeout=10)["bgblur_status"]
        for key in ("fps", "cpu_ms", "latency_ms", "engine", "enabled", "last_error"):
            assert key in first, first
        assert first["engine"] == "hsv" and first["enabled"] is True and first["fps"] > 0
        stamps = []
        listener.register(lambda e: stamps.append(pipeline.stats.frames) if "bgblur_status" in e.datain else None)
        t0 = time.monotonic()
        wait_for(lambda: len(stamps) >= 3, 10, what="three more status events")
        elapsed = time.monotonic() - t0
        assert elapsed >= 1.8, f"3 status events in {elapsed:.2f}s: more than one a second"
        pipeline.submit(Control(changes={"blur_strength": 40}))  # an error reaches the status
        events.wait("CustomEvent", lambda d: "blur_strength" in d.get("bgblur_status", {}).get("last_error", ""))


@pytest.mark.obs
def test_wrong_password_one_clear_error_video_keeps_flowing(obs, capfd):
    with core(obs, obs_password="wrong-password") as (pipeline, control, errors):
        wait_for(lambda: errors, 15, what="the authentication error")
        frames_flow(pipeline, 20)
        assert not control.connected.is_set()
        assert errors == [AUTH_FAILED]  # one line, not repeated on every retry
        pipeline.submit(Control(changes={"obs_password": PASSWORD}))  # the user fixes it in the panel
        assert control.connected.wait(15), errors
        assert pipeline.last_error == ""
    out, err = capfd.readouterr()
    assert "authentication failed" in err
    assert "wrong-password" not in out + err and PASSWORD not in out + err


@pytest.mark.obs
def test_reconnects_after_obs_restart_without_duplicating_the_source(obs):
    with core(obs) as (pipeline, control, errors):
        assert control.connected.wait(15), errors
        client = obs.client()
        wait_for(lambda: control.source_result, 10, what="the bgblur input")
        assert control.source_result.startswith("created") and len(bgblur_inputs(client)) == 1
        obs.restart()  # OBS saves the collection on exit and loads it again
        frames_flow(pipeline)
        wait_for(lambda: control.connections == 2 and control.connected.is_set(), 30, what="the reconnect")
        remote = obs.client()
        send(remote, {"bgblur": {"set": {"blur_strength": 3.3}}})
        wait_for(lambda: pipeline.settings.blur_strength == 3.3, what="control after the reconnect")
        assert len(bgblur_inputs(remote)) == 1
        wait_for(lambda: control.source_result.startswith("OBS input 'bgblur' exists"), what="the source check")
        items = remote.call(obsreq.GetSceneItemList(sceneName="Scene")).datain["sceneItems"]
        assert [i["sourceName"] for i in items].count(SOURCE_NAME) == 1


@pytest.mark.obs
def test_create_source_command_makes_the_source_when_automatic_creation_is_off(obs):
    with core(obs, obs_create_source=False) as (pipeline, control, errors):
        assert control.connected.wait(15), errors
        client = obs.client()
        frames_flow(pipeline)
        assert bgblur_inputs(client) == []
        send(client, {"bgblur": {"command": "create_source"}})
        wait_for(lambda: control.source_result, 10, what="the bgblur input after create_source")
        assert control.source_result.startswith("created") and len(bgblur_inputs(client)) == 1


@pytest.mark.obs
def test_ffmpeg_source_in_obs_shows_the_stream(obs):
    with core(obs) as (pipeline, control, errors):
        assert control.connected.wait(15), errors
        client = obs.client()
        item = wait_for(lambda: bgblur_inputs(client), 10, what="the bgblur input")[0]
        assert item["inputKind"] == "ffmpeg_source"
        settings = client.call(obsreq.GetInputSettings(inputName=SOURCE_NAME)).datain["inputSettings"]
        assert settings["input"] == f"tcp://127.0.0.1:{pipeline.sinks[0].port}"
        assert settings["input_format"] == "yuv4mpegpipe" and settings["is_local_file"] is False

        def shows_output():
            try:
                shot = screenshot(client, SOURCE_NAME, 320)
            except AssertionError:  # no video yet
                return None
            return shot if shot.shape == (240, 320, 3) and shot.mean() > 5 else None

        shot = wait_for(shows_output, 20, 0.5, what="OBS to show the stream")
        frame, out = wait_for(lambda: pipeline.last, what="a frame pair between steps")
        still = (slice(0, 130), slice(0, 130))  # the synthetic scene's whiteboard: static, background
        assert np.abs(shot[still].astype(int) - out[still]).mean() < 6  # OBS shows our output...
        assert sharpness(shot[still]) < 0.3 * sharpness(frame[still])  # ...blurred, not the camera
        scene = screenshot(client, "Scene", 640)  # and the input fills the 16:9 program scene's height
        assert scene.shape == (360, 640, 3) and scene[:, :75].max() < 10 and scene[:, 565:].max() < 10
        fitted = cv2.resize(scene[:, 80:560], (320, 240), interpolation=cv2.INTER_AREA)
        assert np.abs(fitted[still].astype(int) - out[still]).mean() < 8


@pytest.mark.obs
def test_obs_source_subcommand_creates_once(obs, monkeypatch, capsys):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    monkeypatch.setenv("BGBLUR_OBS_PASSWORD", PASSWORD)
    args = parser.parse_args(["obs-source", "--obs-port", str(obs.port), "--output", "obs-stream:9911"])
    assert args.func(args) == 0
    assert args.func(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("created OBS input 'bgblur' (ffmpeg_source)") and "exists" in lines[1]
    client = obs.client()
    assert len(bgblur_inputs(client)) == 1
    settings = client.call(obsreq.GetInputSettings(inputName=SOURCE_NAME)).datain["inputSettings"]
    assert settings["input"] == "tcp://127.0.0.1:9911"
    monkeypatch.setenv("BGBLUR_OBS_PASSWORD", "nope")
    from bgblur_core.stages import StageError
    with pytest.raises(StageError, match="authentication failed"):
        args.func(args)


def test_source_spec_per_output_and_platform():
    s = validate(output="obs-stream:9000")
    kind, settings = source_spec(s)
    assert kind == "ffmpeg_source" and settings["input"] == "tcp://127.0.0.1:9000" and settings["buffering_mb"] == 0
    v = validate(output="virtualcam", vcam_device="/dev/video10")
    assert source_spec(v, platform="linux") == ("v4l2_input", {"device_id": "/dev/video10"})
    assert source_spec(v, "/dev/video7", platform="linux") == ("v4l2_input", {"device_id": "/dev/video7"})
    assert source_spec(v, platform="win32")[0] == "dshow_input"
    assert source_spec(v, platform="darwin")[0] == "av_capture_input"
    assert source_spec(validate(output="out.mp4")) is None


def test_disabled_control_never_connects():
    settings = validate({"input": "synthetic", "engine": "hsv", "width": 160, "height": 120,
                         "output": "null", "obs_enabled": False, "obs_port": free_port()})
    pipeline = runner.make_pipeline(settings)
    control = ObsControl(pipeline)
    control.start()
    try:
        assert pipeline.run(5) == 5
        assert not control.connected.wait(0.5) and pipeline.last_error == ""
    finally:
        control.stop()

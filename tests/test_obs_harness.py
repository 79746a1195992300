"""The real-OBS harness itself: OBS starts headless, obs-websocket answers, auth is enforced."""
import numpy as np
import pytest
from obswebsocket import exceptions as obsexc
from obswebsocket import requests as obsreq

from obs_harness import EventLog, ObsInstance, crashed_after_teardown, obs_available, screenshot, sharpness

pytestmark = pytest.mark.obs


def test_obs_is_installed():
    assert obs_available() is None, obs_available()


def test_obs_starts_answers_and_quits_cleanly(tmp_path):
    with ObsInstance(tmp_path, scenes=("Scene", "BRB")) as obs:
        client = obs.client()
        version = client.call(obsreq.GetVersion())
        assert version.status and version.datain["obsVersion"].startswith("29.")
        assert version.datain["rpcVersion"] == 1
        scenes = client.call(obsreq.GetSceneList()).datain
        assert {s["sceneName"] for s in scenes["scenes"]} == {"Scene", "BRB"}
        assert scenes["currentProgramSceneName"] == "Scene"
        assert "ffmpeg_source" in client.call(obsreq.GetInputKindList()).datain["inputKinds"]

        events = EventLog(client)
        client.call(obsreq.SetCurrentProgramScene(sceneName="BRB"))
        assert events.wait("CurrentProgramSceneChanged")["sceneName"] == "BRB"

        pid = obs.pid
        assert obs.quit() == 0, obs.log_tail()  # the main window closed: a clean shutdown
        assert "Number of memory leaks" in obs.log_text()
        assert not obs.running() and obs.leftovers() == []
    assert obs.pid == pid


def test_wrong_password_is_refused(tmp_path):
    with ObsInstance(tmp_path, password="right-one") as obs:
        with pytest.raises(obsexc.ConnectionFailure):
            obs.client(password="wrong-one")
        assert obs.client().call(obsreq.GetVersion()).status


def test_screenshot_and_sharpness(tmp_path):
    with ObsInstance(tmp_path) as obs:
        client = obs.client()
        scene = client.call(obsreq.GetCurrentProgramScene()).datain["currentProgramSceneName"]
        r = client.call(obsreq.CreateInput(sceneName=scene, inputName="grey", inputKind="color_source_v3",
                                           inputSettings={"color": 0xFF808080, "width": 640, "height": 360}))
        assert r.status, r.datain
        img = screenshot(client, "grey", 320)
        assert img.shape == (180, 320, 3) and img.dtype == np.uint8
        assert abs(int(img[90, 160, 0]) - 128) <= 2
        assert sharpness(img) < 1.0  # flat colour: no detail at all
    checker = np.indices((64, 64)).sum(0) % 2 * 255
    checker = np.repeat(checker[..., None], 3, 2).astype(np.uint8)
    assert sharpness(checker, (0, 0, 32, 32)) > 1000


def test_obs_that_cannot_start_fails_with_its_log_tail(tmp_path):
    broken = ObsInstance(tmp_path, env={"QT_QPA_PLATFORM": "no-such-platform"})
    with pytest.raises(AssertionError) as e:  # a failure, never a skip
        with broken:
            pass
    assert "OBS exited" in str(e.value) and "--- OBS log tail ---" in str(e.value)
    assert "no-such-platform" in str(e.value)
    assert not broken.running() and broken.xvfb is None


SHUTDOWN = """08:39:37.987: Set FFmpeg options: fflags=nobuffer probesize=32 analyzeduration=0 recv_buffer_size=65536
08:39:38.268: ==== Shutting down ==================================================
08:39:38.339: [obs-scripting]: Unloaded python script: obs_bgblur.py
08:39:39.311: All scene data cleared
08:39:39.311: ------------------------------------------------
"""


def test_only_a_crash_after_the_whole_teardown_counts_as_obs_29s_own():
    assert crashed_after_teardown(SHUTDOWN, scripts=1)  # as logged by OBS 29 when it segfaults on quitting
    assert crashed_after_teardown(SHUTDOWN.replace("08:39:38.339: [obs-scripting]: Unloaded python script: obs_bgblur.py\n", ""), scripts=0)
    assert not crashed_after_teardown(SHUTDOWN, scripts=2)  # a script was never unloaded
    assert not crashed_after_teardown(SHUTDOWN.rsplit("08:39:39.311: All", 1)[0], scripts=1)  # crashed while clearing
    assert not crashed_after_teardown(SHUTDOWN + "08:39:39.400: Freeing OBS context data\n", scripts=1)  # later
    assert not crashed_after_teardown(SHUTDOWN.split("08:39:38.268", 1)[0], scripts=0)  # never shut down
    assert not crashed_after_teardown(SHUTDOWN.replace("==== Shutting down ====", "Switched to scene"), scripts=1)

"""Scene presets in a real OBS 29 (headless), with the script's websocket control off: the script follows
OBS's frontend events itself. A program-scene switch applies the new scene's preset and undoes the last
one, in normal and in studio mode (where only the program scene counts, not the preview). A preset that
names an unknown setting is one line in the Script Log; the other presets still apply.

The input is tests/obs_harness.KnownPicture with the hsv engine: its person and background regions show
which effect is live. The test switches scenes over obs-websocket, as a Stream Deck would.
"""
import json
import sys
import time
from pathlib import Path

import pytest
from obswebsocket import requests as obsreq

from obs_harness import ALL_BLURRED, BLURRED, UNBLURRED, KnownPicture, ObsInstance, wait_for

pytestmark = pytest.mark.obs

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "obs_bgblur.py"
SOURCE = "Blurred camera"
PRESETS = {"BRB": {"effect": "privacy"}, "Talk": {"effect": "none", "no_such_setting": 1}, "Ghost": {"bogus": 2}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("obs-presets")
    picture = KnownPicture(tmp / "known.png")
    obs = ObsInstance(tmp, scenes=("Scene", "BRB", "Talk"), scripts=[(SCRIPT, {
        "input": str(picture.path), "engine": "hsv", "fps": 15, "core_python": sys.executable,
        "scene_presets": json.dumps(PRESETS)})])
    try:
        obs.start()
        client = obs.client()
        wait_for(lambda: client.call(obsreq.GetInputSettings(inputName=SOURCE)).status, 30,
                 what="the script to create its source")
        for scene in ("BRB", "Talk"):  # the blurred source in every scene, as a user would add it
            assert client.call(obsreq.CreateSceneItem(sceneName=scene, sourceName=SOURCE)).status
        yield obs, client, picture
    finally:
        obs.close()


def switch(client, scene: str) -> None:
    assert client.call(obsreq.SetCurrentProgramScene(sceneName=scene)).status


def test_scene_switches_apply_their_presets_without_websocket(run):
    obs, client, picture = run
    picture.wait(client, SOURCE, BLURRED, "the blurred picture in 'Scene' (no preset)", 60)
    switch(client, "BRB")
    picture.wait(client, SOURCE, ALL_BLURRED, "the BRB preset (privacy: everything blurred)")
    switch(client, "Talk")
    picture.wait(client, SOURCE, UNBLURRED, "the Talk preset (effect none), its unknown setting dropped")
    switch(client, "Scene")
    picture.wait(client, SOURCE, BLURRED, "the preset to be undone on leaving Talk")
    assert not any("obs-websocket" in li for li in obs.script_log())


def test_a_preset_naming_an_unknown_setting_is_one_line_in_the_script_log(run):
    obs, _, _ = run
    errors = [li for li in obs.script_log() if li.startswith("error:")]
    assert len([li for li in errors if "'Talk'" in li and "no_such_setting" in li]) == 1
    assert len([li for li in errors if "'Ghost'" in li and "bogus" in li]) == 1
    assert len(errors) == 2, errors


def test_in_studio_mode_only_the_program_scene_applies_its_preset(run):
    obs, client, picture = run
    assert client.call(obsreq.SetStudioModeEnabled(studioModeEnabled=True)).status
    assert client.call(obsreq.SetCurrentPreviewScene(sceneName="BRB")).status
    picture.wait(client, SOURCE, BLURRED, "the blurred picture with BRB only in the preview")
    for _ in range(8):  # and it stays so for a while: the preview applies no preset
        time.sleep(0.25)
        assert BLURRED(*picture.regions(client, SOURCE))
    assert client.call(obsreq.TriggerStudioModeTransition()).status  # BRB goes live
    picture.wait(client, SOURCE, ALL_BLURRED, "the BRB preset once BRB is the program scene")
    assert client.call(obsreq.SetCurrentPreviewScene(sceneName="Scene")).status
    assert client.call(obsreq.TriggerStudioModeTransition()).status
    picture.wait(client, SOURCE, BLURRED, "the preset undone when Scene is live again")
    assert obs.quit() == 0, obs.log_tail()

"""A new user in a real OBS 29 (headless): a fresh profile, only the script added with its defaults and
the interpreter. The script itself (obspython, no websocket) creates one "Blurred camera" source showing
the core's obs-stream output; it stays one source across OBS restarts and scene-collection switches.

Tests run in file order on one OBS. The test talks to OBS over obs-websocket, as any other program
would; the script's own websocket control stays off. There is no webcam here, so the core shows its
built-in synthetic scene; models come from the shared cache (BGBLUR_CACHE_DIR), not the network.
"""
import os
import socket
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from obswebsocket import requests as obsreq

from obs_harness import COLLECTION, ObsInstance, screenshot, sharpness, wait_for

pytestmark = pytest.mark.obs

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "obs_bgblur.py"
SOURCE = "Blurred camera"
W, H = 640, 360
MODELS = {"BGBLUR_CACHE_DIR": os.environ.get("BGBLUR_CACHE_DIR") or str(Path.home() / ".cache" / "bgblur" / "models")}
WHITEBOARD = (30, 35, 120, 150)  # (x, y, w, h) of the synthetic scene at 640x360 that the figure never enters


def synthetic_reference() -> np.ndarray:
    from bgblur_core.sources.synthetic import synthetic_background
    return cv2.resize(synthetic_background(0, 1280, 720), (W, H), interpolation=cv2.INTER_AREA)


class FirstRun:
    def __init__(self, tmp: Path):
        self.obs = ObsInstance(tmp, canvas=(W, H), env=MODELS, scripts=[(SCRIPT, {"core_python": sys.executable})])
        reference = synthetic_reference()
        self.sharp_whiteboard = sharpness(reference, WHITEBOARD)
        self.whiteboard_mean = float(reference[35:185, 30:150].mean())

    def start(self) -> None:
        self.obs.start()
        self.client = self.obs.client()

    def scene_shows_blurred_synthetic(self):
        """The program scene's whiteboard: (its sharpness relative to the original's, its mean) if blurred."""
        try:
            img = screenshot(self.client, "Scene", W)
        except AssertionError:
            return None
        ratio = sharpness(img, WHITEBOARD) / self.sharp_whiteboard
        mean = float(img[35:185, 30:150].mean())
        return (ratio, mean) if ratio < 0.1 and abs(mean - self.whiteboard_mean) < 25 else None

    def sources_named(self) -> list[dict]:
        return [i for i in self.client.call(obsreq.GetInputList()).datain["inputs"] if i["inputName"] == SOURCE]

    def scene_items(self, scene: str = "Scene") -> list[dict]:
        return self.client.call(obsreq.GetSceneItemList(sceneName=scene)).datain["sceneItems"]

    def core_pids(self) -> list[int]:
        return [pid for pid, cmd in self.obs.leftovers() if "bgblur_core run" in cmd]

    def errors(self) -> list[str]:
        return [li for li in self.obs.script_log() if "error" in li.lower() or "Traceback" in li]

    def saved_script(self) -> dict:
        script = next(s for s in self.obs.saved_collection()["modules"]["scripts-tool"]
                      if s["path"].endswith("obs_bgblur.py"))
        return script["settings"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    r = FirstRun(tmp_path_factory.mktemp("obs-first-run"))
    try:
        r.start()
        yield r
    finally:
        r.obs.close()


def test_a_new_user_sees_the_blurred_picture_within_60_s_without_websocket_or_errors(run):
    ratio, mean = wait_for(run.scene_shows_blurred_synthetic, 60, 0.5, "the current scene to show the blurred scene")
    print(f"whiteboard sharpness vs the original: {ratio:.3f}, mean {mean:.0f}")
    [source] = run.sources_named()
    assert source["inputKind"] == "ffmpeg_source"
    [item] = run.scene_items()
    assert item["sourceName"] == SOURCE and item["sceneItemEnabled"]
    transform = item["sceneItemTransform"]
    assert (transform["boundsType"], transform["boundsWidth"], transform["boundsHeight"]) == ("OBS_BOUNDS_SCALE_INNER", W, H)
    port = int(run.client.call(obsreq.GetInputSettings(inputName=SOURCE)).datain["inputSettings"]["input"].rsplit(":", 1)[1])

    [pid] = run.core_pids()
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    settings = Path(cmdline[cmdline.index(b"--settings") + 1].decode()).read_text()
    assert '"obs_enabled": false' in settings and f'"output": "obs-stream:{port}"' in settings
    assert b"BGBLUR_OBS_PASSWORD" not in Path(f"/proc/{pid}/environ").read_bytes()
    assert any(f"created the source {SOURCE!r}" in li for li in run.obs.script_log())
    assert run.errors() == []


def test_after_a_restart_there_is_the_same_single_source_on_the_remembered_port(run):
    old_port = run.client.call(obsreq.GetInputSettings(inputName=SOURCE)).datain["inputSettings"]["input"]
    assert run.obs.quit() == 0, run.obs.log_tail()
    assert [p for p in run.obs.leftovers() if "bgblur" in p[1]] == []
    assert f"127.0.0.1:{run.saved_script()['stream_port']}" in old_port
    run.start()
    wait_for(run.scene_shows_blurred_synthetic, 60, 0.5, "the blurred picture after the restart")
    assert len(run.sources_named()) == 1 and len(run.scene_items()) == 1
    assert run.client.call(obsreq.GetInputSettings(inputName=SOURCE)).datain["inputSettings"]["input"] == old_port
    assert not any("created the source" in li for li in run.obs.script_log())
    assert run.errors() == []


def test_a_taken_port_makes_the_script_pick_another_and_say_which(run):
    assert run.obs.quit() == 0
    port = run.saved_script()["stream_port"]
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the last core's connections may linger
        squatter.bind(("127.0.0.1", port))
        squatter.listen(1)
        run.start()
        line = wait_for(lambda: [li for li in run.obs.script_log() if f"port {port} is taken" in li], 30,
                        what="the script to report the taken port")[0]
        new_port = int(line.rsplit("using port ", 1)[1])
        assert new_port != port
        wait_for(run.scene_shows_blurred_synthetic, 60, 0.5, "the blurred picture on the new port")
        settings = run.client.call(obsreq.GetInputSettings(inputName=SOURCE)).datain["inputSettings"]
        assert settings["input"] == f"tcp://127.0.0.1:{new_port}"
    assert len(run.sources_named()) == 1 and len(run.scene_items()) == 1


def test_a_scene_collection_switch_unloads_the_script_and_switching_back_finds_the_same_source(run):
    wait_for(run.core_pids, 30, what="the core under OBS")  # also when this test runs alone
    assert run.client.call(obsreq.CreateSceneCollection(sceneCollectionName="Other")).status  # switches to it
    wait_for(lambda: not run.core_pids(), 20, what="the core to stop with the script unloaded")
    assert run.sources_named() == []
    assert run.client.call(obsreq.SetCurrentSceneCollection(sceneCollectionName=COLLECTION)).status
    wait_for(run.core_pids, 30, what="the core to start again")
    wait_for(run.scene_shows_blurred_synthetic, 60, 0.5, "the blurred picture after switching back")
    assert len(run.sources_named()) == 1 and len(run.scene_items()) == 1
    assert run.errors() == []
    assert run.obs.quit() == 0
    assert [p for p in run.obs.leftovers() if "bgblur" in p[1]] == []

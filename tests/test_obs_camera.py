"""Blur my camera, in a real OBS 29 (headless): the scene already has a Video Capture Device source
(v4l2_input). On its first load the script hides it and puts the blurred source in its place; the core
opens that source's device at its resolution and fps. This machine has no camera, so the device does not
open: the blurred source shows the core's "camera lost" placeholder and the Script Log names the device.
Restore (a hotkey here; a button in the panel), stopping and unloading the script show the camera again.

Tests run in file order on one OBS; the test drives OBS over obs-websocket as any other program would.
"""
import json
import os
import sys
from pathlib import Path

import pytest
from obswebsocket import requests as obsreq

from obs_harness import ObsInstance, scene_item, screenshot, wait_for

pytestmark = pytest.mark.obs

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "obs_bgblur.py"
SOURCE = "Blurred camera"
CAMERA, DEVICE = "Webcam", "/dev/video63"  # a device path that does not exist here
CAM_W, CAM_H, CAM_FPS = 640, 480, 15
MODELS = {"BGBLUR_CACHE_DIR": os.environ.get("BGBLUR_CACHE_DIR") or str(Path.home() / ".cache" / "bgblur" / "models")}
LAYOUT = ("positionX", "positionY", "boundsType", "boundsWidth", "boundsHeight", "boundsAlignment", "alignment",
          "cropLeft", "cropTop", "cropRight", "cropBottom", "rotation")


class CameraScene:
    def __init__(self, tmp: Path):
        self.obs = ObsInstance(tmp, env=MODELS, scripts=[(SCRIPT, {"core_python": sys.executable})], inputs=[
            ("color_source_v3", "Backdrop", {"color": 0xFF404040, "width": 640, "height": 360}),
            ("v4l2_input", CAMERA, {"device_id": DEVICE, "resolution": CAM_W << 16 | CAM_H,
                                    "framerate": 1 << 16 | CAM_FPS}),
            ("color_source_v3", "Title", {"color": 0xFF00A0FF, "width": 200, "height": 40}),
        ], items={"Scene": [
            scene_item("Backdrop", 1),
            scene_item(CAMERA, 2, pos=(40.0, 30.0), bounds=(320.0, 180.0), bounds_type=2, crop=(10, 6, 10, 6)),
            scene_item("Title", 3, pos=(420.0, 300.0)),
        ]})

    def start(self) -> None:
        self.obs.start()
        self.client = self.obs.client()

    def items(self) -> dict[str, dict]:
        return {i["sourceName"]: i for i in
                self.client.call(obsreq.GetSceneItemList(sceneName="Scene")).datain["sceneItems"]}

    def swapped(self):
        items = self.items()
        return items if SOURCE in items and items[SOURCE]["sceneItemEnabled"] and not items[CAMERA]["sceneItemEnabled"] else None

    def restored(self):
        items = self.items()
        return items if items[CAMERA]["sceneItemEnabled"] and not items.get(SOURCE, {}).get("sceneItemEnabled") else None

    def core_settings(self) -> dict:
        [pid] = [pid for pid, cmd in self.obs.leftovers() if "bgblur_core run" in cmd]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        return json.loads(Path(cmdline[cmdline.index(b"--settings") + 1].decode()).read_text())

    def core_pids(self) -> list[int]:
        return [pid for pid, cmd in self.obs.leftovers() if "bgblur_core run" in cmd]

    def press(self, hotkey: str) -> None:
        assert self.client.call(obsreq.TriggerHotkeyByName(hotkeyName=hotkey)).status

    def placeholder_shown(self):
        """The blurred source shows the core's placeholder: a dark frame with an orange border, at the camera's size."""
        try:
            img = screenshot(self.client, SOURCE, CAM_W)
        except AssertionError:
            return None
        border, inside = img[1:4, CAM_W // 4: 3 * CAM_W // 4], img[CAM_H // 4: CAM_H // 3, 40:120]
        orange = border[..., 2].mean() > 200 and border[..., 1].mean() > 100 and border[..., 0].mean() < 80
        return img if orange and inside.mean() < 60 else None


@pytest.fixture(scope="module")
def cam(tmp_path_factory):
    c = CameraScene(tmp_path_factory.mktemp("obs-camera"))
    try:
        c.start()
        yield c
    finally:
        c.obs.close()


def test_on_first_load_the_blurred_source_takes_the_camera_s_place(cam):
    items = wait_for(cam.swapped, 30, what="the camera to be swapped for the blurred source")
    camera, blurred = items[CAMERA]["sceneItemTransform"], items[SOURCE]["sceneItemTransform"]
    assert {k: blurred[k] for k in LAYOUT} == {k: camera[k] for k in LAYOUT}
    assert (blurred["positionX"], blurred["boundsWidth"], blurred["cropLeft"]) == (40.0, 320.0, 10)
    assert items[SOURCE]["sceneItemIndex"] == items[CAMERA]["sceneItemIndex"] + 1  # just above it: same order
    assert items["Title"]["sceneItemIndex"] > items[SOURCE]["sceneItemIndex"]
    assert items["Backdrop"]["sceneItemIndex"] < items[CAMERA]["sceneItemIndex"]
    inputs = [i for i in cam.client.call(obsreq.GetInputList()).datain["inputs"] if i["inputName"] == CAMERA]
    assert inputs, "the camera source is hidden, not deleted"


def test_the_core_opens_the_camera_s_device_at_its_size_and_rate_and_shows_a_placeholder(cam):
    settings = cam.core_settings()
    assert (settings["input"], settings["width"], settings["height"], settings["fps"]) == (DEVICE, CAM_W, CAM_H, CAM_FPS)
    img = wait_for(cam.placeholder_shown, 30, 0.3, "the blurred source to show the camera-lost placeholder")
    assert img.shape[:2] == (CAM_H, CAM_W)
    line = wait_for(lambda: [li for li in cam.obs.script_log() if li.startswith("error:") and DEVICE in li], 20,
                    what="the Script Log to name the device")
    assert len(line) == 1 and "placeholder" in line[0]


def test_restore_shows_the_camera_again_and_blur_swaps_it_back(cam):
    cam.press("bgblur.restore_camera")
    wait_for(cam.restored, 10, what="the camera to be shown again")
    cam.press("bgblur.blur_camera")
    items = wait_for(cam.swapped, 10, what="the camera to be blurred again")
    assert {k: items[SOURCE]["sceneItemTransform"][k] for k in LAYOUT} == \
           {k: items[CAMERA]["sceneItemTransform"][k] for k in LAYOUT}
    assert [i["sourceName"] for i in sorted(items.values(), key=lambda i: i["sceneItemIndex"])] == \
           ["Backdrop", CAMERA, SOURCE, "Title"]


def test_unloading_the_script_stops_the_core_and_shows_the_camera(cam):
    # switching to a scene collection without the script unloads it, as removing it in Tools → Scripts does
    assert cam.client.call(obsreq.CreateSceneCollection(sceneCollectionName="Other")).status
    wait_for(lambda: not cam.core_pids(), 20, what="the core to stop with the script unloaded")
    collection = cam.obs.saved_collection()  # as OBS saved it when leaving it
    scene = next(s for s in collection["sources"] if s["name"] == "Scene")
    assert {i["name"]: i["visible"] for i in scene["settings"]["items"]} == \
           {"Backdrop": True, CAMERA: True, SOURCE: False, "Title": True}
    collection["modules"]["scripts-tool"] = []  # and without the script from now on
    cam.obs.save_collection(collection)
    assert cam.client.call(obsreq.SetCurrentSceneCollection(sceneCollectionName="bgblur-test")).status
    items = wait_for(cam.restored, 10, what="the camera, visible without the script")
    assert items[CAMERA]["sceneItemEnabled"] and cam.core_pids() == []

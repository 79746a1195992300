"""The OBS script in a real OBS 29 (headless, via tests/obs_harness.py): panel settings in, blurred
video out, hotkeys, scene presets, remote control, crash recovery, a wrong password, shutdown.

One OBS instance is shared by the tests in file order: it starts with the script loaded; the script
creates the "Blurred camera" source showing the core's obs-stream output, and, with a password set,
the core's websocket control is on (remote control and status, as a Stream Deck would use them).
The input is tests/obs_harness.KnownPicture: a grey noise background (hsv: background) around a
saturated, textured ellipse (hsv: person), so sharpness can be measured in both regions.
"""
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from obswebsocket import requests as obsreq

from obs_harness import ALL_BLURRED, BLURRED, COLLECTION, UNBLURRED, EventLog, KnownPicture, ObsInstance, free_port, wait_for

pytestmark = pytest.mark.obs

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "obs_bgblur.py"
W, H = 640, 360
SOURCE = "Blurred camera"  # the source the script creates


class Run:
    """The shared OBS, its client and status events, and the picture's regions."""

    def __init__(self, tmp: Path):
        self.picture = KnownPicture(tmp / "known.png", W, H)
        ws_port = free_port()
        self.obs = ObsInstance(tmp, scenes=("Scene", "BRB"), canvas=(W, H), fps=15, port=ws_port, scripts=[(SCRIPT, {
            "input": str(self.picture.path), "engine": "hsv", "fps": 15,
            "obs_host": "127.0.0.1", "obs_port": ws_port, "obs_password": "secret",
            "scene_presets": json.dumps({"BRB": {"effect": "privacy"}}), "core_python": sys.executable})])

    def start(self) -> None:
        self.obs.start()
        self.client = self.obs.client()
        self.events = EventLog(self.client)

    def status(self, predicate=lambda s: True, timeout: float = 20.0) -> dict:
        """The next bgblur_status event (after events.clear()) that satisfies predicate."""
        data = self.events.wait("CustomEvent", lambda d: isinstance(d.get("bgblur_status"), dict)
                                and predicate(d["bgblur_status"]), timeout)
        return data["bgblur_status"]

    def regions(self) -> tuple[float, float]:
        return self.picture.regions(self.client, SOURCE)

    def wait_picture(self, predicate, what: str, timeout: float = 20.0) -> tuple[float, float]:
        return self.picture.wait(self.client, SOURCE, predicate, what, timeout)

    def core_pids(self) -> list[int]:
        return [pid for pid, cmd in self.obs.leftovers() if "bgblur_core run" in cmd]

    def script_log(self) -> str:
        return "\n".join(self.obs.script_log())


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    r = Run(tmp_path_factory.mktemp("obs-e2e"))
    try:
        r.start()
        yield r
    finally:
        r.obs.close()




def test_script_loads_launches_the_core_and_status_events_arrive(run):
    pids = wait_for(run.core_pids, 20, what="the core process under OBS")
    assert len(pids) == 1
    cmdline = Path(f"/proc/{pids[0]}/cmdline").read_bytes().split(b"\0")
    assert cmdline[:7] == [sys.executable.encode(), b"-m", b"bgblur_core", b"run", b"--control", b"stdin", b"--settings"]
    assert b"secret" not in b" ".join(cmdline)  # the password travels in the environment
    status = run.status(lambda s: s.get("fps", 0) > 0)
    assert status["engine"] == "hsv" and status["enabled"] is True and status["effect"] == "blur"
    assert f"core started: pid {pids[0]}" in run.script_log()
    assert "Traceback" not in run.script_log()
    inputs = {i["inputName"]: i["inputKind"] for i in run.client.call(obsreq.GetInputList()).datain["inputs"]}
    assert inputs.get(SOURCE) == "ffmpeg_source"
    hotkeys = run.client.call(obsreq.GetHotkeyList()).datain["hotkeys"]
    assert {"bgblur.toggle", "bgblur.privacy", "bgblur.cycle_engine", "bgblur.learn_background",
            "bgblur.blur_camera", "bgblur.restore_camera"} <= set(hotkeys)


def test_the_obs_source_shows_a_sharp_person_on_a_blurred_background(run):
    person, background = run.wait_picture(BLURRED, "a sharp person on a blurred background")
    print(f"sharpness vs the input: person {person:.2f}, background {background:.3f}")
    assert person > 0.5 and background < 0.1


def test_the_toggle_hotkey_turns_blur_off_and_on(run):
    run.events.clear()
    assert run.client.call(obsreq.TriggerHotkeyByName(hotkeyName="bgblur.toggle")).status
    assert run.status(lambda s: s["enabled"] is False)
    run.wait_picture(UNBLURRED, "the background to turn sharp")
    run.events.clear()
    assert run.client.call(obsreq.TriggerHotkeyByName(hotkeyName="bgblur.toggle")).status
    assert run.status(lambda s: s["enabled"] is True)
    run.wait_picture(BLURRED, "the background to blur again")


def test_switching_to_a_scene_with_a_preset_changes_the_output(run):
    run.events.clear()
    assert run.client.call(obsreq.SetCurrentProgramScene(sceneName="BRB")).status
    assert run.status(lambda s: s["effect"] == "privacy")
    run.wait_picture(ALL_BLURRED, "the BRB preset (privacy: everything blurred)")
    run.events.clear()
    assert run.client.call(obsreq.SetCurrentProgramScene(sceneName="Scene")).status
    assert run.status(lambda s: s["effect"] == "blur")
    run.wait_picture(BLURRED, "the preset to be undone on leaving BRB")


def test_a_custom_event_changes_a_setting_and_a_malformed_one_changes_nothing(run):
    remote = run.obs.client()  # another websocket client, e.g. a Stream Deck
    pid = run.core_pids()[0]
    run.events.clear()
    remote.call(obsreq.BroadcastCustomEvent(eventData={"bgblur": {"set": {"effect": "none"}}}))
    assert run.status(lambda s: s["effect"] == "none")
    run.wait_picture(UNBLURRED, "the remote change (effect none: nothing blurred)")

    for bad in ({"bgblur": {"set": {"blur_strength": 40}}}, {"bgblur": {"set": {"no_such_setting": 1}}},
                {"bgblur": {"command": "explode"}}, {"bgblur": "junk"}, {"bgblur": {"set": {"effect": "blur"}, "x": 1}}):
        run.events.clear()
        remote.call(obsreq.BroadcastCustomEvent(eventData=bad))
        status = run.status(lambda s: "ignored control message" in s.get("last_error", ""))
        assert status["effect"] == "none" and status["enabled"] is True
    assert run.core_pids() == [pid]  # nothing crashed, nothing restarted
    assert UNBLURRED(*run.regions())
    run.events.clear()
    remote.call(obsreq.BroadcastCustomEvent(eventData={"bgblur": {"set": {"effect": "blur"}}}))
    assert run.status(lambda s: s["effect"] == "blur")


def test_killing_the_core_makes_the_script_restart_it(run):
    old = run.core_pids()[0]
    os.kill(old, signal.SIGKILL)
    new = wait_for(lambda: [p for p in run.core_pids() if p != old], 20, what="a restarted core")
    run.events.clear()
    assert run.status(lambda s: s.get("fps", 0) > 0, timeout=30)
    assert "the core was killed by signal 9; restarting in 1 s (1/5)" in run.script_log()
    assert f"core started: pid {new[0]}" in run.script_log()
    run.wait_picture(BLURRED, "the picture to come back", timeout=30)


def test_quitting_obs_leaves_no_bgblur_process(run):
    assert run.core_pids()
    assert run.obs.quit() == 0, run.obs.log_tail()
    assert [p for p in run.obs.leftovers() if "bgblur" in p[1]] == []


def test_a_wrong_password_gives_a_clear_status_error_while_the_video_keeps_flowing(run):
    run.obs.quit()  # a no-op after the previous test; running alone (-k), OBS must restart with the new password
    path = run.obs.config_dir / "basic" / "scenes" / f"{COLLECTION}.json"
    collection = json.loads(path.read_text())  # as OBS saved it on quitting: with the bgblur input
    script = next(s for s in collection["modules"]["scripts-tool"] if s["path"].endswith("obs_bgblur.py"))
    script["settings"]["obs_password"] = "wrong-password"
    path.write_text(json.dumps(collection))
    run.start()
    wait_for(lambda: "authentication failed" in run.script_log(), 30, 0.3, "the script to report the wrong password")
    line = next(li for li in run.script_log().splitlines() if "authentication failed" in li)
    assert "core: bgblur: obs-websocket: authentication failed" in line and "password" in line.split("failed", 1)[1]
    run.wait_picture(BLURRED, "the video to flow without the websocket", timeout=30)
    assert len(run.core_pids()) == 1
    assert run.obs.quit() == 0
    assert [p for p in run.obs.leftovers() if "bgblur" in p[1]] == []

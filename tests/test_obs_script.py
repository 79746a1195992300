"""The OBS script's plain-Python half, bgblur_core/obs_core_process.py: conversions, the
interpreter, the core's lifecycle. It needs no OBS, so it is imported directly; tests/test_obs_e2e.py
covers the OBS glue (obs_bgblur.py) in a real OBS.
"""
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bgblur_core import obs_core_process as ocp
from bgblur_core import settings as schema

ROOT = Path(__file__).resolve().parents[1]

SMALL = {"input": "synthetic", "output": "null", "engine": "hsv", "width": 320, "height": 240, "fps": 15}


def wait_until(core, predicate, timeout=30.0, what="condition"):
    """Poll the core (as the OBS timer does) until predicate() holds."""
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        lines += core.poll()
        if predicate():
            return lines
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; state {core.state!r}: {core.message}\n" + "\n".join(lines[-20:]))


def alive(pid: int) -> bool:
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat_line[stat_line.rindex(")") + 2] != "Z"


@pytest.fixture
def core():
    c = ocp.Core(str(ROOT))
    c.configured_python = sys.executable
    yield c
    c.stop()


# -- stdlib only: numpy or OpenCV inside OBS's Python crash OBS ------------------------------
STDLIB_ONLY = "import sys; {}; bad = sorted({{'numpy', 'cv2'}} & set(sys.modules)); assert not bad, bad"


def test_the_core_process_module_imports_no_numpy_or_opencv():
    subprocess.run([sys.executable, "-c", STDLIB_ONLY.format("import bgblur_core.obs_core_process")],
                   cwd=ROOT, check=True)


def test_the_obs_script_loads_with_only_obspython_and_the_stdlib(tmp_path):
    (tmp_path / "obspython.py").write_text("")  # an empty stand-in: loading the script calls no OBS API
    load = f"sys.path.insert(0, {str(tmp_path)!r}); import runpy; runpy.run_path({str(ROOT / 'obs_bgblur.py')!r})"
    subprocess.run([sys.executable, "-c", STDLIB_ONLY.format(load)], cwd=tmp_path, check=True)


def test_the_default_project_dir_is_where_the_obs_script_lives():
    assert Path(ocp.PROJECT_DIR) == ROOT and (ROOT / "obs_bgblur.py").is_file()


# -- conversions ----------------------------------------------------------------------------
def test_colour_converts_both_ways_in_obs_abgr_order():
    assert ocp.color_to_obs("#102030") == 0xFF302010
    assert ocp.obs_to_color(0xFF302010) == "#102030"
    assert ocp.obs_to_color(ocp.color_to_obs("#00ff00")) == "#00ff00"


def test_saved_settings_become_valid_schema_values_with_defaults_filled_in():
    saved = {"engine": "hsv", "background_color": 0xFFFF0000, "blur_strength": 3.5, "mask_threshold": 0.25,
             "scene_presets": '{"BRB": {"effect": "privacy"}}', "status": "old text", "core_python": "/x/python",
             "bgblur.toggle": [{"key": "OBS_KEY_F9"}]}
    values = dict(schema.validate(ocp.values_from_saved(saved)))
    assert values["engine"] == "hsv" and values["blur_strength"] == 3.5 and values["mask_threshold"] == 0.25
    assert values["background_color"] == "#0000ff"
    assert values["scene_presets"] == {"BRB": {"effect": "privacy"}}
    assert values["input"] == schema.DEFAULTS["input"]
    assert set(values) == set(schema.DEFAULTS)  # script-only keys (status, hotkeys, core_*) stay out


def other_value(s: schema.Setting):
    """A valid value of setting `s` that is not its default."""
    if s.choices:
        return next(c for c in s.choices if c != s.default)
    if s.type is bool:
        return not s.default
    if s.type is dict:
        return {"BRB": {"effect": "privacy"}}
    if s.type is str:
        return {"input": "synthetic", "output": "null", "background_color": "#102030"}.get(s.name, s.default + "x")
    step = 2 if s.odd else 1
    if s.type is int:
        return s.default + step if s.default + step <= s.max else s.default - step
    return (s.default + s.max) / 2


def test_saved_settings_keys_are_the_schema_names():
    expected = {s.name: other_value(s) for s in schema.SCHEMA}
    saved = {**expected, "background_color": ocp.color_to_obs(expected["background_color"])}
    assert ocp.values_from_saved(saved) == expected
    assert dict(schema.validate(expected)) == expected


# -- the interpreter ------------------------------------------------------------------------
def test_interpreter_prefers_configured_then_project_venv_then_path(tmp_path, monkeypatch):
    assert ocp.interpreter(" /opt/py/bin/python3 ", str(tmp_path)) == "/opt/py/bin/python3"
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    (tmp_path / "bin").mkdir()
    assert ocp.interpreter("", str(tmp_path)) is None
    for name in ("python3", "python"):
        (tmp_path / "bin" / name).write_text("#!/bin/sh\n")
        (tmp_path / "bin" / name).chmod(0o755)
    assert ocp.interpreter("", str(tmp_path)) == str(tmp_path / "bin" / "python3")
    venv = tmp_path / ".venv" / "bin" / "python"
    venv.parent.mkdir(parents=True)
    venv.write_text("")
    assert ocp.interpreter("", str(tmp_path)) == str(venv)


def test_exit_reasons_say_what_happened_and_whether_a_restart_helps():
    reason, retry = ocp.explain_exit("/usr/bin/python3", 1, ["Traceback (most recent call last):",
                                        "ModuleNotFoundError: No module named 'cv2'"], "/opt/bgblur")
    assert not retry and "/usr/bin/python3 cannot run bgblur_core (No module named cv2)" in reason
    assert "/opt/bgblur" in reason and "Core Python" in reason
    reason, retry = ocp.explain_exit("py", 2, ["bgblur: error: input: cannot read /x.mp4: no such file"])
    assert (reason, retry) == ("input: cannot read /x.mp4: no such file", False)
    reason, retry = ocp.explain_exit("py", -9, ["bgblur: an old log line"])
    assert retry and reason == "the core was killed by signal 9"
    reason, retry = ocp.explain_exit("py", 1, ["bgblur: input: x", "Traceback (most recent call last):",
                                                   "  File ...", "RuntimeError: boom"])
    assert retry and reason == "the core exited with code 1: RuntimeError: boom"
    assert ocp.explain_exit("py", 1, ["bgblur: input: x"]) == ("the core exited with code 1", True)
    assert ocp.explain_exit("py", 0, [])[1] is False


def test_exit_reasons_in_detail():
    fix = ocp.how_to_fix("/p")
    assert ocp.explain_exit("py", 1, ["No module named bgblur_core.commands"], "/p") == (
        f"py cannot run bgblur_core (No module named bgblur_core.commands); {fix}", False)
    assert ocp.explain_exit("py", 1, ["No module named 'numpy'"])[0].endswith(ocp.how_to_fix(ocp.PROJECT_DIR))
    assert ocp.explain_exit("py", 1, ["No module named cv2", "more"])[0].startswith("py cannot run bgblur_core (No module named cv2);")
    assert ocp.explain_exit("py", 2, ["bgblur: error: a", "bgblur: error: b: error: c"]) == ("b: error: c", False)
    assert ocp.explain_exit("py", 2, ["usage: bgblur", " bgblur: error: x"]) == ("the core exited with code 2", True)
    assert ocp.explain_exit("py", 3, ["bgblur: error: camera lost", "bgblur: note"]) == (
        "the core exited with code 3: camera lost", True)
    assert ocp.explain_exit("py", 0, ["bgblur: error: x"]) == ("the core finished (end of input)", False)
    assert ocp.explain_exit("py", -15, ["bgblur: error: x"]) == ("the core was killed by signal 15", True)
    assert ocp.explain_exit("py", 1, ["Traceback (most recent call last):", "  "]) == ("the core exited with code 1", True)
    assert ocp.explain_exit("py", 1, [" Traceback (most recent call last):", "E"]) == ("the core exited with code 1", True)


def test_the_settings_file_is_replaced_whole_and_no_partial_file_stays(tmp_path):
    (tmp_path / "settings.json.tmp").write_text("x" * 10000)  # left over by a crash
    path = ocp.write_settings_file({"engine": "hsv", "obs_password": "pw"}, str(tmp_path))
    assert path == str(tmp_path / "settings.json") and json.loads(Path(path).read_text()) == {"engine": "hsv"}
    assert ocp.write_settings_file({"engine": "selfie"}, str(tmp_path)) == path
    assert json.loads(Path(path).read_text()) == {"engine": "selfie"}
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_settings_file_is_private_and_never_holds_the_password(tmp_path):
    values = dict(schema.validate({"obs_password": "hunter2", "engine": "hsv"}))
    path = Path(ocp.write_settings_file(values, str(tmp_path)))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert "obs_password" not in data and "hunter2" not in path.read_text()
    assert schema.validate(data).engine == "hsv"


def test_debounced_hands_out_only_the_latest_value_after_a_quiet_period():
    d = ocp.Debounced(0.3)
    d.put({"a": 1}, 10.0)
    d.put({"a": 2}, 10.2)
    assert d.take(10.4) is None
    assert d.take(10.5) == {"a": 2}
    assert d.take(11.0) is None


def test_status_line_shows_fps_latency_engine_and_effect():
    line = ocp.status_text({"fps": 29.96, "latency_ms": 12.4, "cpu_ms": 8.25, "engine": "hsv",
                               "effect": "blur", "enabled": True})
    assert line == "30.0 fps · latency 12 ms · CPU 8.2 ms/frame · engine hsv · blur"
    assert ocp.status_text({"engine": "hsv", "effect": "blur", "enabled": False}).endswith("effect off")


# -- the core process -----------------------------------------------------------------------
def test_core_runs_takes_changes_on_stdin_and_keeps_the_password_out_of_argv(core):
    assert core.start({**SMALL, "obs_password": "pw-in-env"}), core.message
    pid = core.proc.pid
    wait_until(core, lambda: core.status.get("fps"), what="a status event")
    assert "fps" in core.status_line() and "engine hsv" in core.status_line()
    assert b"pw-in-env" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert b"BGBLUR_OBS_PASSWORD=pw-in-env" in Path(f"/proc/{pid}/environ").read_bytes()

    core.update({**SMALL, "obs_password": "pw-in-env", "effect": "privacy"}, sys.executable)
    wait_until(core, lambda: core.status.get("effect") == "privacy", what="the change to reach the core")
    core.update({**SMALL, "obs_password": "pw-in-env", "hsv_h_min": 100, "hsv_h_max": 50}, sys.executable)
    assert "not applied: hsv_h_min" in core.status_line() and core.values["hsv_h_min"] == 0
    assert core.command("toggle")
    wait_until(core, lambda: core.status.get("enabled") is False, what="the toggle command")
    assert core.proc.pid == pid  # a change never restarts the core

    core.stop()
    assert not alive(pid) and core.state == "stopped"


def test_core_restarts_after_a_crash_with_backoff_and_gives_up_after_the_limit(core):
    core.BACKOFF_S = (0, 0)
    assert core.start(SMALL)
    pids = []
    for attempt in range(3):
        wait_until(core, lambda: core.state == "running" and core.status, what=f"core run {attempt}")
        pids.append(core.proc.pid)
        os.kill(core.proc.pid, signal.SIGKILL)
        if attempt < 2:
            wait_until(core, lambda: core.proc is not None and core.proc.pid not in pids, what="a restart")
    wait_until(core, lambda: core.state == "failed", what="giving up")
    assert "killed by signal 9" in core.message and "gave up after 2 restarts" in core.message
    assert len(set(pids)) == 3 and not any(alive(p) for p in pids)
    assert core.start(SMALL) and core.restarts == 0  # the user's start gets a fresh set of restarts


def test_a_bad_setting_at_start_is_reported_and_not_retried(core):
    assert core.start({**SMALL, "input": "/nonexistent/clip.mp4"})
    wait_until(core, lambda: core.state == "failed", what="the start-up error")
    assert "/nonexistent/clip.mp4" in core.message and core.proc is None
    core.update(SMALL, sys.executable)  # fixing the setting starts it again
    wait_until(core, lambda: core.status.get("fps"), what="the core to run with the fixed input")


def test_an_interpreter_without_bgblur_core_says_so_and_how_to_fix_it(tmp_path):
    core = ocp.Core(str(tmp_path))  # a directory without the package
    try:
        assert core.start(SMALL, "/usr/bin/python3")
        wait_until(core, lambda: core.state == "failed", what="the failure")
        assert core.message.startswith("/usr/bin/python3 cannot run bgblur_core (No module named bgblur_core)")
        assert "Core Python" in core.status_line()
        assert not core.start(SMALL, str(tmp_path / "no-such-python"))
        assert "cannot run the Core Python" in core.status_line() and "set-up command" in core.status_line()
    finally:
        core.stop()


# -- what the script decides for the core ---------------------------------------------------------
def test_the_stream_port_is_remembered_while_free_and_replaced_with_a_note_when_taken():
    port, note = ocp.pick_port(0)
    assert 0 < port < 65536 and note == ""
    assert ocp.pick_port(port) == (port, "")
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen(1)
        assert not ocp.port_free(port)
        other, note = ocp.pick_port(port)
    assert other != port and note == f"obs-stream port {port} is taken; using port {other}"


def test_script_values_stream_to_obs_and_switch_websocket_control_on_only_with_a_password():
    values = ocp.script_values({"engine": "hsv", "output": "virtualcam"}, 4321)
    assert values["output"] == "obs-stream:4321" and values["engine"] == "hsv"
    assert values["obs_enabled"] is False and values["obs_create_source"] is False and values["wait_for_camera"]
    values = ocp.script_values({"also_virtualcam": True, "obs_password": "pw", "obs_enabled": False}, 4321,
                               {"input": "/dev/video2", "width": 640, "height": 480})
    assert values["output"] == "obs-stream:4321,virtualcam" and values["obs_enabled"] is True
    assert (values["input"], values["width"], values["height"]) == ("/dev/video2", 640, 480)
    assert schema.validate(values).output == "obs-stream:4321,virtualcam"


def test_camera_request_reads_the_device_size_and_rate_of_each_capture_kind():
    v4l2 = {"device_id": "/dev/video4", "resolution": 1280 << 16 | 720, "framerate": 1 << 16 | 30}
    assert ocp.camera_request("v4l2_input", v4l2) == {"input": "/dev/video4", "width": 1280, "height": 720, "fps": 30}
    assert ocp.camera_request("v4l2_input", {"device_id": "/dev/video1"}, (640, 480)) == \
        {"input": "/dev/video1", "width": 640, "height": 480}
    assert ocp.camera_request("v4l2_input", {"device_id": "/dev/video1"}) == {"input": "/dev/video1"}
    dshow = {"video_device_id": "Cam:\\\\?\\usb#x", "resolution": "1920x1080", "frame_interval": 333333}
    assert ocp.camera_request("dshow_input", dshow) == {"input": "auto", "width": 1920, "height": 1080, "fps": 30}
    assert ocp.camera_request("av_capture_input", {"device": "uid"}, (1280, 720)) == \
        {"input": "auto", "width": 1280, "height": 720}
    assert ocp.camera_request("v4l2_input", {"device_id": "/dev/video0", "framerate": 1 << 16 | 500}) == \
        {"input": "/dev/video0"}  # beyond the fps range: the core's own default


def test_presets_drop_what_is_unknown_or_invalid_with_one_line_per_preset():
    presets, errors = ocp.parse_presets('{"BRB": {"effect": "privacy"}, "Talk": {"effect": "none", "bogus": 1}, '
                                        '"X": {"effect": "sparkle"}, "Y": 3}')
    assert presets == {"BRB": {"effect": "privacy"}, "Talk": {"effect": "none"}, "X": {}}
    assert len(errors) == 3 and "'Talk'" in errors[0] and "bogus" in errors[0] and "sparkle" in errors[1]
    assert ocp.parse_presets("{not json")[0] == {} and len(ocp.parse_presets("{not json")[1]) == 1


def test_a_scene_preset_applies_on_its_scene_and_is_undone_after_it_unless_the_user_changed_it():
    core = ocp.Core(str(ROOT))
    raw = {"engine": "hsv", "scene_presets": {"BRB": {"effect": "privacy", "bogus": 1}, "Q": {"blur_strength": 3.0}}}
    core.update(raw)
    assert core.values["effect"] == "blur" and core.values["scene_presets"] == {}
    core.set_scene("BRB")
    assert core.values["effect"] == "privacy" and core.panel["effect"] == "blur"
    core.set_scene("Q")
    assert core.values["effect"] == "blur" and core.values["blur_strength"] == 3.0
    core.set_scene("BRB")
    core.update({**raw, "effect": "none"})  # the user's change while the preset is live wins
    assert core.values["effect"] == "none"
    core.set_scene("Scene")
    assert core.values["effect"] == "none" and core.values["blur_strength"] == schema.DEFAULTS["blur_strength"]
    lines = core.poll()
    assert sum("scene preset 'BRB'" in li and "bogus" in li for li in lines) == 1  # once, not per update


def test_doctor_lines_are_the_failing_checks_and_garbage_is_no_report():
    report = {"ok": False, "checks": [{"name": "python", "status": "ok", "detail": "3.11", "fix": ""},
                                      {"name": "opencv", "status": "fail", "detail": "not installed", "fix": "run setup"},
                                      {"name": "camera", "status": "warn", "detail": "none", "fix": ""}]}
    assert ocp.doctor_lines(json.dumps(report)) == ["opencv: not installed (fix: run setup)"]
    assert ocp.doctor_lines("Traceback (most recent call last):") is None
    assert ocp.doctor_lines('{"checks": [{"name": 1}]}') is None


def fake_python(tmp_path, body: str) -> str:
    path = tmp_path / "python"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_a_core_that_cannot_start_asks_doctor_and_shows_its_failing_checks(tmp_path):
    report = {"ok": False, "checks": [{"name": "numpy", "status": "fail", "detail": "missing", "fix": "pip install"}]}
    python = fake_python(tmp_path, f"""case "$3" in doctor) echo '{json.dumps(report)}';;
        *) echo "ModuleNotFoundError: No module named 'numpy'" >&2; exit 1;; esac\n""")
    core = ocp.Core(str(tmp_path))
    try:
        assert core.start(SMALL, python)
        lines = wait_until(core, lambda: core.doctor, what="the doctor's report")
        assert "error: doctor: numpy: missing (fix: pip install)" in lines + core.poll()
        assert core.state == "failed" and "doctor: numpy: missing" in core.status_line()
    finally:
        core.stop()


def test_a_missing_or_broken_doctor_is_one_line_not_a_crash(tmp_path):
    python = fake_python(tmp_path, 'echo "usage: bgblur: invalid choice: doctor"; exit 2\n')
    core = ocp.Core(str(tmp_path))
    try:
        assert core.start(SMALL, python)
        core.BACKOFF_S = ()  # no restarts: give up at once, then ask the doctor
        lines: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("gave no report" in li for li in lines):
            lines += core.poll()
            time.sleep(0.05)
        assert sum("bgblur doctor gave no report" in li for li in lines) == 1
        assert core.state == "failed" and core.doctor == []
    finally:
        core.stop()


def test_the_status_line_names_a_camera_that_cannot_be_opened():
    core = ocp.Core(str(ROOT))
    core.state, core.camera_note = "running", "blurring the camera 'Webcam'"
    core._events.put(("out", json.dumps({"status": {"fps": 30, "input": "camera /dev/video9", "input_lost": True,
                                                    "engine": "hsv", "effect": "blur"}})))
    lines = core.poll()
    assert lines == ["error: camera /dev/video9 cannot be opened or was lost; the blurred source shows a placeholder "
                     "until it is back"]
    assert core.status_line().startswith("blurring the camera 'Webcam' · camera /dev/video9 cannot be opened")


# -- the core's lifecycle with a stand-in core (a shell script): fast, and it shows what the core is given ----------
def wait_for(predicate, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return value


def recording_python(tmp_path) -> str:
    """A stand-in core: records its arguments, folder and environment (per pid), then copies its stdin until EOF."""
    return fake_python(tmp_path, f'echo "$@" > {tmp_path}/args.$$; pwd > {tmp_path}/cwd.$$; env > {tmp_path}/env.$$\n'
                                 f'exec cat > {tmp_path}/stdin.$$\n')


def recorded(tmp_path, name: str, pid: int) -> str:
    return wait_for(lambda: (tmp_path / f"{name}.{pid}").exists() and (tmp_path / f"{name}.{pid}").read_text(), name)


def test_the_core_runs_in_the_project_folder_with_a_private_settings_file_and_a_clean_environment(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    python = recording_python(tmp_path)
    monkeypatch.setenv("PYTHONHOME", "/obs/python")  # OBS's own Python home must not reach the core
    monkeypatch.setenv(schema.PASSWORD_ENV, "inherited")  # nor a password the user did not give
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # the core gets it from the script
    core = ocp.Core(str(project))
    try:
        assert core.start({**SMALL, "effect": "privacy"}, python)
        pid = core.proc.pid
        assert (core.state, core.message, core.status) == ("running", f"starting (pid {pid})", {})
        args = recorded(tmp_path, "args", pid).split()
        assert args[:-1] == ["-m", "bgblur_core", "run", "--control", "stdin", "--settings"]
        settings_file = Path(args[-1])
        assert core.poll() == [f"core started: pid {pid}: {python} {' '.join(args)}"]
        expected = {**schema.DEFAULTS, **SMALL, "effect": "privacy"}
        del expected["obs_password"]  # secrets stay out of the file
        assert json.loads(settings_file.read_text()) == expected
        assert stat.S_IMODE(settings_file.parent.stat().st_mode) == 0o700
        assert recorded(tmp_path, "cwd", pid).strip() == str(project)
        env = recorded(tmp_path, "env", pid).splitlines()
        assert "PYTHONUNBUFFERED=1" in env and not any(v.startswith(("PYTHONHOME=", schema.PASSWORD_ENV)) for v in env)

        assert core.start({**SMALL, "obs_password": "pw"}, python)  # a restart: a new process, the same folder
        assert core.proc.pid != pid and not alive(pid)
        pid = core.proc.pid
        assert f"{schema.PASSWORD_ENV}=pw" in recorded(tmp_path, "env", pid).splitlines()
        assert recorded(tmp_path, "args", pid).split()[-1] == str(settings_file)
        assert "pw" not in settings_file.read_text()

        core.update({**SMALL, "obs_password": "pw", "effect": "none"}, python)
        core.update({**SMALL, "obs_password": "pw", "effect": "none"}, python)  # nothing new: nothing sent
        assert core.command("toggle") and core.proc.pid == pid  # a change never restarts the core
        received = wait_for(lambda: recorded(tmp_path, "stdin", pid).count("\n") == 2 and recorded(tmp_path, "stdin", pid),
                            "the messages on stdin")
        assert received.splitlines() == ['{"set": {"effect": "none"}}', '{"command": "toggle"}']
    finally:
        core.stop()
    assert not alive(pid) and core.proc is None and not settings_file.parent.exists()
    assert (core.state, core.message, core.status, core.restarts) == ("stopped", "stopped", {}, 0)
    assert core.send({"command": "toggle"}) is False


def test_a_stopped_core_starts_again_and_stop_survives_its_folder_gone(tmp_path):
    python = recording_python(tmp_path)
    core = ocp.Core(str(tmp_path))
    try:
        assert core.start(SMALL, python)
        first = Path(recorded(tmp_path, "args", core.proc.pid).split()[-1])
        core.stop()
        assert not first.parent.exists()
        assert core.start(SMALL, python)
        second = Path(recorded(tmp_path, "args", core.proc.pid).split()[-1])
        assert second.parent.is_dir() and second.parent != first.parent
        import shutil
        shutil.rmtree(second.parent)  # e.g. a temp cleaner got there first
    finally:
        core.stop()
    assert core.state == "stopped"


def test_a_crash_is_restarted_after_each_backoff_step_and_the_core_gives_up_after_the_last(tmp_path):
    python = fake_python(tmp_path, 'echo "Traceback (most recent call last):" >&2; echo "RuntimeError: boom" >&2; exit 1\n')
    core = ocp.Core(str(tmp_path))
    core.BACKOFF_S = (1, 2)
    try:
        assert core.start(SMALL, python)
        now, lines = 100.0, []
        for attempt, delay in enumerate(core.BACKOFF_S):
            pid = core.proc.pid
            core.proc.wait()
            lines += core.poll(now)  # the exit's last words are read before the exit is explained
            started = f"core started: pid {pid}: {python} -m bgblur_core run --control stdin "
            assert [line for line in lines if not line.startswith(started)] == [
                "core: Traceback (most recent call last):", "core: RuntimeError: boom"] and len(lines) == 3
            message = f"the core exited with code 1: RuntimeError: boom; restarting in {delay} s ({attempt + 1}/2)"
            assert (core.state, core.message, core.proc, core.status) == ("waiting", message, None, {})
            if attempt == 0:  # before its time the restart waits
                assert core.poll(now + delay - 0.5) == [message] and core.state == "waiting"
            now += delay
            lines = core.poll(now)
            if attempt == 1:  # the restart's poll also returns what was queued before it
                assert lines[0] == message
            assert core.state == "running" and core.proc.pid != pid and core.restarts == attempt + 1
        core.proc.wait()
        core.poll(now)
        assert core.state == "failed" and core.message == (
            "the core exited with code 1: RuntimeError: boom; gave up after 2 restarts (press 'Start core' to try again)")
        assert core.proc is None and core.status_line().startswith(core.message)
    finally:
        core.stop()


def test_a_core_that_ran_a_minute_gets_a_fresh_set_of_restarts(tmp_path):
    core = ocp.Core(str(tmp_path))
    try:
        assert core.start(SMALL, recording_python(tmp_path))
        core.restarts = 3
        core.poll(core.started_at + core.STABLE_S)
        assert core.restarts == 3
        core.poll(core.started_at + core.STABLE_S + 0.5)
        assert core.restarts == 0 and core.state == "running"
    finally:
        core.stop()


def test_an_exit_that_a_restart_cannot_fix_fails_at_once(tmp_path):
    core = ocp.Core(str(tmp_path))
    try:
        for body, message in [('echo "bgblur: error: input: cannot open x" >&2; exit 2\n', "input: cannot open x"),
                              ("exit 0\n", "the core finished (end of input)")]:
            assert core.start(SMALL, fake_python(tmp_path, body))
            core.proc.wait()
            core.poll(1000.0)
            assert (core.state, core.message, core.proc) == ("failed", message, None)
            assert core.poll(2000.0)[-1] == f"error: {message}" and core.state == "failed"  # no restart
    finally:
        core.stop()


def test_a_start_with_bad_settings_or_no_interpreter_fails_in_one_line_and_a_fix_starts_it(tmp_path, monkeypatch):
    python = recording_python(tmp_path)
    core = ocp.Core(str(tmp_path))
    try:
        assert not core.start({**SMALL, "engine": "magic"}, python)
        message = "not applied: engine: 'magic' is not allowed; expected one of " + ", ".join(schema.ENGINES)
        assert (core.state, core.message, core.proc) == ("failed", message, None)
        assert core.poll() == [f"error: {message}"] and core.status_line().startswith(message)
        core.update({**SMALL, "engine": "magic"}, python)  # still bad: still failed, nothing started
        assert core.state == "failed" and core.proc is None
        core.update(SMALL, python)  # fixed: started with the fixed settings
        assert core.state == "running" and core.values["engine"] == "hsv" and core.status_line() == core.message
        core.stop()

        assert not core.start(SMALL, str(tmp_path / "missing"))
        assert core.message == (f"cannot run the Core Python {str(tmp_path / 'missing')!r} (No such file or directory); "
                                f"{ocp.how_to_fix(str(tmp_path))}")
        monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no python3 or python, and no .venv in the project
        assert not core.start(SMALL, "")
        assert (core.state, core.message) == ("failed", (f"no Python interpreter found to run bgblur_core; "
                                                         f"{ocp.how_to_fix(str(tmp_path))}"))
        core.update(SMALL, python)  # the same settings with another interpreter: tried again
        assert core.state == "running" and core.python == python
    finally:
        core.stop()


def test_a_preset_says_everything_it_dropped_in_one_line():
    assert ocp.parse_presets({"T": {"bogus": 1, "effect": "sparkle", "feather": 3}}) == ({"T": {"feather": 3}}, [
        "scene preset 'T': ignored bogus: unknown setting; see `bgblur settings` for the list; "
        "effect: 'sparkle' is not allowed; expected one of " + ", ".join(schema.EFFECTS)])


def test_preset_errors_are_logged_once_each_user_change_is_kept_and_a_preset_that_breaks_a_rule_is_not_applied():
    core = ocp.Core(str(ROOT))
    raw = {"engine": "hsv", "hsv_h_max": 100,
           "scene_presets": {"BRB": {"effect": "privacy", "bogus": 1}, "X": {"hsv_h_min": 170, "feather": 9}}}
    core.update(raw)
    assert core.poll() == ["error: scene preset 'BRB': ignored bogus: unknown setting; see `bgblur settings` for the list"]
    core.update(raw)
    assert core.poll() == []  # the same errors again: not repeated
    core.set_scene("BRB")
    core.update({**raw, "blur_strength": 3.0})  # a change of another setting leaves the preset's effect alone
    assert (core.values["effect"], core.values["blur_strength"]) == ("privacy", 3.0)
    core.update({**raw, "blur_strength": 3.0, "effect": "none"})
    core.update({**raw, "blur_strength": 4.0, "effect": "none"})  # the user's earlier change still wins
    assert (core.values["effect"], core.values["blur_strength"]) == ("none", 4.0)
    core.set_scene("X")  # hsv_h_min 170 is above the panel's hsv_h_max: the preset is not applied
    assert core.poll() == [("error: scene preset 'X' not applied: hsv_h_min: 170 is above hsv_h_max (100); "
                            "the lower bound must not exceed the upper")]
    assert (core.values["hsv_h_min"], core.values["feather"], core.values["effect"]) == (0, schema.DEFAULTS["feather"], "none")
    assert schema.DEFAULTS["feather"] != 9


def test_without_a_core_python_the_projects_venv_runs_the_core(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no python on PATH: only the project's .venv
    venv = tmp_path / ".venv" / "bin" / "python"
    venv.parent.mkdir(parents=True)
    venv.write_text(f"#!/bin/sh\necho started > {tmp_path}/started.$$\nexec cat > /dev/null\n")
    venv.chmod(0o755)
    core = ocp.Core(str(tmp_path))
    try:
        core.update(SMALL)  # the panel's values, no Core Python given
        assert core.start(SMALL) and core.python == str(venv)
        recorded(tmp_path, "started", core.proc.pid)
    finally:
        core.stop()


def test_exits_are_explained_with_the_project_folder_and_the_cores_last_words_as_written(tmp_path):
    core = ocp.Core(str(tmp_path))
    try:
        python = fake_python(tmp_path, "printf 'warning: spaces  \\n\\377 odd\\nRuntimeError: X\\n' >&2; exit 1\n")
        assert core.start(SMALL, python)
        core.proc.wait()
        lines = core.poll(0.0)
        assert [line for line in lines if line.startswith("core: ")] == [
            "core: warning: spaces  ", "core: \ufffd odd", "core: RuntimeError: X"]
        python = fake_python(tmp_path, "echo \"ModuleNotFoundError: No module named 'bgblur_core'\" >&2; exit 1\n")
        assert core.start(SMALL, python)
        core.proc.wait()
        core.poll(0.0)
        assert core.state == "failed" and core.message == (
            f"{python} cannot run bgblur_core (No module named bgblur_core); {ocp.how_to_fix(str(tmp_path))}")
    finally:
        core.stop()


def test_a_settings_error_or_the_end_of_input_asks_no_doctor(tmp_path):
    import threading
    core = ocp.Core(str(tmp_path))
    try:
        for code in (2, 0):
            python = fake_python(tmp_path, f'[ "$3" = doctor ] && exec sleep 10\necho "bgblur: error: x" >&2; exit {code}\n')
            assert core.start(SMALL, python)
            core.proc.wait()
            before = set(threading.enumerate())
            core.poll(0.0)
            assert core.state == "failed" and set(threading.enumerate()) <= before  # no doctor thread started
    finally:
        core.stop()


def test_a_new_core_is_stopped_takes_a_scene_before_its_settings_and_starts_with_every_restart(tmp_path):
    core = ocp.Core(str(tmp_path))
    assert (core.state, core.status, core.status_line()) == ("stopped", {}, "stopped")
    core.set_scene("BRB")  # OBS may report the scene before the panel's values
    assert core.values == schema.DEFAULTS and core.poll() == []
    python = fake_python(tmp_path, "exit 1\n")
    try:
        assert core.start(python=python)  # no settings: the current ones
        core.proc.wait()
        core.poll(0.0)
        assert core.message == "the core exited with code 1; restarting in 1 s (1/5)"
    finally:
        core.stop()


def test_only_the_cores_last_40_lines_of_stderr_explain_its_exit(tmp_path):
    core = ocp.Core(str(tmp_path))
    python = fake_python(tmp_path, 'echo "bgblur: error: old" >&2; for i in $(seq 40); do echo "line $i" >&2; done; exit 3\n')
    try:
        assert core.start(SMALL, python)
        core.proc.wait()
        core.poll(0.0)
        assert core.message == "the core exited with code 3; restarting in 1 s (1/5)"  # "old" is 41 lines back
    finally:
        core.stop()


def test_the_camera_lost_line_is_said_once_names_the_camera_and_other_events_are_ignored():
    core = ocp.Core(str(ROOT))
    core.state = "running"
    for event in ['{"status": {"fps": 0, "input_lost": true}}', '{"status": {"fps": 0, "input_lost": true}}',
                  '{"other": 1}', "[1]", '"text"', "5"]:
        core._events.put(("out", event))
    assert core.poll() == [("error: the camera cannot be opened or was lost; the blurred source shows a placeholder "
                            "until it is back")]
    assert core.last_error == "" and core.status == {"fps": 0, "input_lost": True}


def in_time(action, what: str) -> None:
    """Run `action` in a thread; fail (instead of hanging the test run) if it does not return within 30 s."""
    import threading
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), f"{what} hung"


def test_stop_ends_a_core_that_ignores_the_end_of_its_input_and_sigterm(tmp_path, monkeypatch):
    monkeypatch.setattr(ocp, "STOP_TIMEOUT_S", 0.3)
    core = ocp.Core(str(tmp_path))
    try:
        for body in ("exec sleep 60\n", "trap '' TERM; exec sleep 60\n"):
            assert core.start(SMALL, fake_python(tmp_path, body))
            pid = core.proc.pid
            in_time(core.stop, "stop")
            assert not alive(pid) and core.state == "stopped"
    finally:
        core.stop()


def test_a_process_the_core_left_behind_holding_its_output_freezes_neither_poll_nor_stop(tmp_path):
    pids = tmp_path / "pids"
    core = ocp.Core(str(tmp_path))
    try:
        assert core.start(SMALL, fake_python(tmp_path, f"sleep 60 & echo $! >> {pids}; exit 1\n"))
        core.proc.wait()
        in_time(lambda: core.poll(0.0), "poll")
        assert core.state == "waiting"
        assert core.start(SMALL, fake_python(tmp_path, f"sleep 60 & echo $! >> {pids}; exec sleep 60\n"))
        in_time(core.stop, "stop")
    finally:
        core.stop()
        for pid in (pids.read_text().split() if pids.exists() else []):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass

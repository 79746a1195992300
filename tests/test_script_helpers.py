"""The OBS script's helpers in bgblur_core/obs_core_process.py that need no OBS: panel labels and steps,
camera choices, the Media Source's settings, status lines, and fetching the models in the background."""
import os
import re
import shutil
import sys
import time

from bgblur_core import obs_core_process as ocp
from bgblur_core import settings as schema
from bgblur_core.settings import Setting
from test_obs_script import fake_python


def poll_until(core, text: str, timeout: float = 20.0) -> list[str]:
    """Poll as the OBS timer does until a log line contains `text`; all lines so far."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while not any(text in line for line in lines):
        assert time.monotonic() < deadline, f"no log line with {text!r} in {lines}"
        lines += core.poll()
        time.sleep(0.05)
    return lines


def test_a_setting_without_a_label_is_named_in_words_with_hsv_and_obs_in_capitals():
    def label(name, **kw):
        return ocp.setting_label(Setting(name, int, 0, "h", "engine", **kw))
    assert [label("hsv_h_min"), label("obs_port"), label("blur_method"), label("obsolete_x"), label("my_obs_x")] == \
        ["HSV h min", "OBS port", "Blur method", "Obsolete x", "My obs x"]
    assert label("hsv_h_min", label="Hue from") == "Hue from"
    assert ocp.setting_label(schema.BY_NAME["obs_host"]) == "OBS host"


def test_a_sliders_step_follows_its_range():
    def step(lo, hi):
        return ocp.float_step(Setting("x", float, lo, "h", "effect", min=lo, max=hi))
    assert [step(0, 0.5), step(0, 1), step(0.5, 2), step(0, 10), step(-1, 9.5), step(0, 100)] == \
        [0.01, 0.01, 0.1, 0.1, 0.5, 0.5]


def test_camera_choices_are_the_video_devices_in_number_order(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(ocp.glob, "glob", lambda pattern: {"/dev/video*": ["/dev/video10", "/dev/video2",
                                                                           "/dev/video", "/dev/video0"]}[pattern])
    assert ocp.camera_choices() == ["auto", "/dev/video", "/dev/video0", "/dev/video2", "/dev/video10", "synthetic"]
    monkeypatch.setattr(sys, "platform", "win32")  # elsewhere OpenCV opens cameras by index
    assert ocp.camera_choices() == ["auto", "0", "1", "2", "synthetic"]


def test_the_media_source_reads_the_stream_live_with_the_least_delay():
    settings = ocp.media_source_settings(4321)
    options = settings.pop("ffmpeg_options").split()
    assert settings == {
        "is_local_file": False, "input": "tcp://127.0.0.1:4321", "input_format": "yuv4mpegpipe",
        "buffering_mb": 0, "reconnect_delay_sec": 1, "restart_on_activate": False, "close_when_inactive": False,
        "hw_decode": False, "clear_on_media_end": False}
    assert "fflags=nobuffer" in options and all(re.fullmatch(r"[a-z_]+=[a-z0-9_]+", o) for o in options), options
    assert ocp.core_output(4321, False) == "obs-stream:4321"
    assert ocp.core_output(4321, True) == "obs-stream:4321,virtualcam"


def test_a_status_without_figures_still_reads_as_a_line():
    assert ocp.status_text({}) == "0.0 fps · latency 0 ms · CPU 0.0 ms/frame · engine ? · ?"
    assert ocp.status_text({"enabled": True, "effect": "color"}).endswith(" · engine ? · color")


def test_colours_keep_each_channel_apart():
    assert ocp.color_to_obs("#010203") == 0xFF030201 and ocp.obs_to_color(0x00030201) == "#010203"
    assert ocp.obs_to_color(0xFFFFFFFF) == "#ffffff"


def test_models_are_fetched_in_the_background_and_the_result_is_logged(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    python = fake_python(tmp_path, f'[ "$*" = "-m bgblur_core models fetch" ] && [ "$PWD" = "{project}" ] || exit 9\n'
                                   'printf "\\377 first\\nsecond\\n"; echo "selfie: ok" >&2\n')
    core = ocp.Core(str(project))
    core.configured_python = python
    try:
        core.fetch_models()
        lines = poll_until(core, "models fetched")
        assert lines == ["fetching models...", "models fetched: selfie: ok"]  # its last line, stderr included
    finally:
        core.stop()


def test_a_failed_fetch_says_its_code_and_a_second_request_waits_for_the_first(tmp_path):
    started = tmp_path / "started"
    python = fake_python(tmp_path, f'echo x >> {started}; sleep 1; exit 3\n')
    core = ocp.Core(str(tmp_path))
    core.configured_python = python
    try:
        core.fetch_models()
        core.fetch_models()  # still fetching: not a second download
        lines = poll_until(core, "failed")
        assert lines == ["fetching models...", "fetching models failed (code 3)"]
        assert started.read_text() == "x\n"
        core.fetch_models()  # done: a new request runs again
        poll_until(core, "failed")
        assert started.read_text() == "x\nx\n"
    finally:
        core.stop()


def test_stop_ends_a_fetch_still_running(tmp_path):
    pid_file = tmp_path / "pid"
    python = fake_python(tmp_path, f'echo $$ > {pid_file}; exec sleep 60\n')
    core = ocp.Core(str(tmp_path))
    core.configured_python = python
    core.fetch_models()
    deadline = time.monotonic() + 10
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline, "the fetch did not start"
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    core.stop()
    assert core._fetcher is None
    try:
        os.kill(pid, 0)
        gone = False
    except ProcessLookupError:
        gone = True
    assert gone, "the fetch was left running"


def test_a_fetch_that_cannot_start_is_one_line(tmp_path, monkeypatch):
    core = ocp.Core(str(tmp_path))
    core.configured_python = str(tmp_path / "missing-python")
    core.fetch_models()
    assert core.poll() == [f"error: cannot run {str(tmp_path / 'missing-python')!r} to fetch the models "
                           "(No such file or directory)"]
    monkeypatch.setenv("PATH", str(tmp_path))  # no python3 or python there, and no .venv in the project
    core.configured_python = ""
    core.fetch_models()
    assert core.state == "failed" and core.message == (
        f"no Python interpreter found to fetch the models; {ocp.how_to_fix(str(tmp_path))}")
    assert core.poll() == [f"error: {core.message}"]


def test_the_status_line_says_what_matters_in_each_state():
    core = ocp.Core(str(ocp.PROJECT_DIR))
    assert core.status_line() == "stopped"
    core.state, core.message, core.status = "running", "starting (pid 1)", {}
    assert core.status_line() == "starting (pid 1)"  # no status yet
    core.status = {"fps": 25, "latency_ms": 40, "cpu_ms": 9, "engine": "hsv", "effect": "blur"}
    assert core.status_line() == ocp.status_text(core.status)
    core.last_error, core.camera_note, core.setting_error = "frame dropped", "blurring 'Cam'", "not applied: x"
    assert core.status_line() == f"blurring 'Cam' · {ocp.status_text(core.status)} · last error: frame dropped · not applied: x"
    core.status = {**core.status, "input_lost": True}
    assert core.status_line().startswith("blurring 'Cam' · the camera cannot be opened or was lost: showing a placeholder · ")
    core.state, core.message, core.setting_error = "failed", "it broke", ""
    core.doctor = ["numpy: missing"]
    assert core.status_line() == "it broke · doctor: numpy: missing"  # no camera note or last error once failed
    core.doctor = ["numpy: missing", "cv2: missing", "camera: none"]
    assert core.status_line() == "it broke · doctor: numpy: missing (+2 more in the Script Log)"
    core.state = "waiting"
    assert core.status_line() == "it broke"


def test_camera_request_keeps_only_what_the_core_accepts():
    assert ocp.camera_request("v4l2_input", {}) == {"input": "auto"}
    assert ocp.camera_request("v4l2_input", {"device_id": ""}, (160, 120)) == {"input": "auto", "width": 160, "height": 120}
    assert ocp.camera_request("v4l2_input", {}, (159, 720)) == {"input": "auto"}  # below the smallest width
    assert ocp.camera_request("v4l2_input", {}, (1280, 119)) == {"input": "auto"}
    assert ocp.camera_request("v4l2_input", {"resolution": -1, "framerate": 30}, (640, 480)) == \
        {"input": "auto", "width": 640, "height": 480}  # no numerator: no rate
    assert ocp.camera_request("v4l2_input", {"framerate": 1001 << 16 | 30000}) == {"input": "auto", "fps": 30}
    assert ocp.camera_request("v4l2_input", {"framerate": 1 << 16 | 120})["fps"] == 120
    assert ocp.camera_request("v4l2_input", {"framerate": 1 << 16 | 1})["fps"] == 1
    assert "fps" not in ocp.camera_request("v4l2_input", {"framerate": 1 << 16 | 121})
    assert "fps" not in ocp.camera_request("v4l2_input", {"framerate": 3 << 16 | 1})  # 0.33 fps rounds to 0
    assert ocp.camera_request("dshow_input", {"resolution": "640x480x", "frame_interval": 0}) == {"input": "auto"}
    assert ocp.camera_request("dshow_input", {"frame_interval": 166667}) == {"input": "auto", "fps": 60}
    assert ocp.camera_request("av_capture_input", {"resolution": 640 << 16 | 480, "frame_interval": 333333}) == \
        {"input": "auto"}  # another kind's fields mean nothing here


def test_the_doctors_failing_checks_reach_the_log_and_no_report_is_one_line(tmp_path):
    report = '{"checks": [{"name": "numpy", "status": "fail", "detail": "missing", "fix": ""}]}'
    core = ocp.Core(str(tmp_path))
    core.python = fake_python(tmp_path, f"[ \"$3 $4\" = \"doctor --json\" ] && echo '{report}'\n")
    core.run_doctor()
    assert poll_until(core, "doctor") == ["error: doctor: numpy: missing"] and core.doctor == ["numpy: missing"]
    core.python = str(tmp_path / "missing-python")
    core.run_doctor()
    assert poll_until(core, "doctor") == [f"bgblur doctor gave no report with {core.python}; run the README's set-up command"]


def test_the_fix_names_the_project_folder_and_the_core_python_setting():
    assert ocp.how_to_fix("/opt/bgblur") == ("fix: run the README's set-up command in /opt/bgblur (it creates .venv "
                                             "there), or set 'Core Python' to an interpreter that has obs-bgblur installed")


def test_on_windows_the_interpreter_is_the_venvs_scripts_python_exe(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no python on PATH
    venv = tmp_path / ".venv" / "Scripts" / "python.exe"
    venv.parent.mkdir(parents=True)
    venv.write_text("")
    (tmp_path / ".venv" / "bin").mkdir()
    (tmp_path / ".venv" / "bin" / "python").write_text("")  # the POSIX layout is not looked at on Windows
    monkeypatch.setattr(ocp.os, "name", "nt")
    assert ocp.interpreter("", str(tmp_path)) == str(venv)
    monkeypatch.chdir(tmp_path)  # the venv is looked for in the project folder, not the working folder
    assert ocp.interpreter("", str(tmp_path / "elsewhere")) is None


def lingering_port() -> int:
    """A loopback port whose server (as obs-stream does, with SO_REUSEADDR) closed its connection first and then
    stopped: the connection lingers in TIME_WAIT on that port."""
    import socket
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            accepted, _ = server.accept()
            accepted.close()  # the server side closes first: its side waits in TIME_WAIT
    return port


def test_a_port_whose_last_connection_lingers_is_free_except_on_windows(monkeypatch):
    port = lingering_port()
    assert ocp.port_free(port) and ocp.pick_port(port) == (port, "")
    monkeypatch.setattr(ocp.os, "name", "nt")  # there SO_REUSEADDR would take a port in use: not set
    assert not ocp.port_free(port)


def test_a_saved_port_outside_the_port_range_is_replaced_by_a_free_one():
    for saved in (65536, 70000, -5):
        port, note = ocp.pick_port(saved)
        assert 0 < port < 65536 and port != saved and note == f"obs-stream port {saved} is taken; using port {port}"
    for saved in (1, 65535):  # the ends of the range are kept while free (port 1 only for root)
        if ocp.port_free(saved):
            assert ocp.pick_port(saved) == (saved, "")


def test_a_preset_that_is_not_an_object_does_not_hide_the_presets_after_it():
    presets, errors = ocp.parse_presets({"Y": 3, "BRB": {"effect": "privacy"}})
    assert presets == {"BRB": {"effect": "privacy"}}
    assert errors == ["scene preset 'Y' ignored: not a JSON object of settings"]


def test_a_v4l2_devices_own_resolution_wins_over_the_sources_size_and_rates_round_half_to_even():
    assert ocp.camera_request("v4l2_input", {"resolution": 1}, (640, 480)) == {"input": "auto"}  # 0x1: no size
    assert ocp.camera_request("v4l2_input", {"resolution": 320 << 16 | 240}, (640, 480)) == \
        {"input": "auto", "width": 320, "height": 240}
    assert ocp.camera_request("dshow_input", {"frame_interval": 4_000_000})["fps"] == 2  # 2.5 fps
    assert ocp.camera_request("dshow_input", {"frame_interval": 2_857_143})["fps"] == 3  # 3.4999996 fps
    assert ocp.camera_request("dshow_input", {"resolution": "640x480"}, (1280, 720)) == \
        {"input": "auto", "width": 640, "height": 480}


def test_a_debounced_value_is_handed_out_exactly_when_the_delay_has_passed():
    d = ocp.Debounced(0.25)
    assert d.take(100.0) is None  # nothing put yet
    d.put("x", 10.0)
    assert d.take(10.125) is None and d.take(10.25) == "x" and d.take(10.5) is None


def test_nothing_is_sent_without_a_core():
    core = ocp.Core()
    assert core.send({"command": "toggle"}) is False and core.command("toggle") is False


def test_the_cores_last_error_comes_from_its_status_and_its_error_events():
    core = ocp.Core()
    core.state = "running"
    core._events.put(("out", '{"status": {"fps": 30, "engine": "hsv", "effect": "blur", "last_error": "frame dropped"}}'))
    assert core.poll() == [] and core.status_line().endswith(" · last error: frame dropped")
    core._events.put(("out", '{"error": "cannot open /dev/video9"}'))
    core._events.put(("out", "not json"))
    assert core.poll() == ["core: not json"] and core.status_line().endswith(" · last error: cannot open /dev/video9")
    core._events.put(("out", '{"status": {"fps": 30, "engine": "hsv", "effect": "blur"}}'))
    core.poll()
    assert "last error" not in core.status_line() and core.message == "running"


def test_a_fetch_runs_the_projects_venv_python_and_never_reads_obss_stdin(tmp_path, monkeypatch):
    venv = tmp_path / ".venv" / "bin" / "python"
    venv.parent.mkdir(parents=True)
    readlink = shutil.which("readlink")
    venv.write_text(f'#!/bin/sh\n[ "$*" = "-m bgblur_core models fetch" ] || exit 9\n{readlink} /proc/self/fd/0\n')
    venv.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no other python to fall back on
    core = ocp.Core(str(tmp_path))
    read, write = os.pipe()
    stdin = os.dup(0)
    try:
        os.dup2(read, 0)  # OBS's stdin: a pipe the fetch must not inherit
        core.fetch_models()
    finally:
        os.dup2(stdin, 0)
        for fd in (read, write, stdin):
            os.close(fd)
    try:
        assert poll_until(core, "models fetched") == ["fetching models...", "models fetched: /dev/null"]
    finally:
        core.stop()


def test_obs_can_quit_while_a_core_a_doctor_and_a_fetch_still_run(tmp_path):
    """Every helper thread is a daemon: Python joins the others at exit, so OBS would hang on quitting."""
    import threading

    from test_obs_script import SMALL
    pids = tmp_path / "pids"
    python = fake_python(tmp_path, f'echo $$ >> {pids}; exec sleep 60\n')
    before = set(threading.enumerate())
    core = ocp.Core(str(tmp_path))
    try:
        assert core.start(SMALL, python)
        core.run_doctor()
        core.fetch_models()
        started = set(threading.enumerate()) - before
        assert len(started) == 4 and all(t.daemon for t in started)  # two readers, the doctor, the fetch
    finally:
        core.stop()
        for pid in (pids.read_text().split() if pids.exists() else []):
            try:
                os.kill(int(pid), 9)
            except ProcessLookupError:
                pass


def test_the_doctor_runs_in_the_project_folder_reads_no_stdin_and_its_odd_bytes_are_replaced(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    readlink = shutil.which("readlink")
    core = ocp.Core(str(project))
    core.python = fake_python(tmp_path, f'[ "$*" = "-m bgblur_core doctor --json" ] && [ "$PWD" = "{project}" ] || exit 9\n'
                                        f'stdin=$({readlink} /proc/self/fd/0)\n'
                                        """printf '{"checks": [{"name": "camera", "status": "fail", "detail": "\\377 %s", """
                                        """"fix": ""}]}\\n' "$stdin"\n""")
    read, write = os.pipe()
    stdin = os.dup(0)
    try:
        os.dup2(read, 0)  # OBS's stdin: a pipe the doctor must not inherit
        core.run_doctor()
        lines = poll_until(core, "doctor")
    finally:
        os.dup2(stdin, 0)
        for fd in (read, write, stdin):
            os.close(fd)
    assert lines == ["error: doctor: camera: \ufffd /dev/null"] and core.doctor == ["camera: \ufffd /dev/null"]


def test_a_doctor_that_hangs_is_given_up_on(tmp_path, monkeypatch):
    monkeypatch.setattr(ocp, "DOCTOR_TIMEOUT_S", 0.5)
    report = '{"checks": [{"name": "late", "status": "fail", "detail": "too late", "fix": ""}]}'
    core = ocp.Core(str(tmp_path))
    core.python = fake_python(tmp_path, f"sleep 3; echo '{report}'\n")
    core.run_doctor()
    assert poll_until(core, "doctor") == [f"bgblur doctor gave no report with {core.python}; run the README's set-up command"]


def test_nothing_reaches_a_core_that_closed_its_stdin(tmp_path):
    from test_obs_script import SMALL
    core = ocp.Core(str(tmp_path))
    closed = tmp_path / "closed"
    try:
        assert core.start(SMALL, fake_python(tmp_path, f"exec 0<&-; touch {closed}; exec sleep 60\n"))
        deadline = time.monotonic() + 10
        while not closed.exists():
            assert time.monotonic() < deadline, "the stand-in core did not start"
            time.sleep(0.02)
        assert core.send({"command": "toggle"}) is False and core.command("toggle") is False
    finally:
        core.stop()


def test_two_failing_doctor_checks_say_one_more_is_in_the_log():
    core = ocp.Core()
    core.state, core.message, core.doctor = "failed", "it broke", ["numpy: missing", "cv2: missing"]
    assert core.status_line() == "it broke · doctor: numpy: missing (+1 more in the Script Log)"


def test_without_python3_on_path_the_interpreter_is_python(tmp_path, monkeypatch):
    (tmp_path / "bin").mkdir()
    python = tmp_path / "bin" / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert ocp.interpreter(script_dir=str(tmp_path)) == str(python)  # nothing configured, no .venv in the project


def test_a_setting_error_that_stopped_the_start_is_shown_once(tmp_path):
    core = ocp.Core(str(tmp_path))
    assert core.start({"engine": "magic"}, python=str(tmp_path / "python")) is False
    line = core.status_line()
    assert line.count("not applied: engine: 'magic' is not allowed") == 1 and core.state == "failed"

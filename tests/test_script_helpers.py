"""The OBS script's helpers in bgblur_core/obs_core_process.py that need no OBS: panel labels and steps,
camera choices, the Media Source's settings, status lines, and fetching the models in the background."""
import os
import re
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

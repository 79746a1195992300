"""`bgblur run` end to end: --frames, --stats, clean stops, stdin control, and the CLI's one-line errors."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from bgblur_core.seed import seed_reference

BGBLUR = [sys.executable, "-m", "bgblur_core"]


def bgblur(*args, timeout=120, **kw):
    return subprocess.run([*BGBLUR, *args], capture_output=True, text=True, timeout=timeout, **kw)


def start(*args, **kw):
    return subprocess.Popen([*BGBLUR, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def frame_count(path: Path) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                          "stream=nb_read_frames", "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def test_synthetic_to_mp4_writes_a_playable_90_frame_video(tmp_path):
    out = tmp_path / "out.mp4"
    r = bgblur("run", "--input", "synthetic", "--output", str(out), "--frames", "90", "--engine", "hsv")
    assert r.returncode == 0, r.stderr
    assert frame_count(out) == 90
    assert "input: synthetic" in r.stderr


def test_photo_to_png_matches_the_seed_byte_for_byte(tmp_path, dev_pairs):
    photo = dev_pairs[3][0]
    out = tmp_path / "out.png"
    r = bgblur("run", "--input", str(photo), "--output", str(out), "--engine", "hsv", "--blur-method", "exact")
    assert r.returncode == 0, r.stderr
    assert np.array_equal(cv2.imread(str(out)), seed_reference(cv2.imread(str(photo))))


def test_stats_prints_a_json_line_each_second(tmp_path):
    r = bgblur("run", "--input", "synthetic", "--output", "null", "--engine", "hsv", "--fps", "30",
               "--width", "320", "--height", "240", "--frames", "75", "--stats")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
    assert len(lines) >= 1
    for stat in lines:
        assert {"fps", "cpu_ms", "latency_ms", "stage_ms", "frames"} <= set(stat)
        assert set(stat["stage_ms"]) == {"capture", "segment", "refine", "compose", "output"}
        assert stat["fps"] > 0 and stat["latency_ms"] >= 0


def _wait_for_frames(proc, stream_lines=None, timeout=60):
    """Read stdout status lines until one reports frames, with --control stdin."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        event = json.loads(line)
        if stream_lines is not None:
            stream_lines.append(event)
        if event.get("status", {}).get("frames", 0) > 0:
            return event
    raise AssertionError(f"no status from the core; stderr: {proc.stderr.read()[-2000:]}")


def _assert_gone(pid):
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_cleanly(sig):
    proc = start("run", "--input", "synthetic", "--output", "null", "--engine", "hsv", "--control", "stdin",
                 stdin=subprocess.PIPE)
    _wait_for_frames(proc)
    proc.send_signal(sig)
    assert proc.wait(timeout=20) == 0
    _assert_gone(proc.pid)


def test_stdin_close_stops_the_core_so_no_orphan_is_left():
    proc = start("run", "--input", "synthetic", "--output", "null", "--engine", "hsv", "--control", "stdin",
                 stdin=subprocess.PIPE)
    _wait_for_frames(proc)
    proc.stdin.close()
    assert proc.wait(timeout=20) == 0
    _assert_gone(proc.pid)


def test_stdin_control_changes_settings_and_rejects_malformed_lines():
    proc = start("run", "--input", "synthetic", "--output", "null", "--engine", "hsv", "--control", "stdin",
                 stdin=subprocess.PIPE)
    try:
        _wait_for_frames(proc)
        for line in ('{"set": {"blur_strength": 24}}', "not json", '{"command": "explode"}',
                     '{"set": {"effect": "privacy"}}', '{"command": "toggle"}'):
            proc.stdin.write(line + "\n")
        proc.stdin.flush()
        events = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            events.append(json.loads(proc.stdout.readline()))
            status = events[-1].get("status")
            if status and status["effect"] == "privacy" and status["enabled"] is False:
                break
        errors = [e["error"] for e in events if "error" in e]
        assert any("blur_strength: 24 is not allowed" in e for e in errors)
        assert any("not JSON" in e for e in errors)
        assert any("command: 'explode'" in e for e in errors)
        assert events[-1]["status"]["effect"] == "privacy" and events[-1]["status"]["enabled"] is False
    finally:
        proc.stdin.close()
        proc.wait(timeout=20)


@pytest.mark.parametrize("args,needle", [
    (["--input", "/nonexistent/clip.mp4"], "/nonexistent/clip.mp4"),
    (["--input", "7"], "camera 7"),
    (["--output", "/nonexistent-dir/out.mp4", "--input", "synthetic"], "/nonexistent-dir/out.mp4"),
    (["--output", "virtualcam", "--input", "synthetic"], "modprobe v4l2loopback"),
])
def test_bad_input_and_output_fail_in_one_line(tmp_path, args, needle):
    r = bgblur("run", "--engine", "hsv", "--frames", "3", *args, cwd=tmp_path)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("bgblur: error:") and needle in last, r.stderr
    assert "Traceback" not in r.stderr
    assert not list(tmp_path.iterdir())


def _burst(proc, n=5000):
    """n valid blur changes in one write: the core coalesces them (at most one rebuild per frame)."""
    proc.stdin.write("".join(f'{{"set": {{"blur_strength": {0.1 + 0.0009 * i:.4f}}}}}\n' for i in range(n)))
    proc.stdin.flush()


def test_a_burst_of_changes_does_not_stall_the_video_and_the_next_message_is_answered():
    proc = start("run", "--input", "synthetic", "--output", "null", "--engine", "hsv", "--control", "stdin",
                 "--width", "320", "--height", "240", stdin=subprocess.PIPE)
    try:
        before = _wait_for_frames(proc)["status"]["frames"]
        _burst(proc)
        proc.stdin.write('{"command": "toggle"}\n')
        proc.stdin.flush()
        while True:  # _wait_for_frames' deadline bounds this
            status = _wait_for_frames(proc)["status"]
            if status["enabled"] is False:
                break
        assert status["frames"] > before and status["last_error"] == ""
    finally:
        proc.stdin.close()
        proc.wait(timeout=20)


def test_sigterm_during_a_burst_stops_the_core():
    proc = start("run", "--input", "synthetic", "--output", "null", "--engine", "hsv", "--control", "stdin",
                 stdin=subprocess.PIPE)
    _wait_for_frames(proc)
    _burst(proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    _assert_gone(proc.pid)
    assert "Traceback" not in proc.stderr.read()

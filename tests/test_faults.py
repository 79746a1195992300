"""Faults: a full disk, readers that hang up, the parent killed in the middle of a burst, a stalled
camera. Each ends with no orphaned core and nothing half-written."""
import contextlib
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from core_proc import BGBLUR, Core, free_port

TESTS = Path(__file__).resolve().parent
FAKE_WEBCAM = [sys.executable, str(TESTS / "fake_webcam.py")]


def running(pid: int) -> bool:
    """True while `pid` is alive; a zombie (exited, not yet reaped by a parent-less init) is not."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def one_error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if "error" in line.lower() or "Traceback" in line]
    assert len(errors) == 1 and errors[0].startswith("bgblur: error: "), stderr
    return errors[0]


# -- a full disk -------------------------------------------------------------------------------------
@contextlib.contextmanager
def small_disk(folder: Path, free_kb: int):
    """A 512 KB tmpfs at `folder` with only `free_kb` left. Where mounting is not allowed, the files
    land on /dev/full instead (writes fail with ENOSPC), through the temporary name the sinks use."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    try:
        if mounted:
            with open(folder / "filler", "wb") as f:
                f.write(b"\0" * ((512 - free_kb) * 1024))
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.parametrize("ext", [".mp4", ".avi", ".png", ".jpg"])
def test_a_full_disk_keeps_no_partial_file_and_fails_in_one_line(tmp_path, ext):
    disk = tmp_path / "disk"
    with small_disk(disk, free_kb=40) as mounted:
        out = disk / f"o{ext}"
        if not mounted:  # fallback: the temporary file the sink writes is /dev/full
            os.symlink("/dev/full", disk / f".o.part{ext}")
        r = subprocess.run([*BGBLUR, "run", "--input", "synthetic", "--engine", "hsv", "--frames", "30",
                            "--output", str(out)], capture_output=True, text=True, timeout=300)
        assert r.returncode != 0
        line = one_error_line(r.stderr)
        assert f"cannot finish '{out}'" in line and "Traceback" not in r.stderr
        left = sorted(p.name for p in disk.iterdir())
        assert left == (["filler"] if mounted else []), "no output and no temporary file left"


def test_a_file_that_fits_is_moved_into_place_whole(tmp_path):
    disk = tmp_path / "disk"
    with small_disk(disk, free_kb=500) as mounted:  # not mounted: a plain folder, which has room too
        out = disk / "o.mp4"
        r = subprocess.run([*BGBLUR, "run", "--input", "synthetic", "--engine", "hsv", "--frames", "10",
                            "--width", "320", "--height", "240", "--output", str(out)],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        assert sorted(p.name for p in disk.iterdir()) == (["filler"] if mounted else []) + ["o.mp4"]
        cap = cv2.VideoCapture(str(out))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
        cap.release()


# -- readers that hang up ------------------------------------------------------------------------------
def test_obs_stream_readers_that_hang_up_never_kill_the_core():
    core = Core(fps=15)
    try:
        core.probe(timeout=90)
        socket.create_connection(("127.0.0.1", core.port)).close()  # connect and close
        with socket.create_connection(("127.0.0.1", core.port), timeout=10) as s:  # read a little, close
            assert s.recv(100)
        s = socket.create_connection(("127.0.0.1", core.port), timeout=10)  # reset mid-frame
        s.recv(50_000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        r = subprocess.run(["ffmpeg", "-v", "error", "-f", "yuv4mpegpipe", "-i", f"tcp://127.0.0.1:{core.port}",
                            "-frames:v", "60", "-f", "null", "-"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr  # ffmpeg took its 60 frames and hung up
        core.keeps_producing()
        core.probe()
        assert core.close_stdin_and_wait() == 0
    finally:
        core.kill()


# -- the parent killed in the middle of a burst ------------------------------------------------------
PARENT = """
import subprocess, sys
core = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
print(core.pid, flush=True)
assert core.stdout.readline()  # the first status: the core is running
for i in range(100000):
    core.stdin.write(b'{"set": {"blur_strength": %d}}\\n' % (1 + i % 5))
    core.stdin.flush()
"""


def test_a_parent_killed_in_the_middle_of_a_burst_leaves_no_orphan():
    cmd = [*BGBLUR, "run", "--input", "synthetic", "--engine", "hsv", "--width", "320", "--height", "240",
           "--output", f"obs-stream:{free_port()}", "--control", "stdin"]
    parent = subprocess.Popen([sys.executable, "-c", PARENT, *cmd], stdout=subprocess.PIPE, text=True)
    core_pid = int(parent.stdout.readline())
    try:
        time.sleep(2)  # in the middle of the burst
        assert parent.poll() is None and running(core_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        wait_until(lambda: not running(core_pid), 30, "the core to exit after its parent died")
    finally:
        if running(core_pid):
            os.kill(core_pid, signal.SIGKILL)


# -- a stalled camera ------------------------------------------------------------------------------------
def test_a_camera_that_stalls_at_start_fails_in_one_line_instead_of_hanging():
    r = subprocess.run([*FAKE_WEBCAM, "0", "run", "--input", "0", "--engine", "hsv", "--output", "null",
                        "--frames", "5"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "camera 0 opened but delivered no frame" in one_error_line(r.stderr)


def test_a_camera_that_stalls_mid_run_shows_placeholders_and_the_file_is_whole(tmp_path):
    out = tmp_path / "cam.mp4"
    core = Core(output=str(out), input="0", launcher=[*FAKE_WEBCAM, "30"])  # 30 frames, then it stalls
    try:
        lost = core.wait_event(lambda e: e.get("status", {}).get("input_lost") is True, 60, "input_lost status")
        more = core.keeps_producing()
        assert more > lost["status"]["frames"], "placeholder frames keep the output going"
        core.probe()
        assert core.close_stdin_and_wait() == 0
    finally:
        core.kill()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cam.mp4"], "no temporary file left"
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) >= more
    cap.release()

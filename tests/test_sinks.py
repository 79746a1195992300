"""Sinks: video and image files, virtual camera, preview window, null and OBS stream dispatch."""
import json
import os
import subprocess
import sys
import textwrap
import time

import cv2
import numpy as np
import pytest

from bgblur_core import settings as schema
from bgblur_core.sinks import NullSink, display_available, is_live, open_sinks, vcam_backends, vcam_howto
from bgblur_core.sources import synthetic_frame
from bgblur_core.stages import StageError
from obs_harness import wait_for
from test_obsstream import Y4MReader

SIZE = (320, 240)


def settings(**kw):
    return schema.validate({"engine": "hsv", **kw})


def frames(n: int, size=SIZE) -> list[np.ndarray]:
    return [synthetic_frame(i, *size) for i in range(n)]


def ffprobe(path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                          "stream=codec_name,width,height,nb_read_frames,r_frame_rate", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["streams"][0]


def test_is_live():
    def live(output):
        return is_live(settings(output=output).outputs)
    assert live("virtualcam") and live("preview") and live("obs-stream:9000")
    assert live("out.mp4, preview")
    assert not live("out.mp4") and not live("null") and not live("a.png,null")


# -- files -----------------------------------------------------------------------------
@pytest.mark.parametrize("ext, codec", [(".mp4", "mpeg4"), (".avi", "mjpeg")])
def test_video_file_is_playable_with_every_frame(tmp_path, ext, codec):
    path = tmp_path / f"out{ext}"
    [sink] = open_sinks(settings(output=str(path)), SIZE, fps=25)
    assert sink.name == str(path)
    for frame in frames(37):
        sink.send(frame)
    assert not path.exists(), "nothing under the final name before close"
    sink.close()
    info = ffprobe(path)
    assert info["codec_name"] == codec and (info["width"], info["height"]) == SIZE
    assert int(info["nb_read_frames"]) == 37 and info["r_frame_rate"] == "25/1"
    assert sorted(os.listdir(tmp_path)) == [path.name], "no temp file left behind"


def test_png_is_the_last_frame_byte_for_byte_and_jpg_is_written(tmp_path):
    png, jpg = tmp_path / "out.png", tmp_path / "out.jpg"
    sinks = open_sinks(settings(output=f"{png},{jpg}"), SIZE)
    sent = frames(3)
    for frame in sent:
        for sink in sinks:
            sink.send(frame)
    assert not png.exists() and not jpg.exists()
    for sink in sinks:
        sink.close()
    assert np.array_equal(cv2.imread(str(png), cv2.IMREAD_UNCHANGED), sent[-1])
    decoded = cv2.imread(str(jpg))
    assert decoded.shape == sent[-1].shape and cv2.PSNR(decoded, sent[-1]) > 30
    assert sorted(os.listdir(tmp_path)) == ["out.jpg", "out.png"]


def test_a_file_sink_that_got_no_frame_writes_nothing(tmp_path):
    for name in ("out.mp4", "out.png"):
        with open_sinks(settings(output=str(tmp_path / name)), SIZE)[0]:
            pass
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("where, why", [("missing/out.mp4", "no such folder"), ("file.txt/out.png", "its folder is not a folder"),
                                        ("folder.mp4", "it is a directory")])
def test_an_output_path_that_cannot_be_written_fails_at_open(tmp_path, where, why):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "folder.mp4").mkdir()
    path = tmp_path / where
    with pytest.raises(StageError) as e:
        open_sinks(settings(output=str(path)), SIZE)
    assert str(e.value) == f"output: cannot write {str(path)!r}: {why}"


def test_a_bad_second_output_leaves_nothing_half_written(tmp_path):
    good = tmp_path / "good.mp4"
    with pytest.raises(StageError, match="no such folder"):
        open_sinks(settings(output=f"{good},{tmp_path / 'nope' / 'x.png'}"), SIZE)
    assert sorted(os.listdir(tmp_path)) == []


def test_a_cli_run_with_an_unwritable_output_fails_before_processing(tmp_path):
    r = subprocess.run([sys.executable, "-m", "bgblur_core", "run", "--input", "synthetic", "--engine", "hsv",
                        "--output", str(tmp_path / "missing" / "out.mp4"), "--frames", "5"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert r.stderr.strip().splitlines()[-1] == \
        f"bgblur: error: output: cannot write {str(tmp_path / 'missing' / 'out.mp4')!r}: no such folder"
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("output", ["out.gif", "virtualcamera", "obs-stream:99999", ""])
def test_unknown_outputs_are_refused_at_validation(output):
    with pytest.raises(schema.SettingsError, match="^output"):
        settings(output=output)


# -- null and frame checks ----------------------------------------------------------------------
def test_null_sink_discards_and_checks_frames_like_pyvirtualcam():
    [sink] = open_sinks(settings(output="null"), SIZE)
    assert isinstance(sink, NullSink) and sink.name == "null" and not sink.stop_requested
    with sink:
        sink.send(frames(1)[0])
        with pytest.raises(StageError) as e:
            sink.send(np.zeros((240, 320), np.uint8))
        assert str(e.value) == "output null: invalid frame shape: (240, 320) != (240, 320, 3)"
        with pytest.raises(StageError) as e:
            sink.send(np.zeros((240, 320, 3), np.float32))
        assert str(e.value) == "output null: invalid frame dtype: float32 != uint8"


# -- virtual camera ------------------------------------------------------------------------
def test_virtualcam_without_a_device_fails_at_start_with_one_line():
    with pytest.raises(StageError) as e:
        open_sinks(settings(output="virtualcam"), SIZE)
    assert str(e.value) == ('output virtualcam: no virtual camera device found; create one with: sudo modprobe '
                            'v4l2loopback devices=1 exclusive_caps=1 card_label="bgblur" (package v4l2loopback-dkms)')


def test_output_auto_without_a_virtual_camera_sends_to_obs_stream_and_says_so(capsys):
    sinks = open_sinks(settings(output="auto"), SIZE)
    try:
        assert [s.name for s in sinks] == [f"obs-stream tcp://127.0.0.1:{schema.OBS_STREAM_PORT}"]
    finally:
        for sink in sinks:
            sink.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no virtual camera device found" in err[0]
    assert f"output auto: sending to obs-stream:{schema.OBS_STREAM_PORT} instead" in err[0]


def test_virtualcam_device_and_backend_errors():
    with pytest.raises(StageError) as e:
        open_sinks(settings(output="virtualcam", vcam_device="/dev/video42"), SIZE)
    assert str(e.value) == f"output virtualcam: device /dev/video42 does not exist; {vcam_howto()}"
    with pytest.raises(StageError) as e:
        open_sinks(settings(output="virtualcam", vcam_backend="unitycapture"), SIZE)
    assert str(e.value) == ("output virtualcam: backend 'unitycapture' is not available here; "
                            f"use {vcam_backends()} (or leave vcam_backend empty)")


def test_virtualcam_sends_bgr_frames_paced_at_fps():
    """Through pyvirtualcam's real Camera, with a registered in-memory backend instead of a device."""
    import pyvirtualcam
    from pyvirtualcam.util import decode_fourcc

    received = []

    class MemoryBackend:
        def __init__(self, width, height, fps, fourcc, device, **kw):
            received.append(decode_fourcc(fourcc))

        def close(self):
            received.append("closed")

        def send(self, frame):
            received.append(frame.copy())

        def device(self):
            return "memory"

        def native_fourcc(self):
            return None

    pyvirtualcam.register_backend("test-memory", MemoryBackend)  # public API; it stays registered (harmless)
    [sink] = open_sinks(settings(output="virtualcam", vcam_backend="test-memory", fps=20), SIZE)
    assert sink.name == "virtualcam memory"
    t0 = time.monotonic()
    with sink:
        for frame in frames(5):
            sink.send(frame)
        with pytest.raises(StageError, match=r"invalid frame shape: \(100, 100, 3\) != \(240, 320, 3\)"):
            sink.send(np.zeros((100, 100, 3), np.uint8))
    elapsed = time.monotonic() - t0
    assert received[0] == pyvirtualcam.PixelFormat.BGR.value, "frames go out as BGR, no conversion"
    assert received[-1] == "closed" and len(received) == 7
    assert elapsed >= 4 / 20 * 0.9, "paced by sleep_until_next_frame"
    for got, sent in zip(received[1:6], frames(5)):
        assert np.array_equal(got.reshape(240, 320, 3), sent)


# -- preview -------------------------------------------------------------------------------
@pytest.mark.parametrize("display", [None, ":77", "bogus"])
def test_preview_without_a_display_is_a_one_line_error(monkeypatch, display):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    if display is None:
        monkeypatch.delenv("DISPLAY", raising=False)
    else:
        monkeypatch.setenv("DISPLAY", display)
    assert not display_available()
    with pytest.raises(StageError) as e:
        open_sinks(settings(output="preview"), SIZE)
    assert str(e.value) == ("output preview: no display found (DISPLAY is not set or does not answer); "
                            "use a file output, or run it on a desktop")


PREVIEW_SCRIPT = textwrap.dedent("""
    import subprocess, sys, cv2
    from bgblur_core import settings
    from bgblur_core.sinks import open_sinks
    from bgblur_core.sources import synthetic_frame

    def windows():
        out = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "bgblur preview"],
                             capture_output=True, text=True)
        return out.stdout.split()

    s = settings.validate({"output": "preview"})
    frame = synthetic_frame(0, 320, 240)
    # q quits
    [sink] = open_sinks(s, (320, 240))
    for _ in range(5):
        sink.send(frame)
    assert sink.visible() and not sink.stop_requested and len(windows()) == 1
    subprocess.run(["xdotool", "key", "--window", windows()[0], "q"], check=True)
    for _ in range(5):
        sink.send(frame)
    assert sink.stop_requested, "q requests a stop"
    sink.close()
    cv2.waitKey(50)
    assert windows() == [], "the window is gone (hidden) after close"
    # closing the window requests a stop and does not reopen it
    [sink] = open_sinks(s, (320, 240))
    sink.send(frame)
    cv2.destroyWindow(sink.title)
    sink.send(frame)
    assert sink.stop_requested and not sink.visible()
    sink.close()
    print("preview ok")
""")


def test_preview_window_opens_and_closes_under_xvfb(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    r = subprocess.run(["xvfb-run", "-a", sys.executable, "-c", PREVIEW_SCRIPT],
                       capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert r.returncode == 0 and "preview ok" in r.stdout, r.stderr
    assert "QFontDatabase" not in r.stderr


# -- OBS stream --------------------------------------------------------------------------
def test_obs_stream_is_delegated_to_obsstream():
    [sink] = open_sinks(settings(output="obs-stream:0"), SIZE, fps=25)
    with sink:
        assert type(sink).__name__ == "ObsStreamSink" and sink.port > 0
        assert sink.name == f"obs-stream tcp://127.0.0.1:{sink.port}"
        reader = Y4MReader(sink.port)
        try:
            assert reader.header.startswith("YUV4MPEG2 W320 H240 F25:1 ")
            wait_for(lambda: sink.readers == 1, what="the reader to be accepted")
            frame = frames(3)[2]
            sink.send(frame)
            y, _ = reader.frame()  # the frame sent, as YUV 4:2:0
            assert np.array_equal(y, cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420)[:SIZE[1]])
        finally:
            reader.close()

"""Latency into OBS, measured end to end in a real OBS 29 (headless): the synthetic source writes its
capture time (time.monotonic, in ms) into the picture as a bar of red/blue bits; the hsv engine keeps
the bar sharp; the test reads it back from screenshots of OBS's program canvas and compares it with
the time the screenshot was taken (the middle of the request). The figure is printed; the README
states it. No speed is asserted: only that the time code decodes to a recent capture.
"""
import os
import statistics
import sys
import time
from pathlib import Path

import pytest
from obswebsocket import requests as obsreq

from bgblur_core.sources.synthetic import TIMECODE_BITS, TIMECODE_ENV, read_timecode
from obs_harness import ObsInstance, screenshot, wait_for

pytestmark = pytest.mark.obs

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "obs_bgblur.py"
W, H, FPS = 640, 360, 30
SAMPLES = 40
WRAP = 1 << TIMECODE_BITS
ENV = {TIMECODE_ENV: "1",
       "BGBLUR_CACHE_DIR": os.environ.get("BGBLUR_CACHE_DIR") or str(Path.home() / ".cache" / "bgblur" / "models")}


def sample(client) -> tuple[float, float]:
    """(age of the frame on the canvas, screenshot round trip), both in ms."""
    t0 = time.monotonic()
    img = screenshot(client, "Scene", W)
    t1 = time.monotonic()
    now = int((t0 + t1) / 2 * 1000) % WRAP
    return (now - read_timecode(img)) % WRAP, (t1 - t0) * 1000


def test_camera_to_canvas_latency(tmp_path):
    with ObsInstance(tmp_path, canvas=(W, H), fps=FPS, env=ENV, scripts=[(SCRIPT, {
            "input": "synthetic", "engine": "hsv", "width": W, "height": H, "fps": FPS,
            "core_python": sys.executable})]) as obs:
        client = obs.client()
        wait_for(lambda: client.call(obsreq.GetInputSettings(inputName="Blurred camera")).status, 30,
                 what="the script's source")
        wait_for(lambda: sample(client)[0] < 2000, 60, 0.3, "a time code from a recent capture on the canvas")
        ages, trips = zip(*(sample(client) for _ in range(SAMPLES)))
        assert max(ages) < 2000, ages  # every sample decodes to a capture of the last moments
        median, p90 = statistics.median(ages), sorted(ages)[int(0.9 * SAMPLES)]
        print(f"\ncamera-to-canvas latency into OBS ({W}x{H} at {FPS} fps, hsv): median {median:.0f} ms, "
              f"90th percentile {p90:.0f} ms, min {min(ages):.0f} ms "
              f"(screenshot round trip {statistics.median(trips):.0f} ms, half of it included)")
        assert obs.quit() == 0, obs.log_tail()

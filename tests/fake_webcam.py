"""Run the `bgblur` command with a fake webcam, the one device tests may fake.

`python tests/fake_webcam.py GOOD_FRAMES run --input 0 ...`: camera devices (an index or
/dev/videoN) open as a webcam that delivers GOOD_FRAMES numbered frames at 30 fps and then
stalls: its read() blocks forever, as a wedged V4L2 driver without a timeout does. GOOD_FRAMES 0
stalls on the very first read. Everything else (files, OpenCV's own reading) is the real OpenCV.
"""
from __future__ import annotations

import runpy
import sys
import threading
import time

import cv2
import numpy as np

_real_capture = cv2.VideoCapture


class StallingWebcam:
    def __init__(self, good_frames: int):
        self.good_frames, self.n = good_frames, 0

    def isOpened(self) -> bool:
        return True

    def set(self, prop, value) -> bool:
        return True

    def get(self, prop) -> float:
        return 0.0

    def read(self):
        if self.n >= self.good_frames:
            threading.Event().wait()  # stalled: never returns
        time.sleep(1 / 30)
        self.n += 1
        frame = np.full((240, 320, 3), (60, 120, 180), np.uint8)
        cv2.putText(frame, str(self.n), (20, 200), cv2.FONT_HERSHEY_SIMPLEX, 4, (255, 255, 255), 6)
        return True, frame

    def release(self) -> None:
        pass


def main() -> None:
    good_frames = int(sys.argv[1])

    def capture(target, *args):
        if isinstance(target, int) or str(target).startswith("/dev/video"):
            return StallingWebcam(good_frames)
        return _real_capture(target, *args)

    cv2.VideoCapture = capture
    sys.argv = ["bgblur", *sys.argv[2:]]
    runpy.run_module("bgblur_core", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()

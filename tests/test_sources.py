"""Sources: synthetic scene, still image, video file, camera errors, camera loss and recovery."""
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from bgblur_core import settings as schema
from bgblur_core.sources import (Camera, Pacer, StillImage, Synthetic, VideoFile, cameras_that_open, open_source,
                                 synthetic_background, synthetic_frame, synthetic_person_mask)
from bgblur_core.stages import StageError

EVALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "evaldata"
NO_CAMERA = "no camera found; try --input synthetic or a video file"


def settings(**kw):
    return schema.validate({"engine": "hsv", "output": "null", **kw})


def numbered_frame(n: int, w: int = 64, h: int = 48) -> np.ndarray:
    """A frame whose pixels encode n, so a test can tell which frame it got."""
    frame = np.zeros((h, w, 3), np.uint8)
    frame[:, :, 0] = n % 256
    frame[:, :, 1] = (n // 256) % 256
    frame[:, :, 2] = 200
    return frame


def frame_number(frame: np.ndarray) -> int:
    return int(frame[0, 0, 0]) + 256 * int(frame[0, 0, 1])


# -- synthetic -----------------------------------------------------------------------------
def test_synthetic_frames_are_deterministic_and_move():
    a, b = synthetic_frame(7, 320, 240), synthetic_frame(7, 320, 240)
    assert a.shape == (240, 320, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, synthetic_frame(8, 320, 240))
    masks = [synthetic_person_mask(n, 320, 240) for n in (0, 40)]
    assert not np.array_equal(*masks), "the figure moves"
    assert np.array_equal(synthetic_person_mask(7, 320, 240), synthetic_person_mask(7, 320, 240))


@pytest.mark.parametrize("size", [(1280, 720), (640, 480), (320, 240)])
def test_synthetic_mask_is_the_figure_and_the_seed_assumption_roughly_holds(size):
    w, h = size
    for n in (0, 30, 75, 110):
        frame, mask = synthetic_frame(n, w, h), synthetic_person_mask(n, w, h)
        assert mask.shape == (h, w) and mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 255}
        assert 0.1 < np.count_nonzero(mask) / mask.size < 0.4
        assert mask[-1, w // 2] == 255 and mask[0, 0] == 0  # shoulders at the bottom, room in the corner
        # the figure is the only thing that differs from the clean plate (noise aside)
        diff = cv2.absdiff(frame, synthetic_background(n, w, h)).max(axis=2)
        assert np.count_nonzero(diff[mask == 0]) == 0
        assert np.count_nonzero(diff[mask == 255] > 30) > 0.9 * np.count_nonzero(mask)
        # seed method: HSV inRange((0,75,40),(180,255,255)) finds the person and mostly not the room
        seed = cv2.inRange(cv2.cvtColor(frame, cv2.COLOR_BGR2HSV), (0, 75, 40), (180, 255, 255))
        iou = np.count_nonzero(seed & mask) / np.count_nonzero(seed | mask)
        assert iou > 0.85, f"frame {n}: seed mask IoU {iou:.2f}"
        assert np.count_nonzero(seed[mask == 0]) > 0, "a few saturated background things stay sharp"


def test_synthetic_background_has_readable_low_saturation_text():
    frame = synthetic_background(0, 1280, 720)
    board = frame[80:380, 70:500]  # the whiteboard, left of the figure's sway
    hsv = cv2.cvtColor(board, cv2.COLOR_BGR2HSV)
    dark = np.count_nonzero(hsv[:, :, 2] < 90)
    assert 0.03 < dark / hsv[:, :, 2].size < 0.3, "marker writing on a white board"
    assert np.mean(hsv[:, :, 1]) < 40, "board and writing are low-saturation"


def test_synthetic_source_counts_frames_and_uses_the_settings_size():
    with open_source(settings(input="synthetic", width=320, height=240), realtime=False) as src:
        assert src.name == "synthetic" and src.size == (320, 240) and src.fps == 30
        frames = [src.read() for _ in range(3)]
    for n, (frame, t) in enumerate(frames):
        assert np.array_equal(frame, synthetic_frame(n, 320, 240))
        assert t <= time.monotonic()


def test_realtime_synthetic_is_paced_at_fps():
    src = Synthetic(160, 120, fps=20, realtime=True)
    times = [src.read()[1] for _ in range(6)]
    assert times[-1] - times[0] >= 5 / 20 * 0.9


def test_pacer_does_not_burst_after_a_stall():
    pacer = Pacer(50)
    pacer.wait()
    time.sleep(0.2)  # a stall of 10 periods
    a, b = pacer.wait(), pacer.wait()
    assert b - a >= 0.02 * 0.9


# -- still image -------------------------------------------------------------------------
@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), synthetic_frame(3, 200, 150))
    return path


def test_still_image_repeats_and_a_single_image_output_ends_after_one(photo):
    with open_source(settings(input=str(photo), output="null"), realtime=False) as src:
        assert isinstance(src, StillImage) and src.size == (200, 150)
        frames = [src.read()[0] for _ in range(5)]
    assert all(np.array_equal(f, synthetic_frame(3, 200, 150)) for f in frames)
    with open_source(settings(input=str(photo), output="out.png"), realtime=False) as src:
        assert src.read() is not None and src.read() is None
    with open_source(settings(input=str(photo), loop=False), realtime=False) as src:
        assert src.read() is not None and src.read() is None
    with open_source(settings(input=str(photo), output="out.png", fps=25), realtime=True) as src:
        times = [src.read()[1] for _ in range(4)]
    assert times[-1] - times[0] >= 3 / 25 * 0.9


def test_still_image_grey_and_alpha_become_bgr(tmp_path):
    grey, bgra = tmp_path / "grey.png", tmp_path / "bgra.png"
    cv2.imwrite(str(grey), np.full((10, 12), 77, np.uint8))
    cv2.imwrite(str(bgra), np.full((10, 12, 4), 99, np.uint8))
    for path, value in ((grey, 77), (bgra, 99)):
        frame, _ = open_source(settings(input=str(path)), realtime=False).read()
        assert frame.shape == (10, 12, 3) and frame.dtype == np.uint8 and (frame == value).all()


def test_real_photo_reads_as_is():
    photo = sorted((EVALDATA / "dev").glob("*.jpg"))[0]
    frame, _ = open_source(settings(input=str(photo)), realtime=False).read()
    assert np.array_equal(frame, cv2.imread(str(photo)))


# -- video file --------------------------------------------------------------------------
def write_video(path: Path, n: int, fps: float = 25, fourcc: str = "MJPG") -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (64, 48))
    for i in range(n):
        writer.write(numbered_frame(i * 10))
    writer.release()


def video_index(frame: np.ndarray) -> int:
    """The i of write_video's frame i, robust to JPEG noise."""
    return round(float(frame[:, :, 0].mean()) / 10)


def read_all(src, limit: int = 1000) -> list[np.ndarray]:
    frames = []
    while len(frames) < limit and (got := src.read()) is not None:
        frames.append(got[0])
    return frames


def test_video_file_plays_once_and_loops(tmp_path):
    path = tmp_path / "clip.avi"
    write_video(path, 12)
    with open_source(settings(input=str(path), loop=False), realtime=False) as src:
        assert isinstance(src, VideoFile) and src.size == (64, 48) and src.fps == 25
        frames = read_all(src)
    assert [video_index(f) for f in frames] == list(range(12))
    with open_source(settings(input=str(path), loop=True), realtime=False) as src:
        frames = read_all(src, limit=30)
        assert src.loops == 2
    assert [video_index(f) for f in frames] == [i % 12 for i in range(30)]


def test_realtime_video_is_paced_at_the_files_fps(tmp_path):
    path = tmp_path / "clip.avi"
    write_video(path, 8, fps=20)
    with open_source(settings(input=str(path), fps=60), realtime=True) as src:
        assert src.fps == 20
        times = [src.read()[1] for _ in range(6)]
    assert times[-1] - times[0] >= 5 / 20 * 0.9


def test_a_frame_that_fails_to_decode_is_skipped_and_counted(tmp_path):
    path = tmp_path / "clip.avi"
    write_video(path, 20)
    data = bytearray(path.read_bytes())
    jpegs = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    assert len(jpegs) == 20
    data[jpegs[10]:jpegs[11] - 8] = bytes(jpegs[11] - 8 - jpegs[10])  # wipe frame 10's JPEG, keep the AVI chunks
    path.write_bytes(bytes(data))
    with open_source(settings(input=str(path), loop=False), realtime=False) as src:
        frames = read_all(src)
        assert src.skipped == 1
    assert [video_index(f) for f in frames] == [i for i in range(20) if i != 10]


def test_real_clip_reads_and_loops():
    clip = sorted((EVALDATA / "clips").glob("*.mp4"))[0]
    cap = cv2.VideoCapture(str(clip))
    first = cap.read()[1]
    cap.release()
    with open_source(settings(input=str(clip)), realtime=False) as src:
        frame, _ = src.read()
        assert np.array_equal(frame, first) and src.size == (first.shape[1], first.shape[0])


@pytest.mark.parametrize("name, why", [("missing.mp4", "no such file"), ("missing.png", "no such file"),
                                       ("folder", "no images in it"), ("junk.mp4", "not a video or image OpenCV can decode"),
                                       ("junk.jpg", "not an image OpenCV can decode")])
def test_unreadable_files_give_one_line(tmp_path, name, why):
    (tmp_path / "folder").mkdir()
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all" * 50)
    (tmp_path / "junk.jpg").write_bytes(b"not a jpeg")
    path = tmp_path / name
    with pytest.raises(StageError) as e:
        open_source(settings(input=str(path)), realtime=False)
    assert str(e.value) == f"input: cannot read {str(path)!r}: {why}"


def test_empty_input_is_refused_at_validation():
    with pytest.raises(schema.SettingsError, match="^input: empty; "):
        settings(input=" ")


# -- cameras: errors on this machine (no camera) ----------------------------------------------
def test_camera_index_without_a_camera_gives_the_exact_error():
    with pytest.raises(StageError) as e:
        open_source(settings(input="0"), realtime=True)
    assert str(e.value) == f"input: camera 0 did not open; {NO_CAMERA}"


def test_camera_device_path_without_a_device_gives_the_exact_error():
    with pytest.raises(StageError) as e:
        open_source(settings(input="/dev/video7"), realtime=True)
    assert str(e.value) == f"input: camera /dev/video7 did not open (no such device); {NO_CAMERA}"


def test_auto_falls_back_to_synthetic_and_says_so(capsys):
    with open_source(settings(input="auto", width=320, height=240), realtime=False) as src:
        assert src.name == "synthetic" and src.size == (320, 240)
    assert "auto input: no webcam opened; using the built-in synthetic scene" in capsys.readouterr().err


def test_auto_uses_the_first_webcam_that_opens(monkeypatch, capsys):
    from bgblur_core.sources import camera
    monkeypatch.setattr(camera, "linux_video_nodes", lambda: [0, 1, 2])
    cams = FakeCameras(present=(2,))
    with open_source(settings(input="auto"), realtime=True, capture_factory=cams) as src:
        assert src.name == "camera 2" and src.read()[0].shape == (48, 64, 3)
    assert "auto input: using camera 2 (64x48)" in capsys.readouterr().err
    assert cams.opens == 3, "no probing of every camera for an error message"


# -- cameras: a fake capture device (the thread, reopen, backoff and placeholders are real) ----
class FakeCameras:
    """Stand-in for cv2.VideoCapture: `present` indices open; `failing` makes reads fail, `hung` makes
    them block until un-hung and then fail, like a stalled V4L2 device's read timeout."""

    def __init__(self, present=(0,), fps: float = 100.0):
        self.present, self.fps = set(present), fps
        self.failing = self.hung = False
        self.opens = 0
        self.n = 0
        self.props: dict = {}
        self.lock = threading.Lock()

    def __call__(self, target):
        self.opens += 1
        return FakeCapture(self, target in self.present and not self.failing)


class FakeCapture:
    def __init__(self, cams: FakeCameras, opened: bool):
        self.cams, self.opened = cams, opened

    def isOpened(self):
        return self.opened

    def set(self, prop, value):
        self.cams.props[prop] = value
        return True

    def read(self):
        time.sleep(1 / self.cams.fps)
        timed_out = False
        while self.cams.hung and self.opened:  # a stalled device: read() blocks, then times out
            time.sleep(0.01)
            timed_out = True
        if timed_out or not self.opened or self.cams.failing:
            return False, None
        with self.cams.lock:
            self.cams.n += 1
            return True, numbered_frame(self.cams.n)

    def release(self):
        self.opened = False


def fake_camera(cams: FakeCameras, **kw) -> Camera:
    return Camera(0, 640, 480, 30, True, capture_factory=cams, lost_after=0.3, backoff=(0.05, 0.2), **kw)


def test_camera_is_opened_with_the_requested_format():
    cams = FakeCameras()
    with fake_camera(cams) as cam:
        assert cam.name == "camera 0" and cam.size == (64, 48)
        frame, t = cam.read()
        assert frame.shape == (48, 64, 3) and t <= time.monotonic() and not cam.placeholder
    assert cams.props[cv2.CAP_PROP_FRAME_WIDTH] == 640 and cams.props[cv2.CAP_PROP_FRAME_HEIGHT] == 480
    assert cams.props[cv2.CAP_PROP_FPS] == 30
    assert cams.props[cv2.CAP_PROP_FOURCC] == cv2.VideoWriter_fourcc(*"MJPG")


def test_camera_hands_over_the_newest_frame_and_drops_stale_ones():
    cams = FakeCameras(fps=200)
    with fake_camera(cams) as cam:
        numbers = []
        for _ in range(5):
            time.sleep(0.1)  # a slow consumer: the camera delivers ~20 frames meanwhile
            frame, _ = cam.read()
            numbers.append(frame_number(frame))
            assert frame_number(frame) >= cams.n - 1, "the frame handed over is the newest"
        assert cam.dropped > 20
        assert all(b - a > 5 for a, b in zip(numbers, numbers[1:]))
        a, b = frame_number(cam.read()[0]), frame_number(cam.read()[0])
        assert b > a, "read() waits for a new frame instead of repeating one"


@pytest.mark.parametrize("how", ["failing", "hung"])
def test_camera_loss_gives_placeholders_then_recovers(how, capsys):
    cams = FakeCameras(fps=100)
    with fake_camera(cams) as cam:
        for _ in range(3):
            assert not cam.placeholder and cam.read()[0][0, 0, 2] == 200
        setattr(cams, how, True)
        got = [cam.read() for _ in range(12)]  # at 30 fps: ~0.4 s of placeholders after the 0.3 s grace
        placeholders = [f for f, _ in got if f[0, 0, 2] != 200]
        assert cam.placeholder and cam.lost and len(placeholders) >= 6
        for frame in placeholders:
            assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8
        assert cam.placeholders == len(placeholders)
        times = [t for _, t in got[-6:]]
        assert all(b > a for a, b in zip(times, times[1:])), "placeholders keep coming"
        opens = cams.opens
        setattr(cams, how, False)
        deadline = time.monotonic() + 10
        while cam.read()[0][0, 0, 2] != 200:
            assert time.monotonic() < deadline, "the camera never came back"
        assert not cam.placeholder and not cam.lost
        assert [cam.read()[0][0, 0, 2] for _ in range(5)] == [200] * 5
        assert cam.reconnects == 1 and cams.opens > opens
    err = capsys.readouterr().err
    assert "input: camera 0 stopped delivering frames; reconnecting" in err
    assert "input: camera 0 is back" in err


def test_camera_reopen_backs_off():
    cams = FakeCameras(fps=100)
    with fake_camera(cams) as cam:
        cam.read()
        cams.failing = True
        opens = cams.opens
        time.sleep(1.5)
        attempts = cams.opens - opens
    # backoff 0.05, 0.1, 0.2, 0.2, ...: about 8 attempts in 1.5 s, far fewer than a busy loop
    assert 3 <= attempts <= 12


def test_placeholder_frame_is_clearly_marked():
    from bgblur_core.sources import placeholder_frame
    frame = placeholder_frame((1280, 720), "camera 0 lost - reconnecting")
    assert frame.shape == (720, 1280, 3)
    assert np.median(frame) == 32, "mostly dark"
    text = cv2.inRange(frame, (0, 150, 200), (80, 255, 255))
    assert np.count_nonzero(text[100:620, 100:1180]) > 2000, "large orange text in the middle"


def test_camera_that_opens_but_sends_nothing_is_an_error():
    class Silent(FakeCameras):
        def __call__(self, target):
            cap = super().__call__(target)
            cap.read = lambda: (False, None)
            return cap

    with pytest.raises(StageError, match=r"^input: camera 0 opened but delivered no frame in 0.2 s; "):
        Camera(0, 640, 480, 30, True, capture_factory=Silent(), first_frame_timeout=0.2)


def test_cameras_that_open_lists_the_indices_that_open():
    assert cameras_that_open(FakeCameras(present=(1, 3)), candidates=range(5)) == [1, 3]
    assert cameras_that_open() == []  # this machine has no camera

"""obs-bgblur's processing core: Source -> Segmenter -> Refiner -> Compositor -> Sink."""
import os

__version__ = "0.1.0"

# OpenCV's idle worker threads otherwise spin between our many short calls: 10-17% more CPU
# per frame for no gain in a 30 fps pipeline (measured with `bgblur bench`). Set before cv2 loads.
os.environ.setdefault("OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER", "0")
os.environ.setdefault("OPENCV_THREAD_POOL_ACTIVE_WAIT_MAIN", "0")

"""A real OBS Studio (29, Debian's obs-studio) running headless for end-to-end tests.

    with ObsInstance(tmp_path, scenes=("Scene", "BRB"), scripts=((script, {"output": "obs-stream"}),)) as obs:
        client = obs.client()                 # a connected obs_client.Client (an obsws, protocol v5)
        img = screenshot(client, "bgblur", 640)

Each instance gets its own Xvfb display, HOME, XDG_RUNTIME_DIR, global.ini (obs-websocket
enabled on a free port with a password), profile and scene collection (scenes plus the
Python scripts listed in `modules.scripts-tool` with their saved settings). Every process it
starts is killed on `quit()`, on leaving the `with` block, and at interpreter exit. When
OBS cannot start, `start()` raises ObsStartError carrying the tail of OBS's log, so the
test fails (never skips) with the reason in view. `quit()` returns OBS's exit code; OBS 29's
own segfault after a complete teardown counts as 0 (see `crashed_after_teardown`), no other crash.
"""
from __future__ import annotations

import atexit
import base64
import ctypes
import ctypes.util
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import cv2
import numpy as np
from obswebsocket import obsws, requests as obsreq

from bgblur_core.control.obs_client import Client  # obsws that survives over-deep events, as the core uses it

COLLECTION = "bgblur-test"
PROFILE = "bgblur-test"
_LIVE: set["ObsInstance"] = set()


class ObsStartError(AssertionError):
    """OBS did not come up; the message ends with OBS's log tail."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.1, what: str = "condition"):
    """Poll `predicate` until it returns something truthy (or an array); return it, or raise AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if isinstance(value, np.ndarray) or value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def _source(kind: str, name: str, settings: dict) -> dict:
    return {"id": kind, "versioned_id": kind, "name": name, "uuid": str(uuid.uuid4()), "settings": settings,
            "enabled": True, "flags": 0, "mixers": 0, "muted": False, "volume": 1.0,
            "private_settings": {}, "filters": [], "hotkeys": {}}


def scene_item(name: str, item_id: int, pos=(0.0, 0.0), bounds=(0.0, 0.0), bounds_type: int = 0,
               crop=(0, 0, 0, 0), visible: bool = True) -> dict:
    """A scene item as OBS saves it; bounds_type 2 = OBS_BOUNDS_SCALE_INNER; crop = (left, top, right, bottom)."""
    left, top, right, bottom = crop
    return {"name": name, "id": item_id, "visible": visible, "locked": False, "rot": 0.0, "align": 5,
            "pos": {"x": pos[0], "y": pos[1]}, "scale": {"x": 1.0, "y": 1.0},
            "bounds_type": bounds_type, "bounds_align": 0, "bounds": {"x": bounds[0], "y": bounds[1]},
            "crop_left": left, "crop_top": top, "crop_right": right, "crop_bottom": bottom,
            "scale_filter": "disable", "group_item_backup": False, "private_settings": {}}


def scene_collection(scenes: Sequence[str], scripts: Iterable[tuple[str | os.PathLike, dict]] = (),
                     inputs: Sequence[tuple[str, str, dict]] = (), items: dict[str, list[dict]] | None = None) -> dict:
    """A scene collection: `scenes`, `inputs` as (kind, name, settings), `items` = {scene: [scene_item(...), ...]}
    (bottom first), and the scripts with their saved settings."""
    items = items or {}
    scene_sources = [_source("scene", s, {"custom_size": False, "id_counter": len(items.get(s, ())),
                                          "items": items.get(s, [])}) for s in scenes]
    return {
        "name": COLLECTION,
        "current_scene": scenes[0],
        "current_program_scene": scenes[0],
        "scene_order": [{"name": s} for s in scenes],
        "sources": scene_sources + [_source(kind, name, settings) for kind, name, settings in inputs],
        "groups": [],
        "transitions": [],
        "current_transition": "Cut",
        "transition_duration": 300,
        "quick_transitions": [],
        "saved_projectors": [],
        "preview_locked": False,
        "scaling_enabled": False,
        "modules": {"scripts-tool": [{"path": str(Path(p).resolve()), "settings": dict(s)} for p, s in scripts]},
    }


def _ini(sections: dict[str, dict[str, Any]]) -> str:
    out = []
    for name, values in sections.items():
        out.append(f"[{name}]")
        out += [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in values.items()]
        out.append("")
    return "\n".join(out)


class ObsInstance:
    """One headless OBS with its own config; a context manager (start on enter, quit on exit)."""

    def __init__(self, tmp_path: str | os.PathLike, scenes: Sequence[str] = ("Scene",),
                 scripts: Iterable[tuple[str | os.PathLike, dict]] = (), password: str = "secret",
                 port: int | None = None, canvas: tuple[int, int] = (640, 360), fps: int = 30,
                 env: dict[str, str] | None = None, inputs: Sequence[tuple[str, str, dict]] = (),
                 items: dict[str, list[dict]] | None = None):
        self.root = Path(tmp_path) / f"obs-{uuid.uuid4().hex[:8]}"
        self.home = self.root / "home"
        self.config_dir = self.home / ".config" / "obs-studio"
        self.runtime_dir = self.root / "run"
        self.scenes = tuple(scenes)
        self.scripts = [(Path(p), dict(s)) for p, s in scripts]
        self.inputs, self.items = list(inputs), dict(items or {})
        self.password = password
        self.port = port or free_port()
        self.canvas = canvas
        self.fps = fps
        self.extra_env = dict(env or {})
        self.xvfb: subprocess.Popen | None = None
        self.proc: subprocess.Popen | None = None
        self.display = ""
        self._clients: list[obsws] = []
        self._write_config()

    # -- config ------------------------------------------------------------------------
    def _write_config(self) -> None:
        self.runtime_dir.mkdir(parents=True, mode=0o700)
        (self.config_dir / "basic" / "scenes").mkdir(parents=True)
        (self.config_dir / "basic" / "profiles" / PROFILE).mkdir(parents=True)
        (self.config_dir / "global.ini").write_text(_ini({
            "General": {"FirstRun": True, "LastVersion": 486539266, "EnableAutoUpdates": False,
                        "ConfirmOnExit": False},
            "BasicWindow": {"SysTrayEnabled": False, "SysTrayWhenStarted": False,
                            "ShowTransitions": False, "WarnBeforeStartingStream": False,
                            "WarnBeforeStoppingStream": False, "WarnBeforeStoppingRecord": False},
            "Basic": {"Profile": PROFILE, "ProfileDir": PROFILE,
                      "SceneCollection": COLLECTION, "SceneCollectionFile": COLLECTION},
            "OBSWebSocket": {"FirstLoad": False, "ServerEnabled": True, "ServerPort": self.port,
                             "AlertsEnabled": False, "AuthRequired": bool(self.password),
                             "ServerPassword": self.password},
        }))
        w, h = self.canvas
        (self.config_dir / "basic" / "profiles" / PROFILE / "basic.ini").write_text(_ini({
            "General": {"Name": PROFILE},
            "Video": {"BaseCX": w, "BaseCY": h, "OutputCX": w, "OutputCY": h,
                      "FPSType": 1, "FPSInt": self.fps, "ScaleType": "bilinear"},
            "Audio": {"SampleRate": 48000, "ChannelSetup": "Stereo"},
        }))
        self.write_scene_collection()

    def write_scene_collection(self) -> None:
        """(Re)write the scene collection file from `scenes` and `scripts` (takes effect on start)."""
        path = self.config_dir / "basic" / "scenes" / f"{COLLECTION}.json"
        path.write_text(json.dumps(scene_collection(self.scenes, self.scripts, self.inputs, self.items), indent=2))

    def saved_collection(self) -> dict:
        """The scene collection as OBS saved it (on quitting, or on a collection switch)."""
        return json.loads((self.config_dir / "basic" / "scenes" / f"{COLLECTION}.json").read_text())

    def save_collection(self, collection: dict) -> None:
        (self.config_dir / "basic" / "scenes" / f"{COLLECTION}.json").write_text(json.dumps(collection))

    # -- processes ---------------------------------------------------------------------
    def _start_xvfb(self) -> None:
        if self.xvfb is not None and self.xvfb.poll() is None:
            return
        read_fd, write_fd = os.pipe()
        self.xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=open(self.root / "xvfb.txt", "wb"),
            start_new_session=True)
        os.close(write_fd)
        with os.fdopen(read_fd) as f:
            number = f.readline().strip()
        if not number:
            raise ObsStartError("Xvfb did not start: " + (self.root / "xvfb.txt").read_text()[-2000:])
        self.display = f":{number}"

    def env(self) -> dict[str, str]:
        # cv2 points QT_QPA_PLATFORM_PLUGIN_PATH at its own Qt, which OBS's Qt cannot load
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("XDG_", "WAYLAND", "DBUS_SESSION", "QT_", "PYTHONHOME"))}
        env.update(HOME=str(self.home), XDG_RUNTIME_DIR=str(self.runtime_dir),
                   XDG_CONFIG_HOME=str(self.home / ".config"), DISPLAY=self.display,
                   QT_QPA_PLATFORM="xcb", LIBGL_ALWAYS_SOFTWARE="1", OBS_USE_EGL="0")
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 60.0) -> "ObsInstance":
        """Start Xvfb and OBS; return once obs-websocket answers GetVersion."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        _LIVE.add(self)
        self._start_xvfb()
        self._stdout = self.root / f"obs-stdout-{int(time.time() * 1000)}.txt"
        self._started_at = time.time()
        self.proc = subprocess.Popen(
            ["obs", "--multi", "--disable-shutdown-check", "--collection", COLLECTION, "--profile", PROFILE],
            cwd=str(self.root), env=self.env(), stdin=subprocess.DEVNULL,
            stdout=open(self._stdout, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ObsStartError(f"OBS exited with code {self.proc.returncode} during start-up\n{self.log_tail()}")
            try:
                client = Client("127.0.0.1", self.port, self.password, legacy=False, timeout=10)
                client.connect()
                client.call(obsreq.GetVersion())
                client.disconnect()
                return self
            except Exception as e:  # not listening yet
                last_error = f"{type(e).__name__}: {e}"
                time.sleep(0.25)
        self.quit()
        raise ObsStartError(f"obs-websocket did not answer on port {self.port} within {timeout:g}s ({last_error})\n{self.log_tail()}")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def client(self, password: str | None = None, timeout: float = 10.0) -> Client:
        """A connected obs-websocket v5 client (deep events cannot end its receive thread); disconnected by quit()."""
        client = Client("127.0.0.1", self.port, self.password if password is None else password,
                        legacy=False, timeout=timeout)
        client.connect()
        self._clients.append(client)
        return client

    def quit(self, timeout: float = 15.0) -> int | None:
        """Close OBS gracefully, as a user does: its main window gets WM_DELETE_WINDOW (the close button),
        and OBS shuts down cleanly and unloads its scripts. SIGINT only when it has no main window yet:
        OBS 29 closes its window from inside the signal handler, which deadlocks when the signal lands
        while its main thread is writing to X. SIGKILL after `timeout`. Returns OBS's exit code, 0 for
        OBS 29's own crash after a complete teardown (crashed_after_teardown).
        Processes OBS started are left alone, so a test can check `leftovers()`; close() kills them."""
        for client in self._clients:
            try:
                client.disconnect()
            except Exception:
                pass
        self._clients.clear()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            window = self.main_window()
            if window is None:
                self.proc.send_signal(signal.SIGINT)
            else:
                close_window(self.display, window)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        code = self.proc.wait()
        return 0 if code == -signal.SIGSEGV and crashed_after_teardown(self.log_text(), len(self.scripts)) else code

    def main_window(self) -> int | None:
        """The X id of OBS's main window ("OBS 29... - Profile: ..."), None before it exists."""
        found = subprocess.run(["xdotool", "search", "--pid", str(self.proc.pid), "--name", "^OBS "],
                               capture_output=True, text=True, env=self.env(), timeout=10).stdout.split()
        return int(found[0]) if found else None

    def leftovers(self) -> list[tuple[int, str]]:
        """(pid, command line) of live processes started under this OBS (they carry its HOME)."""
        marker = f"HOME={self.home}".encode() + b"\0"
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) in (os.getpid(), self.pid):
                continue
            try:
                if marker not in (entry / "environ").read_bytes() + b"\0":
                    continue
                stat = (entry / "stat").read_text()
                if stat[stat.rindex(")") + 2] == "Z":
                    continue
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                continue
            found.append((int(entry.name), cmd))
        return found

    def close(self) -> None:
        """quit(), kill whatever OBS left behind, and stop the display."""
        self.quit()
        for pid, _ in self.leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if self.xvfb is not None:
            _terminate(self.xvfb, 5.0)
            self.xvfb = None
        _LIVE.discard(self)

    def restart(self, timeout: float = 60.0) -> "ObsInstance":
        self.quit()
        return self.start(timeout)

    def __enter__(self) -> "ObsInstance":
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc) -> None:
        self.close()

    # -- diagnosis ---------------------------------------------------------------------
    def log_path(self) -> Path | None:
        logs = sorted((self.config_dir / "logs").glob("*.txt"), key=lambda p: p.stat().st_mtime)
        return logs[-1] if logs else None

    def log_text(self) -> str:
        """The current OBS log file (or its captured stdout if no log file was written)."""
        path = self.log_path()
        if path is None or path.stat().st_mtime < getattr(self, "_started_at", 0) - 1:
            path = getattr(self, "_stdout", None)
        return path.read_text(errors="replace") if path and path.exists() else ""

    def script_log(self, script: str = "obs_bgblur.py") -> list[str]:
        """The Script Log lines of `script` (the only script loaded) in the current OBS log, without OBS's time
        stamp and prefix. OBS 29 sometimes tags a line printed from a timer "[Unknown Script]": those count."""
        markers = (f"[Python: {script}] ", "[Unknown Script] ")
        return [line.split(m, 1)[1] for line in self.log_text().splitlines() for m in markers if m in line]

    def log_tail(self, lines: int = 40) -> str:
        return "--- OBS log tail ---\n" + "\n".join(self.log_text().splitlines()[-lines:])


class _XClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]


class _XEvent(ctypes.Union):
    _fields_ = [("xclient", _XClientMessage), ("pad", ctypes.c_long * 24)]


def close_window(display: str, window: int) -> None:
    """Send `window` WM_DELETE_WINDOW, what a window manager sends when the user clicks its close button
    (Xvfb runs no window manager, and xdotool 3.2016's windowclose destroys the window instead)."""
    x11 = ctypes.CDLL(ctypes.util.find_library("X11"))
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.POINTER(_XEvent)]
    x11.XFlush.argtypes = x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x11.XOpenDisplay(display.encode())
    if not dpy:
        raise OSError(f"cannot open the X display {display}")
    try:
        event = _XEvent()
        event.xclient.type = 33  # ClientMessage
        event.xclient.window = window
        event.xclient.message_type = x11.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
        event.xclient.format = 32
        event.xclient.data[0] = x11.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)  # data[1] 0: CurrentTime
        x11.XSendEvent(dpy, window, 0, 0, ctypes.byref(event))
        x11.XFlush(dpy)
    finally:
        x11.XCloseDisplay(dpy)


def crashed_after_teardown(log: str, scripts: int) -> bool:
    """Whether an OBS log that ends in a crash on quitting is OBS 29's own teardown crash: a Media Source on a
    network input that (re)connected just before quitting makes OBS segfault in its Qt event loop right after
    "All scene data cleared" (reproduced with no script loaded: a Media Source on a tcp y4m stream). Only when
    the log shows the whole teardown done first (all `scripts` unloaded, all scene data cleared, nothing after)."""
    shutdown = log.rfind("==== Shutting down ====")
    tail = log[shutdown:].rstrip().splitlines() if shutdown >= 0 else []
    unloaded = sum("[obs-scripting]: Unloaded python script:" in line for line in tail)
    return (unloaded == scripts and len(tail) >= 3 and tail[-2].endswith("All scene data cleared")
            and tail[-1].endswith("------"))


def _terminate(proc: subprocess.Popen, timeout: float) -> int | None:
    """SIGTERM the process, then SIGKILL its whole session after `timeout`."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:  # anything it left in its own session (start_new_session made pgid == pid)
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        return proc.wait(5)
    except subprocess.TimeoutExpired:
        return None


@atexit.register
def _kill_leftovers() -> None:
    for inst in list(_LIVE):
        inst.close()


# -- helpers for tests ---------------------------------------------------------------------
class EventLog:
    """Collects a client's events (on its receive thread: append only) for later assertions."""

    def __init__(self, client: obsws, event_type: type | None = None):
        self.events: list = []
        self._lock = threading.Lock()
        client.register(self._on_event, event_type)

    def _on_event(self, event) -> None:
        with self._lock:
            self.events.append(event)

    def matching(self, name: str | None = None, predicate: Callable[[dict], bool] | None = None) -> list[dict]:
        """Event data dicts of events named `name` for which `predicate(data)` is true."""
        with self._lock:
            events = list(self.events)
        return [e.datain for e in events
                if (name is None or e.name == name) and (predicate is None or predicate(e.datain))]

    def wait(self, name: str, predicate: Callable[[dict], bool] | None = None, timeout: float = 10.0) -> dict:
        """The first matching event's data, waiting up to `timeout` seconds."""
        return wait_for(lambda: (self.matching(name, predicate) or [None])[0], timeout, what=f"OBS event {name}")

    def clear(self) -> None:
        with self._lock:
            self.events.clear()


def screenshot(client: obsws, source_name: str, width: int, image_format: str = "png") -> np.ndarray:
    """A BGR uint8 picture of an OBS source (or scene) via GetSourceScreenshot, scaled to `width`."""
    r = client.call(obsreq.GetSourceScreenshot(sourceName=source_name, imageFormat=image_format, imageWidth=width))
    if not r.status:
        raise AssertionError(f"GetSourceScreenshot({source_name!r}) failed (no such source, or it has no video yet)")
    data = r.datain["imageData"]
    raw = base64.b64decode(data.split(",", 1)[1] if data.startswith("data:") else data)
    img = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise AssertionError(f"GetSourceScreenshot({source_name!r}) returned undecodable image data")
    return img


class KnownPicture:
    """A test input the hsv engine splits exactly: grey noise (background) around a saturated, textured
    ellipse (person), written to `path`; measures how sharp each region of an OBS picture of it is."""

    def __init__(self, path: Path, w: int = 640, h: int = 360):
        rng = np.random.default_rng(7)
        grey = rng.integers(40, 216, (h, w), dtype=np.uint8)
        img = cv2.merge([grey, grey, grey])
        hsv = np.dstack([rng.integers(0, 180, (h, w)), rng.integers(180, 256, (h, w)),
                         rng.integers(120, 256, (h, w))]).astype(np.uint8)
        person = np.zeros((h, w), np.uint8)
        cv2.ellipse(person, (w // 2, h // 2 + 10), (110, 150), 0, 0, 360, 255, -1)
        cv2.copyTo(cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR), person, img)
        cv2.imwrite(str(path), img)
        self.path, self.width = path, w
        self.person = cv2.erode(person, np.ones((21, 21), np.uint8)) > 0
        self.background = cv2.dilate(person, np.ones((61, 61), np.uint8)) == 0
        self.background[:20], self.background[-20:], self.background[:, :20], self.background[:, -20:] = 0, 0, 0, 0
        self.sharp_person, self.sharp_background = sharpness(img, self.person), sharpness(img, self.background)

    def regions(self, client: obsws, source: str) -> tuple[float, float]:
        """(person, background) sharpness of `source` now, relative to the input picture's."""
        img = screenshot(client, source, self.width)
        return sharpness(img, self.person) / self.sharp_person, sharpness(img, self.background) / self.sharp_background

    def wait(self, client: obsws, source: str, predicate, what: str, timeout: float = 20.0) -> tuple[float, float]:
        """Wait until predicate(person, background) holds for `source`'s picture; return the ratios."""
        seen: list = []

        def check():
            try:
                seen.append(self.regions(client, source))
            except AssertionError as e:  # the source has no frame yet
                seen.append(str(e))
                return None
            return seen[-1] if predicate(*seen[-1]) else None

        try:
            return wait_for(check, timeout, 0.3, what)
        except AssertionError as e:
            raise AssertionError(f"{e}; last (person, background) sharpness ratios or errors: {seen[-3:]}") from None


BLURRED = (lambda person, background: person > 0.5 and background < 0.1)
UNBLURRED = (lambda person, background: person > 0.5 and background > 0.5)
ALL_BLURRED = (lambda person, background: person < 0.1 and background < 0.1)


def sharpness(img: np.ndarray, region: tuple[int, int, int, int] | np.ndarray | None = None) -> float:
    """Variance of the Laplacian of the grey image, over `region` = (x, y, w, h) or a 2-D bool/uint8 mask."""
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    lap = cv2.Laplacian(grey, cv2.CV_32F)
    if region is None:
        values = lap
    elif isinstance(region, np.ndarray):
        values = lap[region.astype(bool)]
    else:
        x, y, w, h = region
        values = lap[y:y + h, x:x + w]
    return float(np.var(values, dtype=np.float64))


def obs_available() -> str | None:
    """None if OBS and Xvfb are installed, else what is missing."""
    missing = [b for b in ("obs", "Xvfb") if shutil.which(b) is None]
    return f"not installed: {', '.join(missing)} (apt-get install obs-studio xvfb)" if missing else None

"""The OBS script's plain-Python half: the core process it runs, and the helpers that need no OBS.

`obs_bgblur.py` (run inside OBS's embedded Python) keeps only the OBS glue and calls into this
module. Like the script, this module is stdlib-only: numpy or OpenCV inside OBS's Python crash
OBS, so nothing here may import them, directly or through another bgblur_core module.

`Core` launches `<python> -m bgblur_core run --control stdin`, feeds it JSON lines on stdin
({"set": {...}} / {"command": ...}), queues its stdout/stderr from reader threads, and in `poll()`
(called from the script's timer) turns them into status and log lines, restarting a crashed core
with backoff and a limit. The OBS websocket password reaches the core in the environment
(`settings.PASSWORD_ENV`), never on argv or in the settings file.
"""
from __future__ import annotations

import glob
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque

from . import settings as schema  # stdlib only

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # where obs_bgblur.py lives
DEBOUNCE_S = 0.3
STOP_TIMEOUT_S = 3.0
DOCTOR_TIMEOUT_S = 60
LOOPBACK = "127.0.0.1"
CAMERA_KINDS = ("v4l2_input", "dshow_input", "av_capture_input")  # OBS's video capture sources
SCRIPT_MANAGED = ("output", "obs_enabled", "obs_create_source", "wait_for_camera")  # set by the script, not the panel


# -- conversions and helpers ----------------------------------------------------------------
def color_to_obs(color: str) -> int:
    """'#rrggbb' -> OBS's colour int (0xAABBGGRR, opaque)."""
    r, g, b = int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)
    return 0xFF000000 | b << 16 | g << 8 | r


def obs_to_color(value: int) -> str:
    return "#{:02x}{:02x}{:02x}".format(value & 0xFF, value >> 8 & 0xFF, value >> 16 & 0xFF)


def values_from_saved(saved: dict) -> dict:
    """The script's saved settings (OBS data as JSON) -> raw schema values, defaults filled in."""
    values = {}
    for s in schema.SCHEMA:
        v = saved.get(s.name, s.default)
        if s.name == "background_color" and isinstance(v, int):
            v = obs_to_color(v)
        values[s.name] = v
    return values


def interpreter(configured: str = "", script_dir: str = PROJECT_DIR) -> str | None:
    """The Python that runs the core: the configured one, else the project's .venv, else python3/python."""
    if configured.strip():
        return configured.strip()
    venv = (os.path.join(script_dir, ".venv", "Scripts", "python.exe") if os.name == "nt"
            else os.path.join(script_dir, ".venv", "bin", "python"))
    if os.path.isfile(venv):
        return venv
    return shutil.which("python3") or shutil.which("python")


def how_to_fix(script_dir: str = PROJECT_DIR) -> str:
    return (f"fix: run the README's set-up command in {script_dir} (it creates .venv there), "
            "or set 'Core Python' to an interpreter that has obs-bgblur installed")


def explain_exit(python: str, code: int, stderr_tail: list[str], script_dir: str = PROJECT_DIR) -> tuple[str, bool]:
    """(one-line reason the core stopped, whether restarting can help)."""
    text = "\n".join(stderr_tail)
    missing = re.search(r"No module named '?([\w.]+)'?", text)
    if missing:
        return f"{python} cannot run bgblur_core (No module named {missing.group(1)}); {how_to_fix(script_dir)}", False
    errors = [line.split("error:", 1)[1].strip() for line in stderr_tail if line.startswith("bgblur: error:")]
    if code == 2 and errors:  # a settings or stage error: the same settings would fail again
        return errors[-1], False
    if code == 0:
        return "the core finished (end of input)", False
    if code < 0:
        return f"the core was killed by signal {-code}", True
    crashed = "Traceback (most recent call last):" in stderr_tail and stderr_tail[-1].strip()
    last = errors[-1] if errors else crashed
    return f"the core exited with code {code}" + (f": {last}" if last else ""), True


def status_text(status: dict) -> str:
    """The core's status event -> one line for the panel."""
    parts = [f"{status.get('fps', 0):.1f} fps", f"latency {status.get('latency_ms', 0):.0f} ms",
             f"CPU {status.get('cpu_ms', 0):.1f} ms/frame", f"engine {status.get('engine', '?')}",
             status.get("effect", "?") if status.get("enabled", True) else "effect off"]
    return " · ".join(parts)


# -- what the script decides for the core (no OBS calls) ------------------------------------------
def port_free(port: int) -> bool:
    """Whether the core could listen on `port` (as obs-stream does: connections of a previous run may linger)."""
    with socket.socket() as s:
        if os.name != "nt":  # on Windows SO_REUSEADDR would let us take a port in use
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def pick_port(saved: int) -> tuple[int, str]:
    """The obs-stream port: the saved one while it is free, else a free one; (port, a note for the log or '')."""
    if 0 < saved < 65536 and port_free(saved):
        return saved, ""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port = s.getsockname()[1]
    return port, (f"obs-stream port {saved} is taken; using port {port}" if saved else "")


def media_source_settings(port: int) -> dict:
    """Settings of the OBS Media Source (`ffmpeg_source`) that shows the obs-stream output live, with the
    least delay its settings allow: no network buffer, no probing beyond the y4m header, a small socket buffer."""
    return {"is_local_file": False, "input": f"tcp://{LOOPBACK}:{port}", "input_format": "yuv4mpegpipe",
            "buffering_mb": 0, "reconnect_delay_sec": 1, "restart_on_activate": False,
            "close_when_inactive": False, "hw_decode": False, "clear_on_media_end": False,
            "ffmpeg_options": "fflags=nobuffer probesize=32 analyzeduration=0 recv_buffer_size=65536"}


def core_output(port: int, also_virtualcam: bool) -> str:
    return f"obs-stream:{port}" + (",virtualcam" if also_virtualcam else "")


def parse_presets(raw) -> tuple[dict, list[str]]:
    """The panel's scene presets -> ({scene: valid changes}, one log line per preset with something dropped)."""
    try:
        presets = schema.coerce(schema.BY_NAME["scene_presets"], raw)
    except schema.SettingsError as e:
        return {}, [f"scene presets ignored: {e}"]
    valid, errors = {}, []
    for scene, preset in presets.items():
        if not isinstance(preset, dict):
            errors.append(f"scene preset {scene!r} ignored: not a JSON object of settings")
            continue
        valid[scene], bad = {}, []
        for name, value in preset.items():
            try:
                valid[scene].update(schema.check_changes({name: value}))
            except schema.SettingsError as e:
                bad.append(str(e))
        if bad:
            errors.append(f"scene preset {scene!r}: ignored " + "; ".join(bad))
    return valid, errors


def camera_request(kind: str, settings: dict, size: tuple[int, int] = (0, 0)) -> dict:
    """What the core needs to open the device an OBS camera source uses: input, and width/height/fps if known.

    `size` is the source's current size in OBS (0x0 when it shows nothing). OpenCV opens Windows and
    macOS cameras by index, not by OBS's device id, so there the core takes the first camera ('auto').
    """
    request: dict = {"input": "auto"}
    if kind == "v4l2_input":
        if settings.get("device_id"):
            request["input"] = settings["device_id"]
        packed = settings.get("resolution") or 0  # (width << 16) | height
        if packed > 0:
            size = (packed >> 16, packed & 0xFFFF)
        rate = settings.get("framerate") or 0  # (numerator << 16) | denominator, a frame interval
        if rate > 0 and rate >> 16:
            request["fps"] = round((rate & 0xFFFF) / (rate >> 16))
    elif kind == "dshow_input":
        match = re.fullmatch(r"(\d+)x(\d+)", str(settings.get("resolution", "")))
        if match:
            size = (int(match.group(1)), int(match.group(2)))
        interval = settings.get("frame_interval") or 0  # in 100 ns units
        if interval > 0:
            request["fps"] = round(1e7 / interval)
    w, h = size
    if w >= schema.BY_NAME["width"].min and h >= schema.BY_NAME["height"].min:
        request["width"], request["height"] = w, h
    if "fps" in request and not 1 <= request["fps"] <= schema.BY_NAME["fps"].max:
        del request["fps"]
    return request


def script_values(saved: dict, port: int, camera: dict | None = None) -> dict:
    """The core's raw settings when the script runs it: the panel's values, the obs-stream output on `port`
    (plus the virtual camera if ticked), websocket control on only with a password, the camera being blurred."""
    values = values_from_saved(saved)
    values.update(output=core_output(port, bool(saved.get("also_virtualcam"))),
                  obs_enabled=bool(values.get("obs_password")), obs_create_source=False, wait_for_camera=True)
    values.update(camera or {})
    return values


def doctor_lines(output: str) -> list[str] | None:
    """`bgblur doctor --json` output -> one line per failing check, or None if it is not a doctor report."""
    try:
        report = json.loads(output)
        checks = report["checks"]
        return [f"{c['name']}: {c['detail']}" + (f" (fix: {c['fix']})" if c.get("fix") else "")
                for c in checks if c["status"] == "fail"]
    except (ValueError, TypeError, KeyError):
        return None


# -- panel helpers (no OBS calls) ---------------------------------------------------------------
def setting_label(s) -> str:
    """A schema setting's label in the panel: its own, else its name in words ('HSV h min')."""
    return s.label or re.sub(r"^(Hsv|Obs) ", lambda m: m.group(1).upper() + " ", s.name.replace("_", " ").capitalize())


def float_step(s) -> float:
    span = s.max - s.min
    return 0.01 if span <= 1 else 0.1 if span <= 10 else 0.5


def camera_choices() -> list[str]:
    if sys.platform.startswith("linux"):
        devices = sorted(glob.glob("/dev/video*"), key=lambda p: int(re.sub(r"\D", "", p) or 0))
    else:
        devices = ["0", "1", "2"]
    return ["auto", *devices, "synthetic"]


def write_settings_file(values: dict, directory: str) -> str:
    """All settings but secrets as JSON, readable by the user only (0600)."""
    path = os.path.join(directory, "settings.json")
    data = {k: v for k, v in values.items() if not schema.BY_NAME[k].secret}
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(path + ".tmp", path)
    return path


class Debounced:
    """Keeps the latest value; hands it out once it has been left alone for `delay` seconds."""

    def __init__(self, delay: float):
        self.delay, self.value, self.since = delay, None, 0.0

    def put(self, value, now: float) -> None:
        self.value, self.since = value, now

    def take(self, now: float):
        if self.value is None or now - self.since < self.delay:
            return None
        value, self.value = self.value, None
        return value


class Core:
    """The core process: start, send JSON lines, queue its events, restart on crash, stop.

    Reader threads only queue lines; everything else happens in `poll()`, called from a timer.
    """

    BACKOFF_S = (1, 2, 4, 8, 16)  # also the restart limit
    STABLE_S = 60  # a core that ran this long gets a fresh set of restarts

    def __init__(self, script_dir: str = PROJECT_DIR):
        self.script_dir = script_dir
        self.proc: subprocess.Popen | None = None
        self.values: dict = dict(schema.DEFAULTS)  # what the core has (or starts with)
        self.panel: dict = dict(schema.DEFAULTS)  # the user's values, before the scene's preset
        self.presets: dict = {}  # scene -> changes
        self.preset_errors: list[str] = []
        self.scene = ""  # the program scene
        self.user_set: set = set()  # settings the user changed while this scene's preset is live: theirs win
        self.camera_note = ""  # what the script blurs in place, for the status line
        self.doctor: list[str] = []  # failing `bgblur doctor` checks after the core could not start
        self.configured_python = ""
        self.python = ""
        self.state = "stopped"  # stopped | running | waiting (to restart) | failed
        self.message = "stopped"
        self.status: dict = {}
        self.last_error = ""
        self.setting_error = ""
        self.restarts = 0
        self.restart_at = 0.0
        self.started_at = 0.0
        self._events: queue.Queue = queue.Queue()
        self._stderr_tail: deque = deque(maxlen=40)
        self._lock = threading.Lock()
        self._readers: list[threading.Thread] = []
        self._tmpdir = ""
        self._fetcher: subprocess.Popen | None = None

    # -- settings ------------------------------------------------------------------------
    def _take(self, raw: dict) -> dict | None:
        """The panel's raw values -> the values the core should have now (panel + scene preset), or None."""
        presets, errors = parse_presets(raw.get("scene_presets", {}))
        if errors != self.preset_errors:
            for line in errors:
                self._events.put(("log", f"error: {line}"))
        self.presets, self.preset_errors = presets, errors
        try:
            panel = dict(schema.validate({**raw, "scene_presets": {}}))  # the script applies presets itself
        except schema.SettingsError as e:
            self.setting_error = f"not applied: {e}"
            return None
        self.setting_error = ""
        self.user_set |= {k for k, v in panel.items() if self.panel.get(k) != v}
        self.panel = panel
        return self._effective()

    def _effective(self) -> dict:
        preset = {k: v for k, v in self.presets.get(self.scene, {}).items() if k not in self.user_set}
        try:
            return dict(schema.validate({**self.panel, **preset}))
        except schema.SettingsError as e:
            self._events.put(("log", f"error: scene preset {self.scene!r} not applied: {e}"))
            return dict(self.panel)

    def _push(self, values: dict) -> bool:
        """Send the settings that differ from what the core has, as one line; True if anything differed."""
        diff = {k: v for k, v in values.items() if self.values.get(k) != v}
        self.values = values
        if self.state == "running" and diff:
            self.send({"set": diff})
        return bool(diff)

    def update(self, raw: dict, python: str = "") -> None:
        """A panel change: validated, then only the difference goes to the core, as one line."""
        python_changed = python != self.configured_python
        self.configured_python = python
        values = self._take(raw)
        if values is None:
            return
        changed = self._push(values)
        if self.state == "failed" and (changed or python_changed):
            self.start()  # the last start failed on its settings or interpreter: try the new ones

    def set_scene(self, scene: str) -> None:
        """The program scene changed: apply its preset, drop the last scene's (studio mode too)."""
        if scene == self.scene:
            return
        self.scene, self.user_set = scene, set()
        self._push(self._effective())

    # -- process -------------------------------------------------------------------------
    def start(self, raw: dict | None = None, python: str | None = None) -> bool:
        """Start (or restart) the core with `raw` settings; without them (a crash restart) the current ones."""
        if python is not None:
            self.configured_python = python
        if raw is not None:  # started by the user or on load: a fresh set of restarts
            values = self._take(raw)
            if values is None:
                self._fail(self.setting_error)
                return False
            self.values, self.restarts = values, 0
        self._terminate()
        self.python = interpreter(self.configured_python, self.script_dir) or ""
        self.doctor = []
        if not self.python:
            self._fail(f"no Python interpreter found to run bgblur_core; {how_to_fix(self.script_dir)}")
            return False
        if not self._tmpdir:
            self._tmpdir = tempfile.mkdtemp(prefix="bgblur-")
        cmd = [self.python, "-m", "bgblur_core", "run", "--control", "stdin",
               "--settings", write_settings_file(self.values, self._tmpdir)]
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", schema.PASSWORD_ENV)}
        env["PYTHONUNBUFFERED"] = "1"
        if self.values.get("obs_password"):
            env[schema.PASSWORD_ENV] = self.values["obs_password"]
        try:
            proc = subprocess.Popen(cmd, cwd=self.script_dir, env=env, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    encoding="utf-8", errors="replace", bufsize=1,
                                    creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
        except OSError as e:
            self._fail(f"cannot run the Core Python {self.python!r} ({e.strerror or e}); {how_to_fix(self.script_dir)}")
            return False  # no doctor either: it would need that same interpreter
        self.proc = proc
        self._stderr_tail.clear()
        self._readers = [threading.Thread(target=self._read, args=(proc.stdout, "out"), daemon=True),
                         threading.Thread(target=self._read, args=(proc.stderr, "err"), daemon=True)]
        for t in self._readers:
            t.start()
        self.state, self.message, self.status = "running", f"starting (pid {proc.pid})", {}
        self.started_at = time.monotonic()
        self._events.put(("log", f"core started: pid {proc.pid}: {' '.join(cmd)}"))
        return True

    def _read(self, stream, kind: str) -> None:
        """Reader thread: queue each line, nothing else."""
        try:
            for line in stream:
                self._events.put((kind, line.rstrip("\r\n")))
        except (OSError, ValueError):
            pass

    def send(self, message: dict) -> bool:
        """One JSON line on the core's stdin; thread-safe (hotkeys call it too)."""
        with self._lock:
            proc = self.proc
            if proc is None or proc.poll() is not None:
                return False
            try:
                proc.stdin.write(json.dumps(message) + "\n")
                proc.stdin.flush()
                return True
            except (OSError, ValueError):
                return False

    def command(self, name: str) -> bool:
        return self.send({"command": name})

    def _fail(self, message: str) -> None:
        self.state, self.message = "failed", message
        self._events.put(("log", f"error: {message}"))

    def _terminate(self) -> None:
        """Close stdin (the core stops on EOF), SIGTERM, and kill after STOP_TIMEOUT_S."""
        with self._lock:
            proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
        except (OSError, ValueError):
            pass
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for t in self._readers:
            t.join(1.0)

    def stop(self) -> None:
        """Stop the core and any model download; no process is left behind."""
        self._terminate()
        fetcher, self._fetcher = self._fetcher, None
        if fetcher is not None and fetcher.poll() is None:
            fetcher.kill()
            fetcher.wait()
        self.state, self.message, self.status, self.restarts = "stopped", "stopped", {}, 0
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = ""

    def run_doctor(self) -> None:
        """`<python> -m bgblur_core doctor --json` in the background; its failing checks go to the log and status."""
        python = self.python

        def run() -> None:
            try:
                done = subprocess.run([python, "-m", "bgblur_core", "doctor", "--json"], cwd=self.script_dir,
                                      stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                                      timeout=DOCTOR_TIMEOUT_S, creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
                lines = doctor_lines(done.stdout)
            except (OSError, subprocess.SubprocessError):
                lines = None
            if lines is None:
                self._events.put(("log", f"bgblur doctor gave no report with {python}; run the README's set-up command"))
                return
            self.doctor = lines
            for line in lines:
                self._events.put(("log", f"error: doctor: {line}"))

        threading.Thread(target=run, daemon=True).start()

    def fetch_models(self) -> None:
        """`<python> -m bgblur_core models fetch`, without blocking; the result shows up in poll()."""
        if self._fetcher is not None and self._fetcher.poll() is None:
            return
        python = interpreter(self.configured_python, self.script_dir)
        if not python:
            self._fail(f"no Python interpreter found to fetch the models; {how_to_fix(self.script_dir)}")
            return
        try:
            self._fetcher = subprocess.Popen(
                [python, "-m", "bgblur_core", "models", "fetch"], cwd=self.script_dir, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
        except OSError as e:
            self._events.put(("log", f"error: cannot run {python!r} to fetch the models ({e.strerror or e})"))
            return
        self._events.put(("log", "fetching models..."))
        fetcher = self._fetcher

        def wait() -> None:
            out, _ = fetcher.communicate()
            last = (out or "").strip().splitlines()[-1:] or [""]
            verdict = "models fetched" if fetcher.returncode == 0 else f"fetching models failed (code {fetcher.returncode})"
            self._events.put(("log", f"{verdict}: {last[0]}" if last[0] else verdict))

        threading.Thread(target=wait, daemon=True).start()

    # -- the timer's work ------------------------------------------------------------------
    def poll(self, now: float | None = None) -> list[str]:
        """Drain the queued events, notice exits, restart with backoff. Returns lines for the log."""
        now = time.monotonic() if now is None else now
        lines = self._drain()
        proc = self.proc
        if self.state == "running" and proc is not None and proc.poll() is not None:
            for t in self._readers:  # the exit's last words
                t.join(1.0)
            lines += self._drain()
            self._on_exit(proc.returncode, now)
        elif self.state == "running" and now - self.started_at > self.STABLE_S:
            self.restarts = 0
        if self.state == "waiting" and now >= self.restart_at:
            self.restarts += 1
            self.start()
            lines += self._drain()
        return lines

    def _drain(self) -> list[str]:
        lines = []
        while True:
            try:
                kind, line = self._events.get_nowait()
            except queue.Empty:
                return lines
            if kind == "err":
                self._stderr_tail.append(line)
                lines.append(f"core: {line}")
                continue
            if kind == "log":
                lines.append(line)
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                lines.append(f"core: {line}")
                continue
            if isinstance(event, dict) and isinstance(event.get("status"), dict):
                lost = bool(event["status"].get("input_lost"))
                if lost and not self.status.get("input_lost"):
                    lines.append(f"error: {event['status'].get('input', 'the camera')} cannot be opened or was lost; "
                                 "the blurred source shows a placeholder until it is back")
                self.status = event["status"]
                self.message = "running"
                self.last_error = self.status.get("last_error") or ""
            elif isinstance(event, dict) and "error" in event:
                self.last_error = str(event["error"])  # the core logs it on stderr too

    def _on_exit(self, code: int, now: float) -> None:
        with self._lock:
            self.proc = None
        reason, retry = explain_exit(self.python, code, list(self._stderr_tail), self.script_dir)
        self.status = {}
        if not retry:
            self._fail(reason)
            if code not in (0, 2):  # not the end of input or a settings error: ask `bgblur doctor` what is wrong
                self.run_doctor()
        elif self.restarts >= len(self.BACKOFF_S):
            self._fail(f"{reason}; gave up after {self.restarts} restarts (press 'Start core' to try again)")
            self.run_doctor()
        else:
            delay = self.BACKOFF_S[self.restarts]
            self.state, self.restart_at = "waiting", now + delay
            self.message = f"{reason}; restarting in {delay} s ({self.restarts + 1}/{len(self.BACKOFF_S)})"
            self._events.put(("log", self.message))

    def status_line(self) -> str:
        line = self.message
        if self.state == "running" and self.status:
            line = status_text(self.status)
            if self.status.get("input_lost"):
                line = f"{self.status.get('input', 'the camera')} cannot be opened or was lost: showing a placeholder · " + line
        if self.camera_note and self.state == "running":
            line = f"{self.camera_note} · {line}"
        if self.state == "failed" and self.doctor:
            line += f" · doctor: {self.doctor[0]}" + (f" (+{len(self.doctor) - 1} more in the Script Log)" if len(self.doctor) > 1 else "")
        if self.state == "running" and self.last_error:
            line += f" · last error: {self.last_error}"
        if self.setting_error and self.setting_error != self.message:  # once, when it is also why the core failed
            line += f" · {self.setting_error}"
        return line

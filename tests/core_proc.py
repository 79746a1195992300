"""A real core under test: `python -m bgblur_core run --control stdin` in its own process.

Its stdout is read on a thread: every line must be one whole JSON event (`broken` collects any
that is not). `probe()` sends a valid message whose answer is immediate (the create_source
command is echoed as an event by the pipeline's thread), so a test can tell that both the control
thread and the frame loop still work after anything it sent.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time

from hypothesis import HealthCheck, Phase, settings

BGBLUR = [sys.executable, "-m", "bgblur_core"]
PROBE = b'{"command": "create_source"}\n'


def fuzz(max_examples: int, shrink: bool = False) -> settings:
    """Hypothesis settings for the fuzz suite: bounded, reproducible, no deadline (2 slow shared cores).

    No shrinking against a long-lived core: once it stops answering it does not come back."""
    phases = (Phase.explicit, Phase.generate) + ((Phase.shrink,) if shrink else ())
    return settings(max_examples=max_examples, deadline=None, derandomize=True, phases=phases, database=None,
                    suppress_health_check=list(HealthCheck))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gone(pid: int) -> bool:
    """True when no process `pid` exists any more (not even a zombie)."""
    return not os.path.exists(f"/proc/{pid}")


class Core:
    """The core (hsv, 320x240) on the synthetic scene, paced at `fps` by a live obs-stream output.

    `launcher`: the command that runs `bgblur` (e.g. through tests/fake_webcam.py)."""

    def __init__(self, *args: str, fps: int = 15, port: int | None = None, output: str | None = None,
                 input: str = "synthetic", launcher: list[str] = BGBLUR, env: dict | None = None):
        self.port = port or free_port()
        output = output or f"obs-stream:{self.port}"
        cmd = [*launcher, "run", "--input", input, "--engine", "hsv", "--width", "320", "--height", "240",
               "--fps", str(fps), "--output", output, "--control", "stdin", *args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env={**os.environ, **(env or {})})
        self.events: list[dict] = []
        self.broken: list[bytes] = []  # stdout lines that were not one whole JSON object
        self.stderr: list[str] = []
        self._cond = threading.Condition()
        self.unanswered = False
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        for raw in self.proc.stdout:
            try:
                event = json.loads(raw)
                assert isinstance(event, dict)
            except (ValueError, AssertionError):
                with self._cond:
                    self.broken.append(raw)
                continue
            with self._cond:
                self.events.append(event)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def _read_stderr(self) -> None:
        for raw in self.proc.stderr:
            self.stderr.append(raw.decode("utf-8", "replace").rstrip("\n"))

    # -- waiting ----------------------------------------------------------------------------
    def wait_event(self, predicate, timeout: float = 30, what: str = "an event", since: int = 0) -> dict:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events[since:]:
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no {what} from the core (exit {self.proc.poll()}); "
                                         f"stderr: {self.stderr[-8:]}")
                self._cond.wait(min(left, 0.5))

    def frames(self, since: int = 0) -> int:
        """The frame count of the latest status, waiting for one if needed."""
        with self._cond:
            statuses = [e["status"] for e in self.events[since:] if "status" in e and "frames" in e["status"]]
        if statuses:
            return statuses[-1]["frames"]
        return self.wait_event(lambda e: "frames" in e.get("status", {}), what="status")["status"]["frames"]

    def keeps_producing(self) -> int:
        """Wait until a status reports more frames than the last one did; returns the new count."""
        before, mark = self.frames(), len(self.events)
        event = self.wait_event(lambda e: e.get("status", {}).get("frames", -1) > before,
                                what=f"status with more than {before} frames", since=mark)
        return event["status"]["frames"]

    # -- talking ------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def probe(self, timeout: float = 20) -> None:
        """Send a valid message and wait for its answer (the create_source command echoed as an event).

        Once a probe has gone unanswered, later ones fail at once (the core is not coming back)."""
        assert not self.unanswered, "the core stopped answering earlier"
        with self._cond:
            mark = len(self.events)
        self.unanswered = True
        self.send(PROBE)
        self.wait_event(lambda e: e.get("command") == "create_source", timeout, "answer to a valid message", mark)
        self.unanswered = False

    def applies(self, changes: dict, timeout: float = 30) -> dict:
        """Send a settings change and wait for a status that shows it."""
        with self._cond:
            mark = len(self.events)
        self.send(json.dumps({"set": changes}).encode() + b"\n")
        return self.wait_event(lambda e: all(e.get("status", {}).get(k) == v for k, v in changes.items()),
                               timeout, f"status showing {changes}", mark)["status"]

    def close_stdin_and_wait(self, timeout: float = 30) -> int:
        """Close stdin (as a dying parent does): the core must stop by itself, leaving no process."""
        self.proc.stdin.close()
        code = self.proc.wait(timeout)
        assert gone(self.proc.pid)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@contextlib.contextmanager
def started(*args: str, **kw):
    """A Core that has answered its first probe; killed on exit (a module fixture for the fuzz suites)."""
    core = Core(*args, **kw)
    try:
        core.probe(timeout=90)
        yield core
    finally:
        core.kill()

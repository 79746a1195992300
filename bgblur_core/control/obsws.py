"""Control over obs-websocket (protocol v5, obs-websocket-py): remote control, scene presets,
status, and the OBS input that shows the core's output.

- In: a `CustomEvent` whose data is {"bgblur": {"set": {...}}} and/or {"bgblur": {"command": ...}}
  (the stdin message format, see messages.py); other custom events are not ours and are ignored.
- Scene presets: on `CurrentProgramSceneChanged` (and at connect) the preset of the new scene in
  `scene_presets` is applied. Leaving a preset scene restores the values the preset replaced,
  except a value the user changed while the preset was live (that change is kept). Going from
  one preset scene straight to another restores the first, then applies the second.
- Out: {"bgblur_status": {...pipeline status...}} via `BroadcastCustomEvent`, at most once a second.
- Source: after connecting (obs_create_source), the current program scene gets an input named
  "bgblur" showing the output, unless an input of that name exists already.

Everything talking to OBS runs on this adapter's own thread. obs-websocket-py's receive thread
(event callbacks) and the pipeline's thread (listener) only put things into queues, so the
video never waits on OBS and a `ws.call` is never made from the receive thread.
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Any

from obswebsocket import exceptions as obsexc
from obswebsocket import requests as req

from ..log import log
from ..settings import Settings, SettingsError, check_changes
from ..stages import StageError
from ..pipeline_api import Control, PipelinePort
from .messages import MessageError, parse
from .obs_client import AUTH_FAILED, CALL_TIMEOUT, AuthFailed, Client, connect
from .obs_client import call as _call
from .obs_client import reason as _reason
from .obs_source import ensure_source

STATUS_PERIOD = 1.0
BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0)
CONNECTION_KEYS = ("obs_enabled", "obs_host", "obs_port", "obs_password")


# -- scene presets ------------------------------------------------------------------------------
class ScenePresets:
    """What to change when the program scene changes: apply its preset, restore what the last one replaced."""

    def __init__(self):
        self.saved: dict[str, Any] = {}  # values the active preset replaced
        self.active: dict[str, Any] = {}  # values the active preset set

    def on_scene(self, scene: str, settings: Settings) -> dict[str, Any]:
        """The settings changes for going live with `scene` while `settings` are current."""
        # restore, unless the user set a third value while the preset was live
        restore = {k: v for k, v in self.saved.items() if settings[k] in (v, self.active[k])}
        preset = check_changes(settings.scene_presets.get(scene, {}))
        before = {**settings, **restore}
        self.saved = {k: before[k] for k in preset}
        self.active = dict(preset)
        return {**restore, **preset}


# -- the adapter ---------------------------------------------------------------------------------
class ObsControl:
    """Connects to OBS when obs_enabled; follows obs_* setting changes; never blocks the pipeline."""

    def __init__(self, pipeline: PipelinePort):
        self.pipeline = pipeline
        self._unsubscribe = None
        self.connected = threading.Event()
        self.source_result = ""
        self._inbox: queue.Queue[tuple[int, str, Any]] = queue.Queue()  # (connection id, kind, data)
        self._status: dict | None = None  # the latest status, with the latest error folded in
        self._status_new = False
        self._status_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Client | None = None
        self._conn_id = 0
        self._target: tuple | None = None
        self._sourced_for: tuple | None = None
        self._source_requested = False  # the create_source command: make the source even when obs_create_source is off
        self._presets = ScenePresets()
        self._attempt = 0
        self._next_attempt = 0.0
        self._last_failure = ""
        self._last_sent = 0.0

    # -- called from other threads: queue only --------------------------------------------------
    def start(self) -> None:
        self._unsubscribe = self.pipeline.subscribe(self._on_pipeline_event)
        self._thread = threading.Thread(target=self._run, name="obs-websocket", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._inbox.put((-1, "wake", None))
        if self._thread is not None:
            self._thread.join(CALL_TIMEOUT + 2)
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._disconnect()

    @property
    def connections(self) -> int:
        """How many times a connection succeeded (1 after the first connect)."""
        return self._conn_id

    def _on_pipeline_event(self, event: dict) -> None:
        """A pipeline listener (pipeline thread, or whoever reported an error)."""
        with self._status_lock:
            if event.get("command") == "create_source":
                self._source_requested = True
            elif "status" in event:
                self._status, self._status_new = dict(event["status"]), True
            elif "error" in event and self._status is not None:
                self._status = {**self._status, "last_error": event["error"]}
                self._status_new = True

    def _on_obs_event(self, conn_id: int, event) -> None:
        """obs-websocket-py's receive thread: never call OBS here, never raise."""
        try:
            if event.name == "CustomEvent":
                self._inbox.put((conn_id, "custom", dict(event.datain)))
            elif event.name == "CurrentProgramSceneChanged":
                self._inbox.put((conn_id, "scene", event.datain.get("sceneName")))
            elif event.name == "ExitStarted":
                self._inbox.put((conn_id, "exit", None))
        except Exception:
            pass

    # -- the adapter's thread --------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception as e:  # never let the adapter die: drop the connection and retry
                if self._client is not None and self._client.alive():
                    self.pipeline.error(f"obs-websocket: {_reason(e)}; reconnecting")
                else:
                    log("obs-websocket: lost the connection to OBS; reconnecting")
                self._disconnect()
                self._schedule_retry()
            self._handle_inbox(timeout=0.2)

    def _tick(self) -> None:
        settings = self.pipeline.settings
        target = tuple(settings[k] for k in CONNECTION_KEYS)
        if target != self._target:
            self._disconnect()
            self._target, self._attempt, self._next_attempt, self._last_failure = target, 0, 0.0, ""
        if not settings.obs_enabled:
            return
        if self._client is not None and not self._client.alive():
            self._disconnect()
            self._schedule_retry()
        if self._client is None and time.monotonic() >= self._next_attempt:
            self._connect(settings)
        if self._client is not None:
            self._ensure_source(settings)
            self._send_status()

    def _connect(self, settings: Settings) -> None:
        try:
            client = connect(settings)
        except AuthFailed:
            self._failed(AUTH_FAILED)
            return
        except obsexc.ConnectionFailure as e:
            self._failed(f"obs-websocket: cannot connect to {settings.obs_host}:{settings.obs_port} ({e}); "
                         "is OBS running with Tools → WebSocket Server Settings → Enable WebSocket server on? retrying")
            return
        self._conn_id += 1
        conn_id = self._conn_id
        client.register(lambda event: self._on_obs_event(conn_id, event))
        if self._last_failure:
            self.pipeline.resolved(self._last_failure)  # the status should not go on showing a fixed problem
        self._client, self._attempt, self._last_failure = client, 0, ""
        self._sourced_for = None
        self.connected.set()
        log(f"obs-websocket: connected to OBS at {settings.obs_host}:{settings.obs_port}")
        scene = _call(client, req.GetCurrentProgramScene())["currentProgramSceneName"]
        self._apply_scene(scene)

    def _failed(self, message: str) -> None:
        """Report a connection failure once (not again on every retry), then back off."""
        if message != self._last_failure:
            self.pipeline.error(message)
            self._last_failure = message
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        self._next_attempt = time.monotonic() + BACKOFF[min(self._attempt, len(BACKOFF) - 1)]
        self._attempt += 1

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        self.connected.clear()
        if client is not None:
            client.close()

    def _ensure_source(self, settings: Settings) -> None:
        key = (settings.obs_create_source, settings.output, settings.vcam_device)
        requested, self._source_requested = self._source_requested, False
        if key == self._sourced_for and not requested:
            return
        self._sourced_for = key
        if not (settings.obs_create_source or requested):
            return
        device = self.pipeline.status()["vcam_device"]
        try:
            self.source_result = ensure_source(self._client, settings, device)
        except StageError as e:
            self.pipeline.error(str(e))
            return
        log(self.source_result)

    def _send_status(self) -> None:
        if time.monotonic() - self._last_sent < STATUS_PERIOD:
            return
        with self._status_lock:
            status, new, self._status_new = self._status, self._status_new, False
        if not new:
            return
        self._last_sent = time.monotonic()
        _call(self._client, req.BroadcastCustomEvent(eventData={"bgblur_status": status}))

    def _handle_inbox(self, timeout: float) -> None:
        try:
            conn_id, kind, data = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            if conn_id == self._conn_id and self._client is not None:
                if kind == "custom":
                    self._custom_event(data)
                elif kind == "scene" and data:
                    self._apply_scene(data)
                elif kind == "exit":
                    self._disconnect()
                    self._schedule_retry()
            try:
                conn_id, kind, data = self._inbox.get_nowait()
            except queue.Empty:
                return

    def _custom_event(self, data: dict) -> None:
        if "bgblur" not in data:
            return  # someone else's event, or our own bgblur_status coming back
        try:
            self.pipeline.submit(parse(data["bgblur"]))
        except MessageError as e:
            self.pipeline.error(f"ignored control message: {e}")

    def _apply_scene(self, scene: str) -> None:
        try:
            changes = self._presets.on_scene(scene, self.pipeline.settings)
        except SettingsError as e:
            self.pipeline.error(f"ignored scene preset for {scene!r}: {e}")
            return
        if changes:
            self.pipeline.submit(Control(changes=changes))

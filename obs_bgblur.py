"""obs-bgblur: background blur for your webcam, as an OBS Studio script (Tools -> Scripts).

Thin on purpose: stdlib and `obspython` only (numpy or OpenCV inside OBS's Python crash OBS).
The panel is generated from the settings schema; the work happens in the processing core,
`<python> -m bgblur_core run --control stdin`, a child process that this script starts,
feeds JSON lines on stdin ({"set": {...}} / {"command": ...}), reads JSON events from its
stdout, restarts after a crash and stops with OBS. Managing that process, and everything
else that needs no OBS, lives in bgblur_core/obs_core_process.py; this file is the OBS glue:
- one Media Source, "Blurred camera", shows the core's obs-stream output (a loopback port the
  script picks and remembers); it is created once and found again by name after a restart;
- "Blur my camera" hides a camera source of the current scene and puts the blurred source in
  its place (position, size, crop, order); the core opens that camera's device; "Restore
  camera", stopping the core or unloading the script shows the camera again;
- scene presets follow OBS's frontend events (the program scene, studio mode included).
OBS API calls happen in OBS callbacks and timers only; reader threads only queue lines.
"""
from __future__ import annotations

import json
import os
import sys
import time

import obspython as obs

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
if SCRIPT_DIR not in sys.path:
    sys.path.insert(0, SCRIPT_DIR)
from bgblur_core import settings as schema  # noqa: E402  (stdlib only)
from bgblur_core.obs_core_process import (  # noqa: E402  (stdlib only)
    CAMERA_KINDS,
    DEBOUNCE_S,
    SCRIPT_MANAGED,
    Core,
    Debounced,
    camera_choices,
    camera_request,
    color_to_obs,
    float_step,
    media_source_settings,
    pick_port,
    script_values,
    setting_label,
)

SOURCE_NAME = "Blurred camera"
HOTKEYS = (  # (name, description, core command)
    ("bgblur.toggle", "Background blur: on/off", "toggle"),
    ("bgblur.privacy", "Background blur: privacy (blur everything) on/off", "privacy"),
    ("bgblur.cycle_engine", "Background blur: next engine", "cycle_engine"),
    ("bgblur.learn_background", "Background blur: learn the background", "learn_background"),
)
SCRIPT_HOTKEYS = (  # (name, description, script action): done by the timer, which may call OBS
    ("bgblur.blur_camera", "Background blur: blur my camera", "blur_camera"),
    ("bgblur.restore_camera", "Background blur: restore camera", "restore_camera"),
)
GROUPS = (("engine", "Engine and HSV thresholds"), ("refine", "Neural engines and refinement"),
          ("effect", "Effect"), ("camera", "Camera (when no OBS camera source is blurred)"), ("output", "Output"),
          ("obs", "Remote control over obs-websocket (Stream Deck, other programs)"))
FILE_FILTERS = {"background_image": "Images (*.png *.jpg *.jpeg *.bmp *.webp);;All files (*.*)",
                "model_path": "TFLite models (*.tflite);;All files (*.*)"}
SLIDER_MAX_SPAN = 255  # wider int ranges (width, height, port) get a number field
TICK_MS = 200
WATCHDOG_S = 3.0  # how often a Media Source that shows nothing while the core streams is told to reconnect
ALIGN_TOP_LEFT = 1 | 4  # OBS_ALIGN_LEFT | OBS_ALIGN_TOP (not exported to Python)


# -- state ---------------------------------------------------------------------------------------
core = Core(SCRIPT_DIR)
_pending = Debounced(DEBOUNCE_S)
_settings = None  # the script's obs_data, kept from script_load
_hotkeys: dict[str, int] = {}
FRESH = {"status": None, "set_up": False, "port": 0, "exiting": False, "watchdog": 0.0, "deselect": None}
_state = dict(FRESH)  # reset on load: OBS may keep this module across an unload and a new load
_actions: list[str] = []  # script hotkeys pressed, for the timer


def log(line: str) -> None:
    print(line)  # the Script Log


# -- OBS objects (every reference taken here is released here) -------------------------------
def _program_scene_name() -> str:
    src = obs.obs_frontend_get_current_scene()
    if src is None:
        return ""
    name = obs.obs_source_get_name(src)
    obs.obs_source_release(src)
    return name


def _with_scene(name: str, fn):
    """fn(scene) for the scene called `name` ("" = the program scene); None if there is none."""
    src = obs.obs_get_source_by_name(name) if name else obs.obs_frontend_get_current_scene()
    if src is None:
        return None
    try:
        scene = obs.obs_scene_from_source(src)
        return fn(scene) if scene is not None else None
    finally:
        obs.obs_source_release(src)


def _source_settings(src) -> dict:
    data = obs.obs_source_get_settings(src)
    try:
        return json.loads(obs.obs_data_get_json(data) or "{}")
    finally:
        obs.obs_data_release(data)


def _cameras(scene) -> list[str]:
    """Names of the scene's video capture sources, top first, as OBS's source list shows them."""
    names = []
    items = obs.obs_scene_enum_items(scene)
    for item in items or ():
        src = obs.obs_sceneitem_get_source(item)
        if obs.obs_source_get_unversioned_id(src) in CAMERA_KINDS:
            names.append(obs.obs_source_get_name(src))
    obs.sceneitem_list_release(items)
    return names[::-1]


def _camera_values() -> dict | None:
    """The core's input/size/fps for the camera source being blurred, or None."""
    name = obs.obs_data_get_string(_settings, "camera_source")
    src = obs.obs_get_source_by_name(name) if name else None
    if src is None:
        return None
    try:
        size = (obs.obs_source_get_width(src), obs.obs_source_get_height(src))
        return camera_request(obs.obs_source_get_unversioned_id(src), _source_settings(src), size)
    finally:
        obs.obs_source_release(src)


def _blurred_source():
    """The one "Blurred camera" Media Source, created if missing, pointed at the core's port (a new reference)."""
    wanted = media_source_settings(_state["port"])
    src = obs.obs_get_source_by_name(SOURCE_NAME)
    if src is not None and obs.obs_source_get_unversioned_id(src) != "ffmpeg_source":
        obs.obs_source_release(src)
        log(f"error: a source named {SOURCE_NAME!r} exists but is not a Media Source; rename it")
        return None
    data = obs.obs_data_create_from_json(json.dumps(wanted))
    if src is None:
        src = obs.obs_source_create("ffmpeg_source", SOURCE_NAME, data, None)
        log(f"created the source {SOURCE_NAME!r} (Media Source, tcp://127.0.0.1:{_state['port']})")
    elif any(_source_settings(src).get(k) != v for k, v in wanted.items()):
        obs.obs_source_update(src, data)
    obs.obs_data_release(data)
    return src


def _deselect_new_item() -> None:
    """OBS's UI selects an item the script added, and shows the Media Source's controls for it; those can
    crash OBS when it quits soon after. Leave the user's selection alone: deselect only ours, once."""
    scene_name, at = _state["deselect"] or ("", 0.0)
    if scene_name and time.monotonic() >= at:
        _state["deselect"] = None
        _with_scene(scene_name, lambda scene: _deselect(obs.obs_scene_find_source(scene, SOURCE_NAME)))


def _deselect(item) -> None:
    if item is not None:
        obs.obs_sceneitem_select(item, False)


def _reconnect_if_blank() -> None:
    """The Media Source gives up when it connects before the core listens (a new port, a core restart):
    while the core streams and the source has no picture, re-apply its settings, which reopens it."""
    now = time.monotonic()
    if core.state != "running" or not core.status or now < _state["watchdog"]:
        return
    _state["watchdog"] = now + WATCHDOG_S
    src = obs.obs_get_source_by_name(SOURCE_NAME)
    if src is not None:
        if obs.obs_source_get_width(src) == 0:
            data = obs.obs_data_create_from_json(json.dumps(media_source_settings(_state["port"])))
            obs.obs_source_update(src, data)
            obs.obs_data_release(data)
        obs.obs_source_release(src)


def _fit_to_canvas(item) -> None:
    video = obs.obs_video_info()
    obs.obs_get_video_info(video)
    info = obs.obs_transform_info()
    obs.obs_sceneitem_get_info(item, info)
    info.pos.x = info.pos.y = 0.0
    info.alignment = ALIGN_TOP_LEFT
    info.bounds_type = obs.OBS_BOUNDS_SCALE_INNER
    info.bounds_alignment = 0  # centred
    info.bounds.x, info.bounds.y = float(video.base_width), float(video.base_height)
    obs.obs_sceneitem_set_info(item, info)


def _take_place(item, camera) -> None:
    """Give `item` the camera item's transform, crop and place in the order (just above it)."""
    info = obs.obs_transform_info()
    obs.obs_sceneitem_get_info(camera, info)
    crop = obs.obs_sceneitem_crop()
    obs.obs_sceneitem_get_crop(camera, crop)
    src = obs.obs_sceneitem_get_source(camera)
    w, h = obs.obs_source_get_width(src), obs.obs_source_get_height(src)
    if info.bounds_type == obs.OBS_BOUNDS_NONE and w and h:  # keep the size even if the core's frames differ
        info.bounds_type = obs.OBS_BOUNDS_STRETCH
        info.bounds.x = (w - crop.left - crop.right) * info.scale.x
        info.bounds.y = (h - crop.top - crop.bottom) * info.scale.y
    obs.obs_sceneitem_set_info(item, info)
    obs.obs_sceneitem_set_crop(item, crop)
    position = obs.obs_sceneitem_get_order_position(camera)
    if obs.obs_sceneitem_get_order_position(item) < position:
        position -= 1  # the camera moves down when the item leaves its place below it
    obs.obs_sceneitem_set_order_position(item, position + 1)


def _place(scene_name: str = "") -> None:
    """Show the blurred source in a scene: in the blurred camera's place, else fitted to the canvas if it is new there."""
    src = _blurred_source()
    if src is None:
        return
    camera_name = obs.obs_data_get_string(_settings, "camera_source")

    def place(scene):
        item = obs.obs_scene_find_source(scene, SOURCE_NAME)
        camera = obs.obs_scene_find_source(scene, camera_name) if camera_name else None
        new = item is None
        if new:
            item = obs.obs_scene_add(scene, src)
            shown_in = obs.obs_source_get_name(obs.obs_scene_get_source(scene))
            _state["deselect"] = (shown_in, time.monotonic() + 0.5)
        if camera is not None:
            _take_place(item, camera)
            obs.obs_sceneitem_set_visible(camera, False)
            obs.obs_sceneitem_set_visible(item, True)
        elif new:
            _fit_to_canvas(item)
        if new:
            log(f"added {SOURCE_NAME!r} to the scene {shown_in!r}")

    _with_scene(scene_name, place)
    obs.obs_source_release(src)


def _restore_camera() -> None:
    """Show the blurred camera again and hide the blurred source in that scene (the swap is still remembered)."""
    camera_name = obs.obs_data_get_string(_settings, "camera_source")
    scene_name = obs.obs_data_get_string(_settings, "camera_scene")
    if not camera_name:
        return

    def restore(scene):
        camera = obs.obs_scene_find_source(scene, camera_name)
        item = obs.obs_scene_find_source(scene, SOURCE_NAME)
        if camera is not None:
            obs.obs_sceneitem_set_visible(camera, True)
        if item is not None:
            obs.obs_sceneitem_set_visible(item, False)

    _with_scene(scene_name, restore)
    log(f"restored the camera {camera_name!r}")


# -- the core's settings -------------------------------------------------------------------
def _saved() -> dict:
    return json.loads(obs.obs_data_get_json(_settings) or "{}")


def _values() -> dict:
    return script_values(_saved(), _state["port"], _camera_values())


def _python() -> str:
    return obs.obs_data_get_string(_settings, "core_python")


def _note_camera() -> None:
    camera = obs.obs_data_get_string(_settings, "camera_source")
    core.camera_note = f"blurring the camera {camera!r}" if camera else ""


def _update_core() -> None:
    _note_camera()
    core.update(_values(), _python())


def _set_up() -> bool:
    """Once the scenes exist: the port, the first-load default (blur the scene's camera), the source, the core."""
    scene = _program_scene_name()
    if not scene:
        return False
    port, note = pick_port(obs.obs_data_get_int(_settings, "stream_port"))
    if note:
        log(note)
    _state["port"] = port
    obs.obs_data_set_int(_settings, "stream_port", port)
    if not obs.obs_data_get_bool(_settings, "first_load_done"):
        obs.obs_data_set_bool(_settings, "first_load_done", True)
        cameras = _with_scene("", _cameras) or []
        if cameras:
            obs.obs_data_set_string(_settings, "camera_source", cameras[0])
            obs.obs_data_set_string(_settings, "camera_scene", scene)
            log(f"blurring the camera {cameras[0]!r} in the scene {scene!r} (press 'Restore camera' to undo)")
    _place(obs.obs_data_get_string(_settings, "camera_scene"))
    core.set_scene(scene)
    _note_camera()
    if obs.obs_data_get_bool(_settings, "core_autostart"):
        core.start(_values(), _python())
    else:
        core.update(_values(), _python())
    return True


# -- panel callbacks -----------------------------------------------------------------------
def _add_setting(props, s):
    """One property for one schema setting, with its help as the tooltip."""
    label = setting_label(s)
    if s.type is bool:
        p = obs.obs_properties_add_bool(props, s.name, label)
    elif s.choices:
        p = obs.obs_properties_add_list(props, s.name, label, obs.OBS_COMBO_TYPE_LIST, obs.OBS_COMBO_FORMAT_STRING)
        for choice in s.choices:
            obs.obs_property_list_add_string(p, choice, choice)
    elif s.name == "input":
        p = obs.obs_properties_add_list(props, s.name, label, obs.OBS_COMBO_TYPE_EDITABLE, obs.OBS_COMBO_FORMAT_STRING)
        for choice in camera_choices():
            obs.obs_property_list_add_string(p, choice, choice)
    elif s.type is int:
        step = 2 if s.odd else 1
        if s.max - s.min <= SLIDER_MAX_SPAN:
            p = obs.obs_properties_add_int_slider(props, s.name, label, int(s.min), int(s.max), step)
        else:
            p = obs.obs_properties_add_int(props, s.name, label, int(s.min), int(s.max), step)
        if s.unit:
            obs.obs_property_int_set_suffix(p, f" {s.unit}")
    elif s.type is float:
        p = obs.obs_properties_add_float_slider(props, s.name, label, s.min, s.max, float_step(s))
        if s.unit:
            obs.obs_property_float_set_suffix(p, f" {s.unit}")
    elif s.name == "background_color":
        p = obs.obs_properties_add_color(props, s.name, label)
    elif s.name in FILE_FILTERS:
        p = obs.obs_properties_add_path(props, s.name, label, obs.OBS_PATH_FILE, FILE_FILTERS[s.name], None)
    elif s.type is dict:
        p = obs.obs_properties_add_text(props, s.name, label + " (JSON)", obs.OBS_TEXT_MULTILINE)
    else:
        kind = obs.OBS_TEXT_PASSWORD if s.secret else obs.OBS_TEXT_DEFAULT
        p = obs.obs_properties_add_text(props, s.name, label, kind)
    obs.obs_property_set_long_description(p, s.help)
    return p


def _button(props, name, text, callback, tooltip):
    p = obs.obs_properties_add_button(props, name, text, callback)
    obs.obs_property_set_long_description(p, tooltip)


def _show_status() -> None:
    line = core.status_line()
    if _settings is not None and line != _state["status"]:
        _state["status"] = line
        obs.obs_data_set_string(_settings, "status", line)


def _on_start(props, prop):
    core.start(_values(), _python())
    _place(obs.obs_data_get_string(_settings, "camera_scene"))
    _tick()
    return True


def _on_stop(props, prop):
    core.stop()
    _restore_camera()
    _tick()
    return True


def _blur_camera(name: str) -> None:
    """Blur the camera source `name` of the program scene in place ("" = its top camera)."""
    scene = _program_scene_name()
    cameras = _with_scene("", _cameras) or []
    name = name or (cameras[0] if cameras else "")
    if name not in cameras:
        log(f"error: no camera source {name!r} in the scene {scene!r}; add a Video Capture Device there first")
        return
    if obs.obs_data_get_string(_settings, "camera_source") not in ("", name):
        _restore_camera()
    obs.obs_data_set_string(_settings, "camera_source", name)
    obs.obs_data_set_string(_settings, "camera_scene", scene)
    _place(scene)
    if core.state == "stopped":
        core.start(_values(), _python())
    _update_core()
    log(f"blurring the camera {name!r} in the scene {scene!r}")


def _stop_blurring_camera() -> None:
    _restore_camera()
    obs.obs_data_set_string(_settings, "camera_source", "")
    obs.obs_data_set_string(_settings, "camera_scene", "")
    _update_core()


def _on_blur_camera(props, prop):
    _blur_camera(obs.obs_data_get_string(_settings, "camera_choice"))
    _tick()
    return True


def _on_restore_camera(props, prop):
    _stop_blurring_camera()
    _tick()
    return True


def _on_add_source(props, prop):
    _place()
    return True


def _command_button(command):
    def pressed(props, prop):
        if not core.command(command):
            log(f"error: {command}: the core is not running")
        return True
    return pressed


def _on_fetch(props, prop):
    core.configured_python = _python()
    core.fetch_models()
    return True


def _on_refresh(props, prop):
    _tick()
    return True  # rebuilds the panel, which re-reads the status line


def _hotkey_callback(command):
    def pressed(is_pressed):
        if is_pressed and not core.command(command):
            log(f"error: {command}: the core is not running")
    return pressed


def _script_hotkey(action):
    def pressed(is_pressed):
        if is_pressed:
            _actions.append(action)
    return pressed


# -- timer and frontend events ----------------------------------------------------------------
def _tick():
    """The timer: set up once scenes exist, send debounced changes, read the core's events, show the status."""
    if _settings is None:
        return
    if not _state["set_up"]:
        _state["set_up"] = _set_up()  # once OBS has loaded the scene collection
        return
    if _pending.take(time.monotonic()) is not None:
        _update_core()
    while _state["set_up"] and _actions:
        action = _actions.pop(0)
        if action == "blur_camera":
            _blur_camera("")
        else:
            _stop_blurring_camera()
    was_running = core.state == "running"
    for line in core.poll():
        log(line)
    if was_running and core.state == "failed":
        _restore_camera()  # the core stopped for good: show the real camera
    _reconnect_if_blank()
    _deselect_new_item()
    _show_status()


def _shut_down(restore: bool) -> None:
    """Stop the core; `restore`: show the real camera (the swap is remembered and redone on the next load).
    On OBS's exit the scenes are saved already: they keep the swap, which the next start finds in place."""
    if not _state["exiting"]:
        _state["exiting"] = True
        obs.timer_remove(_tick)
        core.stop()
        if restore:
            _restore_camera()


def _on_frontend_event(event):
    if event in (obs.OBS_FRONTEND_EVENT_EXIT, obs.OBS_FRONTEND_EVENT_SCRIPTING_SHUTDOWN):
        _shut_down(restore=False)
    elif event == obs.OBS_FRONTEND_EVENT_SCENE_COLLECTION_CHANGING:
        _shut_down(restore=True)  # before the collection is saved and this script unloaded
    elif event in (obs.OBS_FRONTEND_EVENT_SCENE_CHANGED, obs.OBS_FRONTEND_EVENT_STUDIO_MODE_DISABLED,
                   obs.OBS_FRONTEND_EVENT_STUDIO_MODE_ENABLED):
        scene = _program_scene_name()  # in studio mode: the program scene, not the preview
        if scene:
            core.set_scene(scene)


# -- the script's entry points ----------------------------------------------------------------
def script_description():
    return ("<b>Background blur</b> for your webcam, on the CPU. <i>Blur my camera</i> puts a blurred copy in "
            "place of a camera source of this scene; without one, the source <i>Blurred camera</i> shows the "
            "built-in test scene.<br>The status is current when this panel opens; press <i>Refresh status</i> "
            "for the latest. Errors go to the Script Log. Hotkeys: Settings → Hotkeys → 'Background blur'.")


def script_defaults(settings):
    for s in schema.SCHEMA:
        if s.name == "background_color":
            obs.obs_data_set_default_int(settings, s.name, color_to_obs(s.default))
        elif s.type is bool:
            obs.obs_data_set_default_bool(settings, s.name, s.default)
        elif s.type is int:
            obs.obs_data_set_default_int(settings, s.name, s.default)
        elif s.type is float:
            obs.obs_data_set_default_double(settings, s.name, s.default)
        elif s.type is dict:
            obs.obs_data_set_default_string(settings, s.name, json.dumps(s.default))
        else:
            obs.obs_data_set_default_string(settings, s.name, s.default)
    obs.obs_data_set_default_string(settings, "core_python", "")
    obs.obs_data_set_default_bool(settings, "core_autostart", True)
    obs.obs_data_set_default_bool(settings, "also_virtualcam", False)


def script_properties():
    props = obs.obs_properties_create()
    _show_status()  # the panel is being shown: let it show the status as of now
    obs.obs_properties_add_text(props, "status", "Status", obs.OBS_TEXT_INFO)
    p = obs.obs_properties_add_list(props, "camera_choice", "Camera", obs.OBS_COMBO_TYPE_LIST,
                                    obs.OBS_COMBO_FORMAT_STRING)
    for name in _with_scene("", _cameras) or []:
        obs.obs_property_list_add_string(p, name, name)
    obs.obs_property_set_long_description(p, "A video capture source of the current scene")
    _button(props, "blur_camera", "Blur my camera", _on_blur_camera,
            "Hide this camera source and show the blurred copy in its place (same position, size, crop, order)")
    _button(props, "restore_camera", "Restore camera", _on_restore_camera, "Show the original camera source again")
    _button(props, "add_source", f"Add '{SOURCE_NAME}' to this scene", _on_add_source,
            "Show the core's output in the current scene, fitted to the canvas")
    _button(props, "start", "Start / restart core", _on_start, "Start the processing core (restart it if running)")
    _button(props, "stop", "Stop core", _on_stop, "Stop the processing core and show the original camera")
    _button(props, "learn_background", "Learn background", _command_button("learn_background"),
            "Step out of the picture: the plate engine learns the empty background")
    _button(props, "fetch_models", "Fetch models", _on_fetch, "Download the neural engines' models (once)")
    _button(props, "refresh", "Refresh status", _on_refresh, "Show the latest status line")
    groups = schema.groups()
    for group, title in GROUPS:
        inner = obs.obs_properties_create()
        if group == "output":
            p = obs.obs_properties_add_bool(inner, "also_virtualcam", "Also send to a virtual camera for other apps")
            obs.obs_property_set_long_description(
                p, "Besides the OBS source, send the blurred video to a virtual camera device (Zoom, browsers). "
                   "OBS's own Start Virtual Camera can carry the whole scene instead.")
        for s in groups.get(group, ()):
            if s.name not in SCRIPT_MANAGED and s.name != "scene_presets":
                _add_setting(inner, s)
        obs.obs_properties_add_group(props, f"group_{group}", title, obs.OBS_GROUP_NORMAL, inner)
    inner = obs.obs_properties_create()
    _add_setting(inner, schema.BY_NAME["scene_presets"])
    obs.obs_properties_add_group(props, "group_presets", "Scene presets", obs.OBS_GROUP_NORMAL, inner)
    inner = obs.obs_properties_create()
    p = obs.obs_properties_add_path(inner, "core_python", "Core Python", obs.OBS_PATH_FILE, "", None)
    obs.obs_property_set_long_description(
        p, "The Python that runs bgblur_core. Empty: .venv next to this script, then python3/python on PATH.")
    p = obs.obs_properties_add_bool(inner, "core_autostart", "Start the core when OBS starts")
    obs.obs_property_set_long_description(p, "Start the processing core when this script loads")
    obs.obs_properties_add_group(props, "group_core", "Core process", obs.OBS_GROUP_NORMAL, inner)
    return props


def script_update(settings):
    if _state["set_up"]:
        _pending.put(True, time.monotonic())


def script_load(settings):
    global _settings
    _settings = settings
    _state.update(FRESH)
    _actions.clear()
    callbacks = [(n, d, _hotkey_callback(c)) for n, d, c in HOTKEYS]
    for name, description, callback in callbacks + [(n, d, _script_hotkey(a)) for n, d, a in SCRIPT_HOTKEYS]:
        hotkey_id = obs.obs_hotkey_register_frontend(name, description, callback)
        saved = obs.obs_data_get_array(settings, name)
        obs.obs_hotkey_load(hotkey_id, saved)
        obs.obs_data_array_release(saved)
        _hotkeys[name] = hotkey_id
    obs.obs_frontend_add_event_callback(_on_frontend_event)
    obs.timer_add(_tick, TICK_MS)  # the first tick after the scene collection has loaded sets up


def script_save(settings):
    for name, hotkey_id in _hotkeys.items():
        saved = obs.obs_hotkey_save(hotkey_id)
        obs.obs_data_set_array(settings, name, saved)
        obs.obs_data_array_release(saved)


def script_unload():
    _shut_down(restore=True)  # removed in Tools → Scripts: give the user their camera back
    obs.obs_frontend_remove_event_callback(_on_frontend_event)
    obs.timer_remove(_tick)
    for hotkey_id in _hotkeys.values():  # left registered, their callbacks can crash OBS on exit
        obs.obs_hotkey_unregister(hotkey_id)
    _hotkeys.clear()

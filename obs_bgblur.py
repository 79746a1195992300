"""obs-bgblur: background blur for your webcam, as an OBS Studio script (Tools -> Scripts).

Thin on purpose: stdlib and `obspython` only (numpy or OpenCV inside OBS's Python crash OBS).
The panel is generated from the settings schema; the work happens in the processing core,
`<python> -m bgblur_core run --control stdin`, a child process that this script starts,
feeds JSON lines on stdin ({"set": {...}} / {"command": ...}), reads JSON events from its
stdout, restarts after a crash and stops with OBS. Managing that process, and everything
else that needs no OBS, lives in bgblur_core/obs_core_process.py; this file is the OBS glue.
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
    DEBOUNCE_S,
    Core,
    Debounced,
    camera_choices,
    color_to_obs,
    float_step,
    setting_label,
    values_from_saved,
)

HOTKEYS = (  # (name, description, core command)
    ("bgblur.toggle", "Background blur: on/off", "toggle"),
    ("bgblur.privacy", "Background blur: privacy (blur everything) on/off", "privacy"),
    ("bgblur.cycle_engine", "Background blur: next engine", "cycle_engine"),
    ("bgblur.learn_background", "Background blur: learn the background", "learn_background"),
)
GROUPS = (("engine", "Engine and HSV thresholds"), ("refine", "Neural engines and refinement"),
          ("effect", "Effect"), ("camera", "Camera"), ("output", "Output"), ("obs", "obs-websocket"))
FILE_FILTERS = {"background_image": "Images (*.png *.jpg *.jpeg *.bmp *.webp);;All files (*.*)",
                "model_path": "TFLite models (*.tflite);;All files (*.*)"}
OUTPUT_CHOICES = ("virtualcam", "obs-stream", "preview", "null")
SLIDER_MAX_SPAN = 255  # wider int ranges (width, height, port) get a number field
TICK_MS = 200


# -- OBS glue ----------------------------------------------------------------------------------
core = Core(SCRIPT_DIR)
_pending = Debounced(DEBOUNCE_S)
_settings = None  # the script's obs_data, kept from script_load
_hotkeys: dict[str, int] = {}
_shown = {"status": None}


def _saved_values(settings) -> dict:
    return values_from_saved(json.loads(obs.obs_data_get_json(settings) or "{}"))


def _add_setting(props, s):
    """One property for one schema setting, with its help as the tooltip."""
    label = setting_label(s)
    if s.type is bool:
        p = obs.obs_properties_add_bool(props, s.name, label)
    elif s.choices:
        p = obs.obs_properties_add_list(props, s.name, label, obs.OBS_COMBO_TYPE_LIST, obs.OBS_COMBO_FORMAT_STRING)
        for choice in s.choices:
            obs.obs_property_list_add_string(p, choice, choice)
    elif s.name in ("input", "output"):
        p = obs.obs_properties_add_list(props, s.name, label, obs.OBS_COMBO_TYPE_EDITABLE, obs.OBS_COMBO_FORMAT_STRING)
        for choice in (camera_choices() if s.name == "input" else OUTPUT_CHOICES):
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


def _on_start(props, prop):
    core.start(_saved_values(_settings), obs.obs_data_get_string(_settings, "core_python"))
    _tick()
    return True


def _on_stop(props, prop):
    core.stop()
    _tick()
    return True


def _command_button(command):
    def pressed(props, prop):
        if not core.command(command):
            print(f"{command}: the core is not running")
        return True
    return pressed


def _on_fetch(props, prop):
    core.configured_python = obs.obs_data_get_string(_settings, "core_python")
    core.fetch_models()
    return True


def _on_refresh(props, prop):
    _tick()
    return True  # rebuilds the panel, which re-reads the status line


def _hotkey_callback(command):
    def pressed(is_pressed):
        if is_pressed and not core.command(command):
            print(f"{command}: the core is not running")
    return pressed


def _tick():
    """The timer: send debounced changes, read the core's events, restart it, show the status."""
    values = _pending.take(time.monotonic())
    if values is not None and _settings is not None:
        core.update(values, obs.obs_data_get_string(_settings, "core_python"))
    for line in core.poll():
        print(line)
    line = core.status_line()
    if _settings is not None and line != _shown["status"]:
        _shown["status"] = line
        obs.obs_data_set_string(_settings, "status", line)


def _on_frontend_event(event):
    if event in (obs.OBS_FRONTEND_EVENT_EXIT, obs.OBS_FRONTEND_EVENT_SCRIPTING_SHUTDOWN):
        obs.timer_remove(_tick)
        core.stop()


def script_description():
    return ("<b>Background blur</b> for your webcam, on the CPU. The processing core runs as its own "
            "process and sends the result to the virtual camera or to an OBS source.<br>"
            "Status refreshes when the panel is rebuilt: press <i>Refresh status</i>. "
            "Hotkeys: Settings → Hotkeys → 'Background blur'.")


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


def script_properties():
    props = obs.obs_properties_create()
    obs.obs_properties_add_text(props, "status", "Status", obs.OBS_TEXT_INFO)
    _button(props, "start", "Start / restart core", _on_start, "Start the processing core (restart it if running)")
    _button(props, "stop", "Stop core", _on_stop, "Stop the processing core")
    _button(props, "create_source", "Add the bgblur source to this scene", _command_button("create_source"),
            "Make sure the current scene shows the core's output (needs obs-websocket enabled)")
    _button(props, "learn_background", "Learn background", _command_button("learn_background"),
            "Step out of the picture: the plate engine learns the empty background")
    _button(props, "fetch_models", "Fetch models", _on_fetch, "Download the neural engines' models (once)")
    _button(props, "refresh", "Refresh status", _on_refresh, "Show the latest status line")
    groups = schema.groups()
    for group, title in GROUPS:
        inner = obs.obs_properties_create()
        for s in groups.get(group, ()):
            _add_setting(inner, s)
        obs.obs_properties_add_group(props, f"group_{group}", title, obs.OBS_GROUP_NORMAL, inner)
    inner = obs.obs_properties_create()
    p = obs.obs_properties_add_path(inner, "core_python", "Core Python", obs.OBS_PATH_FILE, "", None)
    obs.obs_property_set_long_description(
        p, "The Python that runs bgblur_core. Empty: .venv next to this script, then python3/python on PATH.")
    p = obs.obs_properties_add_bool(inner, "core_autostart", "Start the core when OBS starts")
    obs.obs_property_set_long_description(p, "Start the processing core when this script loads")
    obs.obs_properties_add_group(props, "group_core", "Core process", obs.OBS_GROUP_NORMAL, inner)
    return props


def script_update(settings):
    _pending.put(_saved_values(settings), time.monotonic())


def script_load(settings):
    global _settings
    _settings = settings
    for name, description, command in HOTKEYS:
        hotkey_id = obs.obs_hotkey_register_frontend(name, description, _hotkey_callback(command))
        saved = obs.obs_data_get_array(settings, name)
        obs.obs_hotkey_load(hotkey_id, saved)
        obs.obs_data_array_release(saved)
        _hotkeys[name] = hotkey_id
    obs.obs_frontend_add_event_callback(_on_frontend_event)
    python = obs.obs_data_get_string(settings, "core_python")
    if obs.obs_data_get_bool(settings, "core_autostart"):
        core.start(_saved_values(settings), python)
    else:
        core.update(_saved_values(settings), python)
    obs.timer_add(_tick, TICK_MS)


def script_save(settings):
    for name, hotkey_id in _hotkeys.items():
        saved = obs.obs_hotkey_save(hotkey_id)
        obs.obs_data_set_array(settings, name, saved)
        obs.obs_data_array_release(saved)


def script_unload():
    obs.timer_remove(_tick)
    core.stop()

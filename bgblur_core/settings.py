"""The one settings schema: names, types, ranges, defaults, units and help.

Stdlib only: the OBS script imports this module inside OBS's embedded Python.
The CLI flags, the OBS panel, stdin control and websocket control are all
generated from SCHEMA or validated by `validate()`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

ENGINES = ("selfie", "selfie-landscape", "hsv", "plate")
EFFECTS = ("blur", "privacy", "image", "color", "none")
COMMANDS = ("toggle", "privacy", "cycle_engine", "learn_background", "create_source")
PASSWORD_ENV = "BGBLUR_OBS_PASSWORD"  # the websocket password reaches the core here, never on argv


class SettingsError(ValueError):
    """One line naming the setting, the value given and what is allowed."""


@dataclass(frozen=True)
class Setting:
    name: str
    type: type  # int, float, bool, str or dict
    default: Any
    help: str
    group: str
    unit: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    odd: bool = False
    secret: bool = False
    label: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.type is bool:
            return "true or false"
        if self.type is dict:
            return "a JSON object"
        parts = []
        if self.min is not None and self.max is not None:
            parts.append(f"{_num(self.min)}..{_num(self.max)}")
        if self.odd:
            parts.append("odd")
        kind = {int: "an integer", float: "a number", str: "text"}[self.type]
        return " ".join([kind] + parts) if parts else kind

    def describe(self) -> dict:
        d = {"name": self.name, "type": self.type.__name__, "default": self.default,
             "group": self.group, "unit": self.unit, "help": self.help, "flag": self.flag}
        for key in ("min", "max", "choices"):
            if getattr(self, key) is not None:
                d[key] = list(self.choices) if key == "choices" else getattr(self, key)
        if self.odd:
            d["odd"] = True
        if self.secret:
            d["secret"] = True
        return d


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _s(name, type_, default, help, group, **kw) -> Setting:
    return Setting(name, type_, default, help, group, **kw)


SCHEMA: tuple[Setting, ...] = (
    # io
    _s("input", str, "auto", "Video source: 'auto' (webcam, else synthetic), a camera index, /dev/videoN, a video or image file, or 'synthetic'.", "camera", label="Input"),
    _s("output", str, "virtualcam", "Where the result goes, comma-separated: virtualcam, obs-stream[:PORT], preview, null, or a .mp4/.avi/.png/.jpg path.", "output", label="Output"),
    _s("width", int, 1280, "Requested camera width (the camera may pick the nearest it supports).", "camera", unit="px", min=160, max=3840),
    _s("height", int, 720, "Requested camera height.", "camera", unit="px", min=120, max=2160),
    _s("fps", int, 30, "Requested camera frame rate, and the virtual camera's rate.", "camera", unit="fps", min=1, max=120),
    _s("mjpg", bool, True, "Ask the camera for MJPG, which most webcams need for 720p and above at 30 fps.", "camera"),
    _s("loop", bool, True, "Loop a video file input when it ends.", "camera"),
    _s("vcam_device", str, "", "Virtual camera device, e.g. /dev/video10 (empty: the first one found).", "output"),
    _s("vcam_backend", str, "", "pyvirtualcam backend, e.g. v4l2loopback, obs, unitycapture (empty: the OS default).", "output"),
    # engine and the seed method's thresholds
    _s("enabled", bool, True, "Apply the effect; off passes the camera through untouched.", "engine", label="Enabled"),
    _s("engine", str, "selfie", "Person segmenter: selfie and selfie-landscape (neural), hsv (seed method), plate (learned clean background).", "engine", choices=ENGINES),
    _s("model_path", str, "", "A .tflite person-segmentation model of your own (empty: the engine's built-in model).", "engine"),
    _s("threads", int, 1, "OpenCV worker threads for the per-frame work (0: one per CPU core). 1 uses the least CPU per frame.", "engine", min=0, max=64),
    _s("hsv_h_min", int, 0, "hsv engine: lowest hue counted as foreground.", "engine", min=0, max=180, label="HSV hue min"),
    _s("hsv_h_max", int, 180, "hsv engine: highest hue counted as foreground.", "engine", min=0, max=180, label="HSV hue max"),
    _s("hsv_s_min", int, 75, "hsv engine: lowest saturation counted as foreground.", "engine", min=0, max=255, label="HSV saturation min"),
    _s("hsv_s_max", int, 255, "hsv engine: highest saturation counted as foreground.", "engine", min=0, max=255, label="HSV saturation max"),
    _s("hsv_v_min", int, 40, "hsv engine: lowest value (brightness) counted as foreground.", "engine", min=0, max=255, label="HSV value min"),
    _s("hsv_v_max", int, 255, "hsv engine: highest value (brightness) counted as foreground.", "engine", min=0, max=255, label="HSV value max"),
    _s("plate_threshold", int, 30, "plate engine: colour distance from the learned background that counts as person.", "engine", min=1, max=255),
    _s("plate_path", str, "", "plate engine: where the learned background is saved (empty: the user cache).", "engine"),
    # refinement
    _s("refine", str, "auto", "Mask refinement: auto (on for neural and plate, off for hsv so it stays seed-exact), on or off.", "refine", choices=("auto", "on", "off")),
    _s("mask_threshold", float, 0.6, "Person probability that counts as person (0.6 offsets the outward feather).", "refine", min=0.0, max=1.0),
    _s("soft_mask", bool, True, "Keep a soft alpha around the threshold instead of a hard cut.", "refine"),
    _s("temporal", float, 0.8, "Temporal smoothing (0 off): the previous mask follows the motion and is averaged in where it fits; a moving edge is never more than a frame behind.", "refine", min=0.0, max=0.95),
    _s("min_region", float, 0.5, "Remove islands and fill holes smaller than this share of the frame.", "refine", unit="%", min=0.0, max=10.0),
    _s("feather", int, 5, "Edge fade outward into the background, at output resolution.", "refine", unit="px", min=0, max=100),
    _s("edge_refine", bool, True, "Snap mask edges to the frame's own edges (guided filter).", "refine"),
    # effect
    _s("effect", str, "blur", "blur the background, privacy (blur everything), image or color replacement, or none.", "effect", choices=EFFECTS),
    _s("blur_method", str, "fast", "exact: the seed's full-resolution Gaussian; fast: a visually equivalent blur at reduced resolution.", "effect", choices=("exact", "fast")),
    _s("blur_kernel", int, 25, "Blur strength: Gaussian kernel size (odd).", "effect", unit="px", min=1, max=255, odd=True, label="Blur strength"),
    _s("blur_sigma", float, 0.0, "Gaussian sigma (0: derived from the kernel size, as in the seed).", "effect", unit="px", min=0.0, max=100.0),
    _s("background_image", str, "", "Image that replaces the background (effect image), scaled to cover.", "effect"),
    _s("background_color", str, "#00ff00", "Colour that replaces the background (effect color), as #rrggbb.", "effect"),
    _s("light_wrap", float, 0.0, "Let the new background's light spill onto the person's edge (0 off).", "effect", min=0.0, max=1.0),
    _s("show_fps", bool, False, "Draw the seed's green FPS label onto the video.", "effect"),
    # obs-websocket
    _s("obs_enabled", bool, False, "Connect to OBS over obs-websocket (v5) for scene presets, remote control and status.", "obs"),
    _s("obs_host", str, "127.0.0.1", "obs-websocket host.", "obs"),
    _s("obs_port", int, 4455, "obs-websocket port.", "obs", min=1, max=65535),
    _s("obs_password", str, "", "obs-websocket password (never on the command line: use BGBLUR_OBS_PASSWORD or stdin).", "obs", secret=True),
    _s("obs_create_source", bool, True, "Make sure the current OBS scene shows the core's output.", "obs"),
    _s("scene_presets", dict, {}, "Scene name -> settings to apply when that scene goes live, e.g. {\"BRB\": {\"effect\": \"privacy\"}}.", "obs"),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SCHEMA}
DEFAULTS: dict[str, Any] = {s.name: s.default for s in SCHEMA}
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def coerce(setting: Setting, value: Any) -> Any:
    """Turn `value` (a JSON value or a CLI string) into the setting's type, or raise SettingsError."""
    bad = SettingsError(f"{setting.name}: {value!r} is not allowed; expected {setting.allowed()}")
    t = setting.type
    if t is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
            return value.lower() in ("true", "1", "yes", "on")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise bad
    if t is int:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise bad from None
        if not isinstance(value, int):
            raise bad
    elif t is float:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise bad from None
        if not isinstance(value, (int, float)) or value != value:
            raise bad
        value = float(value)
    elif t is str:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and setting.name == "input":
            value = str(value)
        if not isinstance(value, str):
            raise bad
    elif t is dict:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError:
                raise bad from None
        if not isinstance(value, dict):
            raise bad
    if setting.choices and value not in setting.choices:
        raise bad
    if setting.min is not None and not (setting.min <= value <= setting.max):
        raise bad
    if setting.odd and value % 2 == 0:
        raise bad
    return value


class Settings(Mapping):
    """A validated, immutable set of all settings; read as `s.engine` or `s["engine"]`."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("Settings are immutable; use .replace()")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Settings({self.public()})"

    def replace(self, changes: Mapping[str, Any]) -> "Settings":
        """A new validated Settings with `changes` applied; self is untouched on error."""
        return validate({**self._values, **changes})

    def diff(self, other: "Settings") -> dict[str, Any]:
        return {k: v for k, v in other.items() if self._values.get(k) != v}

    def public(self) -> dict[str, Any]:
        """The values with secrets masked, for logs and status."""
        return {k: ("***" if BY_NAME[k].secret and v else v) for k, v in self._values.items()}

    def to_json(self, secrets: bool = False) -> str:
        return json.dumps(dict(self._values) if secrets else self.public(), sort_keys=True)


def check_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a partial change (names and values), without the cross-setting rules."""
    if not isinstance(changes, Mapping):
        raise SettingsError(f"settings must be a JSON object, got {type(changes).__name__}")
    out = {}
    for name, value in changes.items():
        setting = BY_NAME.get(name)
        if setting is None:
            raise SettingsError(f"{name}: unknown setting; see `bgblur settings` for the list")
        out[name] = coerce(setting, value)
    return out


def validate(values: Mapping[str, Any] | None = None, **kw: Any) -> Settings:
    """Defaults overlaid with `values`; returns Settings or raises SettingsError."""
    merged = dict(DEFAULTS)
    merged.update(check_changes({**(values or {}), **kw}))
    for lo, hi in (("hsv_h_min", "hsv_h_max"), ("hsv_s_min", "hsv_s_max"), ("hsv_v_min", "hsv_v_max")):
        if merged[lo] > merged[hi]:
            raise SettingsError(f"{lo}: {merged[lo]} is above {hi} ({merged[hi]}); the lower bound must not exceed the upper")
    if not _COLOR.match(merged["background_color"]):
        raise SettingsError(f"background_color: {merged['background_color']!r} is not allowed; expected #rrggbb")
    for scene, preset in merged["scene_presets"].items():
        try:
            check_changes(preset)
        except SettingsError as e:
            raise SettingsError(f"scene_presets[{scene!r}]: {e}") from None
        if "scene_presets" in preset:
            raise SettingsError(f"scene_presets[{scene!r}]: a preset cannot contain scene_presets")
    return Settings(merged)


def from_json(text: str) -> Settings:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SettingsError(f"settings JSON is malformed: {e.msg} at line {e.lineno} column {e.colno}") from None
    return validate(data)


def schema_json() -> str:
    return json.dumps([s.describe() for s in SCHEMA], indent=2)


def schema_markdown() -> str:
    """The settings table for the README."""
    rows = ["| setting | flag | default | allowed | unit | what it does |", "|---|---|---|---|---|---|"]
    for s in SCHEMA:
        default = "(secret)" if s.secret else f"`{json.dumps(s.default)}`"
        flag = "env `BGBLUR_OBS_PASSWORD` or stdin" if s.secret else f"`{s.flag}`"
        rows.append(f"| `{s.name}` | {flag} | {default} | {s.allowed()} | {s.unit} | {s.help.replace('|', '/')} |")
    return "\n".join(rows)


def groups() -> dict[str, list[Setting]]:
    out: dict[str, list[Setting]] = {}
    for s in SCHEMA:
        out.setdefault(s.group, []).append(s)
    return out


def next_engine(engine: str, choices: Iterable[str] = ENGINES) -> str:
    choices = tuple(choices)
    return choices[(choices.index(engine) + 1) % len(choices)] if engine in choices else choices[0]

"""The one settings schema: names, types, ranges, defaults, units and help.

Stdlib only: the OBS script imports this module inside OBS's embedded Python.
The CLI flags, the OBS panel, stdin control and websocket control are all
generated from SCHEMA or validated by `validate()`.
"""
from __future__ import annotations

import json
import os
import re
import reprlib
import stat
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

ENGINES = ("selfie", "selfie-landscape", "hsv", "plate", "rvm")
EFFECTS = ("blur", "privacy", "image", "color", "none")
COMMANDS = ("toggle", "privacy", "cycle_engine", "learn_background", "create_source")
PASSWORD_ENV = "BGBLUR_OBS_PASSWORD"  # the websocket password reaches the core here, never on argv
# The pipeline stage a setting belongs to, by its group (a row's `stage=` overrides): a change rebuilds
# only the stages it names. "overlay": drawn by the pipeline's output step, nothing to rebuild.
STAGE_OF_GROUP = {"camera": "source", "output": "sink", "engine": "segmenter", "refine": "refiner",
                  "effect": "compositor", "obs": "control"}


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
    stage: str = ""  # empty: STAGE_OF_GROUP[group]

    def __post_init__(self):
        if not self.stage:
            object.__setattr__(self, "stage", STAGE_OF_GROUP[self.group])

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
    _s("input", str, "auto", "Video source: 'auto' (webcam, else synthetic), a camera index, /dev/videoN, a video or image file, a folder of images or a pattern like frames/%05d.jpg, or 'synthetic'.", "camera", label="Input"),
    _s("output", str, "auto", "Where the result goes, comma-separated: auto (the virtual camera, or obs-stream when there is no virtual camera device), virtualcam, obs-stream[:PORT], preview, null, or a .mp4/.avi/.png/.jpg path.", "output", label="Output"),
    _s("width", int, 1280, "Requested camera width (the camera may pick the nearest it supports).", "camera", unit="px", min=160, max=3840),
    _s("height", int, 720, "Requested camera height.", "camera", unit="px", min=120, max=2160),
    _s("fps", int, 30, "Requested camera frame rate, and the virtual camera's rate.", "camera", unit="fps", min=1, max=120),
    _s("mjpg", bool, True, "Ask the camera for MJPG, which most webcams need for 720p and above at 30 fps.", "camera"),
    _s("loop", bool, True, "Loop a video file input when it ends.", "camera"),
    _s("wait_for_camera", bool, False, "A camera that does not open at start: show a 'camera lost' placeholder and keep retrying instead of stopping (the OBS script turns this on).", "camera"),
    _s("vcam_device", str, "", "Virtual camera device, e.g. /dev/video10 (empty: the first one found).", "output"),
    _s("vcam_backend", str, "", "pyvirtualcam backend, e.g. v4l2loopback, obs, unitycapture (empty: the OS default).", "output"),
    # engine and the seed method's thresholds
    _s("enabled", bool, True, "Apply the effect; off passes the camera through untouched.", "engine", label="Enabled", stage="compositor"),
    _s("engine", str, "selfie", "Person segmenter: selfie and selfie-landscape (neural), hsv (seed method), plate (learned clean background), rvm (Robust Video Matting: opt-in, a soft matte at about 5x selfie's CPU; its model is GPL-3.0 licensed, downloaded on first use and never shipped).", "engine", choices=ENGINES),
    _s("model_path", str, "", "A person-segmentation model of your own, .tflite for selfie engines, .onnx for rvm (empty: the engine's built-in model).", "engine"),
    _s("runtime", str, "auto", "Inference runtime: auto (LiteRT for .tflite and onnxruntime for .onnx where installed, else OpenCV DNN), litert, onnxruntime or opencv. One that cannot load falls back to OpenCV DNN.", "engine", choices=("auto", "litert", "onnxruntime", "opencv")),
    _s("rvm_size", int, 256, "rvm engine: the longer side of the model's input; the shorter follows the frame's shape. Larger is finer and slower (GPL-3.0 model).", "engine", unit="px", min=128, max=640),
    _s("threads", int, 1, "Worker threads of OpenCV and of the inference runtime for the per-frame work (0: one per CPU core). 1 uses the least CPU per frame.", "engine", min=0, max=64),
    _s("hsv_h_min", int, 0, "hsv engine: lowest hue counted as foreground.", "engine", min=0, max=180, label="HSV hue min"),
    _s("hsv_h_max", int, 180, "hsv engine: highest hue counted as foreground.", "engine", min=0, max=180, label="HSV hue max"),
    _s("hsv_s_min", int, 75, "hsv engine: lowest saturation counted as foreground.", "engine", min=0, max=255, label="HSV saturation min"),
    _s("hsv_s_max", int, 255, "hsv engine: highest saturation counted as foreground.", "engine", min=0, max=255, label="HSV saturation max"),
    _s("hsv_v_min", int, 40, "hsv engine: lowest value (brightness) counted as foreground.", "engine", min=0, max=255, label="HSV value min"),
    _s("hsv_v_max", int, 255, "hsv engine: highest value (brightness) counted as foreground.", "engine", min=0, max=255, label="HSV value max"),
    _s("plate_threshold", int, 30, "plate engine: colour distance from the learned background that counts as person.", "engine", min=1, max=255),
    _s("plate_path", str, "", "plate engine: where the learned background is saved (empty: the user cache).", "engine"),
    # refinement
    _s("refine", str, "auto", "Mask refinement: auto (on for selfie and plate; off for hsv, which stays seed-exact, and for rvm, whose soft matte is kept as it is), on or off.", "refine", choices=("auto", "on", "off")),
    _s("mask_threshold", float, 0.5, "Person probability that counts as person.", "refine", min=0.0, max=1.0),
    _s("soft_mask", bool, True, "Keep a soft alpha around the threshold instead of a hard cut.", "refine"),
    _s("temporal", float, 0.5, "Temporal smoothing (0 off): the previous mask follows the motion and is averaged in where it fits; a moving edge is never more than a frame behind.", "refine", min=0.0, max=0.95),
    _s("min_region", float, 0.0, "Remove islands and fill holes smaller than this share of the frame (0 off: on human-drawn masks it costs more than it gains).", "refine", unit="%", min=0.0, max=10.0),
    _s("feather", int, 0, "Edge fade outward into the background, at output resolution (0 off: the person's own soft edge).", "refine", unit="px", min=0, max=100),
    _s("edge_refine", bool, True, "Snap mask edges to the frame's own edges (guided filter).", "refine"),
    # effect
    _s("effect", str, "blur", "blur the background, privacy (blur everything), image or color replacement, or none.", "effect", choices=EFFECTS),
    _s("blur_method", str, "fast", "fast: a Gaussian of blur_strength, computed at reduced resolution; exact: the seed's own 25x25 Gaussian at full resolution (byte-exact with the seed, weak at high resolutions; blur_strength does not apply).", "effect", choices=("exact", "fast")),
    _s("blur_strength", float, 1.5, "Blur and privacy strength: the Gaussian's sigma as a share of the frame height, so it looks the same at every resolution (1.5 leaves whiteboard writing unreadable from 480p to 1080p).", "effect", unit="%", min=0.1, max=5.0, label="Blur strength"),
    _s("background_image", str, "", "Image that replaces the background (effect image), scaled to cover.", "effect"),
    _s("background_color", str, "#00ff00", "Colour that replaces the background (effect color), as #rrggbb.", "effect"),
    _s("light_wrap", float, 0.0, "Let the new background's light spill onto the person's edge (0 off).", "effect", min=0.0, max=1.0),
    _s("show_fps", bool, False, "Draw the seed's green FPS label onto the video.", "effect", stage="overlay"),
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
_COLOR = re.compile(r"#[0-9a-fA-F]{6}\Z")  # \Z: "$" would let a trailing newline through

# -- input and output: parsed once, at validation, into typed values -------------------------
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pgm", ".ppm")  # the one list
VIDEO_FOURCC = {".mp4": "mp4v", ".avi": "MJPG"}  # video file outputs and their codecs
OBS_STREAM_PORT = 8765  # obs-stream's port when none is given
LIVE_OUTPUTS = ("auto", "virtualcam", "obs-stream", "preview")  # watched live: sources pace themselves
INPUTS_HELP = ("auto, synthetic, a camera index, /dev/videoN, a video or image file, "
               "an image folder or a numbered pattern like frames/%05d.jpg")
OUTPUTS_HELP = "auto, virtualcam, obs-stream[:PORT], preview, null, or a .mp4/.avi/.png/.jpg path"
NUMBERED = re.compile(r"%0?(\d*)d")  # the number in a numbered image sequence, frames/%05d.jpg


def is_image(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_EXTS


@dataclass(frozen=True)
class Input:
    kind: str  # auto, synthetic, camera, image, images (a folder or a numbered pattern), video
    target: int | str = ""  # camera: the index or /dev/videoN; files: the path


@dataclass(frozen=True)
class Output:
    kind: str  # auto, virtualcam, obs-stream, preview, null, video, image
    path: str = ""  # video and image files
    port: int | None = None  # obs-stream (0: any free port)

    @property
    def live(self) -> bool:
        return self.kind in LIVE_OUTPUTS


def parse_input(text: str) -> Input:
    spec = text.strip()
    if not spec:
        raise SettingsError(f"input: empty; use {INPUTS_HELP}")
    if spec in ("auto", "synthetic"):
        return Input(spec)
    if spec.isascii() and spec.isdigit():
        return Input("camera", int(spec))
    if re.fullmatch(r"/dev/video\d+", spec):
        return Input("camera", spec)
    if os.path.isdir(spec) or (is_image(spec) and NUMBERED.search(os.path.basename(spec))):
        return Input("images", spec)
    return Input("image" if is_image(spec) else "video", spec)


def _parse_one_output(part: str) -> Output:
    if part in ("auto", "virtualcam", "preview", "null"):
        return Output(part)
    name, colon, port = part.partition(":")
    if name == "obs-stream":
        if not colon:
            return Output(name, port=OBS_STREAM_PORT)
        if not (port.isascii() and port.isdigit() and int(port) <= 65535):
            raise SettingsError(f"output: {part!r} has a bad port; expected obs-stream or obs-stream:PORT "
                                "with PORT 0..65535 (0: any free port)")
        return Output(name, port=int(port))
    ext = os.path.splitext(part)[1].lower()
    if ext == ".pgm":  # readable, but a grey-only format
        raise SettingsError(f"output: {part!r}: .pgm holds grey images only; use .ppm or .png for colour")
    if ext in VIDEO_FOURCC or ext in IMAGE_EXTS:
        return Output("video" if ext in VIDEO_FOURCC else "image", path=part)
    raise SettingsError(f"output: {part!r} is not a known output; use {OUTPUTS_HELP}")


def parse_output(text: str) -> tuple[Output, ...]:
    """The comma-separated outputs, in order."""
    outputs = tuple(_parse_one_output(p.strip()) for p in text.split(",") if p.strip())
    if not outputs:
        raise SettingsError(f"output: empty; use {OUTPUTS_HELP}")
    return outputs


class _Shown(reprlib.Repr):
    """repr() cut short: a 10 MB value or a 5,000-digit number is not echoed in full."""

    def repr_int(self, x, level):
        return reprlib.Repr.repr_int(self, x, level) if x.bit_length() < 256 else "<a very long number>"


_SHOWN = _Shown()
_SHOWN.maxstring = _SHOWN.maxother = _SHOWN.maxlong = 80
_SHOWN.maxlevel = 3


def shown(value: Any, limit: int = 80) -> str:
    """A value as an error line shows it: its repr, at most `limit` characters."""
    text = _SHOWN.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def coerce(setting: Setting, value: Any) -> Any:
    """Turn `value` (a JSON value or a CLI string) into the setting's type, or raise SettingsError."""
    what = f"a value of type {type(value).__name__}" if setting.secret else shown(value)  # never echo a secret
    bad = SettingsError(f"{setting.name}: {what} is not allowed; expected {setting.allowed()}")
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
        try:
            value = float(value)
        except OverflowError:  # an integer beyond any float
            raise bad from None
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
    """A validated, immutable set of all settings; read as `s.engine` or `s["engine"]`.

    `input_spec` and `outputs` are `input` and `output` parsed (an Input, a tuple of Output).
    """

    __slots__ = ("_values", "input_spec", "outputs")

    def __init__(self, values: Mapping[str, Any]):
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "input_spec", parse_input(self._values["input"]))
        object.__setattr__(self, "outputs", parse_output(self._values["output"]))

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
            raise SettingsError(f"{shown(str(name))[1:-1]}: unknown setting; see `bgblur settings` for the list")
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
        raise SettingsError(f"background_color: {shown(merged['background_color'])} is not allowed; expected #rrggbb")
    for scene, preset in merged["scene_presets"].items():
        try:
            checked = check_changes(preset)
            for name, parse in (("input", parse_input), ("output", parse_output)):
                if name in checked:
                    parse(checked[name])
        except SettingsError as e:
            raise SettingsError(f"scene_presets[{shown(scene)}]: {e}") from None
        if "scene_presets" in preset:
            raise SettingsError(f"scene_presets[{shown(scene)}]: a preset cannot contain scene_presets")
    return Settings(merged)


_JSON_TYPES = {list: "an array", str: "a string", type(None): "null", bool: "true/false", int: "a number", float: "a number"}


SETTINGS_FILE_MAX = 1024 * 1024


def load_file(path: str) -> dict:
    """The JSON object in a settings file; one-line SettingsError if it is unreadable or not an object."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the open forever
            raise SettingsError(f"settings file {path}: not a regular file; give a .json file")
        with open(path, "rb") as f:
            data = f.read(SETTINGS_FILE_MAX + 1)
    except OSError as e:
        raise SettingsError(f"settings file {path}: cannot read it: {e.strerror or e}") from None
    if len(data) > SETTINGS_FILE_MAX:
        raise SettingsError(f"settings file {path}: larger than {SETTINGS_FILE_MAX // 1024} KB; is it the right file?")
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise SettingsError(f"settings file {path}: not UTF-8 text; save it as UTF-8 JSON") from None
    except json.JSONDecodeError as e:
        raise SettingsError(f"settings file {path}: not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except (RecursionError, ValueError) as e:  # json's nesting and integer-size limits
        why = "it nests too deeply" if isinstance(e, RecursionError) else "a number in it is too long"
        raise SettingsError(f"settings file {path}: not usable JSON: {why}") from None
    if not isinstance(value, dict):
        raise SettingsError(f"settings file {path}: expected a JSON object like {{\"engine\": \"hsv\"}}, "
                            f"got {_JSON_TYPES.get(type(value), type(value).__name__)}")
    return value


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

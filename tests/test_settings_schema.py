"""The settings schema's rules, one by one: what each kind of setting accepts, its one-line errors,
the immutable Settings, the cross-setting rules, settings files and the generated descriptions."""
import json
import os

import pytest

from bgblur_core import settings as S
from bgblur_core.settings import Setting, SettingsError

HSV_PAIRS = [("hsv_h_min", "hsv_h_max"), ("hsv_s_min", "hsv_s_max"), ("hsv_v_min", "hsv_v_max")]


def kinds() -> dict[str, Setting]:
    """One setting of each kind, made here so that the rules are tested apart from today's schema."""
    return {
        "choice": Setting("mode", str, "a", "Pick.", "engine", choices=("a", "b")),
        "bool": Setting("flag_on", bool, False, "On?", "effect"),
        "dict": Setting("table", dict, {}, "A table.", "obs"),
        "odd": Setting("kernel", int, 3, "Odd.", "effect", unit="px", min=1, max=255, odd=True),
        "int": Setting("count", int, 5, "Count.", "camera", min=0, max=10),
        "float": Setting("share", float, 0.5, "Share.", "refine", min=0.0, max=1.0),
        "fraction": Setting("gain", float, 1.0, "Gain.", "effect", min=0.1, max=2.5),
        "text": Setting("path", str, "", "A path.", "output"),
        "free int": Setting("any", int, 0, "Any.", "engine"),
        "half-bounded": Setting("floor", int, 0, "Floor.", "engine", min=0),
        "odd unbounded": Setting("odd_any", int, 1, "Odd.", "engine", odd=True),
        "secret": Setting("pw", str, "", "Password.", "obs", secret=True),
        "input": Setting("input", str, "auto", "Input.", "camera"),
    }


def refused(setting: Setting, value) -> str:
    with pytest.raises(SettingsError) as e:
        S.coerce(setting, value)
    return str(e.value)


def error(function, *args, **kw) -> str:
    with pytest.raises(SettingsError) as e:
        function(*args, **kw)
    assert "\n" not in str(e.value)
    return str(e.value)


# -- one setting -----------------------------------------------------------------------------
def test_allowed_names_what_each_kind_accepts():
    allowed = {kind: s.allowed() for kind, s in kinds().items()}
    assert allowed == {"choice": "one of a, b", "bool": "true or false", "dict": "a JSON object",
                       "odd": "an integer 1..255 odd", "int": "an integer 0..10", "float": "a number 0..1",
                       "fraction": "a number 0.1..2.5", "text": "text", "free int": "an integer",
                       "half-bounded": "an integer", "odd unbounded": "an integer odd", "secret": "text",
                       "input": "text"}


def test_describe_lists_only_what_a_setting_has():
    k = kinds()
    assert k["odd"].describe() == {"name": "kernel", "type": "int", "default": 3, "group": "effect", "unit": "px",
                                   "help": "Odd.", "flag": "--kernel", "min": 1, "max": 255, "odd": True}
    assert k["choice"].describe() == {"name": "mode", "type": "str", "default": "a", "group": "engine", "unit": "",
                                      "help": "Pick.", "flag": "--mode", "choices": ["a", "b"]}
    assert k["secret"].describe() == {"name": "pw", "type": "str", "default": "", "group": "obs", "unit": "",
                                      "help": "Password.", "flag": "--pw", "secret": True}
    assert Setting("vcam_device", str, "", "h", "output").flag == "--vcam-device"


def test_a_setting_belongs_to_its_groups_stage_unless_it_names_one():
    stages = {g: Setting("x", int, 0, "h", g).stage for g in ("camera", "output", "engine", "refine", "effect", "obs")}
    assert stages == {"camera": "source", "output": "sink", "engine": "segmenter", "refine": "refiner",
                      "effect": "compositor", "obs": "control"}
    assert Setting("x", int, 0, "h", "effect", stage="overlay").stage == "overlay"
    assert S.BY_NAME["engine"].stage == "segmenter" and S.BY_NAME["feather"].stage == "refiner"


def test_schema_rows_keep_every_field():
    width = S.BY_NAME["width"]
    assert (width.name, width.type, width.default, width.group, width.unit, width.min, width.max) == (
        "width", int, 1280, "camera", "px", 160, 3840)
    assert S.BY_NAME["engine"].choices == S.ENGINES and S.BY_NAME["obs_password"].secret
    assert S.BY_NAME["hsv_s_min"].label == "HSV saturation min" and not S.BY_NAME["width"].odd
    assert S.DEFAULTS == {s.name: s.default for s in S.SCHEMA} and len(S.BY_NAME) == len(S.SCHEMA)


def test_a_schema_row_is_the_setting_its_arguments_describe():
    # The rows above are built at import; this calls the row helper itself, so a mutation tool that switches
    # a change on only after import still sees a row lose a field.
    fields = {"unit": "px", "min": 1, "max": 9, "choices": ("a",), "odd": True, "secret": True, "label": "L",
              "stage": "overlay"}
    assert S._s("kernel", int, 3, "Odd.", "effect", **fields) == Setting("kernel", int, 3, "Odd.", "effect", **fields)
    assert S._s("x", str, "", "h", "obs") == Setting("x", str, "", "h", "obs")


def test_bool_accepts_words_and_0_1():
    b = kinds()["bool"]
    for value, expected in [(True, True), (False, False), ("YES", True), ("on", True), ("True", True), ("1", True),
                            ("Off", False), ("no", False), ("false", False), ("0", False), (1, True), (0, False)]:
        assert S.coerce(b, value) is expected, value
    for value in ["maybe", 2, -1, 1.0, None, ""]:
        assert refused(b, value) == f"flag_on: {S.shown(value)} is not allowed; expected true or false"


def test_int_accepts_whole_numbers_and_their_text():
    k = kinds()
    assert S.coerce(k["int"], 7) == 7 and S.coerce(k["int"], " 7 ") == 7
    assert S.coerce(k["int"], 7.0) == 7 and type(S.coerce(k["int"], 7.0)) is int
    assert S.coerce(k["free int"], -123456) == -123456
    for value in [True, 7.5, "7.0", "seven", None, [7]]:
        assert refused(k["int"], value) == f"count: {S.shown(value)} is not allowed; expected an integer 0..10"


def test_float_accepts_numbers_and_their_text_but_not_nan():
    f = kinds()["float"]
    assert S.coerce(f, " 0.25 ") == 0.25 and S.coerce(f, 1) == 1.0 and type(S.coerce(f, 1)) is float
    for value in [True, "half", float("nan"), "nan", None, [0.5]]:
        assert refused(f, value) == f"share: {S.shown(value)} is not allowed; expected a number 0..1"


def test_ranges_include_their_ends():
    k = kinds()
    assert [S.coerce(k["int"], v) for v in (0, 10)] == [0, 10]
    assert [S.coerce(k["float"], v) for v in (0.0, 1.0)] == [0.0, 1.0]
    assert [S.coerce(k["odd"], v) for v in (1, 3, 255)] == [1, 3, 255]
    for setting, value in [("int", -1), ("int", 11), ("float", -0.001), ("float", 1.001), ("odd", 257), ("odd", -1)]:
        assert refused(k[setting], value).startswith(f"{k[setting].name}: {value} is not allowed")
    for value in (2, 4, 254, 0):
        assert refused(k["odd"], value) == f"kernel: {value} is not allowed; expected an integer 1..255 odd"
    assert S.coerce(k["odd unbounded"], -3) == -3 and refused(k["odd unbounded"], 8).endswith("an integer odd")


def test_text_choices_and_numbers_as_text_for_the_input_only():
    k = kinds()
    assert S.coerce(k["text"], " x ") == " x " and S.coerce(k["choice"], "b") == "b"
    assert refused(k["choice"], "c") == "mode: 'c' is not allowed; expected one of a, b"
    assert refused(k["text"], 5) == "path: 5 is not allowed; expected text"
    assert S.coerce(k["input"], 2) == "2" and S.coerce(k["input"], 2.5) == "2.5"
    assert refused(k["input"], True) == "input: True is not allowed; expected text"


def test_a_json_object_from_a_dict_or_its_text():
    d = kinds()["dict"]
    assert S.coerce(d, {"a": 1}) == {"a": 1} and S.coerce(d, '{"a": [1]}') == {"a": [1]} and S.coerce(d, "  ") == {}
    for value in ["[1, 2]", "{bad", [1], 3]:
        assert refused(d, value) == f"table: {S.shown(value)} is not allowed; expected a JSON object"


def test_a_secret_value_is_never_echoed():
    assert refused(kinds()["secret"], 12345) == "pw: a value of type int is not allowed; expected text"


def test_shown_cuts_long_values_short():
    assert S.shown("abc") == "'abc'" and S.shown(12) == "12"
    long = S.shown("a" * 500)
    assert len(long) == 80 and long.startswith("'aaa") and "..." in long
    assert S.shown(2 ** 255 - 1) == str(2 ** 255 - 1) and S.shown(2 ** 255) == "<a very long number>"
    assert S.shown([1, [2, [3, [4]]]]) == "[1, [2, [3, [...]]]]"
    assert S.shown("abcdef", limit=8) == "'abcdef'" and S.shown("abcdef", limit=7) == "'abc..."
    assert S.shown(["a" * 75, "b"]) == repr(["a" * 75, "b"])[:77] + "..."  # 80 characters at most by default


def test_obs_stream_ports_run_from_0_to_65535():
    assert [o.port for o in S.parse_output("obs-stream:0,obs-stream:65535")] == [0, 65535]
    for port in ("65536", "", "-1", "\u0661"):  # \u0661: an Arabic-Indic one, a digit to str.isdigit()
        assert error(S.parse_output, f"obs-stream:{port}").startswith(f"output: 'obs-stream:{port}' has a bad port")


# -- the immutable Settings -------------------------------------------------------------------
def test_settings_read_as_attributes_and_items_in_schema_order():
    s = S.validate(engine="hsv")
    assert s.engine == s["engine"] == "hsv" and list(s) == [x.name for x in S.SCHEMA] and len(s) == len(S.SCHEMA)
    assert dict(s) == {**S.DEFAULTS, "engine": "hsv"}
    with pytest.raises(AttributeError, match="^nope$"):
        s.nope
    with pytest.raises(KeyError):
        s["nope"]
    with pytest.raises(AttributeError, match=r"^Settings are immutable; use \.replace\(\)$"):
        s.engine = "selfie"
    assert s.input_spec == S.parse_input(s.input) and s.outputs == S.parse_output(s.output)


def test_replace_diff_and_secrets_in_public_views():
    s = S.validate(obs_password="hunter2")
    t = s.replace({"engine": "hsv", "hsv_s_min": "80"})
    assert (s.engine, t.engine, t.hsv_s_min, t.obs_password) == ("selfie", "hsv", 80, "hunter2")
    assert s.diff(t) == {"engine": "hsv", "hsv_s_min": 80} and t.diff(s) == {"engine": "selfie", "hsv_s_min": 75}
    assert s.diff(s) == {}
    assert s.public() == {**dict(s), "obs_password": "***"} and repr(s) == f"Settings({s.public()})"
    assert json.loads(s.to_json()) == s.public() and json.loads(s.to_json(secrets=True)) == dict(s)
    assert list(json.loads(s.to_json())) == sorted(s)
    assert S.validate().public()["obs_password"] == ""  # nothing to hide


def test_a_failed_replace_leaves_the_settings_as_they_were():
    s = S.validate(engine="hsv")
    assert error(s.replace, {"engine": "magic"}).startswith("engine: 'magic' is not allowed")
    assert s.engine == "hsv"


# -- validation across settings ----------------------------------------------------------------
def test_check_changes_types_a_partial_change():
    assert S.check_changes({"engine": "hsv", "hsv_s_min": "80"}) == {"engine": "hsv", "hsv_s_min": 80}
    assert S.check_changes({}) == {}
    assert error(S.check_changes, ["engine"]) == "settings must be a JSON object, got list"
    assert error(S.check_changes, {"colour": 1}) == "colour: unknown setting; see `bgblur settings` for the list"
    long = error(S.check_changes, {"x" * 500: 1})
    assert long.startswith("xxx") and len(long) < 140


def test_keywords_and_values_both_apply_keywords_last():
    assert S.validate({"engine": "hsv", "feather": 3}, engine="plate").engine == "plate"
    assert S.validate({"engine": "hsv", "feather": 3}, engine="plate").feather == 3
    assert S.validate(None) == S.validate({}) == S.validate()


@pytest.mark.parametrize("lo, hi", HSV_PAIRS)
def test_a_lower_hsv_bound_may_equal_but_not_exceed_the_upper(lo, hi):
    assert S.validate({lo: 100, hi: 100})[lo] == 100
    assert error(S.validate, {lo: 101, hi: 100}) == (
        f"{lo}: 101 is above {hi} (100); the lower bound must not exceed the upper")


def test_background_color_is_hash_and_six_hex_digits():
    assert S.validate(background_color="#A0b1C2").background_color == "#A0b1C2"
    for bad in ["green", "#12345", "#1234567", "a0b1c2", "#12345g", "x#123456", "#123456\n"]:
        assert error(S.validate, background_color=bad) == (
            f"background_color: {S.shown(bad)} is not allowed; expected #rrggbb")


def test_scene_presets_are_checked_like_changes():
    presets = {"BRB": {"effect": "privacy"}, "Talk": {"engine": "hsv", "feather": "2"}}
    assert S.validate(scene_presets=presets).scene_presets == presets
    assert error(S.validate, scene_presets={"BRB": {"effect": "nope"}}) == (
        "scene_presets['BRB']: effect: 'nope' is not allowed; expected one of " + ", ".join(S.EFFECTS))
    assert error(S.validate, scene_presets={"BRB": {"scene_presets": {}}}) == (
        "scene_presets['BRB']: a preset cannot contain scene_presets")
    assert error(S.validate, scene_presets={"BRB": "privacy"}) == (
        "scene_presets['BRB']: settings must be a JSON object, got str")
    assert error(S.validate, scene_presets={"BRB": {"input": " "}}).startswith("scene_presets['BRB']: input: empty")


# -- text forms: JSON, files, the README table ---------------------------------------------------
def test_from_json_round_trip_and_malformed_text():
    s = S.validate(engine="hsv", scene_presets={"BRB": {"enabled": False}})
    assert S.from_json(s.to_json(secrets=True)) == s
    assert error(S.from_json, '{"engine": "hsv",\n "x"}') == (
        "settings JSON is malformed: Expecting ':' delimiter at line 2 column 5")


def test_a_settings_file_gives_its_object(tmp_path):
    path = tmp_path / "s.json"
    path.write_bytes(b'\xef\xbb\xbf{"engine": "hsv"}')  # a BOM, as some editors write
    assert S.load_file(str(path)) == {"engine": "hsv"}


@pytest.mark.parametrize("content, why", [
    (b'{"engine": "hsv",\n  nope}', "not valid JSON: Expecting property name enclosed in double quotes at line 2 column 3"),
    (b'\xff\xfe{}', "not UTF-8 text; save it as UTF-8 JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "not usable JSON: it nests too deeply"),
    (b"1" * 5000, "not usable JSON: a number in it is too long"),
    (b"[1]", 'expected a JSON object like {"engine": "hsv"}, got an array'),
    (b'"hsv"', 'expected a JSON object like {"engine": "hsv"}, got a string'),
    (b"null", 'expected a JSON object like {"engine": "hsv"}, got null'),
    (b"true", 'expected a JSON object like {"engine": "hsv"}, got true/false'),
    (b"2.5", 'expected a JSON object like {"engine": "hsv"}, got a number'),
])
def test_a_bad_settings_file_is_one_line_naming_it(tmp_path, content, why):
    path = tmp_path / "s.json"
    path.write_bytes(content)
    assert error(S.load_file, str(path)) == f"settings file {path}: {why}"


def test_a_settings_file_that_is_missing_a_folder_too_big_or_a_fifo(tmp_path):
    missing = tmp_path / "none.json"
    assert error(S.load_file, str(missing)) == f"settings file {missing}: cannot read it: No such file or directory"
    assert error(S.load_file, str(tmp_path)) == f"settings file {tmp_path}: not a regular file; give a .json file"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert error(S.load_file, str(fifo)) == f"settings file {fifo}: not a regular file; give a .json file"
    big = tmp_path / "big.json"
    big.write_bytes(b"{}" + b" " * (S.SETTINGS_FILE_MAX - 2))
    assert S.load_file(str(big)) == {}
    big.write_bytes(b"{}" + b" " * (S.SETTINGS_FILE_MAX - 1))
    assert error(S.load_file, str(big)) == f"settings file {big}: larger than 1024 KB; is it the right file?"


def test_schema_json_is_every_settings_description():
    assert json.loads(S.schema_json()) == [s.describe() for s in S.SCHEMA]
    assert S.schema_json().startswith('[\n  {\n    "name": "input"')


def test_schema_markdown_has_a_row_per_setting_and_hides_the_secret():
    rows = S.schema_markdown().split("\n")
    assert rows[:2] == ["| setting | flag | default | allowed | unit | what it does |", "|---|---|---|---|---|---|"]
    assert len(rows) == 2 + len(S.SCHEMA)
    s = S.BY_NAME["width"]
    assert rows[2 + S.SCHEMA.index(s)] == f'| `width` | `--width` | `1280` | an integer 160..3840 | px | {s.help} |'
    pw = S.BY_NAME["obs_password"]
    assert rows[2 + S.SCHEMA.index(pw)] == (
        f"| `obs_password` | env `BGBLUR_OBS_PASSWORD` or stdin | (secret) | text |  | {pw.help} |")
    presets = rows[2 + S.SCHEMA.index(S.BY_NAME["scene_presets"])]
    assert presets.startswith("| `scene_presets` | `--scene-presets` | `{}` | a JSON object |")
    assert all(row.count("|") == 7 for row in rows)  # a '|' in a help text would break the table


def test_a_bar_in_a_help_text_does_not_break_the_table(monkeypatch):
    monkeypatch.setattr(S, "SCHEMA", (Setting("mode", str, "a", "a | b", "engine", choices=("a", "b")),))
    assert S.schema_markdown().split("\n")[2] == '| `mode` | `--mode` | `"a"` | one of a, b |  | a / b |'


def test_groups_keep_schema_order():
    groups = S.groups()
    assert list(groups) == list(dict.fromkeys(s.group for s in S.SCHEMA))
    assert [s for g in groups.values() for s in g] == sorted(S.SCHEMA, key=lambda s: list(groups).index(s.group))
    assert all(s.group == g for g, members in groups.items() for s in members)


def test_next_engine_cycles_and_starts_over_from_an_unknown_one():
    assert [S.next_engine(e) for e in S.ENGINES] == [*S.ENGINES[1:], S.ENGINES[0]]
    assert S.next_engine("magic") == S.ENGINES[0]
    assert S.next_engine("b", ["a", "b", "c"]) == "c" and S.next_engine("c", iter(["a", "b", "c"])) == "a"

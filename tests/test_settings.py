import json
import subprocess
import sys

import pytest

from bgblur_core import settings as S
from bgblur_core.commands import build_parser, settings_from_args


def test_defaults_are_the_seed_values():
    s = S.validate()
    assert (s.hsv_h_min, s.hsv_s_min, s.hsv_v_min) == (0, 75, 40)
    assert (s.hsv_h_max, s.hsv_s_max, s.hsv_v_max) == (180, 255, 255)


def test_every_setting_is_fully_described():
    for setting in S.SCHEMA:
        d = setting.describe()
        for key in ("name", "type", "default", "group", "unit", "help", "flag"):
            assert key in d, (setting.name, key)
        assert setting.help and "\n" not in setting.help
        assert setting.flag == "--" + setting.name.replace("_", "-")
        assert S.coerce(setting, setting.default) == setting.default


@pytest.mark.parametrize("name,value,allowed", [
    ("hsv_s_min", 256, "0..255"),
    ("hsv_h_max", -1, "0..180"),
    ("hsv_v_min", "abc", "an integer"),
    ("blur_strength", 0.0, "0.1..5"),
    ("blur_strength", 12, "0.1..5"),
    ("blur_strength", "strong", "a number"),
    ("engine", "magic", "one of selfie, selfie-landscape, hsv, plate"),
    ("effect", "sepia", "one of blur"),
    ("enabled", "maybe", "true or false"),
    ("temporal", 2.0, "0..0.95"),
    ("feather", 1.5, "an integer"),
    ("fps", 0, "1..120"),
    ("scene_presets", "[1, 2]", "a JSON object"),
])
def test_invalid_values_name_setting_value_and_allowed(name, value, allowed):
    with pytest.raises(S.SettingsError) as e:
        S.validate({name: value})
    msg = str(e.value)
    assert msg.startswith(name + ":") and repr(value) in msg and allowed in msg
    assert "\n" not in msg


def test_unknown_setting_and_cross_rules():
    with pytest.raises(S.SettingsError, match="^colour: unknown setting"):
        S.validate({"colour": 1})
    with pytest.raises(S.SettingsError, match="hsv_s_min: 200 is above hsv_s_max"):
        S.validate({"hsv_s_min": 200, "hsv_s_max": 100})
    with pytest.raises(S.SettingsError, match="background_color"):
        S.validate({"background_color": "green"})
    with pytest.raises(S.SettingsError, match=r"scene_presets\['BRB'\]: effect"):
        S.validate({"scene_presets": {"BRB": {"effect": "nope"}}})


def test_strings_from_the_cli_are_coerced():
    s = S.validate({"blur_strength": "2.5", "temporal": "0.3", "enabled": "false", "input": 0,
                    "scene_presets": '{"BRB": {"effect": "privacy"}}'})
    assert (s.blur_strength, s.temporal, s.enabled, s.input) == (2.5, 0.3, False, "0")
    assert s.scene_presets == {"BRB": {"effect": "privacy"}}


def test_round_trip_through_json_and_immutability():
    s = S.validate({"engine": "hsv", "hsv_s_min": 90, "scene_presets": {"Screen": {"enabled": False}}})
    assert S.from_json(s.to_json(secrets=True)) == s
    with pytest.raises(AttributeError):
        s.engine = "plate"
    t = s.replace({"blur_strength": 3.0})
    assert (s.blur_strength, t.blur_strength) == (1.5, 3.0)
    assert s.diff(t) == {"blur_strength": 3.0}
    with pytest.raises(S.SettingsError, match="malformed"):
        S.from_json("{nope")


def test_secrets_are_masked_in_public_views():
    s = S.validate({"obs_password": "hunter2"})
    assert "hunter2" not in s.to_json() and "hunter2" not in repr(s)
    assert s.public()["obs_password"] == "***"


def test_every_setting_is_a_flag_except_secrets():
    parser = build_parser()
    flags = {a for action in parser._subparsers._group_actions[0].choices["run"]._actions for a in action.option_strings}
    for setting in S.SCHEMA:
        assert (setting.flag in flags) != setting.secret, setting.name
    args = parser.parse_args(["run", "--blur-method", "exact", "--no-mjpg", "--hsv-s-min", "80"])
    s = settings_from_args(args)
    assert (s.blur_method, s.mjpg, s.hsv_s_min) == ("exact", False, 80)


def test_password_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("BGBLUR_OBS_PASSWORD", "s3cret")
    s = settings_from_args(build_parser().parse_args(["run"]))
    assert s.obs_password == "s3cret"


def test_settings_command_prints_the_schema():
    out = subprocess.run([sys.executable, "-m", "bgblur_core", "settings"], capture_output=True, text=True, check=True).stdout
    schema = json.loads(out)
    assert [d["name"] for d in schema] == [s.name for s in S.SCHEMA]
    strength = next(d for d in schema if d["name"] == "blur_strength")
    assert strength["default"] == 1.5 and strength["unit"] == "%" and strength["min"] == 0.1


@pytest.mark.parametrize("argv,needle", [
    (["run", "--blur-strength", "20"], "blur_strength: '20' is not allowed; expected a number 0.1..5"),
    (["run", "--engine", "magic"], "engine: 'magic' is not allowed"),
    (["run", "--hsv-s-min", "300"], "hsv_s_min: '300' is not allowed; expected an integer 0..255"),
])
def test_cli_rejects_invalid_settings_in_one_line(argv, needle):
    r = subprocess.run([sys.executable, "-m", "bgblur_core", *argv], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == f"bgblur: error: {needle}" or needle in r.stderr.strip().splitlines()[-1]
    assert "Traceback" not in r.stderr


def test_cli_rejects_unknown_flag():
    r = subprocess.run([sys.executable, "-m", "bgblur_core", "run", "--colour", "red"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "unrecognized arguments: --colour" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("command", ["run", "demo", "settings", "mask", "learn", "models", "bench", "eval", "obs-source"])
def test_every_subcommand_has_working_help(command):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args([command, "--help"])
    assert e.value.code == 0

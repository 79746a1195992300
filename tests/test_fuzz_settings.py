"""Fuzzing settings: files (any bytes, any JSON) and values (every setting, any JSON value).

A file or value is accepted or refused in one short line that never shows a secret; a running
core that is sent any value keeps producing frames, answers the next valid message and stops
when stdin closes."""
import json
import subprocess

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bgblur_core.settings import SCHEMA, SettingsError, check_changes, load_file, validate
from core_proc import BGBLUR, fuzz, started

MARKER = "S3CRET-MARKER"
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) |
                           st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=12)
names = st.sampled_from([s.name for s in SCHEMA]) | st.text(max_size=20)
# a non-string password that carries the marker: its error must not show it
bad_secrets = st.sampled_from([[MARKER], {"p": MARKER}, {MARKER: 1}, [[MARKER]]])

# any names and values, sometimes with a non-string password carrying the marker
setting_changes = st.tuples(st.dictionaries(names, json_values, max_size=3), st.none() | bad_secrets).map(
    lambda t: {**t[0], **({"obs_password": t[1]} if t[1] is not None else {})}).filter(bool)

file_bytes = st.one_of(
    st.binary(max_size=400),
    json_values.map(lambda v: json.dumps(v).encode()),
    setting_changes.map(lambda d: json.dumps(d).encode()),
    st.integers(1, 50_000).map(lambda d: b"[" * d + b"]" * d),
    st.integers(1, 10_000).map(lambda n: b'{"blur_strength": ' + b"7" * n + b"}"),
    st.integers(1, 2_000_000).map(lambda n: b'{"engine": "' + b"e" * n + b'"}'),
    st.sampled_from([b"\xef\xbb\xbf{}", b"\xff\xfe{\x00}\x00", b"[1,2,3]", b'"hsv"', b"null", b"", b"{"]),
)


def check_refusal(e: SettingsError) -> None:
    text = str(e)
    assert "\n" not in text and len(text) < 400, text[:500]
    assert MARKER not in text


@fuzz(300, shrink=True)
@given(content=file_bytes)
def test_any_settings_file_is_loaded_or_refused_in_one_line(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("s") / "settings.json"
    path.write_bytes(content)
    try:
        validate(load_file(str(path)))
    except SettingsError as e:
        check_refusal(e)


@fuzz(400, shrink=True)
@given(changes=setting_changes)
def test_any_settings_value_is_taken_or_refused_in_one_line(changes):
    try:
        validate(changes)
    except SettingsError as e:
        check_refusal(e)


@fuzz(12)
@given(content=file_bytes)
def test_the_command_takes_or_refuses_any_settings_file_in_one_line(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("s") / "settings.json"
    path.write_bytes(content)
    r = subprocess.run([*BGBLUR, "run", "--settings", str(path), "--input", "synthetic", "--engine", "hsv",
                        "--output", "null", "--frames", "1", "--width", "320", "--height", "240"],
                       capture_output=True, text=True, timeout=120)
    assert "Traceback" not in r.stderr and MARKER not in r.stderr
    if r.returncode:
        errors = [line for line in r.stderr.splitlines() if line.startswith("bgblur: error:")]
        assert r.returncode == 2 and len(errors) == 1, r.stderr[-1000:]


# -- values sent to a running core ----------------------------------------------------------------------
# Valid values of these would reconfigure the core into something slow or outward-facing (4K, the
# neural engine, another input or output, a connection to OBS); their invalid values are still sent.
HEAVY = {"input", "output", "width", "height", "fps", "engine", "model_path", "runtime", "threads",
         "obs_enabled", "obs_host", "obs_port", "plate_path", "background_image", "vcam_device", "vcam_backend"}


def harmless(changes: dict) -> bool:
    for name, value in changes.items():
        if name in HEAVY:
            try:
                check_changes({name: value})
            except SettingsError:
                continue
            return False
    return True


@pytest.fixture(scope="module")
def core():
    with started() as c:
        yield c


@fuzz(50)
@given(changes=setting_changes)
def test_any_value_sent_to_a_running_core_keeps_it_running(core, changes):
    assume(harmless(changes))
    core.send(json.dumps({"set": changes}).encode() + b"\n")
    core.probe()
    assert core.broken == []


def test_after_the_values_the_core_works_never_showed_a_secret_and_stops(core):
    core.send(json.dumps({"set": {"obs_password": [MARKER]}}).encode() + b"\n")
    core.probe()
    core.keeps_producing()
    assert core.applies({"effect": "color", "enabled": True})["effect"] == "color"
    assert not any(MARKER in json.dumps(e) for e in core.events)
    assert not any(MARKER in line for line in core.stderr)
    assert core.close_stdin_and_wait() == 0

"""`bgblur doctor`, the real command: its table and JSON, exit status, models, ports, display, OBS, versions."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tomllib

import cv2
import pytest
from packaging.requirements import Requirement

from bgblur_core import models
from conftest import ROOT
from obs_harness import ObsInstance, free_port

CHECK_KEYS = {"name", "status", "detail", "fix"}
NO_DISPLAY = {"DISPLAY": None, "WAYLAND_DISPLAY": None, "QT_QPA_PLATFORM": None}


def environ(changes: dict) -> dict:
    """os.environ with `changes` (None removes a variable)."""
    env = {k: v for k, v in os.environ.items() if changes.get(k, "") is not None}
    env.update({k: v for k, v in changes.items() if v is not None})
    return env


def doctor(*args, env=None, cache=None):
    """Run `python -m bgblur_core doctor ARGS` with `env` changes, on the model cache `cache`."""
    changes = {**(env or {}), **({"BGBLUR_CACHE_DIR": str(cache)} if cache else {})}
    return subprocess.run([sys.executable, "-m", "bgblur_core", "doctor", *map(str, args)], capture_output=True,
                          text=True, timeout=120, env=environ(changes), cwd=ROOT)


def doctor_json(*args, **kw):
    r = doctor("--json", *args, **kw)
    report = json.loads(r.stdout)
    assert set(report) == {"ok", "checks"}
    return r.returncode, report, {c["name"]: c for c in report["checks"]}


@pytest.fixture
def cache(tmp_path, real_models):
    """A model cache holding verified copies of the real models that `bgblur models fetch` gets by default."""
    folder = tmp_path / "models"
    folder.mkdir()
    for name in models.default_names():
        spec = models.MODELS[name]
        shutil.copy(models.cached_path(spec), folder / spec.filename)
    return folder


def test_the_table_has_a_status_line_per_check_and_exits_0_when_the_run_would_start(cache):
    r = doctor("--input", "synthetic", cache=cache, env=NO_DISPLAY)
    assert r.returncode == 0, r.stdout + r.stderr
    *lines, summary = r.stdout.strip().splitlines()
    assert {line.split()[0] for line in lines} <= {"ok", "warn", "fail"}
    names = [line.split()[1] for line in lines]
    for name in ("python", "opencv-python", "numpy", "opencv", "engine", "camera", "display"):
        assert name in names, r.stdout
    assert summary.endswith("0 failures: ready (a warning is a fallback or an optional part)")
    # every warning says how to fix it
    assert all("-> fix: " in line for line in lines if line.startswith("warn"))
    assert "Traceback" not in r.stderr


def test_json_has_exactly_the_shape_the_obs_script_reads(cache):
    code, report, checks = doctor_json(cache=cache, env=NO_DISPLAY)
    assert code == 0 and report["ok"] is True
    for check in report["checks"]:
        assert set(check) == CHECK_KEYS and check["status"] in ("ok", "warn", "fail")
        assert all(isinstance(check[k], str) for k in CHECK_KEYS)
    assert checks["python"]["detail"].startswith(".".join(map(str, sys.version_info[:3])))
    assert checks["engine"] == {"name": "engine", "status": "ok", "detail": "selfie loads and runs", "fix": ""}
    for name in models.default_names():
        assert checks[f"model {name}"]["status"] == "ok" and "sha256 verified" in checks[f"model {name}"]["detail"]


def test_no_display_is_a_warning_but_a_failure_when_the_preview_is_asked_for(cache):
    code, report, checks = doctor_json(cache=cache, env=NO_DISPLAY)
    assert code == 0 and checks["display"]["status"] == "warn"
    code, report, checks = doctor_json("--output", "preview", cache=cache, env=NO_DISPLAY)
    assert code == 1 and report["ok"] is False
    assert checks["display"]["status"] == "fail" and "drop preview" in checks["display"]["fix"]
    assert [c["name"] for c in report["checks"] if c["status"] == "fail"] == ["display"]


def test_no_camera_falls_back_to_the_synthetic_scene_and_a_missing_virtual_camera_is_a_warning(cache):
    code, report, checks = doctor_json(cache=cache, env=NO_DISPLAY)
    assert code == 0
    assert checks["camera"]["status"] == "warn" and "synthetic scene" in checks["camera"]["detail"]
    vcam = checks["virtual camera"]  # the default output, auto, sends to obs-stream instead
    assert vcam["status"] == "warn" and "output auto sends to obs-stream:8765 instead" in vcam["detail"]
    assert "modprobe v4l2loopback" in vcam["fix"]
    # asked for by name, the virtual camera is needed: the run would stop at start
    code, _, checks = doctor_json("--output", "virtualcam", cache=cache, env=NO_DISPLAY)
    assert code == 1 and checks["virtual camera"]["status"] == "fail"
    assert "modprobe v4l2loopback" in checks["virtual camera"]["fix"]
    # an output without the virtual camera does not need one
    checks = doctor_json("--output", "null", cache=cache, env=NO_DISPLAY)[2]
    assert checks["virtual camera"] == {"name": "virtual camera", "status": "ok", "fix": "",
                                        "detail": "no virtual camera device found (not needed for output null)"}


def test_a_camera_asked_for_that_does_not_open_fails_unless_the_run_waits_for_it(cache):
    code, report, checks = doctor_json("--input", "/dev/video63", cache=cache, env=NO_DISPLAY)
    assert code == 1 and checks["camera"]["status"] == "fail"
    assert checks["camera"]["detail"].startswith("input /dev/video63 does not open")
    code, report, checks = doctor_json("--input", "63", "--wait-for-camera", cache=cache, env=NO_DISPLAY)
    assert code == 0 and checks["camera"]["status"] == "warn" and checks["camera"]["detail"].endswith("the run waits for it")


@pytest.mark.parametrize("damage", ["truncated", "wrong"])
def test_a_damaged_cached_model_names_the_file_and_the_command_that_fixes_it(cache, damage):
    spec = models.MODELS["selfie"]
    path = cache / spec.filename
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3] if damage == "truncated" else bytes(len(data)))
    code, report, checks = doctor_json(cache=cache, env=NO_DISPLAY)
    line = checks["model selfie"]
    assert code == 0 and line["status"] == "warn"  # the run re-fetches it, or falls back to hsv
    assert str(path) in line["detail"] and "damaged or truncated" in line["detail"]
    assert line["fix"] == "bgblur models fetch selfie"
    assert checks["model selfie-landscape"]["status"] == "ok"
    # the fix line does fix it
    fixed = subprocess.run([sys.executable, "-m", "bgblur_core", *line["fix"].split()[1:]], capture_output=True,
                           text=True, timeout=600, env={**os.environ, "BGBLUR_CACHE_DIR": str(cache)})
    assert fixed.returncode == 0, fixed.stderr
    assert doctor_json(cache=cache, env=NO_DISPLAY)[2]["model selfie"]["status"] == "ok"


def test_an_empty_cache_warns_for_the_engine_in_use_only(tmp_path):
    code, report, checks = doctor_json("--engine", "selfie-landscape", cache=tmp_path, env=NO_DISPLAY)
    assert code == 0
    assert checks["model selfie-landscape"]["status"] == "warn"
    assert checks["model selfie-landscape"]["fix"] == "bgblur models fetch selfie-landscape"
    assert checks["model selfie"]["status"] == "ok" and "not downloaded" in checks["model selfie"]["detail"]
    assert checks["engine"]["status"] == "warn"


def test_an_engine_that_cannot_load_is_a_fallback_warning(cache, tmp_path):
    bogus = tmp_path / "bogus.tflite"
    bogus.write_bytes(b"not a model")
    code, report, checks = doctor_json("--model-path", bogus, cache=cache, env=NO_DISPLAY)
    assert code == 0 and checks["engine"]["status"] == "warn"
    assert "uses hsv" in checks["engine"]["detail"] and str(bogus) in checks["engine"]["detail"]


def test_the_runtime_line_names_what_runs_the_engine(cache):
    import importlib.util
    litert = importlib.util.find_spec("ai_edge_litert") is not None
    checks = doctor_json(cache=cache, env=NO_DISPLAY)[2]
    assert checks["runtime"]["status"] == "ok" and checks["runtime"]["detail"].endswith(" for the selfie engine")
    assert checks["runtime"]["detail"].startswith("LiteRT " if litert else "OpenCV ")
    assert checks["opencv"]["detail"].startswith(f"OpenCV {cv2.__version__} DNN (")
    # a runtime that cannot run the model: OpenCV DNN runs it instead, a warning
    code, report, checks = doctor_json("--runtime", "onnxruntime", cache=cache, env=NO_DISPLAY)
    assert code == 0 and checks["runtime"]["status"] == "warn"
    assert checks["runtime"]["detail"].startswith("onnxruntime cannot run the selfie engine here: OpenCV ")
    checks = doctor_json("--engine", "hsv", cache=cache, env=NO_DISPLAY)[2]
    assert checks["runtime"]["detail"] == "none: the hsv engine needs no inference runtime"


def test_an_obs_stream_port_in_use_fails_only_when_the_output_uses_it(cache):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code, report, checks = doctor_json("--output", f"obs-stream:{port}", cache=cache, env=NO_DISPLAY)
        assert code == 1 and checks["obs-stream port"]["status"] == "fail"
        assert f"127.0.0.1:{port}" in checks["obs-stream port"]["detail"]
    code, report, checks = doctor_json("--output", f"obs-stream:{port}", cache=cache, env=NO_DISPLAY)
    assert code == 0 and checks["obs-stream port"] == {"name": "obs-stream port", "status": "ok",
                                                        "detail": f"{port} is free", "fix": ""}


def test_unreachable_obs_websocket_is_a_warning_and_never_shows_the_password(cache):
    secret = "pw-9f3a71c2"
    code, report, checks = doctor_json("--obs-enabled", "--obs-port", free_port(), cache=cache,
                                       env={**NO_DISPLAY, "BGBLUR_OBS_PASSWORD": secret})
    assert code == 0 and checks["obs-websocket"]["status"] == "warn"
    assert "cannot connect" in checks["obs-websocket"]["detail"]
    assert secret not in json.dumps(report)
    assert doctor_json(cache=cache, env=NO_DISPLAY)[2]["obs-websocket"]["detail"] == "off (obs_enabled is false)"


@pytest.mark.obs
def test_obs_websocket_reachable_with_the_password_and_refused_without_it(cache, tmp_path):
    secret = "pw-5d0c2e88"
    with ObsInstance(tmp_path, password=secret) as obs:
        args = ("--obs-enabled", "--obs-port", obs.port)
        code, report, checks = doctor_json(*args, cache=cache, env={**NO_DISPLAY, "BGBLUR_OBS_PASSWORD": secret})
        assert checks["obs-websocket"]["status"] == "ok", checks["obs-websocket"]
        assert checks["obs-websocket"]["detail"].startswith(f"connected to 127.0.0.1:{obs.port}: OBS ")
        r = doctor(*args, cache=cache, env={**NO_DISPLAY, "BGBLUR_OBS_PASSWORD": "wrong-" + secret})
        assert "authentication failed" in r.stdout and "warn  obs-websocket" in r.stdout
        assert secret not in r.stdout + r.stderr


def _fake_dist(folder, name: str, version: str) -> None:
    """Installed-package metadata saying `name` is at `version` (found before the real one on PYTHONPATH)."""
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def range_in_pyproject(name: str) -> str:
    """The range pyproject.toml gives `name`, written lower bound first."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    spec = next(Requirement(d).specifier for d in deps if Requirement(d).name == name)
    return ",".join(sorted(map(str, spec), key=lambda s: not s.startswith(">")))


def test_a_package_outside_its_tested_range_is_one_warning_line(cache, tmp_path):
    _fake_dist(tmp_path / "site", "numpy", "1.0")
    env = {**NO_DISPLAY, "PYTHONPATH": str(tmp_path / "site")}
    expected = f"numpy 1.0 is outside the tested range {range_in_pyproject('numpy')}"
    code, report, checks = doctor_json(cache=cache, env=env)
    assert code == 0 and checks["numpy"]["status"] == "warn" and checks["numpy"]["detail"] == expected
    assert "requirements.lock" in checks["numpy"]["fix"]
    # at run time: one line on stderr, whatever the command
    r = subprocess.run([sys.executable, "-m", "bgblur_core", "settings"], capture_output=True, text=True,
                       timeout=60, env=environ(env), cwd=ROOT)
    assert r.returncode == 0
    warnings = [line for line in r.stderr.splitlines() if "outside the tested range" in line]
    assert warnings == [f"bgblur: warning: {expected}; run scripts/setup.sh, which installs the tested versions "
                        "from requirements.lock"]


def test_packages_in_range_give_no_warning():
    r = subprocess.run([sys.executable, "-m", "bgblur_core", "settings"], capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    assert r.returncode == 0 and "warning" not in r.stderr

"""`bgblur doctor`'s checks: what a user needs before a run, each as an ok/warn/fail record with its fix.

Every check is a plain function of the settings returning Check records. A check fails only when the
run with these settings would not start; what `bgblur run` falls back from (hsv instead of a neural
engine, the synthetic scene instead of a webcam) is a warning, and so is a missing virtual camera
device, which `--output obs-stream` does without.
"""
from __future__ import annotations

import os
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from . import models, versions
from .settings import OBS_STREAM_PORT, Settings
from .errors import StageError, describe

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, warn or fail
    detail: str
    fix: str = ""


def check_python(settings: Settings) -> list[Check]:
    needs = versions.requires_python()
    detail = f"{platform.python_version()} at {sys.executable}" + (f" (needs {needs})" if needs else "")
    if not versions.python_ok():
        return [Check("python", FAIL, detail, f"install Python {needs}, then rerun scripts/setup.sh")]
    return [Check("python", OK, detail)]


def check_packages(settings: Settings) -> list[Check]:
    found = versions.packages()
    if not found:
        return [Check(versions.DIST, WARN, "not installed as a package: its dependency ranges are unknown",
                      "run scripts/setup.sh")]
    checks = []
    for p in found:
        if p.found is None:
            checks.append(Check(p.name, FAIL, f"not installed (tested {p.tested})", versions.FIX))
        elif not p.in_range:
            checks.append(Check(p.name, WARN, versions.untested_line(p), versions.FIX))
        else:
            checks.append(Check(p.name, OK, f"{p.found} (tested {p.tested})"))
    return checks


def check_opencv(settings: Settings) -> list[Check]:
    from .segment import runtime
    return [Check("opencv", OK, runtime.opencv_engine())]


def check_models(settings: Settings) -> list[Check]:
    """Each cached model's checksum; a missing model matters (a warning) only for the engine in use."""
    checks = []
    for name, spec in models.MODELS.items():
        path = models.cached_path(spec)
        fix = f"bgblur models fetch {name}"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            if name == settings.engine and not settings.model_path:
                checks.append(Check(f"model {name}", WARN, f"not downloaded to {path}; `bgblur run` downloads it "
                                    "at start, and uses the hsv engine when it cannot", fix))
            else:
                checks.append(Check(f"model {name}", OK, f"not downloaded (fetched when the {name} engine is first used)"))
            continue
        except OSError as e:
            checks.append(Check(f"model {name}", WARN, f"cannot read {path}: {e.strerror}", fix))
            continue
        got = models.sha256_of(data)
        if got != spec.sha256:
            checks.append(Check(f"model {name}", WARN, f"{path} is damaged or truncated ({len(data)} bytes, sha256 "
                                f"{got[:12]}…, expected {spec.sha256[:12]}…)", fix))
        else:
            checks.append(Check(f"model {name}", OK, f"{path}, sha256 verified"))
    if settings.model_path and not Path(settings.model_path).is_file():
        checks.append(Check("model_path", WARN, f"{settings.model_path} does not exist; `bgblur run` uses the hsv engine",
                            "give an existing .tflite file as model_path, or leave it empty"))
    return checks


def check_engine(settings: Settings) -> list[Check]:
    """Build the engine as the run does (without downloading): it loads and runs once, or the run falls back.
    Then the inference runtime that runs it (a neural engine's)."""
    from .segment import make_segmenter, runtime
    engine = settings.engine
    spec = models.MODELS.get(engine)
    model_file = settings.model_path or (str(models.cached_path(spec)) if spec else "")
    threads = settings.threads or os.cpu_count() or 1
    intended = runtime.describe(runtime.choose(settings.runtime, model_file), threads) if model_file else ""
    in_use = intended
    if spec is not None and not settings.model_path and not models.is_cached(spec):
        checks = [Check("engine", WARN, f"{engine}: its model is not cached (see above); untried", f"bgblur models fetch {engine}")]
    else:
        try:
            in_use = getattr(make_segmenter(settings), "runtime", in_use)
            checks = [Check("engine", OK, f"{engine} loads and runs")]
        except Exception as e:  # any failure here is what the run would fall back from
            text = str(e) if isinstance(e, StageError) else describe(e)
            checks = [Check("engine", WARN, f"{engine} cannot start, so `bgblur run` uses hsv: {text}",
                            "run `bgblur doctor` after the fix above, or pick another engine with --engine")]
    if not in_use:
        return checks + [Check("runtime", OK, f"none: the {engine} engine needs no inference runtime")]
    if in_use != intended:  # the runtime asked for is missing or cannot read the file: OpenCV DNN runs it
        asked = runtime.choose(settings.runtime, model_file)
        fix = (f"install {runtime.DISTS[asked]} (scripts/setup.sh does where it has a wheel)" if not runtime.installed(asked)
               else "use --runtime auto")
        return checks + [Check("runtime", WARN, f"{asked} cannot run the {engine} engine here: {in_use} runs it", fix)]
    return checks + [Check("runtime", OK, f"{in_use} for the {engine} engine")]


def _video_name(index: int) -> str:
    try:
        return Path(f"/sys/class/video4linux/video{index}/name").read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def check_cameras(settings: Settings) -> list[Check]:
    """The cameras that open, by index and name; the one `input` names must open unless the run waits for it."""
    from .sources import camera
    linux = sys.platform.startswith("linux")
    found = camera.real_camera_nodes() if linux else list(range(5))
    spec = settings.input_spec
    wanted = None
    if spec.kind == "camera":
        wanted = spec.target if isinstance(spec.target, int) else int(str(spec.target).removeprefix("/dev/video"))
    opened = camera.cameras_that_open(candidates=sorted(set(found) | ({wanted} - {None})))
    names = ", ".join(f"{i} ({name})" if (name := _video_name(i)) else f"{i}" for i in opened)
    also = f"; cameras that open: {names}" if names else ""
    if wanted is not None:
        if wanted in opened:
            return [Check("camera", OK, f"input {spec.target} opens{also}")]
        waits = settings.wait_for_camera  # then the run shows a placeholder until it opens
        return [Check("camera", WARN if waits else FAIL,
                      f"input {spec.target} does not open{also}" + ("; the run waits for it" if waits else ""),
                      "connect the camera, close other apps using it, or pick another with --input")]
    if not opened:
        tried = f"tried {', '.join(f'/dev/video{i}' for i in found)}" if linux and found else "none found"
        return [Check("camera", WARN, f"no camera opens ({tried}); `bgblur run` uses the built-in synthetic scene",
                      "connect a webcam" + (" (ls /dev/video*; your user needs the video group)" if linux else ""))]
    return [Check("camera", OK, f"opens: {names}")]


def _outputs(settings: Settings, kind: str) -> list:
    return [o for o in settings.outputs if o.kind == kind]


def check_virtual_camera(settings: Settings) -> list[Check]:
    """Open the virtual camera as the run would, then close it."""
    from .sinks import VirtualCamSink, vcam_howto
    try:
        with VirtualCamSink((settings.width, settings.height), settings.fps, settings.vcam_device,
                            settings.vcam_backend) as sink:
            name = sink.name
    except StageError as e:
        why = str(e).split(";")[0].removeprefix("output virtualcam: ")
        if _outputs(settings, "virtualcam"):  # asked for by name: the run stops at start
            return [Check("virtual camera", FAIL, f"{why}: the virtualcam output cannot open; --output obs-stream "
                          "needs none", vcam_howto())]
        if _outputs(settings, "auto"):
            return [Check("virtual camera", WARN, f"{why}: output auto sends to obs-stream:{OBS_STREAM_PORT} instead, "
                          "which needs none", vcam_howto())]
        return [Check("virtual camera", OK, f"{why} (not needed for output {settings.output})")]
    return [Check("virtual camera", OK, f"{name} opens")]


def check_obs_stream(settings: Settings) -> list[Check]:
    """The obs-stream port: listened on and closed again, as the run would."""
    from .obsstream import ObsStreamSink
    used = _outputs(settings, "obs-stream")
    port = used[0].port if used else OBS_STREAM_PORT
    try:
        with ObsStreamSink(port, (64, 48), 1):
            pass
    except StageError as e:
        return [Check("obs-stream port", FAIL if used else WARN, str(e), "use --output obs-stream:PORT with a free PORT")]
    free = f"{port} is free" if port else "any free port (obs-stream:0)"
    return [Check("obs-stream port", OK, free + ("" if used else " (for --output obs-stream)"))]


def check_obs_websocket(settings: Settings) -> list[Check]:
    if not settings.obs_enabled:
        return [Check("obs-websocket", OK, "off (obs_enabled is false)")]
    from obswebsocket import requests

    from .control import obs_client
    where = f"{settings.obs_host}:{settings.obs_port}"
    try:
        client = obs_client.connect_or_fail(settings)
    except StageError as e:
        return [Check("obs-websocket", WARN, f"{e}; `bgblur run` keeps retrying",
                      "start OBS, enable Tools > WebSocket Server Settings, check obs_host, obs_port and the password "
                      "(BGBLUR_OBS_PASSWORD)")]
    try:
        version = obs_client.call(client, requests.GetVersion())
    except StageError as e:
        return [Check("obs-websocket", WARN, f"connected to {where}, but {e}", "update OBS Studio to 28 or newer")]
    finally:
        client.close()
    return [Check("obs-websocket", OK, f"connected to {where}: OBS {version.get('obsVersion', '?')}, "
                                       f"obs-websocket {version.get('obsWebSocketVersion', '?')}")]


def check_display(settings: Settings) -> list[Check]:
    from .sinks import display_available
    if display_available():
        return [Check("display", OK, "a preview window can open")]
    used = bool(_outputs(settings, "preview"))
    return [Check("display", FAIL if used else WARN,
                  "no display (DISPLAY is not set or does not answer): no preview window" +
                  ("" if used else "; `bgblur demo` runs without one"),
                  "run it in a desktop session" + (", or drop preview from --output" if used else ""))]


CHECKS = (check_python, check_packages, check_opencv, check_models, check_engine, check_cameras,
          check_virtual_camera, check_obs_stream, check_obs_websocket, check_display)


def run_checks(settings: Settings) -> list[Check]:
    """Every check; a check that itself crashes is a failed line, never a traceback."""
    results: list[Check] = []
    for check in CHECKS:
        name = check.__name__.removeprefix("check_").replace("_", " ")
        try:
            results.extend(check(settings))
        except Exception as e:
            results.append(Check(name, FAIL, f"the check itself failed: {describe(e)}",
                                 "run scripts/setup.sh; if it still fails, report it with this line"))
    return results


def ok(checks: list[Check]) -> bool:
    """True when the run would start: no failed check (warnings are fallbacks)."""
    return all(c.status != FAIL for c in checks)


def as_json(checks: list[Check]) -> dict:
    return {"ok": ok(checks), "checks": [asdict(c) for c in checks]}


def table(checks: list[Check]) -> str:
    """One line per check: status, name, detail, and the fix when there is one."""
    width = max(len(c.name) for c in checks)
    lines = [f"{c.status:<4}  {c.name:<{width}}  {c.detail}" + (f"  -> fix: {c.fix}" if c.fix else "") for c in checks]
    counts = {s: sum(c.status == s for c in checks) for s in (OK, WARN, FAIL)}
    verdict = "ready (a warning is a fallback or an optional part)" if ok(checks) else "fix the fail lines first"
    lines.append(f"{counts[OK]} ok, {counts[WARN]} warnings, {counts[FAIL]} failures: {verdict}")
    return "\n".join(lines)

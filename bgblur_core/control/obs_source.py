"""The OBS input that shows the core's output (used by `bgblur obs-source` and the websocket adapter)."""
from __future__ import annotations

import sys

from obswebsocket import obsws
from obswebsocket import requests as req

from ..obs_core_process import media_source_settings
from ..settings import OBS_STREAM_PORT, Settings
from ..stages import StageError
from .obs_client import call as _call

SOURCE_NAME = "bgblur"


def source_spec(settings: Settings, vcam_device: str = "", platform: str = sys.platform) -> tuple[str, dict] | None:
    """(input kind, input settings) of the OBS input that shows the core's output, or None."""
    kinds = {o.kind: o for o in settings.outputs}
    if "auto" in kinds and not vcam_device:  # output auto without a virtual camera device sends to obs-stream
        return "ffmpeg_source", media_source_settings(OBS_STREAM_PORT)
    if "obs-stream" in kinds:
        return "ffmpeg_source", media_source_settings(kinds["obs-stream"].port)
    if "virtualcam" not in kinds and "auto" not in kinds:
        return None
    device = vcam_device or settings.vcam_device
    if platform.startswith("linux"):
        return "v4l2_input", ({"device_id": device} if device else {})
    if platform == "darwin":
        return "av_capture_input", {"device_name": "OBS Virtual Camera"}
    return "dshow_input", {"video_device_id": "OBS Virtual Camera:", "active": True}


def ensure_source(client: obsws, settings: Settings, vcam_device: str = "") -> str:
    """Make sure the current program scene shows the core's output; returns what was done, in words."""
    spec = source_spec(settings, vcam_device)
    if spec is None:
        return f"output {settings.output!r} has nothing OBS can show; nothing to do"
    kind, input_settings = spec
    scene = _call(client, req.GetCurrentProgramScene())["currentProgramSceneName"]
    inputs = {i["inputName"]: i for i in _call(client, req.GetInputList())["inputs"]}
    existing = inputs.get(SOURCE_NAME)
    if existing is None:
        item = _call(client, req.CreateInput(sceneName=scene, inputName=SOURCE_NAME, inputKind=kind,
                                             inputSettings=input_settings, sceneItemEnabled=True))["sceneItemId"]
        _fit_to_canvas(client, scene, item)
        return f"created OBS input {SOURCE_NAME!r} ({kind}) in scene {scene!r}"
    if existing["inputKind"] != kind:
        raise StageError(f"obs-websocket: an OBS input named {SOURCE_NAME!r} exists but is a {existing['inputKind']}, "
                         f"not a {kind}; rename or remove it, or turn off obs_create_source")
    done = []
    current = _call(client, req.GetInputSettings(inputName=SOURCE_NAME))["inputSettings"]
    if any(current.get(k) != v for k, v in input_settings.items()):
        _call(client, req.SetInputSettings(inputName=SOURCE_NAME, inputSettings=input_settings, overlay=True))
        done.append("updated its settings")
    found = client.call(req.GetSceneItemId(sceneName=scene, sourceName=SOURCE_NAME))
    if not found.status:
        item = _call(client, req.CreateSceneItem(sceneName=scene, sourceName=SOURCE_NAME, sceneItemEnabled=True))["sceneItemId"]
        _fit_to_canvas(client, scene, item)
        done.append(f"added it to scene {scene!r}")
    return f"OBS input {SOURCE_NAME!r} exists" + (": " + ", ".join(done) if done else f" in scene {scene!r}")


def _fit_to_canvas(client: obsws, scene: str, item: int) -> None:
    video = _call(client, req.GetVideoSettings())
    _call(client, req.SetSceneItemTransform(sceneName=scene, sceneItemId=item, sceneItemTransform={
        "boundsType": "OBS_BOUNDS_SCALE_INNER", "boundsAlignment": 0,
        "boundsWidth": float(video["baseWidth"]), "boundsHeight": float(video["baseHeight"]),
        "positionX": 0.0, "positionY": 0.0}))

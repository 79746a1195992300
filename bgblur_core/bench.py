"""`bgblur bench`: speed, latency and memory of each configuration against the seed reference.

Every configuration runs the real per-frame code (`pipeline.Stages`), interleaved frame by frame
with the seed reference (SEED.md steps 2-5) so that machine noise hits both alike. Figures are
medians over N frames after a warm-up; CPU time is `time.process_time()` (all threads).
Latency is capture-to-output through the live pipeline fed by a threaded, timestamped 30 fps
synthetic camera.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from statistics import median
from typing import Sequence

import cv2
import numpy as np

from .seed import seed_reference
from .segment.runtime import opencv_engine
from .settings import BY_NAME, SettingsError, validate
from .sources import Camera, SyntheticCamera, open_path, synthetic_background, synthetic_frame
from .stages import StageError

DEFAULT_RESOLUTIONS = ("640x480", "1280x720", "1920x1080")
# name -> settings over the defaults (default refinement and effects: blur, fast blur)
CONFIGS = {
    "seed": None,
    "hsv-exact": {"engine": "hsv", "blur_method": "exact"},
    "hsv-fast": {"engine": "hsv", "blur_method": "fast"},
    "plate": {"engine": "plate"},
    "selfie": {"engine": "selfie"},
    "selfie-landscape": {"engine": "selfie-landscape"},
    "rvm": {"engine": "rvm"},
}
LIVE_FPS = 30
# The targets: (resolution, config) -> (text, check(row))
TARGETS = {
    ("1280x720", "hsv-exact"): ("identical to the seed, >= 2x faster (wall and CPU)",
                                lambda r: r.get("identical_to_seed") is True and r["speedup_wall"] >= 2 and r["speedup_cpu"] >= 2),
    ("1280x720", "hsv-fast"): (">= 6x faster than the seed", lambda r: r["speedup_wall"] >= 6 and r["speedup_cpu"] >= 6),
    ("1280x720", "selfie-landscape"): ("CPU ms <= 0.5x the seed's", lambda r: r["cpu_ms"] <= 0.5 * r["seed_cpu_ms"]),
    ("1280x720", "selfie"): ("CPU ms <= 0.7x the seed's", lambda r: r["cpu_ms"] <= 0.7 * r["seed_cpu_ms"]),
    ("1920x1080", "selfie-landscape"): ("wall <= 33 ms (30 fps)", lambda r: r["wall_ms"] <= 33),
    ("1280x720", "rvm"): ("CPU <= 33 ms per frame (one core at 30 fps)", lambda r: r["cpu_ms"] <= 33),
}
LATENCY_TARGET_MS = 1.5 * 1000 / LIVE_FPS
RSS_TARGET_MB = 300


# -- memory ------------------------------------------------------------------------------
def rss_mb() -> float:
    """Current resident set size."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return peak_rss_mb()


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


# -- frames ------------------------------------------------------------------------------
def parse_resolution(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SettingsError(f"--resolution: {text!r} is not WIDTHxHEIGHT, e.g. 1280x720") from None
    if not (16 <= w <= 7680 and 16 <= h <= 4320):
        raise SettingsError(f"--resolution: {text} is out of range; expected 16x16 to 7680x4320")
    return w, h


class Frames:
    """Deterministic frames at one size: the synthetic scene, or a video / image folder / pattern (looped),
    read through `sources.open_path`."""

    def __init__(self, size: tuple[int, int] | None, source: str | None = None):
        self._source = open_path(source, loop=True) if source is not None else None
        self.size = size or (self._source.size if self._source else None)

    def __call__(self, n: int) -> np.ndarray:
        if self._source is None:
            return synthetic_frame(n, *self.size)
        got = self._source.read()
        if got is None:
            raise StageError(f"--input: {self._source.name} has no frames")
        frame = got[0]
        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        return frame


# -- configurations ----------------------------------------------------------------------
def config_settings(name: str, size: tuple[int, int], workdir: str):
    """The configuration's settings; width and height (a camera request) clamped to the schema's range."""
    w, h = size
    request = {k: int(min(max(v, BY_NAME[k].min), BY_NAME[k].max)) for k, v in (("width", w), ("height", h))}
    return validate({**CONFIGS[name], "input": "synthetic", "output": "null", **request,
                     "fps": LIVE_FPS, "plate_path": os.path.join(workdir, f"plate-{w}x{h}.png")})


def learn_bench_plate(settings, size: tuple[int, int], source: str | None) -> None:
    """The plate config needs a learned background: the synthetic room without the person, or
    with --input the input's first frames (a person in them only spoils the mask, not the timing)."""
    from .segment.plate import learn_plate
    n = max(10, settings.fps)
    frames = Frames(size, source)
    learn_plate([frames(i) if source else synthetic_background(i, *size) for i in range(n)], settings)


def make_runner(name: str, size: tuple[int, int], workdir: str, source: str | None = None):
    """A callable frame -> output that adds its per-stage ms to a dict: the real per-frame code."""
    if CONFIGS[name] is None:
        return lambda frame, ms: seed_reference(frame)
    from .pipeline import Stages
    settings = config_settings(name, size, workdir)
    from .segment import engine_rule
    if engine_rule(settings.engine, "needs_plate", False):
        learn_bench_plate(settings, size, source)
    stages = Stages(settings)
    run = lambda frame, ms: stages(frame, ms)  # noqa: E731
    run.runtime = getattr(stages.segmenter, "runtime", None)  # the inference runtime, for the row
    return run


# -- measuring ---------------------------------------------------------------------------
class Samples:
    """Per-frame figures of one configuration, in arrays allocated up front (so that a long run's
    RSS growth is the pipeline's, not the bench's own bookkeeping)."""

    def __init__(self, frames: int):
        self.wall, self.cpu = np.zeros(frames), np.zeros(frames)
        self.stages: dict[str, np.ndarray] = {}
        self.frames = frames

    def add(self, j: int, wall_ms: float, cpu_ms: float, stage_ms: dict[str, float]) -> None:
        self.wall[j], self.cpu[j] = wall_ms, cpu_ms
        for stage, v in stage_ms.items():
            if stage not in self.stages:
                self.stages[stage] = np.zeros(self.frames)
            self.stages[stage][j] = v

    @property
    def wall_ms(self) -> float:
        return float(np.median(self.wall))

    @property
    def cpu_ms(self) -> float:
        return float(np.median(self.cpu))

    def stage_ms(self) -> dict[str, float]:
        return {stage: _r(np.median(v)) for stage, v in self.stages.items()}


def measure(size: tuple[int, int], names: list[str], frames: int, warmup: int, source: str | None,
            workdir: str) -> list[dict]:
    """One row per configuration: medians over `frames` frames after `warmup`, run interleaved."""
    runners, errors = {}, {}
    for name in names:
        try:
            runners[name] = make_runner(name, size, workdir, source)
        except (StageError, SettingsError) as e:
            errors[name] = str(e)
        except ImportError as e:
            errors[name] = f"not available in this build: {e}"
    get_frame = Frames(size, source)
    samples = {n: Samples(frames) for n in runners}
    identical = {n: True for n in runners}
    order = list(runners)
    rss_start = rss_half = rss_mb()
    for i in range(warmup + frames):
        frame = get_frame(i)
        outputs = {}
        k = i % len(order)  # rotate the order so no configuration always runs first
        for name in order[k:] + order[:k]:
            ms: dict[str, float] = {}
            w0, c0 = time.perf_counter(), time.process_time()
            outputs[name] = runners[name](frame, ms)
            w1, c1 = time.perf_counter(), time.process_time()
            if i >= warmup:
                samples[name].add(i - warmup, (w1 - w0) * 1000, (c1 - c0) * 1000, ms)
        if "seed" in outputs:
            for name, out in outputs.items():
                identical[name] = identical[name] and np.array_equal(out, outputs["seed"])
        if i + 1 == warmup:
            rss_start = rss_mb()
        if i + 1 == warmup + frames // 2:
            rss_half = rss_mb()
    rss_end = rss_mb()
    resolution = f"{size[0]}x{size[1]}"
    seed_wall, seed_cpu = (samples["seed"].wall_ms, samples["seed"].cpu_ms) if "seed" in samples else (None, None)
    rows = []
    for name in names:
        row = {"resolution": resolution, "config": name}
        if name in errors:
            rows.append({**row, "error": errors[name], **dict.fromkeys(
                ("wall_ms", "cpu_ms", "seed_wall_ms", "seed_cpu_ms", "speedup_wall", "speedup_cpu")),
                "peak_rss_mb": round(peak_rss_mb(), 1)})
            continue
        w_ms, c_ms = samples[name].wall_ms, samples[name].cpu_ms
        row.update(wall_ms=_r(w_ms), cpu_ms=_r(c_ms), seed_wall_ms=_r(seed_wall), seed_cpu_ms=_r(seed_cpu),
                   speedup_wall=_r(seed_wall / w_ms if seed_wall else None),
                   speedup_cpu=_r(seed_cpu / c_ms if seed_cpu else None),
                   stage_ms=samples[name].stage_ms(),
                   frames=frames, warmup=warmup, peak_rss_mb=round(peak_rss_mb(), 1),
                   rss_growth_mb=round(rss_end - rss_start, 1),
                   rss_growth_second_half_mb=round(rss_end - rss_half, 1))
        if name != "seed" and "seed" in runners:
            row["identical_to_seed"] = identical[name]
        if getattr(runners[name], "runtime", None):
            row["runtime"] = runners[name].runtime
        rows.append(row)
    return rows


def measure_latency(name: str, size: tuple[int, int], frames: int, workdir: str) -> dict:
    """Capture-to-output ms of the live pipeline: the threaded camera grabber fed at 30 fps."""
    from .pipeline import Pipeline
    from .sinks import open_sinks
    settings = config_settings(name, size, workdir)

    def open_source(s):
        return Camera(0, s.width, s.height, s.fps, False, capture_factory=lambda _: SyntheticCamera(size, s.fps))

    pipeline = Pipeline(settings, open_source, open_sinks)
    latencies, cpu_marks = [], []
    add = pipeline.stats.add

    def record(stage_ms, latency_s):  # every frame's capture-to-output latency, as the pipeline sees it
        latencies.append(latency_s * 1000)
        cpu_marks.append(time.process_time())
        add(stage_ms, latency_s)

    pipeline.stats.add = record
    warmup = 10
    t0 = time.monotonic()
    pipeline.run(warmup + frames)
    elapsed = time.monotonic() - t0
    lat = latencies[warmup:]
    cpu = (cpu_marks[-1] - cpu_marks[warmup - 1]) * 1000 / max(len(lat), 1)
    return {"latency_ms": _r(median(lat)), "latency_p95_ms": _r(float(np.percentile(lat, 95))),
            "live_fps": _r(len(latencies) / elapsed), "live_cpu_ms": _r(cpu),
            "live_dropped": pipeline.source.dropped}


def _r(x):
    """Milliseconds to the microsecond: small figures keep their ratios to 1%."""
    return None if x is None else round(float(x), 3)


def check_targets(row: dict) -> None:
    target = TARGETS.get((row["resolution"], row["config"]))
    if target and row.get("wall_ms") is not None:
        row["target"], row["target_met"] = target[0], bool(target[1](row))


# -- output ------------------------------------------------------------------------------
def print_row(row: dict, header: bool) -> None:
    if header:
        print(f"\n{row['resolution']:<18}{'wall ms':>8}{'CPU ms':>8}{'x wall':>8}{'x CPU':>7}{'lat ms':>8}"
              f"{'RSS MB':>8}  stages ms")
    if row.get("error"):
        print(f"  {row['config']:<16}  {row['error']}")
        return
    stages = " ".join(f"{k} {v:.1f}" for k, v in row["stage_ms"].items())
    lat = f"{row['latency_ms']:>8.1f}" if row.get("latency_ms") is not None else f"{'-':>8}"
    mark = ""
    if "target_met" in row:
        mark = f"  [{'met' if row['target_met'] else 'MISSED'}: {row['target']}]"
    if row.get("identical_to_seed") is False and row["config"] == "hsv-exact":
        mark += "  [NOT byte-identical to the seed]"
    if row.get("runtime"):
        mark += f"  [{row['runtime']}]"
    print(f"  {row['config']:<16}{row['wall_ms']:>8.1f}{row['cpu_ms']:>8.1f}{row['speedup_wall']:>8.2f}"
          f"{row['speedup_cpu']:>7.2f}{lat}{row['peak_rss_mb']:>8.0f}  {stages}{mark}")


def print_summary(rows: list[dict]) -> None:
    ok = [r for r in rows if not r.get("error")]
    lat = [r for r in ok if r.get("latency_ms") is not None]
    if lat:
        worst = max(lat, key=lambda r: r["latency_ms"])
        print(f"\nlatency: worst median {worst['latency_ms']:.1f} ms ({worst['config']} {worst['resolution']}); "
              f"target <= {LATENCY_TARGET_MS:.0f} ms (1.5 frames at {LIVE_FPS} fps)")
    if ok:
        print(f"memory: peak RSS {max(r['peak_rss_mb'] for r in ok):.0f} MB (all configurations in one process), "
              f"growth {max(r['rss_growth_mb'] for r in ok):+.1f} MB after warm-up, "
              f"{max(r['rss_growth_second_half_mb'] for r in ok):+.1f} MB over the second half; "
              f"target <= {RSS_TARGET_MB} MB, no growth")


def bench(configs: Sequence[str] = (), sizes: Sequence[tuple[int, int]] = (), frames: int = 60, warmup: int = 5,
          latency_frames: int = 45, source: str | None = None, as_json: bool = False) -> int:
    """`bgblur bench`: every configuration at every size (default: the input's own size, or
    DEFAULT_RESOLUTIONS), with the seed always in the same run; 1 if a configuration failed."""
    names = list(dict.fromkeys(["seed", *(configs or CONFIGS)]))  # ratios need the seed in the same run
    if frames < 1 or warmup < 0 or latency_frames < 0:
        raise SettingsError("--frames must be >= 1, --warmup and --latency-frames >= 0")
    if not sizes:  # the input's own size (opening it now also checks it), or the defaults
        sizes = [Frames(None, source).size] if source else [parse_resolution(r) for r in DEFAULT_RESOLUTIONS]
    from .chain import apply_threads
    apply_threads(validate().threads)  # as every configuration will, so the seed runs alike from frame one
    if not as_json:
        print(f"bgblur bench: {frames} frames after {warmup} warm-up, medians; "
              f"x = speedup over the seed in the same interleaved run; {os.cpu_count()} CPUs, "
              f"{cv2.getNumThreads()} OpenCV threads; {opencv_engine()}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bgblur-bench-") as workdir:
        for size in sizes:
            for i, row in enumerate(measure(size, names, frames, warmup, source, workdir)):
                if latency_frames and row["config"] != "seed" and not row.get("error"):
                    try:
                        row.update(measure_latency(row["config"], size, latency_frames, workdir))
                    except (StageError, SettingsError, ImportError) as e:
                        row["latency_error"] = str(e)
                row["peak_rss_mb"] = round(peak_rss_mb(), 1)
                check_targets(row)
                rows.append(row)
                if as_json:
                    print(json.dumps(row), flush=True)
                else:
                    print_row(row, header=i == 0)
                    sys.stdout.flush()
    if not as_json:
        print_summary(rows)
    return 1 if any(r.get("error") for r in rows) else 0

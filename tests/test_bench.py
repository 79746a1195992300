"""`bgblur bench`: a tiny real run, checked for its keys, configurations and correctness (never timings)."""
import json
import subprocess
import sys

import pytest

BGBLUR = [sys.executable, "-m", "bgblur_core"]
REQUIRED_KEYS = {"resolution", "config", "wall_ms", "cpu_ms", "seed_wall_ms", "seed_cpu_ms",
                 "speedup_wall", "speedup_cpu", "peak_rss_mb"}
REQUIRED_CONFIGS = ["seed", "hsv-exact", "hsv-fast", "plate", "selfie", "selfie-landscape", "rvm"]


def bench(*args, timeout=300):
    return subprocess.run([*BGBLUR, "bench", *args], capture_output=True, text=True, timeout=timeout)


def measured(rows):
    """Rows of configurations that ran (a missing one fails the first test, not every test)."""
    return [row for row in rows if "error" not in row]


@pytest.fixture(scope="module")
def rows():
    r = bench("--frames", "3", "--resolution", "320x240", "--json", "--latency-frames", "5")
    assert "Traceback" not in r.stderr, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == (1 if any("error" in row for row in rows) else 0)  # 1: a configuration could not run
    return rows


def test_every_configuration_is_measured_with_the_required_keys(rows):
    assert [row["config"] for row in rows] == REQUIRED_CONFIGS
    for row in rows:
        assert REQUIRED_KEYS <= set(row), row["config"]
        assert row["resolution"] == "320x240"
        assert "error" not in row, f"{row['config']}: {row.get('error')}"
        for key in REQUIRED_KEYS - {"resolution", "config"}:
            assert isinstance(row[key], (int, float)) and row[key] > 0, (row["config"], key)
        assert row["frames"] == 3 and set(row["stage_ms"]) <= {"segment", "refine", "compose"}


def test_ratios_are_against_the_seed_of_the_same_run(rows):
    seed = rows[0]
    assert seed["speedup_wall"] == seed["speedup_cpu"] == 1.0
    for row in measured(rows):
        assert row["seed_wall_ms"] == seed["wall_ms"] and row["seed_cpu_ms"] == seed["cpu_ms"]
        assert row["speedup_wall"] == pytest.approx(seed["wall_ms"] / row["wall_ms"], rel=0.02, abs=0.01)


def test_hsv_exact_is_byte_identical_to_the_seed_and_the_others_are_not(rows):
    by_name = {row["config"]: row for row in rows}
    assert by_name["hsv-exact"]["identical_to_seed"] is True
    assert by_name["hsv-fast"]["identical_to_seed"] is False


def test_each_neural_configuration_names_the_runtime_that_ran_it(rows):
    from bgblur_core.segment import runtime
    by_name = {row["config"]: row for row in rows}
    assert by_name["selfie"]["runtime"] == by_name["selfie-landscape"]["runtime"] == runtime.runtime_name("auto", "m.tflite")
    assert by_name["rvm"]["runtime"] == runtime.runtime_name("auto", "m.onnx")
    assert "runtime" not in by_name["hsv-fast"] and "runtime" not in by_name["seed"]


def test_live_latency_is_measured_for_each_engine_configuration(rows):
    for row in measured(rows[1:]):
        assert row["latency_ms"] > 0 and row["latency_p95_ms"] >= row["latency_ms"], row["config"]
        assert row["live_fps"] > 0


def test_table_output_and_config_choice():
    r = bench("--frames", "2", "--warmup", "1", "--resolution", "160x120", "--config", "hsv-fast", "--latency-frames", "0")
    assert r.returncode == 0, r.stderr
    assert "160x120" in r.stdout and "seed" in r.stdout and "hsv-fast" in r.stdout
    assert "selfie" not in r.stdout


def test_input_video_is_used_at_its_own_size(tmp_path):
    import cv2
    from bgblur_core.sources import synthetic_frame
    for n in range(3):
        cv2.imwrite(str(tmp_path / f"{n:03d}.png"), synthetic_frame(n, 200, 100))
    r = bench("--input", str(tmp_path), "--frames", "4", "--warmup", "1", "--config", "hsv-exact",
              "--latency-frames", "0", "--json")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["resolution"] for row in rows] == ["200x100", "200x100"]
    assert rows[1]["identical_to_seed"] is True


@pytest.mark.parametrize("args, message", [
    (["--resolution", "big"], "--resolution: 'big' is not WIDTHxHEIGHT"),
    (["--frames", "0"], "argument --frames: '0' is not allowed; expected an integer >= 1"),
    (["--warmup", "-1"], "argument --warmup: '-1' is not allowed; expected an integer >= 0"),
    (["--input", "/nonexistent/clip.mp4"], "input: cannot read '/nonexistent/clip.mp4': no such file"),
])
def test_bad_arguments_give_one_line_errors(args, message):
    r = bench(*args)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1

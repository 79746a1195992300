"""The command layer: nothing below it imports it; its one-line errors; settings files; stdout hang-ups."""
from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from bgblur_core import commands
from bgblur_core.commands import COMMAND_MODULES, build_parser
from conftest import ROOT

PACKAGE = ROOT / "bgblur_core"
BGBLUR = [sys.executable, "-m", "bgblur_core"]


def bgblur(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*BGBLUR, *map(str, args)], capture_output=True, text=True, timeout=120, **kw)


def imported_modules(path) -> set[str]:
    """Every module a file imports (relative imports resolved), and every string given to import_module()."""
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]  # a module's package; __init__'s own
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            found.add(str(node.args[0].value))
    return found


def below_the_command_layer():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "commands" not in path.relative_to(PACKAGE).parts and path.name != "__main__.py":
            yield path


def test_the_import_walk_sees_relative_and_absolute_imports():
    found = imported_modules(PACKAGE / "commands" / "run.py")
    assert "bgblur_core.commands.options" in found and "bgblur_core.runner" in found
    assert "bgblur_core.settings" in imported_modules(PACKAGE / "sources" / "images.py")


@pytest.mark.parametrize("path", list(below_the_command_layer()), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_nothing_below_the_command_layer_imports_it(path):
    bad = [m for m in imported_modules(path) if m.split(".")[:2] in (["bgblur_core", "commands"], ["bgblur_core", "cli"])]
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_every_command_module_registers_a_subcommand():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    registered = set(sub.choices)
    assert {name.replace("_", "-") for name in COMMAND_MODULES} <= registered
    assert len(registered) == len(COMMAND_MODULES)
    for name in registered:
        assert callable(sub.choices[name].get_default("func")) or name == "models", name


@pytest.mark.parametrize("argv", [["run", "--frames", "-5"], ["run", "--frames", "0"], ["demo", "--frames", "x"],
                                  ["bench", "--frames", "0"], ["bench", "--warmup", "-1"], ["learn", "--seconds", "0"],
                                  ["eval", "--video-frames", "-2"], ["nonsense"], []])
def test_bad_arguments_are_one_line_with_exit_2(argv):
    r = bgblur(*argv)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("bgblur") and ": error: " in r.stderr and "Traceback" not in r.stderr


def test_frames_minus_five_names_the_flag_and_what_is_allowed():
    r = bgblur("run", "--input", "synthetic", "--output", "null", "--engine", "hsv", "--frames", "-5")
    assert r.stderr.strip() == ("bgblur run: error: argument --frames: '-5' is not allowed; expected an integer >= 1; "
                                "see bgblur run --help")


def test_demo_into_an_impossible_folder_is_one_line(tmp_path):
    r = bgblur("demo", "--out-dir", "/dev/null/x", "--engine", "hsv", "--frames", "2", "--no-preview", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1] == "bgblur: error: --out-dir: cannot create the folder /dev/null/x: Not a directory"


@pytest.mark.parametrize("content, words", [
    (b"[1, 2, 3]", "expected a JSON object"),
    (b'"hsv"', "got a string"),
    (b"null", "got null"),
    (b'{"engine": "h\xe9v"}', "not UTF-8"),
    (b"{nope", "not valid JSON"),
    (b'{"engine": "magic"}', "engine: 'magic' is not allowed"),
])
def test_a_bad_settings_file_is_one_line_with_exit_2(tmp_path, content, words):
    path = tmp_path / "s.json"
    path.write_bytes(content)
    r = bgblur("run", "--settings", path, "--frames", "1", "--output", "null")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("bgblur: error: ") and words in r.stderr


def test_a_missing_settings_file_names_it(tmp_path):
    r = bgblur("run", "--settings", tmp_path / "none.json", "--frames", "1")
    assert r.returncode == 2 and r.stderr.strip() == (
        f"bgblur: error: settings file {tmp_path / 'none.json'}: cannot read it: No such file or directory")


def test_a_settings_file_is_overridden_by_flags(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"engine": "hsv", "hsv_s_min": 90, "feather": 9}', encoding="utf-8")
    s = commands.settings_from_args(build_parser().parse_args(["run", "--settings", str(path), "--feather", "3"]))
    assert (s.engine, s.hsv_s_min, s.feather) == ("hsv", 90, 3)


def test_a_reader_that_hangs_up_on_stdout_is_not_an_error():
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `bgblur settings | head -1` once head has exited
    try:
        r = subprocess.run([*BGBLUR, "settings"], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert r.returncode == 0 and r.stderr == ""


@pytest.mark.parametrize("argv", [["demo", "--no-preview", "--frames", "1"], ["run", "--frames", "1"], ["doctor"]])
def test_a_dependency_that_fails_to_load_is_one_line_not_a_traceback(tmp_path, argv):
    """E.g. OpenCV on a machine without libGL: every command says so in one line."""
    (tmp_path / "cv2.py").write_text('raise ImportError("libGL.so.1: cannot open shared object file")\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    proc = subprocess.run(BGBLUR + argv, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "bgblur: error: a dependency failed to load (ImportError: libGL.so.1: cannot open shared object file); "
        "run scripts/setup.sh again, then `bgblur doctor`"]

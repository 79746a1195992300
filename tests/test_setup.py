"""The set-up installs what the tests need: every external program they run, and the locked Python packages."""
import re
import tomllib
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import ROOT, require_tool

# Every external program the tests run -> the Debian package `scripts/setup.sh --test` installs it from.
# xauth: xvfb-run needs it.
TOOLS = {"obs": "obs-studio", "Xvfb": "xvfb", "xvfb-run": "xvfb", "xauth": "xauth", "ffmpeg": "ffmpeg",
         "ffprobe": "ffmpeg", "xdotool": "xdotool", "tesseract": "tesseract-ocr", "mount": "mount", "umount": "mount",
         "readlink": "coreutils"}
# a program named in a subprocess call's argument list, or looked up with shutil.which
CALL = re.compile(r'(?:subprocess\.(?:run|Popen|call|check_call|check_output)\(\s*\[\s*|shutil\.which\(\s*)"([^"/\s]+)"')


def programs_the_tests_run() -> set[str]:
    return {name for path in (ROOT / "tests").glob("*.py") for name in CALL.findall(path.read_text(encoding="utf-8"))}


def test_every_program_the_tests_run_is_listed_here():
    found = programs_the_tests_run()
    assert {"ffmpeg", "xdotool", "obs"} <= found  # the scan sees them
    assert found - TOOLS.keys() == set(), "add the program and its Debian package to TOOLS and to scripts/setup.sh"


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_the_program_is_installed(tool):
    require_tool(tool)


def test_the_test_set_up_installs_their_packages():
    script = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    [line] = [line for line in script.splitlines() if '"--test"' in line and "apt_install" in line]
    installed = set(re.search(r"apt_install ([^;]+)", line).group(1).split())
    assert set(TOOLS.values()) - installed == set()


# -- the lock ------------------------------------------------------------------------------
def project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = [r for reqs in project.get("optional-dependencies", {}).values() for r in reqs]
    return [Requirement(r) for r in project["dependencies"] + extras]


def lock_pins() -> dict[str, list[Requirement]]:
    """requirements.lock as name -> its pinned lines (one per platform or Python fork)."""
    pins: dict[str, list[Requirement]] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            pins.setdefault(canonicalize_name(req.name), []).append(req)
    return pins


def pinned(req: Requirement) -> str:
    [spec] = req.specifier
    assert spec.operator == "==", f"{req}: not an exact version"
    return spec.version


def test_every_range_is_capped_below_the_first_untested_version():
    for req in project_requirements():
        assert any(s.operator in ("<", "==", "~=") for s in req.specifier), f"{req}: no upper bound"
        assert any(s.operator in (">=", "==", "~=") for s in req.specifier), f"{req}: no lower bound"


def test_the_lock_pins_every_requirement_inside_its_range():
    pins = lock_pins()
    for req in project_requirements():
        lines = pins.get(canonicalize_name(req.name))
        assert lines, f"{req.name} is not in requirements.lock: run scripts/lock.sh"
        for line in lines:
            assert req.specifier.contains(pinned(line), prereleases=True), \
                f"requirements.lock pins {line}, outside pyproject's {req}: run scripts/lock.sh"


def test_the_venv_has_exactly_the_locked_versions():
    """What scripts/setup.sh installed is what the lock says, transitive packages included."""
    for name, lines in lock_pins().items():
        for line in lines:
            if line.marker is None or line.marker.evaluate():
                assert metadata.version(name) == pinned(line), f"{name}: rerun scripts/setup.sh"


def test_the_lock_says_how_to_refresh_it():
    assert "#    scripts/lock.sh" in (ROOT / "requirements.lock").read_text(encoding="utf-8")
    assert (ROOT / "scripts" / "lock.sh").stat().st_mode & 0o111

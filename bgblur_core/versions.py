"""The dependency ranges this package is tested with, and the versions installed.

The one source of the ranges is pyproject.toml; they reach us as the installed distribution's own
Requires-Dist metadata, so there is no second copy to drift. A package outside its range at run
time gets one warning line; `bgblur doctor` shows them all.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import metadata

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from .log import log

DIST = "obs-bgblur"
FIX = "run scripts/setup.sh, which installs the tested versions from requirements.lock"


@dataclass(frozen=True)
class Package:
    name: str
    specifier: SpecifierSet
    found: str | None  # the installed version, None when not installed

    @property
    def tested(self) -> str:
        """The range as written in pyproject.toml: lower bound first."""
        return ",".join(sorted(map(str, self.specifier), key=lambda s: not s.startswith(">")))

    @property
    def in_range(self) -> bool:
        return self.found is not None and self.specifier.contains(self.found, prereleases=True)


def requires_python() -> str | None:
    """pyproject's requires-python, None when this package is not installed (run from a bare checkout)."""
    try:
        return metadata.metadata(DIST)["Requires-Python"]
    except metadata.PackageNotFoundError:
        return None


def packages() -> list[Package]:
    """The run-time dependencies that apply on this platform (not the test extra), with what is installed."""
    try:
        lines = metadata.requires(DIST) or []
    except metadata.PackageNotFoundError:
        return []
    found = []
    for req in map(Requirement, lines):
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            version = None
        found.append(Package(req.name, req.specifier, version))
    return found


def python_ok() -> bool:
    spec = requires_python()
    return spec is None or SpecifierSet(spec).contains(".".join(map(str, sys.version_info[:3])), prereleases=True)


def untested_line(p: Package) -> str:
    return f"{p.name} {p.found} is outside the tested range {p.tested}"


def warn_untested() -> None:
    """One warning line per installed dependency whose version is outside its tested range."""
    for p in packages():
        if p.found is not None and not p.in_range:
            log(f"warning: {untested_line(p)}; {FIX}")

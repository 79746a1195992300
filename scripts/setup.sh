#!/usr/bin/env bash
# Set up obs-bgblur on a fresh machine: system libraries, .venv, the package, the models.
# Usage: scripts/setup.sh [--test]   (--test also installs OBS Studio, Xvfb and ffmpeg for the test suite)
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_install() {
  command -v apt-get >/dev/null || { echo "setup: no apt-get here; install these yourself: $*" >&2; return 0; }
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]} with apt-get" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# opencv-python (the build with a preview window) needs the system's libGL and glib.
if [ "$(uname -s)" = Linux ]; then
  apt_install libgl1 libglib2.0-0
  [ "${1:-}" = "--test" ] && apt_install obs-studio xvfb xauth ffmpeg
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv 2>/dev/null || { apt_install python3-venv; "$PY" -m venv .venv; }
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e ".[test]"
# The neural engines' models (about 35 MB, once, into the user cache); without them the core uses hsv.
.venv/bin/bgblur models fetch || echo "setup: models not fetched; the core will fall back to the hsv engine" >&2

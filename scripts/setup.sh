#!/usr/bin/env bash
# Set up obs-bgblur on a fresh machine: system libraries, .venv, the package, the models.
# Usage: scripts/setup.sh [--test]   (--test also installs the programs the test suite runs: OBS Studio, Xvfb,
# ffmpeg, xdotool, tesseract). Python packages: the exact versions in requirements.lock (see scripts/lock.sh).
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
  if [ "${1:-}" = "--test" ]; then apt_install obs-studio xvfb xauth ffmpeg xdotool tesseract-ocr mount coreutils; fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || {
    echo "setup: needs Python 3.11 or newer as python3 (found: $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
    exit 1; }
  "$PY" -m venv .venv 2>/dev/null || { apt_install python3-venv; "$PY" -m venv .venv; }
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -r requirements.lock
PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q --no-deps -e .  # quiet: setuptools' notice on editable installs
# The neural engines' models (about 35 MB, once, into the user cache); without them the core uses hsv.
.venv/bin/bgblur models fetch || echo "setup: models not fetched; the core will fall back to the hsv engine" >&2

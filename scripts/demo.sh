#!/usr/bin/env bash
# Set up, then run the main job: the webcam, or the built-in scene without one, blurred.
# Writes out/demo.mp4 and out/demo.png (before | after) and opens a preview window when there is a display.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/bgblur demo "$@"

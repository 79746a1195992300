#!/usr/bin/env bash
# Set up, including every program the tests run (OBS Studio, Xvfb, ffmpeg, xdotool, tesseract: see
# scripts/setup.sh --test; a missing one fails the suite, naming it), then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
exec .venv/bin/python -m pytest -q -rfE "$@"

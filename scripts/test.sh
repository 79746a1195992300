#!/usr/bin/env bash
# Set up (including OBS Studio and Xvfb for the end-to-end tests), then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
exec .venv/bin/python -m pytest -q -rfE "$@"

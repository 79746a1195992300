#!/usr/bin/env bash
# Refresh requirements.lock from pyproject.toml's ranges (every extra included: test, ...), for every platform
# and Python version the project supports. Pins that still fit are kept; pass --upgrade for the newest.
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/uv.sh pip compile pyproject.toml --all-extras --universal --quiet \
  --constraint scripts/lock-constraints.txt --custom-compile-command "scripts/lock.sh" \
  --output-file requirements.lock "$@"

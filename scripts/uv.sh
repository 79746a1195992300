#!/usr/bin/env bash
# Run the project's pinned uv (for the lock file and CI's extra environments), installed on first use
# into .tools/ beside .venv, never into .venv itself. Usage: scripts/uv.sh ARGS...
set -euo pipefail
UV_VERSION=0.13.9
tool="$(cd "$(dirname "$0")/.." && pwd)/.tools/uv-$UV_VERSION"
if [ ! -x "$tool/bin/uv" ]; then
  "${PYTHON:-python3}" -m venv "$tool"
  "$tool/bin/python" -m pip install -q "uv==$UV_VERSION"
fi
exec "$tool/bin/uv" "$@"

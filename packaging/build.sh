#!/usr/bin/env bash
# Build the one-folder bundle dist/HospOps/ (the `hospops` executable: no arguments opens the app).
# Usage: bash packaging/build.sh        (from the repository root; uses .venv, created by .ci/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/hospops.spec
ln -sf hospops dist/HospOps/HospOps 2>/dev/null || true   # a double-clickable name on Linux
end=$(date +%s)
size=$(du -sm dist/HospOps | cut -f1)
echo "Built dist/HospOps in $((end - start)) s: ${size} MB on disk."

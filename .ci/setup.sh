#!/usr/bin/env bash
# Idempotent setup for a fresh Debian/Ubuntu machine or an existing checkout:
#  1. the system libraries Qt needs to run offscreen (and under Xvfb for screenshots),
#  2. a virtual environment in .venv with HospOps and its dependencies (pyproject.toml).
# Re-running is cheap: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES="libgl1 libegl1 libxkbcommon0 libfontconfig1 libglib2.0-0 libdbus-1-3 fontconfig-config fonts-dejavu-core \
xvfb xauth libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 \
libxcb-shape0 libxcb-xkb1"

if command -v dpkg >/dev/null 2>&1; then
    missing=""
    for p in $DEB_PACKAGES; do
        dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        echo "setup: installing system packages for Qt:$missing"
        SUDO=""
        [ "$(id -u)" -ne 0 ] && SUDO="sudo"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.hospops-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing HospOps and its dependencies into .venv (about a minute)"
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]" 2>&1 | grep -v '^WARNING: Location' || true
    .venv/bin/python -c "import duckdb, PySide6, prophet, statsmodels, ortools, pyqtgraph, desktop.cli" \
        || { echo "setup: installation failed" >&2; exit 1; }
    touch "$stamp"
fi

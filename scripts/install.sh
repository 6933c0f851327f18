#!/usr/bin/env bash
# Create .venv (Python 3.11) and install the project with its pinned dependencies. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# Debian's chromium for the page test of `crnn serve` (Playwright's own browser download is not used).
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get install -y -q chromium >/dev/null || { $SUDO apt-get update -q && $SUDO apt-get install -y -q chromium >/dev/null; }
fi
# Reinstall only when pyproject.toml changed since the last install.
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --no-cache-dir --upgrade pip
  .venv/bin/python -m pip install --quiet --no-cache-dir -e '.[fast,train,pipeline,dev]'
  rm -f .venv/.installed-* && touch "$stamp"
fi

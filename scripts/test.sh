#!/usr/bin/env bash
# Install (if needed), lint, type-check and run the whole test suite, slow end-to-end tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/ruff check crnn steps pipelines tests benchmarks
.venv/bin/ruff format --check crnn steps pipelines tests benchmarks
.venv/bin/mypy
export CLEARML_OFFLINE_MODE=1
# Unbuffered, so a CI log shows exactly where a run stopped; the slowest tests are listed at the end.
export PYTHONUNBUFFERED=1
exec .venv/bin/python -m pytest -q --durations=15 "$@"

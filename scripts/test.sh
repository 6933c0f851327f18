#!/usr/bin/env bash
# Install (if needed) and run the whole test suite, slow end-to-end tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export CLEARML_OFFLINE_MODE=1
exec .venv/bin/python -m pytest -q "$@"

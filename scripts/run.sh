#!/usr/bin/env bash
# Install (if needed) and run the whole pipeline: the recogniser (dataset -> preprocess -> train -> evaluate ->
# export), the detector (detector_train -> detector_export) and photo_evaluate on the two models.
# With no ClearML server configured it runs here, offline; extra arguments go to pipelines/run.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python pipelines/run.py "$@"

"""The models shipped inside the package: a recogniser and a detector exported by a main job (`bash scripts/run.sh`),
with their model card (MODEL_CARD.md) and record (models.json: where they came from, their hashes and figures).

`python scripts/bundle_models.py` refreshes them from a main job's output. Reading with no `--model` (CLI, API,
`crnn serve`) uses them.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECOGNISER = HERE / "recogniser.onnx"
DETECTOR = HERE / "detector.onnx"
RECORD = HERE / "models.json"
CARD = HERE / "MODEL_CARD.md"


def bundled(kind: str) -> Path:
    """The shipped `recogniser` or `detector` ONNX file; ValueError (naming the fix) when this install lacks it."""
    path = {"recogniser": RECOGNISER, "detector": DETECTOR}[kind]
    if not path.is_file():
        raise ValueError(
            f"this install has no bundled {kind} ({path} is missing): give one with --model / --detector, or "
            "bundle a main job's models with `python scripts/bundle_models.py`"
        )
    return path


def record() -> dict:
    """What models.json says of the bundled models (empty when there is none)."""
    return json.loads(RECORD.read_text()) if RECORD.is_file() else {}

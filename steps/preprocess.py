"""Step `preprocess`: seeded split, crops cut from the boxes (margin, vertical ones turned upright), stored as
a child dataset of the raw one.

    python steps/preprocess.py --raw-dataset-id ID [--config configs/preprocess.yaml] [seed=1 ...]
"""

from __future__ import annotations

import csv
import itertools
import shutil
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script (by an agent): import this checkout's crnn
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crnn.config.steps import PreprocessConfig
from crnn.core.images import load_image
from crnn.datasets.crops import SPLITS, make_crops
from crnn.evaluation.visualize import grid
from crnn.tracking.steps import step_main
from crnn.tracking.tracker import Tracker

STEP = "preprocess"
INPUTS = ["raw_dataset_id"]


def run(cfg: PreprocessConfig, tracker: Tracker, work_dir: Path, raw_dataset_id: str) -> dict:
    raw = tracker.dataset(raw_dataset_id)
    out = work_dir / "crops"
    shutil.rmtree(out, ignore_errors=True)
    summary = make_crops(raw, out, cfg)
    tracker.scalars({f"{k}_size": v for k, v in summary.sizes.items()} | {"rotated": summary.rotated}, title="split")
    tracker.artifact("split_summary", summary.to_dict())
    if summary.sizes["train"] and cfg.sample_grid > 0:
        with summary.tsv("train").open(newline="", encoding="utf-8") as f:
            shown = list(itertools.islice(csv.DictReader(f, delimiter="\t"), cfg.sample_grid))
        images = [load_image(summary.tsv("train").parent / r["filename"]) for r in shown]
        tracker.image("samples", "train crops", grid(images, [r["text"] for r in shown]))
    ds_id = tracker.create_dataset(out, cfg.name, cfg.project, parents=[raw_dataset_id])
    shutil.rmtree(out, ignore_errors=True)
    return {"dataset_id": ds_id, **{f"{k}_size": summary.sizes[k] for k in SPLITS}}


def main(argv: list[str] | None = None) -> int:
    return step_main(STEP, PreprocessConfig, "configs/preprocess.yaml", INPUTS, run, "data_processing", argv)


if __name__ == "__main__":
    sys.exit(main())

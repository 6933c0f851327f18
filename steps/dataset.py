"""Step `dataset`: import a source (synthetic | tsv | coco | crops) into a raw dataset version.

    python steps/dataset.py [--config configs/dataset.yaml] [source=tsv path=old/annotations.tsv ...]
Outputs: dataset_id (a ClearML Dataset, or the local store offline), import counts.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script (by an agent): import this checkout's crnn
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crnn.config.steps import DatasetConfig
from crnn.datasets.importers import ImportRejected, import_dataset
from crnn.tracking.steps import step_main
from crnn.tracking.tracker import Tracker

STEP = "dataset"
INPUTS: list[str] = []


def run(cfg: DatasetConfig, tracker: Tracker, work_dir: Path) -> dict:
    raw = work_dir / "raw"
    shutil.rmtree(raw, ignore_errors=True)
    try:
        report = import_dataset(cfg, raw)
    except ImportRejected as e:
        tracker.artifact("import_report", e.report.to_dict())
        raise
    tracker.artifact("import_report", report.to_dict())
    tracker.scalars(
        {
            "rows": report.rows,
            "imported": report.imported,
            "skipped": report.skipped,
            **{f"skipped_{k}": v for k, v in report.counts.items()},
        },
        title="import",
    )
    if report.issues:
        tracker.text("skipped rows:\n" + "\n".join(str(i) for i in report.issues))
    ds_id = tracker.create_dataset(raw, cfg.name, cfg.project)
    shutil.rmtree(raw, ignore_errors=True)  # the store (or the server) holds it now
    return {"dataset_id": ds_id, "imported": report.imported, "skipped": report.skipped}


def main(argv: list[str] | None = None) -> int:
    return step_main(STEP, DatasetConfig, "configs/dataset.yaml", INPUTS, run, "data_processing", argv)


if __name__ == "__main__":
    sys.exit(main())

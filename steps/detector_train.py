"""Step `detector_train`: the barcode detector on synthetic scenes plus the raw dataset's boxes, if it has any.

    python steps/detector_train.py --raw-dataset-id ID [--resume-model-id ID] [--config configs/detector.yaml]
        [trainer.max_epochs=3 ...]
Scalars: loss, learning rate, val recall / precision / F1; images: validation overlays (true quads green,
predicted red) every epoch; artifacts: each epoch's predictions. Outputs: model_id (best checkpoint by val F1),
last_model_id (resumable), val_f1 (the best checkpoint's).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script (by an agent): import this checkout's crnn
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightning.pytorch.loggers import CSVLogger

from crnn.config.detector import DetectorConfig
from crnn.datasets.importers import read_raw
from crnn.detector.system import MONITOR
from crnn.detector.train import fit_detector
from crnn.tracking.lightning import lightning_reporting
from crnn.tracking.steps import step_main
from crnn.tracking.tracker import Tracker

STEP = "detector_train"
INPUTS = ["raw_dataset_id", "resume_model_id"]

log = logging.getLogger(STEP)


def run(cfg: DetectorConfig, tracker: Tracker, work_dir: Path, raw_dataset_id: str, resume_model_id: str = "") -> dict:
    raw = tracker.dataset(raw_dataset_id)
    boxes = sum(r.box is not None for r in read_raw(raw))
    if boxes:
        log.info("raw dataset %s: %d boxes join the synthetic scenes", raw_dataset_id, boxes)
        train_dirs = [*cfg.data.train_dirs, str(raw)]
    else:
        # Crops (the `crops` source, synthetic `images: crops`) say nothing about where a barcode lies.
        log.info("raw dataset %s has no boxes (crops): training on synthetic scenes only", raw_dataset_id)
        train_dirs = list(cfg.data.train_dirs)
    cfg = dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, train_dirs=train_dirs),
        out_dir=str(work_dir),
        overwrite=True,  # the step's own folder: a step run again (not reused) redoes its work there
        resume=str(tracker.model(resume_model_id, "resume_model_id")) if resume_model_id else cfg.resume,
    )

    def report(epoch: int, overlay: Any, predictions: list[dict]) -> None:
        if overlay is not None:
            tracker.image("detector overlays", "val", overlay, epoch)
        # A dict is stored as JSON (a bare list would be pickled).
        tracker.artifact(f"predictions_epoch_{epoch:03d}", {"epoch": epoch, "predictions": predictions})

    clearml_logger, _ = lightning_reporting(tracker)  # the recogniser's image callback does not apply here
    result = fit_detector(cfg, logger=[CSVLogger(str(work_dir), name="logs"), clearml_logger], report=report)
    best_f1 = result.best_score  # the best checkpoint's (the last epoch's F1 may be lower)
    tracker.artifact(
        "metrics",
        {
            "final": result.metrics,
            "best_f1": best_f1,
            "history": result.history,
            "epochs": result.epochs,
            "seconds": result.seconds,
        },
    )
    meta = {
        "raw_dataset_id": raw_dataset_id,
        "raw_boxes": boxes,
        "epochs": result.epochs,
        "backbone": cfg.model.backbone,
        "input_size": cfg.input.size,
        MONITOR: best_f1,
    }
    best = tracker.register_model(result.best_checkpoint, "barcode-detector-best", "PyTorch", meta, tags=["best"])
    last = tracker.register_model(result.last_checkpoint, "barcode-detector-last", "PyTorch", meta, tags=["last"])
    return {"model_id": best, "last_model_id": last, "epochs": result.epochs, "val_f1": best_f1}


def main(argv: list[str] | None = None) -> int:
    return step_main(STEP, DetectorConfig, "configs/detector.yaml", INPUTS, run, "training", argv)


if __name__ == "__main__":
    sys.exit(main())

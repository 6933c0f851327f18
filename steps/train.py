"""Step `train`: Lightning training on a preprocessed dataset, reported to ClearML; checkpoints as models.

    python steps/train.py --dataset-id ID [--resume-model-id ID] [--config configs/train.yaml] [optim.lr=3e-4 ...]
    python steps/train.py --dataset-id ID --init-model-id MODEL --mix-dataset-id CROPS [data.mix_weight=1]
Your own data by ID (as `crnn train init_from=CKPT data.mix=[...]` takes paths): `--init-model-id` fine-tunes a
trained recogniser (its weights; fresh optimiser and schedule), `--mix-dataset-id` mixes a preprocessed crops
dataset's train split into training at `data.mix_weight`.
Scalars: loss, learning rate, exact match and CER per validation set; images: an augmented batch every N
epochs and captioned val predictions every epoch. Outputs: model_id (best checkpoint), last_model_id (resumable).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script (by an agent): import this checkout's crnn
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightning.pytorch.loggers import CSVLogger

from crnn.config.steps import TrainReportConfig
from crnn.config.train import MixConfig, TrainConfig
from crnn.core import metrics
from crnn.recognizer.train import fit
from crnn.tracking.lightning import lightning_reporting
from crnn.tracking.steps import step_main
from crnn.tracking.tracker import Tracker

STEP = "train"
INPUTS = ["dataset_id", "resume_model_id", "init_model_id", "mix_dataset_id"]


def run(
    cfg: TrainConfig,
    tracker: Tracker,
    work_dir: Path,
    dataset_id: str,
    resume_model_id: str = "",
    init_model_id: str = "",
    mix_dataset_id: str = "",
) -> dict:
    reports = tracker.connect_config(TrainReportConfig(), "train_reports")
    data = tracker.dataset(dataset_id)
    mix = list(cfg.data.mix)
    if mix_dataset_id:
        mine = tracker.dataset(mix_dataset_id) / "train" / "crops.tsv"
        if not mine.is_file():
            raise ValueError(
                f"mix_dataset_id {mix_dataset_id} has no train/crops.tsv: give a crops dataset (the preprocess step's "
                "dataset_id), not a raw one"
            )
        mix.append(MixConfig(str(mine), cfg.data.mix_weight))
    cfg = dataclasses.replace(
        cfg,
        data=dataclasses.replace(
            cfg.data, train_tsv=str(data / "train" / "crops.tsv"), val_tsv=str(data / "val" / "crops.tsv"), mix=mix
        ),
        out_dir=str(work_dir),
        overwrite=True,  # the step's own folder: a step run again (not reused) redoes its work there
        resume=str(tracker.model(resume_model_id, "resume_model_id")) if resume_model_id else cfg.resume,
        init_from=str(tracker.model(init_model_id, "init_model_id")) if init_model_id else cfg.init_from,
    )
    clearml_logger, images = lightning_reporting(tracker, reports.batch_grid_every_n_epochs, reports.gallery_size)
    result = fit(cfg, callbacks=[images], logger=[CSVLogger(str(work_dir), name="logs"), clearml_logger])
    tracker.artifact(
        "metrics",
        {"final": result.metrics, "history": result.history, "epochs": result.epochs, "seconds": result.seconds},
    )
    meta = {
        "dataset_id": dataset_id,
        "init_model_id": init_model_id,
        "mix_dataset_id": mix_dataset_id,
        "epochs": result.epochs,
        "backbone": cfg.model.backbone,
        "charset": cfg.input.charset,
    }
    # Each checkpoint carries its own score: the best one's is not the last epoch's.
    last_score = result.metrics.get(metrics.MONITOR, float("nan"))
    best = tracker.register_model(
        result.best_checkpoint, "crnn-barcode-best", "PyTorch", meta | {metrics.MONITOR: result.best_score}, ["best"]
    )
    last = tracker.register_model(
        result.last_checkpoint, "crnn-barcode-last", "PyTorch", meta | {metrics.MONITOR: last_score}, ["last"]
    )
    return {"model_id": best, "last_model_id": last, "epochs": result.epochs, "val_exact_match": result.best_score}


def main(argv: list[str] | None = None) -> int:
    return step_main(STEP, TrainConfig, "configs/train.yaml", INPUTS, run, "training", argv)


if __name__ == "__main__":
    sys.exit(main())

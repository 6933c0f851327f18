"""`crnn train` and `crnn train-detector` recorded as ClearML tasks, as the pipeline's train steps are: on the
server when one is configured (clearml.conf or CLEARML_API_HOST), else as an offline session a server can import
later (`clearml-task --import-offline-session` or `python pipelines/run.py --import-offline SESSION.zip`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from crnn.tracking.lightning import lightning_reporting
from crnn.tracking.tracker import start_step


@dataclasses.dataclass
class Tracked:
    """A tracked training: its result (`crnn.training.trainer.TrainResult`), the task's ID and the offline session."""

    result: Any
    task_id: str
    session: Path | None


def tracked_fit(kind: str, cfg: Any, project: str = "barcode-ocr") -> Tracked:
    """Train the recogniser (`kind` "train") or the detector ("detector_train") as `cfg` says, as a ClearML task of
    that name: the configuration as its hyperparameters, the losses and validation figures as scalars (and, for the
    recogniser, images of augmented batches and predictions), the metrics as an artifact, and on a server the best
    and last checkpoints as models. A failure marks the task failed and is raised."""
    from lightning.pytorch.loggers import CSVLogger

    tracker = start_step(kind, project, Path(cfg.out_dir) / "store", task_type="training", tags=["crnn-cli"])
    try:
        cfg = tracker.connect_config(cfg, kind)
        clearml_logger, images = lightning_reporting(tracker)
        loggers = [CSVLogger(str(cfg.out_dir), name="logs"), clearml_logger]
        if kind == "train":
            from crnn.recognizer.train import fit

            result = fit(cfg, callbacks=[images], logger=loggers)
        else:
            from crnn.detector.train import fit_detector

            result = fit_detector(cfg, logger=loggers)
        tracker.artifact(
            "metrics",
            {"final": result.metrics, "history": result.history, "epochs": result.epochs, "seconds": result.seconds},
        )
        outputs: dict[str, Any] = {
            "best_checkpoint": str(result.best_checkpoint),
            "last_checkpoint": str(result.last_checkpoint),
            "epochs": result.epochs,
        }
        if not tracker.offline:  # the server keeps the checkpoints; offline they stay in out_dir (no second copy)
            name = "crnn-barcode" if kind == "train" else "barcode-detector"
            outputs["model_id"] = tracker.register_model(
                result.best_checkpoint, f"{name}-best", "PyTorch", {}, ["best"]
            )
        tracker.set_outputs(outputs)
    except BaseException as e:
        tracker.fail(e)
        raise
    task_id = str(tracker.task.id)
    return Tracked(result, task_id, tracker.close())

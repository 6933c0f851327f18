"""The Lightning Trainer both models train with: checkpoints, history, time limit, loaders."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from torch.utils.data import DataLoader

from crnn.config.train import OptimConfig, TrainerConfig


@dataclass
class TrainResult:
    best_checkpoint: Path
    last_checkpoint: Path
    metrics: dict[str, float]
    seconds: float
    epochs: int
    history: list[dict[str, float]] = field(default_factory=list)
    best_score: float = 0.0  # the monitored metric of the best checkpoint
    # Images left out because they do not open or decode ("file: reason").
    skipped_images: list[str] = field(default_factory=list)


class _History(Callback):
    """Keeps every epoch's logged metrics, for the returned result and a metrics.json."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Runs after the epoch's validation, so the row holds both.
        row = {k: float(v) for k, v in trainer.callback_metrics.items()}
        row["epoch"] = trainer.current_epoch
        self.rows.append(row)


def make_loader(
    ds: Any, batch_size: int, num_workers: int, collate_fn: Any, shuffle: bool, sampler: Any = None
) -> DataLoader:
    """Training (shuffled, or drawn by `sampler`; last partial batch dropped) or validation loader; workers kept
    across epochs."""
    return DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        collate_fn=collate_fn,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        drop_last=shuffle and len(ds) > batch_size,
    )


@dataclass
class TrainerRun:
    trainer: L.Trainer
    best: ModelCheckpoint  # by `monitor` (max)
    last: ModelCheckpoint  # every epoch: what `resume` continues from
    history: _History
    earlier_final: dict[str, float] = field(default_factory=dict)  # a resumed run's metrics before it resumed

    def result(self, out: Path, start: float, skipped: list[str] | None = None) -> TrainResult:
        """The outcome of `trainer.fit`, also written to `out/metrics.json`."""
        # Resuming a finished run trains no epoch: its final metrics stay those it had.
        final = {k: float(v) for k, v in self.trainer.callback_metrics.items()} or dict(self.earlier_final)
        best = Path(self.best.best_model_path or self.last.best_model_path)
        seconds = time.time() - start
        score = float(self.best.best_model_score or 0.0)
        skipped = list(skipped or [])
        result = TrainResult(
            best,
            Path(self.last.best_model_path),
            final,
            seconds,
            self.trainer.current_epoch,
            self.history.rows,
            score,
            skipped,
        )
        summary = {
            "best_checkpoint": str(best),
            "best_score": score,
            "final": final,
            "history": self.history.rows,
            "seconds": seconds,
            "skipped_images": skipped,
        }
        (out / "metrics.json").write_text(json.dumps(summary, indent=2))
        if self.history.rows:
            from crnn.evaluation.visualize import curves

            keys = ["train/loss", "val/loss", self.best.monitor or "", "val_real/exact_match"]
            curves(self.history.rows, [k for k in keys if k]).save(out / "curves.png")
        return result


def make_trainer(
    tc: TrainerConfig,
    optim: OptimConfig,
    out: Path,
    monitor: str,
    callbacks: list[Callback],
    logger: Any = None,
) -> TrainerRun:
    """The Lightning Trainer both models train with: best (by `monitor`) and last checkpoints, history,
    learning-rate logging, time limit, gradient clipping; a CSV logger under `out` unless given one."""
    best = ModelCheckpoint(
        dirpath=out / "checkpoints",
        filename="best",
        monitor=monitor,
        mode="max",
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    last = ModelCheckpoint(
        dirpath=out / "checkpoints", filename="last", monitor=None, save_top_k=1, enable_version_counter=False
    )
    history = _History()
    trainer = L.Trainer(
        max_epochs=tc.max_epochs,
        max_time=timedelta(minutes=tc.max_minutes) if tc.max_minutes else None,
        accelerator=tc.accelerator,
        devices=tc.devices,
        precision=tc.precision,  # type: ignore[arg-type]  # validated by Lightning
        gradient_clip_val=optim.grad_clip or None,
        limit_train_batches=tc.limit_train_batches,
        limit_val_batches=tc.limit_val_batches,
        log_every_n_steps=tc.log_every_n_steps,
        default_root_dir=str(out),
        callbacks=[best, last, history, LearningRateMonitor("step"), *callbacks],
        logger=logger if logger is not None else L.pytorch.loggers.CSVLogger(str(out), name="logs"),
        num_sanity_val_steps=0,
        enable_model_summary=False,
        deterministic=False,
    )
    return TrainerRun(trainer, best, last, history)

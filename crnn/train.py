"""`fit(cfg) -> TrainResult`: the training entry point used by the CLI, the pipeline step and the tests."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EMAWeightAveraging, LearningRateMonitor, ModelCheckpoint
from torch.utils.data import DataLoader

from crnn import metrics, symbology
from crnn.augment import Augment
from crnn.codec import Codec
from crnn.config import OptimConfig, TrainConfig, TrainerConfig, from_dict
from crnn.labels import read_tsv
from crnn.model import CRNN
from crnn.system import CRNNSystem, CropDataset, collate, input_spec

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    best_checkpoint: Path
    last_checkpoint: Path
    metrics: dict[str, float]
    seconds: float
    epochs: int
    history: list[dict[str, float]] = field(default_factory=list)
    best_score: float = 0.0  # the monitored metric of the best checkpoint


def ensure_synthetic(cfg: TrainConfig) -> None:
    """Generate the synthetic train/val crops named in `cfg.data` unless they are there and current
    (`crnn.synth.ensure`: only folders it made are made again, when the generator, count or seed changed)."""
    from crnn import synth

    s = cfg.data.synth
    gen = synth.synth_config(s.generator)
    # Validation measures reading numbers: no crops without one there (`p_no_number` is for training).
    val_gen = replace(gen, p_no_number=0.0)
    for tsv, count, seed, g in (
        (cfg.data.train_tsv, s.train_count, s.seed, gen),
        (cfg.data.val_tsv, s.val_count, s.seed + 1, val_gen),
    ):
        synth.ensure(Path(tsv).parent, count, seed, s.workers, g)


class _History(Callback):
    """Keeps every epoch's logged metrics, for the returned result and a metrics.json."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Runs after the epoch's validation, so the row holds both.
        row = {k: float(v) for k, v in trainer.callback_metrics.items()}
        row["epoch"] = trainer.current_epoch
        self.rows.append(row)


def make_loader(ds: Any, batch_size: int, num_workers: int, collate_fn: Any, shuffle: bool) -> DataLoader:
    """Training (shuffled, last partial batch dropped) or validation loader; workers kept across epochs."""
    return DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=shuffle,
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

    def result(self, out: Path, start: float) -> TrainResult:
        """The outcome of `trainer.fit`, also written to `out/metrics.json`."""
        final = {k: float(v) for k, v in self.trainer.callback_metrics.items()}
        best = Path(self.best.best_model_path or self.last.best_model_path)
        seconds = time.time() - start
        score = float(self.best.best_model_score or 0.0)
        result = TrainResult(
            best, Path(self.last.best_model_path), final, seconds, self.trainer.current_epoch, self.history.rows, score
        )
        summary = {
            "best_checkpoint": str(best),
            "best_score": score,
            "final": final,
            "history": self.history.rows,
            "seconds": seconds,
        }
        (out / "metrics.json").write_text(json.dumps(summary, indent=2))
        if self.history.rows:
            from crnn.visualize import curves

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
    before: list[Callback] | None = None,
) -> TrainerRun:
    """The Lightning Trainer both models train with: best (by `monitor`) and last checkpoints, history,
    learning-rate logging, time limit, gradient clipping; a CSV logger under `out` unless given one.
    `before` run ahead of the checkpoints (weight averaging must swap its weights in first)."""
    before = before or []
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
        callbacks=[*before, best, last, history, LearningRateMonitor("step"), *callbacks],
        logger=logger if logger is not None else L.pytorch.loggers.CSVLogger(str(out), name="logs"),
        num_sanity_val_steps=0,
        enable_model_summary=False,
        deterministic=False,
    )
    return TrainerRun(trainer, best, last, history)


def fit(cfg: TrainConfig, callbacks: list[Callback] | None = None, logger: Any = None) -> TrainResult:
    """Train a CRNN as `cfg` says; return the best checkpoint (by val exact match) and final metrics."""
    start = time.time()
    if not 0.0 <= cfg.optim.ema_decay < 1.0:
        raise ValueError(f"optim.ema_decay must be in [0, 1), got {cfg.optim.ema_decay}")
    symbology.check_erasure_prior(cfg.erasure_prior)  # before the training, not at the first decode after it
    symbology.check_erasable(cfg.erasable)
    symbology.check_lead0_prior(cfg.ean13_lead0_prior)
    L.seed_everything(cfg.trainer.seed, workers=True)
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    ensure_synthetic(cfg)
    codec = Codec(cfg.input.charset)
    spec = input_spec(cfg)
    train_set = CropDataset(read_tsv(cfg.data.train_tsv, codec), spec, codec, Augment(cfg.augment), cfg.data.learn)
    val_sets = {"val": CropDataset(read_tsv(cfg.data.val_tsv, codec), spec, codec)}
    if cfg.data.real_tsv and Path(cfg.data.real_tsv).is_file():
        val_sets["val_real"] = CropDataset(read_tsv(cfg.data.real_tsv, codec), spec, codec)
    elif cfg.data.real_tsv:
        log.info("real validation crops %s not found; skipping val_real", cfg.data.real_tsv)

    def loader(ds: CropDataset, shuffle: bool) -> DataLoader:
        return make_loader(ds, cfg.data.batch_size, cfg.data.num_workers, collate, shuffle)

    system = CRNNSystem.from_config(cfg, val_names=list(val_sets))
    out = Path(cfg.out_dir)
    extra: list[Callback] = []
    if cfg.optim.ema_decay > 0:
        extra.append(EMAWeightAveraging(decay=cfg.optim.ema_decay))
    run = make_trainer(cfg.trainer, cfg.optim, out, metrics.MONITOR, callbacks or [], logger, before=extra)
    run.trainer.fit(
        system,
        train_dataloaders=loader(train_set, True),
        val_dataloaders=[loader(ds, False) for ds in val_sets.values()],
        ckpt_path=cfg.resume,
        weights_only=True,
    )
    return run.result(out, start)


def read_checkpoint(path: str | Path, kind: str = "crnn") -> dict:
    """A Lightning training checkpoint as a dict, loaded with weights_only=True; ValueError when it is
    missing, unreadable or not a training checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint not found: {path}")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a corrupt or non-checkpoint file raises many different errors
        raise ValueError(f"cannot load checkpoint {path}: {e}") from e
    if not isinstance(ck, dict) or "hyper_parameters" not in ck or "state_dict" not in ck:
        raise ValueError(f"{path} is not a {kind} training checkpoint (no hyper_parameters/state_dict)")
    return ck


def model_state(ck: dict) -> dict:
    """The network's weights of a checkpoint (the LightningModule's `model.` entries)."""
    return {k.removeprefix("model."): v for k, v in ck["state_dict"].items() if k.startswith("model.")}


def load_checkpoint(path: str | Path) -> tuple[CRNN, TrainConfig]:
    """The network and its config from a training checkpoint, loaded with weights_only=True."""
    ck = read_checkpoint(path)
    raw = ck["hyper_parameters"]["cfg"]
    # trained before the missing-digit prior was a model setting: read without it, as its ONNX export does
    cfg = from_dict(TrainConfig, {"erasure_prior": 0.0, **raw} if isinstance(raw, dict) else raw)
    model = CRNN(cfg.model, cfg.input)
    model.load_state_dict(model_state(ck))
    return model.eval(), cfg

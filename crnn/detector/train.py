"""`fit_detector(cfg)`: the detector's training entry point (scenes made when missing)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader

from crnn.config.detector import DetectorConfig
from crnn.config.loading import to_dict
from crnn.core.images import with_readable_headers
from crnn.detector.data import Scene, SceneDataset, collate, read_scenes
from crnn.detector.system import MONITOR, DetectorSystem
from crnn.training.run_dir import check_resume, claim, earlier_history
from crnn.training.trainer import TrainResult, make_loader, make_trainer

log = logging.getLogger(__name__)


class _EpochArtifacts(Callback):
    """Per epoch: the overlay PNG and the predictions JSON under `out_dir`, and `report(epoch, png, json)`."""

    def __init__(self, out: Path, report: Any = None) -> None:
        self.out, self.report = out, report

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Runs after the epoch's validation, when the system holds this epoch's predictions.
        system: DetectorSystem = pl_module  # type: ignore[assignment]  # only attached to DetectorSystem
        if not system.last_predictions:
            return
        epoch = trainer.current_epoch
        (self.out / "predictions").mkdir(parents=True, exist_ok=True)
        pred_path = self.out / "predictions" / f"epoch_{epoch:03d}.json"
        pred_path.write_text(json.dumps(system.last_predictions, indent=1))
        png = None
        if system.last_overlay is not None:
            (self.out / "overlays").mkdir(parents=True, exist_ok=True)
            png = self.out / "overlays" / f"epoch_{epoch:03d}.png"
            system.last_overlay.save(png)
        if self.report is not None:
            self.report(epoch, system.last_overlay, system.last_predictions)


def ensure_scenes(cfg: DetectorConfig) -> None:
    """Fill the scene folders `cfg.data` names with generator scenes (`data.synth` counts and seed, the
    detector's generator settings) unless they are there and current: `crnn.synth.ensure` makes again only
    the folders it made itself, when the generator, its settings, the count or the seed changed."""
    from crnn import synth

    d = cfg.data
    s = d.synth
    gen = s.generator
    wanted = [(folder, s.train_count, s.seed + k) for k, folder in enumerate(d.train_dirs)]
    wanted.append((d.val_dir, s.val_count, s.seed + len(wanted)))
    for folder, count, seed in wanted:
        synth.ensure(Path(folder), count, seed, s.workers, gen)


def fit_detector(
    cfg: DetectorConfig, callbacks: list[Callback] | None = None, logger: Any = None, report: Any = None
) -> TrainResult:
    """Train the detector as `cfg` says; best checkpoint by validation F1 of the decoded boxes."""
    start = time.time()
    resumed_epoch = check_resume(cfg.resume, "detector")  # before any data is prepared
    with claim(cfg.out_dir, cfg.resume, cfg.overwrite) as out:
        return _fit(cfg, out, resumed_epoch, start, callbacks, logger, report)


def _fit(
    cfg: DetectorConfig,
    out: Path,
    resumed_epoch: int,
    start: float,
    callbacks: list[Callback] | None,
    logger: Any,
    report: Any,
) -> TrainResult:
    L.seed_everything(cfg.trainer.seed, workers=True)
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    ensure_scenes(cfg)
    skipped: list[str] = []  # scenes whose image does not open: left out, reported in the result
    train_scenes = _readable([s for d in cfg.data.train_dirs for s in read_scenes(d)], skipped)
    val_scenes = _readable(read_scenes(cfg.data.val_dir), skipped)
    system = DetectorSystem(to_dict(cfg))
    system.val_scenes = val_scenes

    def loader(ds: SceneDataset, shuffle: bool) -> DataLoader:
        return make_loader(ds, cfg.data.batch_size, cfg.data.num_workers, collate, shuffle)

    run = make_trainer(cfg.trainer, cfg.optim, out, MONITOR, [_EpochArtifacts(out, report), *(callbacks or [])], logger)
    if cfg.resume:
        run.history.rows, run.earlier_final = earlier_history(out, resumed_epoch)
    run.trainer.fit(
        system,
        train_dataloaders=loader(SceneDataset(train_scenes, cfg, train=True), True),
        val_dataloaders=loader(SceneDataset(val_scenes, cfg, train=False), False),
        ckpt_path=cfg.resume,
        weights_only=True,
    )
    return run.result(out, start, skipped)


def _readable(scenes: list[Scene], errors: list[str]) -> list[Scene]:
    """The scenes whose image header opens (`with_readable_headers`); ValueError when none does."""
    out = with_readable_headers(scenes, errors)
    if not out:
        raise ValueError(f"no scene image opens ({len(errors)} unreadable, the first: {errors[0]})")
    return out

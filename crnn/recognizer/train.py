"""`fit(cfg) -> TrainResult`: the training entry point used by the CLI, the pipeline step and the tests."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader

from crnn.config.train import TrainConfig
from crnn.core import metrics, symbology
from crnn.core.codec import Codec
from crnn.core.labels import read_tsv
from crnn.recognizer.augment import Augment
from crnn.recognizer.data import CropDataset, collate, input_spec
from crnn.recognizer.system import CRNNSystem
from crnn.training.trainer import TrainResult, make_loader, make_trainer

log = logging.getLogger(__name__)


def ensure_synthetic(cfg: TrainConfig) -> None:
    """Generate the synthetic train/val crops named in `cfg.data` unless they are there and current
    (`crnn.synth.ensure`: only folders it made are made again, when the generator, count or seed changed)."""
    from crnn import synth

    s = cfg.data.synth
    gen = s.generator
    # Validation measures reading numbers: no crops without one there (`p_no_number` is for training).
    val_gen = replace(gen, p_no_number=0.0)
    for tsv, count, seed, g in (
        (cfg.data.train_tsv, s.train_count, s.seed, gen),
        (cfg.data.val_tsv, s.val_count, s.seed + 1, val_gen),
    ):
        synth.ensure(Path(tsv).parent, count, seed, s.workers, g)


def fit(cfg: TrainConfig, callbacks: list[Callback] | None = None, logger: Any = None) -> TrainResult:
    """Train a CRNN as `cfg` says; return the best checkpoint (by val exact match) and final metrics."""
    start = time.time()
    symbology.check_erasure_prior(cfg.erasure_prior)  # before the training, not at the first decode after it
    symbology.check_erasable(cfg.erasable)
    symbology.check_lead0_prior(cfg.ean13_lead0_prior)
    L.seed_everything(cfg.trainer.seed, workers=True)
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    ensure_synthetic(cfg)
    codec = Codec(cfg.input.charset)
    spec = input_spec(cfg)
    train_set = CropDataset(read_tsv(cfg.data.train_tsv, codec), spec, codec, Augment(cfg.augment))
    val_sets = {"val": CropDataset(read_tsv(cfg.data.val_tsv, codec), spec, codec)}
    if cfg.data.real_tsv and Path(cfg.data.real_tsv).is_file():
        val_sets["val_real"] = CropDataset(read_tsv(cfg.data.real_tsv, codec), spec, codec)
    elif cfg.data.real_tsv:
        log.info("real validation crops %s not found; skipping val_real", cfg.data.real_tsv)

    def loader(ds: CropDataset, shuffle: bool) -> DataLoader:
        return make_loader(ds, cfg.data.batch_size, cfg.data.num_workers, collate, shuffle)

    system = CRNNSystem.from_config(cfg, val_names=list(val_sets))
    out = Path(cfg.out_dir)
    run = make_trainer(cfg.trainer, cfg.optim, out, metrics.MONITOR, callbacks or [], logger)
    run.trainer.fit(
        system,
        train_dataloaders=loader(train_set, True),
        val_dataloaders=[loader(ds, False) for ds in val_sets.values()],
        ckpt_path=cfg.resume,
        weights_only=True,
    )
    return run.result(out, start)

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
from torch.utils.data import ConcatDataset, DataLoader

from crnn.config.train import TrainConfig
from crnn.core import metrics, symbology
from crnn.core.codec import Codec
from crnn.core.labels import read_tsv
from crnn.recognizer.augment import Augment
from crnn.recognizer.data import CropDataset, collate, input_spec, readable
from crnn.recognizer.model import CRNN
from crnn.recognizer.system import CRNNSystem
from crnn.training.run_dir import check_resume, claim, earlier_history
from crnn.training.trainer import TrainResult, make_loader, make_trainer

log = logging.getLogger(__name__)


def ensure_synthetic(cfg: TrainConfig) -> None:
    """Generate the synthetic train/val crops named in `cfg.data` unless they are there and current
    (`crnn.synth.ensure`: only folders it made are made again, when the generator, count or seed changed).

    Only a `crops.tsv` inside `data.synth.root` is generated; a TSV elsewhere must exist (ValueError naming the key),
    so a mistyped path is an error rather than a folder of synthetic data trained on in its place."""
    from crnn import synth

    s = cfg.data.synth
    gen = s.generator
    # Validation measures reading numbers: no crops without one there (`p_no_number` is for training).
    val_gen = replace(gen, p_no_number=0.0)
    root = Path(s.root).resolve() if s.root else None
    for key, tsv, count, seed, g in (
        ("train_tsv", cfg.data.train_tsv, s.train_count, s.seed, gen),
        ("val_tsv", cfg.data.val_tsv, s.val_count, s.seed + 1, val_gen),
    ):
        folder = Path(tsv).parent
        if root is not None and Path(tsv).name == "crops.tsv" and folder.resolve().is_relative_to(root):
            synth.ensure(folder, count, seed, s.workers, g)
        elif not Path(tsv).is_file():
            raise ValueError(
                f"data.{key}: labels file not found: {tsv} (synthetic crops are made only as crops.tsv under "
                f"data.synth.root={s.root})"
            )
        elif folder.is_dir():
            synth.ensure(folder, count, seed, s.workers, g)  # checked: a `crnn synth` folder of other settings fails
    if cfg.data.train_weight <= 0 or any(m.weight <= 0 for m in cfg.data.mix):
        raise ValueError("data.train_weight and every data.mix weight must be > 0")
    for i, m in enumerate(cfg.data.mix):
        if not Path(m.tsv).is_file():
            raise ValueError(f"data.mix[{i}].tsv: labels file not found: {m.tsv!r}")


def mix_sampler(sizes: list[int], weights: list[float], generator: torch.Generator | None = None) -> Any:
    """A sampler over concatenated datasets drawing each source in proportion to its weight (with replacement),
    as many samples an epoch as all sources hold together."""
    from torch.utils.data import WeightedRandomSampler

    per_sample = [w / n for n, w in zip(sizes, weights, strict=True) for _ in range(n)]
    return WeightedRandomSampler(per_sample, num_samples=sum(sizes), replacement=True, generator=generator)


def fit(cfg: TrainConfig, callbacks: list[Callback] | None = None, logger: Any = None) -> TrainResult:
    """Train a CRNN as `cfg` says; return the best checkpoint (by val exact match) and final metrics."""
    start = time.time()
    symbology.check_erasure_prior(cfg.erasure_prior)  # before the training, not at the first decode after it
    symbology.check_erasable(cfg.erasable)
    symbology.check_lead0_prior(cfg.ean13_lead0_prior)
    resumed_epoch = check_resume(cfg.resume)  # before any data is prepared
    initial = initial_weights(cfg)
    with claim(cfg.out_dir, cfg.resume, cfg.overwrite) as out:
        return _fit(cfg, out, resumed_epoch, start, callbacks, logger, initial)


def initial_weights(cfg: TrainConfig) -> dict[str, torch.Tensor] | None:
    """The network weights of `init_from` (None without it), checked against this run's architecture before any
    data is prepared; ValueError naming what does not fit."""
    if not cfg.init_from:
        return None
    if cfg.resume:
        raise ValueError("give resume= (continue a run) or init_from= (start a new one from its weights), not both")
    from crnn.recognizer.checkpoint import load_checkpoint

    model, _ = load_checkpoint(cfg.init_from)
    state = model.state_dict()
    mine = CRNN(cfg.model, cfg.input).state_dict()
    wrong = [k for k in mine if k not in state or state[k].shape != mine[k].shape]
    if wrong or set(state) - set(mine):
        raise ValueError(
            f"init_from={cfg.init_from} has another architecture than model/input of this config "
            f"(differs at {', '.join((wrong or sorted(set(state) - set(mine)))[:3])}): set them as it was trained"
        )
    return state


def _fit(
    cfg: TrainConfig,
    out: Path,
    resumed_epoch: int,
    start: float,
    callbacks: list[Callback] | None,
    logger: Any,
    initial: dict[str, torch.Tensor] | None = None,
) -> TrainResult:
    L.seed_everything(cfg.trainer.seed, workers=True)
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    ensure_synthetic(cfg)
    codec = Codec(cfg.input.charset)
    spec = input_spec(cfg)
    skipped: list[str] = []  # images that do not open: left out, reported in the result

    report = out / "unreadable.txt"  # decode failures met mid-epoch, by this process or a loader worker
    report.unlink(missing_ok=True)

    def dataset(tsv: str, augment: Augment | None = None) -> CropDataset:
        ds = CropDataset(readable(read_tsv(tsv, codec), tsv, skipped), spec, codec, augment)
        ds.report_file = report
        return ds

    augment = Augment(cfg.augment)
    sources = [dataset(cfg.data.train_tsv, augment), *(dataset(m.tsv, augment) for m in cfg.data.mix)]
    train_set: Any = sources[0] if len(sources) == 1 else ConcatDataset(sources)
    sampler = None
    if len(sources) > 1:
        weights = [cfg.data.train_weight, *(m.weight for m in cfg.data.mix)]
        sampler = mix_sampler([len(d) for d in sources], weights)
        log.info("training on %s mixed by weight %s", [len(d) for d in sources], weights)
    val_sets = {"val": dataset(cfg.data.val_tsv)}
    if cfg.data.real_tsv and Path(cfg.data.real_tsv).is_file():
        val_sets["val_real"] = dataset(cfg.data.real_tsv)
    elif cfg.data.real_tsv:
        log.info("real validation crops %s not found; skipping val_real", cfg.data.real_tsv)

    def loader(ds: Any, shuffle: bool, sampler: Any = None) -> DataLoader:
        return make_loader(ds, cfg.data.batch_size, cfg.data.num_workers, collate, shuffle, sampler)

    system = CRNNSystem.from_config(cfg, val_names=list(val_sets))
    if initial is not None:
        system.model.load_state_dict(initial)
    run = make_trainer(cfg.trainer, cfg.optim, out, metrics.MONITOR, callbacks or [], logger)
    if cfg.resume:
        run.history.rows, run.earlier_final = earlier_history(out, resumed_epoch)
    run.trainer.fit(
        system,
        train_dataloaders=loader(train_set, True, sampler),
        val_dataloaders=[loader(ds, False) for ds in val_sets.values()],
        ckpt_path=cfg.resume,
        weights_only=True,
    )
    if report.is_file():
        skipped += list(dict.fromkeys(report.read_text(encoding="utf-8").splitlines()))
    return run.result(out, start, skipped)

"""Training: the LightningModule (CTC loss, metrics) and the data loading around it."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Timer
from torch.utils.data import Dataset

from crnn import metrics
from crnn.augment import Augment
from crnn.codec import Codec
from crnn.config import OptimConfig, TrainConfig, from_dict, to_dict
from crnn.labels import Sample
from crnn.model import CRNN
from crnn.preprocess import InputSpec, load_image, shrink_for_augment, to_array


def input_spec(cfg: TrainConfig) -> InputSpec:
    return InputSpec(
        cfg.input.height,
        cfg.input.width,
        cfg.model.in_chans,
        cfg.input.mean,
        cfg.input.std,
        cfg.input.blur,
        cfg.input.x_stretch,
        cfg.input.levels,
    )


class CropDataset(Dataset):
    """Labelled crops -> (image `(C, H, W)` float32, label indices, text)."""

    def __init__(
        self,
        samples: Sequence[Sample],
        spec: InputSpec,
        codec: Codec,
        augment: Augment | None = None,
        learn: Literal["printed", "text"] = "printed",
    ):
        self.samples, self.spec, self.codec, self.augment = list(samples), spec, codec, augment
        self.learn = learn  # the label column the CTC loss sees; metrics always score the whole number
        self._rng: random.Random | None = None

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[np.ndarray, list[int], str]:
        s = self.samples[i]
        try:
            im = load_image(s.path)
        except ValueError as e:
            raise ValueError(f"{e} (line {s.line} of its labels file)") from None
        if self.spec.channels == 1:
            im = im.convert("L")  # the same conversion to_array makes, done first so augmenting is cheaper
        if self.augment is not None:
            im = shrink_for_augment(im, self.spec.height)
            if self._rng is None:
                # Seeded per worker by Lightning's seed_everything(workers=True) through torch's seed.
                self._rng = random.Random(torch.initial_seed())
            im = self.augment(im, self._rng)
        return to_array(im, self.spec), self.codec.encode(s.target if self.learn == "printed" else s.text), s.text


def collate(batch: list[tuple[np.ndarray, list[int], str]]) -> dict:
    images = torch.from_numpy(np.stack([b[0] for b in batch]))
    labels = [b[1] for b in batch]
    return {
        "images": images,
        "targets": torch.tensor([k for lab in labels for k in lab], dtype=torch.long),
        "target_lengths": torch.tensor([len(lab) for lab in labels], dtype=torch.long),
        "texts": [b[2] for b in batch],
    }


@dataclass
class Prediction:
    text: str
    target: str
    confidence: float


class CRNNSystem(L.LightningModule):
    """CTC training of `CRNN`; logs loss, learning rate, exact match and CER per validation set."""

    def __init__(self, cfg: dict, val_names: Sequence[str] = ("val",)) -> None:
        super().__init__()
        # Stored as a plain dict so checkpoints load with torch.load(weights_only=True).
        self.save_hyperparameters({"cfg": cfg, "val_names": list(val_names)})
        self.cfg: TrainConfig = from_dict(TrainConfig, cfg)
        self.codec = Codec(self.cfg.input.charset)
        self.model = CRNN(self.cfg.model, self.cfg.input)
        self.val_names = list(val_names)
        self._val: dict[int, list[Prediction]] = {}
        # Per validation set, the last epoch's predictions (for callbacks drawing galleries).
        self.last_predictions: dict[str, list[Prediction]] = {}

    @classmethod
    def from_config(cls, cfg: TrainConfig, val_names: Sequence[str] = ("val",)) -> CRNNSystem:
        return cls(to_dict(cfg), val_names)

    def setup(self, stage: str) -> None:
        if self.cfg.trainer.channels_last:
            self.model.to(memory_format=torch.channels_last)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.cfg.trainer.channels_last:
            # NHWC convolutions are about a quarter faster on CPU (oneDNN) and no slower on GPU.
            images = images.contiguous(memory_format=torch.channels_last)
        return self.model(images)

    def _loss(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        logp = logits.log_softmax(-1).permute(1, 0, 2)  # (T, N, C) as ctc_loss wants
        n, t = logits.shape[0], logits.shape[1]
        lengths = torch.full((n,), t, dtype=torch.long)
        return F.ctc_loss(logp.float(), batch["targets"], lengths, batch["target_lengths"], zero_infinity=True)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self._loss(self(batch["images"]), batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["texts"]))
        return loss

    def validation_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        logits = self(batch["images"])
        loss = self._loss(logits, batch)
        name = self.val_names[dataloader_idx]
        self.log(f"{name}/loss", loss, batch_size=len(batch["texts"]), add_dataloader_idx=False)
        logp = logits.float().log_softmax(-1).cpu().numpy()
        decoded = self.codec.decode_batch(logp, self.cfg.val_decoder)
        self._val.setdefault(dataloader_idx, []).extend(
            Prediction(d.text, t, d.confidence) for d, t in zip(decoded, batch["texts"])
        )

    def on_validation_epoch_end(self) -> None:
        for idx, preds in sorted(self._val.items()):
            name = self.val_names[idx]
            texts, targets = [p.text for p in preds], [p.target for p in preds]
            self.log(
                metrics.key(name, metrics.EXACT_MATCH),
                metrics.exact_match(texts, targets),
                prog_bar=True,
                add_dataloader_idx=False,
            )
            self.log(metrics.key(name, metrics.CER), metrics.cer(texts, targets), add_dataloader_idx=False)
            self.last_predictions[name] = preds
        self._val = {}

    def configure_optimizers(self):  # type: ignore[no-untyped-def]  # Lightning's union return type
        return adamw_cosine(self, self.cfg.optim)


def adamw_cosine(module: L.LightningModule, o: OptimConfig) -> Any:
    """AdamW with linear warm-up then cosine decay to 2% of the rate, stepped per batch (both models).

    Progress through the schedule is the larger of the share of steps done and, under a time limit
    (`trainer.max_minutes`), the share of the time spent, so a run that the limit stops early (a slower
    machine, a busier hour) still ends annealed instead of at a high rate."""
    opt = torch.optim.AdamW(module.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    if o.scheduler == "none":
        return opt

    def factor(step: int) -> float:
        # Read the total on every call (LambdaLR keeps no copy in its state), so a run resumed with
        # more epochs stretches the schedule instead of overrunning it.
        trainer = module.trainer
        total = max(1, int(trainer.estimated_stepping_batches))
        return cosine_factor(max((step + 1) / total, time_progress(trainer)), o.warmup_frac)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def cosine_factor(progress: float, warmup_frac: float) -> float:
    """Learning-rate multiplier at `progress` (0..1) of training: linear warm-up over the first
    `warmup_frac`, then cosine decay to 0.02 at the end."""
    warm = max(warmup_frac, 1e-9)
    if progress < warm:
        return progress / warm
    return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - warm) / max(1e-9, 1 - warm))))


def time_progress(trainer: L.Trainer) -> float:
    """Share of the trainer's time limit spent so far (0 without a limit); the Timer's elapsed time is
    checkpointed, so a resumed run continues where it stopped."""
    for cb in trainer.callbacks:  # type: ignore[attr-defined]  # assigned by a connector, unseen by mypy
        if isinstance(cb, Timer):
            remaining = cb.time_remaining("train")
            if remaining is None:
                return 0.0
            elapsed = cb.time_elapsed("train")
            return min(1.0, elapsed / max(1e-9, elapsed + remaining))
    return 0.0

"""The recogniser's LightningModule: CTC loss, validation metrics per set, optimiser and schedule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import lightning as L
import torch
import torch.nn.functional as F

from crnn.config.loading import from_dict, to_dict
from crnn.config.train import TrainConfig
from crnn.core import metrics
from crnn.core.codec import Codec
from crnn.recognizer.model import CRNN
from crnn.training.schedule import adamw_cosine


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

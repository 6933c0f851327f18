"""The optimiser and learning-rate schedule both models train with (AdamW, warm-up, cosine; time-aware)."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Timer

from crnn.config.train import OptimConfig


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

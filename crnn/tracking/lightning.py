"""Lightning reporting to ClearML: scalars and images each epoch."""

from __future__ import annotations

import logging
from typing import Any

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers.logger import Logger

from crnn.tracking.tracker import Tracker

log = logging.getLogger(__name__)


def lightning_reporting(tracker: Tracker, every_n_epochs: int = 1, gallery_size: int = 16) -> tuple[Any, Any]:
    """(logger, callback) sending Lightning's logged metrics and image reports to the step's task."""
    return _ClearMLLogger(tracker), _ImageReports(tracker, every_n_epochs, gallery_size)


class _ClearMLLogger(Logger):
    """Every `self.log`ged metric (loss, learning rate, exact match, CER) as a ClearML scalar."""

    def __init__(self, tracker: Tracker) -> None:
        super().__init__()
        self.tracker = tracker

    @property
    def name(self) -> str:
        return "clearml"

    @property
    def version(self) -> str:
        return str(self.tracker.task.id)

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass  # connected as the step's config already

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        for k, v in metrics.items():
            if k == "epoch":
                continue
            title, _, series = k.rpartition("/")
            if not title:  # LearningRateMonitor: "lr-AdamW"
                title, series = ("learning_rate", k) if k.startswith("lr") else ("metrics", k)
            self.tracker.scalar(title, series, float(v), int(step or 0))


class _ImageReports(Callback):
    """A grid of the first augmented training batch every N epochs; captioned val predictions each epoch."""

    def __init__(self, tracker: Tracker, every_n_epochs: int, gallery_size: int) -> None:
        self.tracker, self.every, self.size = tracker, max(1, every_n_epochs), gallery_size

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: dict, batch_idx: int) -> None:
        if batch_idx != 0 or trainer.current_epoch % self.every:
            return
        from crnn.evaluation.visualize import batch_grid

        cfg = pl_module.cfg.input
        sheet = batch_grid(batch["images"].float().cpu().numpy(), batch["texts"], cfg.mean, cfg.std, limit=self.size)
        self.tracker.image("train", "augmented batch", sheet, trainer.current_epoch)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        # Runs after the epoch's validation, when last_predictions holds this epoch's readings.
        from PIL import Image

        from crnn.core.images import ImageError, load_image
        from crnn.evaluation.visualize import prediction_gallery

        def shown(path: Any) -> Image.Image:
            try:
                return load_image(path)
            except ImageError:  # reported by the training run; a grey tile keeps the gallery in step
                return Image.new("RGB", (64, 16), "grey")

        loaders = trainer.val_dataloaders
        loaders = loaders if isinstance(loaders, (list, tuple)) else [loaders]
        for i, name in enumerate(pl_module.val_names):
            preds = pl_module.last_predictions.get(name, [])[: self.size]
            if not preds or i >= len(loaders):
                continue
            samples = loaders[i].dataset.samples
            images = [shown(s.path) for s in samples[: len(preds)]]
            sheet = prediction_gallery(
                images, [p.text for p in preds], [p.target for p in preds], [p.confidence for p in preds]
            )
            self.tracker.image("val predictions", name, sheet, trainer.current_epoch)

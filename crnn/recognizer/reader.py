"""Reading crops with a training checkpoint in PyTorch, through the same preprocessing, decoder and policy as the
ONNX reader (`crnn.reading.crops`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from crnn.core.codec import Codec
from crnn.reading.crops import Reader
from crnn.reading.crops import open_reader as _open_reader
from crnn.reading.policy import Overrides, training_policy


class TorchReader(Reader):
    """A training checkpoint in PyTorch (evaluation and export checks)."""

    def __init__(self, path: str | Path, overrides: Overrides | None = None, device: str = "cpu") -> None:
        from crnn.recognizer.checkpoint import load_checkpoint
        from crnn.recognizer.data import input_spec

        self.model, self.cfg = load_checkpoint(path)
        self.device = device
        self.model.to(device)
        self.spec = input_spec(self.cfg)
        self.codec = Codec(self.cfg.input.charset)
        self.policy = training_policy(self.cfg).updated(overrides)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.model(torch.from_numpy(batch).to(self.device)).float().cpu().numpy()


def open_reader(path: str | Path, overrides: Overrides | None = None, **kwargs: Any) -> Reader:
    """`crnn.reading.crops.open_reader` that also reads `.ckpt` training checkpoints."""
    return _open_reader(path, overrides, checkpoint_reader=lambda p, o: TorchReader(p, o), **kwargs)

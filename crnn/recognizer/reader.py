"""Reading crops with a training checkpoint in PyTorch, through the same preprocessing and decoder as the
ONNX reader (`crnn.reading.crops`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crnn.core import symbology
from crnn.core.codec import Codec, Decoder
from crnn.reading.crops import Reader
from crnn.reading.crops import open_reader as _open_reader


class TorchReader(Reader):
    """A training checkpoint in PyTorch (evaluation and export checks)."""

    def __init__(self, path: str | Path, decoder: Decoder | None = None, device: str = "cpu") -> None:
        from crnn.recognizer.checkpoint import load_checkpoint
        from crnn.recognizer.data import input_spec

        self.model, self.cfg = load_checkpoint(path)
        self.device = device
        self.model.to(device)
        self.spec = input_spec(self.cfg)
        self.codec = Codec(self.cfg.input.charset)
        self.decoder = decoder or self.cfg.decoder
        self.erasure_prior = self.cfg.erasure_prior
        self.ean13_lead0_prior = self.cfg.ean13_lead0_prior
        self.erasable = symbology.check_erasable(self.cfg.erasable)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.model(torch.from_numpy(batch).to(self.device)).float().cpu().numpy()


def open_reader(path: str | Path | Sequence[str | Path], **kwargs: Any) -> Reader:
    """`crnn.reading.crops.open_reader` that also reads `.ckpt` training checkpoints."""
    return _open_reader(path, checkpoint_reader=lambda p, decoder: TorchReader(p, decoder=decoder), **kwargs)

"""`fit(cfg) -> TrainResult`: the training entry point used by the CLI, the pipeline step and the tests."""

from __future__ import annotations

from pathlib import Path

from crnn.config.loading import from_dict
from crnn.config.train import TrainConfig
from crnn.recognizer.model import CRNN
from crnn.training.checkpoint import model_state, read_checkpoint


def load_checkpoint(path: str | Path) -> tuple[CRNN, TrainConfig]:
    """The network and its config from a training checkpoint, loaded with weights_only=True."""
    ck = read_checkpoint(path)
    raw = ck["hyper_parameters"]["cfg"]
    # trained before the missing-digit prior was a model setting: read without it, as its ONNX export does
    cfg = from_dict(TrainConfig, {"erasure_prior": 0.0, **raw} if isinstance(raw, dict) else raw)
    model = CRNN(cfg.model, cfg.input)
    model.load_state_dict(model_state(ck))
    return model.eval(), cfg

"""Reading Lightning training checkpoints safely (weights_only) and taking the network's weights out."""

from __future__ import annotations

from pathlib import Path

import torch


def read_checkpoint(path: str | Path, kind: str = "crnn") -> dict:
    """A Lightning training checkpoint as a dict, loaded with weights_only=True; ValueError when it is
    missing, unreadable or not a training checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint not found: {path}")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a corrupt or non-checkpoint file raises many different errors
        raise ValueError(f"cannot load checkpoint {path}: {e}") from e
    if not isinstance(ck, dict) or "hyper_parameters" not in ck or "state_dict" not in ck:
        raise ValueError(f"{path} is not a {kind} training checkpoint (no hyper_parameters/state_dict)")
    return ck


def model_state(ck: dict) -> dict:
    """The network's weights of a checkpoint (the LightningModule's `model.` entries)."""
    return {k.removeprefix("model."): v for k, v in ck["state_dict"].items() if k.startswith("model.")}

"""Loading a recogniser's training checkpoint (weights_only) into its network and config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crnn.config.loading import from_dict
from crnn.config.train import TrainConfig
from crnn.recognizer.model import CRNN
from crnn.training.checkpoint import model_state, read_checkpoint

# Settings added after the first checkpoints, with what a checkpoint without them was trained and read with (the
# schema's defaults are today's product, not those). Its ONNX export reads the same (crnn.reading.crops).
LEGACY: dict[str, Any] = {
    "erasure_prior": 0.0,
    "erasable": ["UPC-A", "EAN-13"],
    "ean13_lead0_prior": 1.0,
    "input.x_stretch": 1.0,
}
# Settings of studies that were not kept (docs/decisions.md), with the value that reads as this version does; a
# checkpoint trained otherwise is refused.
REMOVED: dict[str, Any] = {
    "model.height_pool": "mean",
    "model.time_upsample": 1,
    "input.levels": None,
    "optim.ema_decay": 0.0,
    "data.learn": "printed",
}


def _with_legacy(raw: dict) -> dict:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for key, value in LEGACY.items():
        section, _, name = key.rpartition(".")
        target = out.setdefault(section, {}) if section else out
        target.setdefault(name, value)
    for key, value in REMOVED.items():
        section, _, name = key.partition(".")
        if name in (out.get(section) or {}):
            got = out[section].pop(name)
            if got != value:
                raise ValueError(f"checkpoint trained with {key}={got!r}, which this version no longer supports")
    return out


def load_checkpoint(path: str | Path) -> tuple[CRNN, TrainConfig]:
    """The network and its config from a training checkpoint, loaded with weights_only=True."""
    ck = read_checkpoint(path)
    raw = ck["hyper_parameters"].get("cfg")
    if isinstance(raw, dict) and "post" in raw:  # the detector's config has its box decoding settings
        raise ValueError(
            f"{path} is a barcode detector checkpoint, not a recogniser's: use `crnn export-detector` and "
            "`crnn read --detector`"
        )
    try:
        cfg = from_dict(TrainConfig, _with_legacy(raw) if isinstance(raw, dict) else raw)
    except ValueError:
        raise
    except Exception as e:  # omegaconf raises several types for a config that does not fit the schema
        raise ValueError(f"{path} is not a recogniser checkpoint this version reads: {e}") from e
    model = CRNN(cfg.model, cfg.input)
    model.load_state_dict(model_state(ck))
    return model.eval(), cfg

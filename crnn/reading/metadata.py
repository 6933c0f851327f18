"""The ONNX metadata a recogniser carries, so a reader needs no training config."""

from __future__ import annotations

import json
from collections.abc import Sequence

from crnn.core import symbology
from crnn.core.preprocess import InputSpec

META_PREFIX = "crnn."


def metadata_for(
    cfg_dict: dict,
    spec: InputSpec,
    charset: str,
    decoder: str,
    time_steps: int,
    erasure_prior: float,
    ean13_lead0_prior: float,
    erasable: Sequence[str] = tuple(symbology.ERASABLE),
) -> dict[str, str]:
    """The ONNX metadata `OnnxReader` needs (written by export)."""
    return {
        META_PREFIX + "charset": charset,
        META_PREFIX + "height": str(spec.height),
        META_PREFIX + "width": str(spec.width),
        META_PREFIX + "channels": str(spec.channels),
        META_PREFIX + "mean": str(spec.mean),
        META_PREFIX + "std": str(spec.std),
        META_PREFIX + "blur": str(spec.blur),
        META_PREFIX + "x_stretch": str(spec.x_stretch),
        META_PREFIX + "decoder": decoder,
        META_PREFIX + "erasure_prior": str(erasure_prior),
        META_PREFIX + "ean13_lead0_prior": str(ean13_lead0_prior),
        META_PREFIX + "erasable": ",".join(symbology.check_erasable(erasable)),
        META_PREFIX + "time_steps": str(time_steps),
        META_PREFIX + "config": json.dumps(cfg_dict),
    }

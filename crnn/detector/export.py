"""Loading a detector checkpoint (weights_only) and exporting it to ONNX, checked against PyTorch."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from crnn.config.detector import DetectorConfig
from crnn.config.loading import from_dict, to_dict
from crnn.detector.model import DetectorMaps, DetectorNet
from crnn.reading.detection import META_PREFIX, STRIDE, detector_input
from crnn.training.checkpoint import model_state, read_checkpoint

log = logging.getLogger(__name__)


def load_detector(path: str | Path) -> tuple[DetectorNet, DetectorConfig]:
    """The network and its config from a detector checkpoint, loaded with weights_only=True."""
    ck = read_checkpoint(path, "detector")
    raw = ck["hyper_parameters"].get("cfg")
    if not isinstance(raw, dict) or "post" not in raw:
        if isinstance(raw, dict) and "decoder" in raw:
            raise ValueError(f"{path} is a recogniser checkpoint, not a detector's: use `crnn export`")
        raise ValueError(f"{path} is not a detector training checkpoint")
    cfg = from_dict(DetectorConfig, ck["hyper_parameters"]["cfg"])
    net = DetectorNet(cfg.model)
    net.load_state_dict(model_state(ck))
    return net.eval(), cfg


def export_detector(
    checkpoint: str | Path,
    out: str | Path,
    images: list[Image.Image] | None = None,
    opset: int = 17,
    atol: float = 1e-3,
) -> float:
    """Write the detector as ONNX (maps, dynamic batch) with its metadata; return the max |difference|
    between onnxruntime and PyTorch on `images` and random inputs (ParityError above `atol`)."""
    net, cfg = load_detector(checkpoint)
    return export_detector_net(net, cfg, out, images, opset, atol)


def export_detector_net(
    net: DetectorNet,
    cfg: DetectorConfig,
    out: str | Path,
    images: list[Image.Image] | None = None,
    opset: int = 17,
    atol: float = 1e-3,
) -> float:
    """`export_detector` for a network in memory."""
    from crnn.reading.detection import Detector
    from crnn.recognizer.export import ParityError, to_onnx

    maps = DetectorMaps(net).eval()
    out = Path(out)
    size = cfg.input.size
    meta = {
        "size": str(size),
        "mean": str(cfg.input.mean),
        "std": str(cfg.input.std),
        "stride": str(STRIDE),
        "post": json.dumps(to_dict(cfg.post)),
        "config": json.dumps(to_dict(cfg)),
    }
    dummy = torch.zeros(1, cfg.model.in_chans, size, size)
    to_onnx(maps, dummy, out, "maps", opset, {META_PREFIX + k: v for k, v in meta.items()})
    det = Detector(out)
    rng = np.random.default_rng(0)
    inputs = [rng.normal(0, 1, (2, cfg.model.in_chans, size, size)).astype(np.float32)]
    inputs += [detector_input(im, size, cfg.input.mean, cfg.input.std)[0][None] for im in images or []]
    worst = 0.0
    for x in inputs:
        with torch.inference_mode():
            ref = maps(torch.from_numpy(x)).numpy()
        got = det.session.run(None, {det.input_name: x})[0]
        worst = max(worst, float(np.abs(got - ref).max()))
    if worst > atol:
        raise ParityError(f"onnxruntime detector maps differ from PyTorch by {worst:.2e} > {atol:.0e}")
    log.info("exported detector %s: parity on %d inputs, max |diff| %.2e", out, len(inputs), worst)
    return worst

"""Export a checkpoint to ONNX (dynamic batch axis, metadata) and prove onnxruntime matches PyTorch."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from PIL import Image

from crnn.codec import Codec, log_softmax
from crnn.config import TrainConfig, to_dict
from crnn.inference import OnnxReader, metadata_for
from crnn.model import CRNN
from crnn.preprocess import to_batch
from crnn.system import input_spec
from crnn.train import load_checkpoint

log = logging.getLogger(__name__)


class ParityError(RuntimeError):
    """onnxruntime and PyTorch disagree on the exported model."""


@dataclass(frozen=True)
class ParityReport:
    n: int
    max_abs_diff: float
    strings_equal: int


def export_onnx(
    checkpoint: str | Path,
    out: str | Path,
    images: list[Image.Image] | None = None,
    opset: int = 17,
    atol: float = 1e-3,
    seed: int = 0,
) -> ParityReport:
    """Write `out` (.onnx) from `checkpoint`; raise ParityError when onnxruntime differs from PyTorch.

    Parity is checked on `images` (real crops, when given) plus random inputs at batch sizes 1 and 3:
    logits within `atol` and identical greedy strings.
    """
    model, cfg = load_checkpoint(checkpoint)
    return export_model(model, cfg, out, images, opset, atol, seed)


def export_model(
    model: CRNN,
    cfg: TrainConfig,
    out: str | Path,
    images: list[Image.Image] | None = None,
    opset: int = 17,
    atol: float = 1e-3,
    seed: int = 0,
) -> ParityReport:
    """Export an in-memory `model` built from `cfg` (see `export_onnx`)."""
    model = model.eval()
    spec = input_spec(cfg)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(2, spec.channels, spec.height, spec.width)
    torch.onnx.export(
        model,
        (dummy,),
        str(out),
        input_names=["images"],
        output_names=["logits"],
        dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=opset,
        dynamo=False,
    )
    proto = onnx.load(str(out))
    meta = metadata_for(to_dict(cfg), spec, cfg.input.charset, cfg.decoder, model.time_steps)
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(proto)
    onnx.save(proto, str(out))

    rng = np.random.default_rng(seed)
    batches = [rng.normal(0, 1, (n, spec.channels, spec.height, spec.width)).astype(np.float32) for n in (1, 3)]
    if images:
        batches.append(to_batch(images, spec))
    reader = OnnxReader(out)
    codec = Codec(cfg.input.charset)
    worst, n, same = 0.0, 0, 0
    for batch in batches:
        with torch.inference_mode():
            ref = model(torch.from_numpy(batch)).numpy()
        got = reader.logits(batch)
        if got.shape != ref.shape:
            raise ParityError(f"onnxruntime output shape {got.shape} != PyTorch {ref.shape}")
        worst = max(worst, float(np.abs(got - ref).max()))
        a = [d.text for d in codec.decode_greedy_batch(log_softmax(ref))]
        b = [d.text for d in codec.decode_greedy_batch(log_softmax(got))]
        same += sum(x == y for x, y in zip(a, b))
        n += len(a)
        if a != b:
            bad = [(x, y) for x, y in zip(a, b) if x != y][:5]
            raise ParityError(f"onnxruntime and PyTorch decode differently (PyTorch, onnxruntime): {bad}")
    if worst > atol:
        raise ParityError(f"onnxruntime logits differ from PyTorch by {worst:.2e} > {atol:.0e}")
    report = ParityReport(n, worst, same)
    log.info("exported %s: parity on %d inputs, max |diff| %.2e", out, n, worst)
    return report

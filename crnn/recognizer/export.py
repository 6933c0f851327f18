"""Export a checkpoint to ONNX (dynamic batch axis, metadata) and prove onnxruntime matches PyTorch."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from PIL import Image

from crnn.config.loading import to_dict
from crnn.config.train import TrainConfig
from crnn.core.codec import Codec, log_softmax
from crnn.core.preprocess import to_batch
from crnn.reading.crops import OnnxReader
from crnn.reading.metadata import metadata_for
from crnn.recognizer.checkpoint import load_checkpoint
from crnn.recognizer.data import input_spec
from crnn.recognizer.model import CRNN

log = logging.getLogger(__name__)


def set_metadata(path: Path, meta: dict[str, str], check: bool = True) -> None:
    """Replace an ONNX file's metadata with `meta` (and run the ONNX checker on it)."""
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    if check:
        onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def to_onnx(
    module: torch.nn.Module, dummy: torch.Tensor, out: Path, output: str, opset: int, meta: dict[str, str]
) -> None:
    """Write `module` to `out` as ONNX: input `images` and output `output` with a dynamic batch axis, then
    its metadata (checked). Both models are exported this way."""
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        module,
        (dummy,),
        str(out),
        input_names=["images"],
        output_names=[output],
        dynamic_axes={"images": {0: "batch"}, output: {0: "batch"}},
        opset_version=opset,
        dynamo=False,
    )
    set_metadata(out, meta)


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
    to_onnx(
        model,
        torch.zeros(2, spec.channels, spec.height, spec.width),
        out,
        "logits",
        opset,
        metadata_for(
            to_dict(cfg),
            spec,
            cfg.input.charset,
            cfg.decoder,
            model.time_steps,
            cfg.erasure_prior,
            cfg.ean13_lead0_prior,
            cfg.erasable,
        ),
    )

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


@dataclass(frozen=True)
class QuantReport:
    written: bool
    float_exact_match: float
    int8_exact_match: float
    path: Path


def quantize_int8(
    onnx_path: str | Path,
    out: str | Path,
    calibration: list[Image.Image],
    check_tsv: str | Path,
    max_drop: float = 0.005,
    batch_size: int = 16,
) -> QuantReport:
    """Static int8 quantization (onnxruntime, QDQ, per-channel weights) of an exported model.

    Calibrates on `calibration` crops, then reads `check_tsv` with both models; the int8 file is kept only
    when its exact match is at most `max_drop` below the float model's, otherwise it is deleted.
    """
    import tempfile

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from crnn.evaluation.crops import evaluate

    if not calibration:
        raise ValueError("int8 quantization needs calibration images")
    float_reader = OnnxReader(onnx_path)
    batches = [
        to_batch(calibration[i : i + batch_size], float_reader.spec) for i in range(0, len(calibration), batch_size)
    ]

    class _Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self) -> dict | None:
            b = next(self._it, None)
            return None if b is None else {float_reader.input_name: b}

    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(onnx_path), str(pre))
        quantize_static(
            str(pre),
            str(out),
            _Batches(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
        )
    set_metadata(out, float_reader.metadata, check=False)
    f = evaluate(float_reader, check_tsv).summary["exact_match"]
    q = evaluate(OnnxReader(out), check_tsv).summary["exact_match"]
    keep = q >= f - max_drop
    if not keep:
        out.unlink()
        log.warning("int8 model dropped: exact match %.3f vs float %.3f (allowed drop %.3f)", q, f, max_drop)
    return QuantReport(keep, f, q, out)

"""Step `export`: ONNX with its metadata; onnxruntime must match PyTorch (a mismatch fails the step).

    python steps/export.py --model-id ID [--dataset-id ID] [--config configs/export.yaml] [opset=17 ...]
The parity check runs on random inputs plus crops from the dataset's test split. Output: onnx_model_id.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script (by an agent): import this checkout's crnn
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crnn.config.steps import ExportConfig
from crnn.core.images import load_image
from crnn.core.labels import read_tsv
from crnn.reading.crops import OnnxReader
from crnn.reading.metadata import META_PREFIX
from crnn.recognizer.export import export_onnx
from crnn.tracking.steps import step_main
from crnn.tracking.tracker import Tracker

STEP = "export"
INPUTS = ["model_id", "dataset_id"]


def run(cfg: ExportConfig, tracker: Tracker, work_dir: Path, model_id: str, dataset_id: str = "") -> dict:
    checkpoint = tracker.model(model_id)
    images = None
    if dataset_id and cfg.parity_images > 0:
        tsv = tracker.dataset(dataset_id) / "test" / "crops.tsv"
        # Labels are not needed: parity compares two runtimes, not the model with the truth.
        samples = read_tsv(tsv, None)[: cfg.parity_images]
        images = [load_image(s.path) for s in samples]
    out = work_dir / "model.onnx"
    report = export_onnx(checkpoint, out, images=images, opset=cfg.opset, atol=cfg.atol)
    tracker.scalars(
        {"max_abs_diff": report.max_abs_diff, "inputs": report.n, "strings_equal": report.strings_equal}, title="parity"
    )
    meta = {k.removeprefix(META_PREFIX): v for k, v in OnnxReader(out).metadata.items() if k != META_PREFIX + "config"}
    meta |= {
        "source_model_id": model_id,
        "parity_inputs": report.n,
        "parity_max_abs_diff": report.max_abs_diff,
        "opset": cfg.opset,
    }
    onnx_id = tracker.register_model(out, cfg.model_name, "ONNX", meta, tags=["onnx", "parity-checked"])
    return {"onnx_model_id": onnx_id, "onnx_file": str(out), "parity_max_abs_diff": report.max_abs_diff}


def main(argv: list[str] | None = None) -> int:
    return step_main(STEP, ExportConfig, "configs/export.yaml", INPUTS, run, "custom", argv)


if __name__ == "__main__":
    sys.exit(main())

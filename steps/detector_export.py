"""Step `detector_export`: the detector as ONNX with its metadata; onnxruntime must match PyTorch (or it fails).

    python steps/detector_export.py --model-id ID [--config configs/detector_export.yaml] [opset=17 ...]
Parity runs on random inputs. Outputs: model_id (the ONNX model), onnx_file, parity_max_abs_diff.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script (by an agent): import this checkout's crnn
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crnn.config.steps import DetectorExportConfig
from crnn.detector.export import export_detector
from crnn.reading.detection import Detector
from crnn.tracking.steps import step_main
from crnn.tracking.tracker import Tracker

STEP = "detector_export"
INPUTS = ["model_id"]


def run(cfg: DetectorExportConfig, tracker: Tracker, work_dir: Path, model_id: str) -> dict:
    out = work_dir / "detector.onnx"
    diff = export_detector(tracker.model(model_id), out, opset=cfg.opset, atol=cfg.atol)
    tracker.scalars({"max_abs_diff": diff}, title="parity")
    det = Detector(out)  # what a reader sees: the metadata it needs, read back from the file
    meta = {
        "source_model_id": model_id,
        "input_size": det.size,
        "stride": det.stride,
        "mean": det.mean,
        "std": det.std,
        "parity_max_abs_diff": diff,
        "opset": cfg.opset,
    }
    onnx_id = tracker.register_model(out, cfg.model_name, "ONNX", meta, tags=["onnx", "detector", "parity-checked"])
    return {"model_id": onnx_id, "onnx_file": str(out), "parity_max_abs_diff": diff}


def main(argv: list[str] | None = None) -> int:
    return step_main(STEP, DetectorExportConfig, "configs/detector_export.yaml", INPUTS, run, "custom", argv)


if __name__ == "__main__":
    sys.exit(main())

"""Bundle a main job's models into the package (crnn/models/): the recogniser, the detector, their record and card.

    python scripts/bundle_models.py [--summary runs/pipeline/summary.json] [--detector PATH]

Reads the main job's summary (`bash scripts/run.sh` writes it), checks that each ONNX file loads in onnxruntime and
is what it should be (a recogniser, a detector), copies them to crnn/models/, and writes crnn/models/models.json
(where they came from, their sha256, the job's figures) and crnn/models/MODEL_CARD.md from it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from crnn.models import CARD, DETECTOR, RECOGNISER, RECORD  # noqa: E402


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check(path: Path, kind: str) -> dict[str, str]:
    """`path` loads in onnxruntime and carries `kind`'s metadata; its metadata."""
    import onnxruntime as ort

    meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    key = "crnn.charset" if kind == "recogniser" else "crnn_detector.size"
    if key not in meta:
        raise SystemExit(f"{path} is not a {kind} (no {key} in its metadata)")
    return meta


def _figures(summary: dict, root: Path) -> dict:
    out: dict = {"synthetic_test_exact_match": summary.get("exact_match"), "photos": summary.get("photos")}
    metrics = summary.get("metrics_file")
    path = Path(metrics) if metrics else None
    if path is not None and not path.is_absolute() and not path.is_file():
        path = root / path  # relative to the checkout the main job ran in
    if path is not None and path.is_file():
        sets = json.loads(path.read_text())["sets"]
        out["sets"] = {
            name: {k: s[k] for k in ("n", "exact_match", "cer", "per_format") if k in s} for name, s in sets.items()
        }
    photo_file = summary.get("photo_metrics_file")
    if photo_file and Path(photo_file).is_file():
        photos = json.loads(Path(photo_file).read_text())
        out["photos"] = {
            k: photos.get(k)
            for k in ("n", "read", "fused_read", "wrong_sure", "fused_wrong_sure", "zxing", "seconds_per_photo")
        }
    return out


def card(record: dict) -> str:
    """MODEL_CARD.md from a models.json record."""
    f = record["figures"]
    real = f.get("sets", {}).get("real", {})
    photos = f.get("photos") or {}

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}%"

    rows = [
        (
            "synthetic test crops (held out)",
            pct(f.get("synthetic_test_exact_match")),
            "`bash scripts/run.sh` (evaluate)",
        ),
        (
            f"real crops, `../shared/data/real-dev` ({real.get('n', '-')})",
            pct(real.get("exact_match")),
            "`bash scripts/run.sh` (evaluate)",
        ),
        (
            f"real photos, `../shared/data/real-dev` ({photos.get('n', '-')}), digits alone",
            pct(photos.get("read")),
            "`bash scripts/run.sh` (photo_evaluate)",
        ),
    ]
    if photos.get("fused_read") is not None:
        rows.append(("the same photos, bars fused (as `crnn read` reads)", pct(photos["fused_read"]), "as above"))
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    src = record["source"]
    return f"""# Bundled models

`crnn/models/recogniser.onnx` (CRNN: {record["recogniser"]["bytes"] // 1024} KB) and `crnn/models/detector.onnx`
(barcode detector: {record["detector"]["bytes"] // 1024} KB), exported by the main job (`bash scripts/run.sh`) at
commit `{src["commit"]}`; hashes in `models.json`. Refreshed with `python scripts/bundle_models.py`.

## Training data

Synthetic only: barcodes drawn by `crnn.synth` from GS1's layout rules (EAN-13, UPC-A, EAN-8, UPC-E; add-ons,
quiet-zone marks, loyalty-card prints), printed, lit, bent, blurred and photographed at any angle. No real photo
was trained on; the real-dev set (`../shared/data/real-dev`) is used only to report.

## Figures

| set | read exactly | command |
| --- | --- | --- |
{table}

Real-dev is small (88 mostly upright photos, 75 crops, one EAN-8): read its figures as a check, not a promise.

## Known limits

- Photos taken at steep angles, tiny barcodes (under about 1.5 px a bar module) and heavy glare read less often;
  readings that are not sure are listed apart (`uncertain`) and should be confirmed.
- A sure read can still be wrong (the check digit catches most, not all, misreads); where zxing-cpp decodes the
  bars, the two are compared.
- Only EAN-13, UPC-A, EAN-8 and UPC-E; add-on digits are not read.
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--summary", default="runs/pipeline/summary.json", help="the main job's summary.json")
    ap.add_argument("--detector", default=None, help="this detector .onnx instead of the summary's")
    a = ap.parse_args()
    summary_path = Path(a.summary).resolve()
    summary = json.loads(summary_path.read_text())
    root = summary_path.parents[2] if summary_path.parent.name == "pipeline" else summary_path.parent
    recogniser = Path(summary["onnx_file"])
    detector_path = Path(a.detector or summary["detector_onnx_file"])
    _check(recogniser, "recogniser")
    _check(detector_path, "detector")
    shutil.copyfile(recogniser, RECOGNISER)
    shutil.copyfile(detector_path, DETECTOR)
    commit = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    record = {
        "source": {"commit": commit or "unknown", "summary": str(summary_path)},
        "recogniser": {"sha256": _sha256(RECOGNISER), "bytes": RECOGNISER.stat().st_size},
        "detector": {
            "sha256": _sha256(DETECTOR),
            "bytes": DETECTOR.stat().st_size,
            "synthetic_val_f1": None if a.detector else summary.get("detector_val_f1"),
        },
        "figures": _figures(summary, root),
    }
    RECORD.write_text(json.dumps(record, indent=1) + "\n")
    CARD.write_text(card(record))
    print(f"bundled {RECOGNISER.name} and {DETECTOR.name} from {summary_path} (commit {record['source']['commit']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

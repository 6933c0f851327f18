"""Step `evaluate`: the best checkpoint on the dataset's val and test splits and the real crops when present.

    python steps/evaluate.py --model-id ID --dataset-id ID [--config configs/evaluate.yaml] [threshold=0.95 ...]
Reports exact match, CER, accuracy per barcode format (and, on the real crops, per distinct number), a character
confusion matrix and a failure gallery; writes metrics.json and report.html (the same figures as one page, with a
risk-coverage curve), both also artifacts. Fails when exact match on `gate_split` is under `threshold`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script (by an agent): import this checkout's crnn
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crnn.config.steps import EvaluateConfig
from crnn.core import metrics
from crnn.core.images import load_image
from crnn.evaluation.crops import Evaluation, evaluate
from crnn.evaluation.report import write_report
from crnn.evaluation.visualize import char_confusion, confusion_image, prediction_gallery
from crnn.recognizer.reader import TorchReader
from crnn.tracking.steps import step_main
from crnn.tracking.tracker import Tracker

STEP = "evaluate"
INPUTS = ["model_id", "dataset_id"]


class BelowThreshold(ValueError):
    """Exact match under the configured threshold: the pipeline must stop here."""


def run(cfg: EvaluateConfig, tracker: Tracker, work_dir: Path, model_id: str, dataset_id: str) -> dict:
    reader = TorchReader(tracker.model(model_id), {"decoder": cfg.decoder})
    data = tracker.dataset(dataset_id)
    sets = {split: data / split / "crops.tsv" for split in cfg.splits}
    real = tracker.real_data(cfg.real_tsv, cfg.real_dataset_id, "real_tsv")
    if real is not None:
        sets["real"] = real
    if cfg.gate_split not in sets:
        raise ValueError(f"gate_split {cfg.gate_split!r} is not among the evaluated sets {sorted(sets)}")
    results: dict[str, dict] = {}
    evaluations: dict[str, Evaluation] = {}  # for the report page
    for name, tsv in sets.items():
        ev = evaluations[name] = evaluate(reader, tsv, batch_size=cfg.batch_size)
        s = ev.summary
        results[name] = s
        tracker.scalars({metrics.EXACT_MATCH: s[metrics.EXACT_MATCH], metrics.CER: s[metrics.CER]}, title=name)
        floor = s["confidence_floor"]
        tracker.scalars({f"sure_{k}": floor[k] for k in ("coverage", "precision", "wrong_kept")}, title=name)
        if s["no_number"]["n"]:  # crops showing no number, left out of the figures above: how many read sure
            tracker.scalars({"no_number_sure": s["no_number"]["sure"] / s["no_number"]["n"]}, title=name)
        # Risk-coverage: what each confidence floor would show as sure, and how much of it is right.
        sweep = [ev.at_floor(f) for f in metrics.FLOORS]
        points = [(p["coverage"], p["precision"]) for p in sweep if p["coverage"] > 0]
        tracker.line("confidence floor", name, points, "shown as sure (coverage)", "right among sure (precision)")
        for fmt, v in s["per_format"].items():
            tracker.scalar(f"{name}/per_format_exact_match", fmt, v[metrics.EXACT_MATCH])
        tracker.table("per format", name, [{"format": f, **v} for f, v in s["per_format"].items()])
        if name == "real":  # few objects photographed many times: per distinct number (synthetic ones are unique)
            s["per_number"] = ev.numbers
            tracker.table("per number", name, s["per_number"])
        labels, matrix = char_confusion(
            [r["text"] for r in ev.rows], [r["target"] for r in ev.rows], reader.codec.charset
        )
        tracker.image("confusion", name, confusion_image(labels, matrix, f"{name}: rows target, columns predicted"))
        shown = ev.failures[: cfg.failures_shown]
        if shown:
            gallery = prediction_gallery(
                [load_image(r["file"]) for r in shown],
                [r["text"] for r in shown],
                [r["target"] for r in shown],
                [r["confidence"] for r in shown],
            )
            tracker.image("failures", name, gallery)
    out = work_dir / "metrics.json"
    out.write_text(
        json.dumps(
            {
                "model_id": model_id,
                "dataset_id": dataset_id,
                "gate_split": cfg.gate_split,
                "threshold": cfg.threshold,
                "sets": results,
            },
            indent=1,
        )
    )
    tracker.artifact("metrics", out)
    report = write_report(
        work_dir / "report.html",
        evaluations,
        reader.codec.charset,
        reader.policy.min_confidence,
        f"evaluate: model {model_id} on dataset {dataset_id}",
    )
    tracker.artifact("report", report)
    gate = results[cfg.gate_split][metrics.EXACT_MATCH]
    if gate < cfg.threshold:
        raise BelowThreshold(
            f"exact match on {cfg.gate_split} is {gate:.4f}, under the threshold {cfg.threshold} (metrics in {out})"
        )
    return {
        "exact_match": gate,
        "cer": results[cfg.gate_split][metrics.CER],
        "metrics_file": str(out),
        "report_file": str(report),
        **{f"{k}_exact_match": v[metrics.EXACT_MATCH] for k, v in results.items()},
    }


def main(argv: list[str] | None = None) -> int:
    return step_main(STEP, EvaluateConfig, "configs/evaluate.yaml", INPUTS, run, "testing", argv)


if __name__ == "__main__":
    sys.exit(main())

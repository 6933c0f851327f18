"""Step `photo_evaluate`: the exported detector and recogniser together on labelled whole photos.

    python steps/photo_evaluate.py --detector-model-id ID --recogniser-model-id ID
        [--config configs/photo_evaluate.yaml] [photos_tsv=photos.tsv threshold=0.5 ...]
Scalars (title `photos`): read, read_any, wrong_sure, other_sure, their fused_ twins (the bars as evidence, as
`crnn read` reads), found, zxing, either, seconds_per_photo and fused_seconds_per_photo; tables per group and per
format, and one of the first failures (unsure reads marked `?`); photo_metrics.json and the failures as
artifacts. Without the photos TSV the step reports
n=0 and passes. Fails when the share read exactly is under `threshold` (0: no gate).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script (by an agent): import this checkout's crnn
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crnn.config.steps import PhotoEvaluateConfig
from crnn.evaluation.photos import evaluate_photos
from crnn.reading.photos import PhotoReader
from crnn.tracking.steps import step_main
from crnn.tracking.tracker import Tracker

STEP = "photo_evaluate"
INPUTS = ["detector_model_id", "recogniser_model_id"]
FIGURES = (
    "read",
    "read_any",
    "wrong_sure",
    "other_sure",
    "fused_read",
    "fused_wrong_sure",
    "found",
    "zxing",
    "either",
    "seconds_per_photo",
    "fused_seconds_per_photo",
)

log = logging.getLogger(STEP)


class BelowThreshold(ValueError):
    """Share of photos read under the configured threshold: the pipeline must stop here."""


def run(
    cfg: PhotoEvaluateConfig,
    tracker: Tracker,
    work_dir: Path,
    detector_model_id: str,
    recogniser_model_id: str,
) -> dict:
    # Models first, so a broken wiring fails even where there are no photos.
    reader = PhotoReader(
        tracker.model(detector_model_id, "detector_model_id"),
        tracker.model(recogniser_model_id, "recogniser_model_id"),
        {"zooms": cfg.zooms, "variants": cfg.variants, "min_confidence": cfg.min_confidence},
    )
    photos = tracker.real_data(cfg.photos_tsv, cfg.real_dataset_id, "photos_tsv")
    if photos is None:
        log.warning("no photos to evaluate (photos_tsv=%s); reporting n=0", cfg.photos_tsv)
        return {"n": 0, **{k: float("nan") for k in FIGURES}}
    result = evaluate_photos(reader, photos, zxing=cfg.zxing, progress=False)
    tracker.scalars({k: result[k] for k in ("n", *FIGURES) if result[k] is not None}, title="photos")
    groups = [{"group": g, **v} for g, v in result["per_group"].items()]
    for g in groups:
        tracker.scalar("photos/per_group_read", g["group"] or "-", g["read"])
    tracker.table("per group", "photos", groups)
    tracker.table("per format", "photos", [{"format": f, **v} for f, v in result["per_format"].items()])
    failures = result["failures"]
    shown = [
        {
            "file": r["file"],
            "group": r["group"],
            "text": r["text"],
            "read": " ".join(b["text"] + ("" if b["sure"] else "?") for b in r["readings"]) or "-",
            "found": r["found"],
            "zxing": r["zxing"],
            "error": r.get("error", ""),
        }
        for r in failures[: cfg.failures_shown]
    ]
    tracker.table("failures", "photos", shown)
    tracker.artifact("failures", {"photos_tsv": cfg.photos_tsv, "failures": failures})
    out = work_dir / "photo_metrics.json"
    summary = {k: v for k, v in result.items() if k != "failures"}
    out.write_text(
        json.dumps(
            {
                "detector_model_id": detector_model_id,
                "recogniser_model_id": recogniser_model_id,
                "photos_tsv": cfg.photos_tsv,
                "threshold": cfg.threshold,
                **summary,
            },
            indent=1,
        )
    )
    tracker.artifact("photo_metrics", out)
    if result["n"] and result["read"] < cfg.threshold:
        raise BelowThreshold(
            f"{result['read']:.4f} of the photos read exactly, under the threshold {cfg.threshold} (metrics in {out})"
        )
    return {
        "n": result["n"],
        **{k: result[k] for k in FIGURES},
        "failures": len(failures),
        "metrics_file": str(out),
    }


def main(argv: list[str] | None = None) -> int:
    return step_main(STEP, PhotoEvaluateConfig, "configs/photo_evaluate.yaml", INPUTS, run, "testing", argv)


if __name__ == "__main__":
    sys.exit(main())

"""Test-time views threshold benchmark: which reads to read again in views (`crnn.core.confidence.VIEWS_BELOW`).

    python benchmarks/views.py --model runs/a/model.onnx [--model runs/b/model.onnx ...]
        [--sets data/synth/val/crops.tsv ../shared/data/real-dev/crops.tsv] [--thresholds 0.05,0.2,0.5,0.8,1.01]

For each labelled set, model and threshold: exact match, the share of crops read again in the views (the cost: each
is read three times and searched again), and crops/s as read (image files loaded and decoded included). The default
threshold is chosen on the synthetic val crops, where it is the lowest of those above beyond which no model reads more
short of every crop (1.01: each read three times); the real crops only report.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from crnn.core import metrics
from crnn.core.confidence import VIEWS_BELOW
from crnn.evaluation.crops import evaluate
from crnn.reading.crops import open_reader


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help="recogniser .onnx or .ckpt (repeatable)")
    ap.add_argument("--sets", nargs="+", default=["data/synth/val/crops.tsv", "../shared/data/real-dev/crops.tsv"])
    ap.add_argument(
        "--thresholds", type=lambda v: [float(x) for x in v.split(",")], default=[0.05, 0.2, 0.5, 0.8, 1.01]
    )
    a = ap.parse_args()
    missing = [s for s in a.sets + a.model if not Path(s).is_file()]
    if missing:
        print(f"not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    print(f"default threshold {VIEWS_BELOW}; per threshold: exact match, crops read again, crops/s")
    for tsv in a.sets:
        print(f"\n{tsv}")
        print("  model" + "".join(f"  {t:>22.2f}" for t in a.thresholds))
        for model in a.model:
            # Every read's confidence once, without views: which crops each threshold sends to the views.
            confidences = [r["confidence"] for r in evaluate(open_reader(model, {"views": ()}), tsv).rows]
            cells = []
            for t in a.thresholds:
                reader = open_reader(model, {"views_below": t})
                start = time.perf_counter()
                ev = evaluate(reader, tsv)
                rate = len(confidences) / (time.perf_counter() - start)
                again = sum(c < t for c in confidences) / len(confidences)
                cells.append(f"{ev.summary[metrics.EXACT_MATCH]:.4f} {again:5.1%} {rate:5.0f}/s")
            print(f"  {Path(model).parent.name or model}" + "".join(f"  {c:>22}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())

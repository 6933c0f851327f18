"""Confidence floor benchmark: what each floor does to the reads a user is shown as sure.

    python benchmarks/confidence.py --model runs/train/model.onnx
        [--sets data/synth/val/crops.tsv ../shared/data/real-dev/crops.tsv] [--floors 0,0.01,0.05]

For each labelled set and floor: the share of reads at or above it (coverage), the share of those that are
right (precision), wrong reads still shown as sure (the dangerous ones) and right reads flagged unsure.
The default floor (`crnn.core.confidence.MIN_CONFIDENCE`) is chosen on the synthetic val crops, where it is the
highest floor of those above at which the reads it drops are still more often wrong than right; the
real crops only report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crnn.core import metrics
from crnn.core.confidence import MIN_CONFIDENCE
from crnn.evaluation.crops import evaluate
from crnn.reading.crops import open_reader


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="recogniser .onnx or .ckpt")
    ap.add_argument("--sets", nargs="+", default=["data/synth/val/crops.tsv", "../shared/data/real-dev/crops.tsv"])
    ap.add_argument("--floors", type=lambda v: [float(x) for x in v.split(",")], default=list(metrics.FLOORS))
    a = ap.parse_args()
    missing = [s for s in a.sets if not Path(s).is_file()]
    if missing:
        print(f"labelled sets not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    reader = open_reader(a.model)
    print(f"model {a.model}, decoder {reader.decoder}, default floor {MIN_CONFIDENCE}")
    for tsv in a.sets:
        ev = evaluate(reader, tsv)
        print(f"\n{tsv}: n={ev.summary['n']}, exact match {ev.summary[metrics.EXACT_MATCH]:.3f}")
        print("  floor  coverage  precision  wrong_shown_sure  right_flagged_unsure")
        for f in a.floors:
            s = ev.at_floor(f)
            print(
                f"  {f:5.3f}  {s['coverage']:8.3f}  {s['precision']:9.4f}  {s['wrong_kept']:16d}  "
                f"{s['right_dropped']:20d}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

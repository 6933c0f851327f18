"""Accuracy benchmark: train the default config on synthetic data only (CPU), measure on the real crops.

    python benchmarks/accuracy.py [--config configs/train.yaml] [key=value ...]

Prints the synthetic data time, the training time, and for each decoder the exact match and CER on
../shared/data/real-dev/crops.tsv (never trained on): overall, per barcode format, per distinct number,
how the failures split into caught by the check digit vs wrong-but-valid, and what the confidence floor
(`crnn.inference.MIN_CONFIDENCE`) flags as unsure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from crnn import config
from crnn.evaluate import evaluate
from crnn.inference import TorchReader
from crnn.train import ensure_synthetic, fit


def report(name: str, s: dict) -> None:
    f = s["failures"]
    d = s["distinct_numbers"]
    print(f"\n[{name}] exact match {s['exact_match']:.3f}  CER {s['cer']:.4f}  n={s['n']}")
    for fmt, m in s["per_format"].items():
        print(f"  {fmt:7s} exact {m['exact_match']:.3f}  CER {m['cer']:.4f}  n={m['n']}")
    print(f"  distinct numbers: {d['n']}, all images read {d['all_read']:.3f}, mean exact {d['mean_exact_match']:.3f}")
    print(f"  failures {f['n']}: caught by check digit {f['checksum_caught']}, wrong but valid {f['wrong_but_valid']}")
    c = s["confidence_floor"]
    print(
        f"  confidence floor {c['floor']}: {c['coverage']:.3f} of reads shown as sure, {c['precision']:.3f} of "
        f"those right; wrong reads shown as sure {c['wrong_kept']}, right reads flagged unsure {c['right_dropped']}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/train.yaml")
    ap.add_argument("--real", default="../shared/data/real-dev/crops.tsv")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args()
    cfg = config.load(config.TrainConfig, a.config, a.overrides)
    if not Path(a.real).is_file():
        print(f"real crops not found: {a.real}", file=sys.stderr)
        return 2
    t0 = time.time()
    ensure_synthetic(cfg)
    synth_s = time.time() - t0
    result = fit(cfg)
    print(
        f"synthetic data: {synth_s:.0f} s; training: {result.seconds:.0f} s ({result.seconds / 60:.1f} min), "
        f"{result.epochs} epochs, best checkpoint {result.best_checkpoint}"
    )
    out: dict = {
        "synth_seconds": synth_s,
        "train_seconds": result.seconds,
        "epochs": result.epochs,
        "overrides": a.overrides,
        "decoders": {},
    }
    reader = TorchReader(result.best_checkpoint)
    for decoder in ("greedy", "constrained"):
        s = evaluate(reader, a.real, decoder=decoder).summary
        report(decoder, s)
        out["decoders"][decoder] = s
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

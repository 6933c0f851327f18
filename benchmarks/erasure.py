"""Digits the crop lacks: how the check-digit decoder's missing-digit hypothesis does at each prior.

    python benchmarks/erasure.py --model runs/train/model.onnx [--synth data/synth/val/crops.tsv] [--erasable UPC-A]

A UPC-A printed without its check digit, or an EAN-13 whose leading digit the frame cut off, shows one digit
fewer than its number; the constrained decoder may read the digits shown and infer the missing one from the
check digit (`crnn.core.symbology.ERASABLE`, for the model's `erasable` formats unless `--erasable` names others), at a
prior probability (the model's `erasure_prior`). For each prior
this prints, on the synthetic val crops (where the prior is chosen) and on the real crops (reported, never
chosen on): exact match, the reads with an inferred digit and how many of them are right, and the wrong reads
among all (a read with an inferred digit always passes the check digit, so only its confidence can flag it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from crnn.core import symbology
from crnn.core.codec import log_softmax
from crnn.core.images import load_image
from crnn.core.labels import read_tsv
from crnn.core.preprocess import to_batch
from crnn.reading.crops import Reader, open_reader

PRIORS = (0.0, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)


def sweep(reader: Reader, tsv: Path, batch: int = 256) -> list[tuple[float, int, int, int, int, int]]:
    """(prior, n, right, inferred, inferred right, wrong) per prior, the network run once; the reader's layout
    prior and erasable formats."""
    samples = read_tsv(tsv, reader.codec)
    parts = []
    for i in range(0, len(samples), batch):
        ims = [load_image(s.path) for s in samples[i : i + batch]]
        parts.append(log_softmax(reader.logits(to_batch(ims, reader.spec)).astype(np.float32)))
    logp = np.concatenate(parts)
    rows = []
    for prior in PRIORS:
        reads = reader.codec.decode_constrained_batch(
            logp,
            erasure_prior=prior,
            ean13_lead0_prior=reader.ean13_lead0_prior,
            erasable=reader.erasable,
        )
        right = [r.text == s.text for r, s in zip(reads, samples)]
        inferred = [ok for r, ok in zip(reads, right) if r.inferred]
        rows.append((prior, len(samples), sum(right), len(inferred), sum(inferred), len(samples) - sum(right)))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help=".onnx model or .ckpt checkpoint")
    ap.add_argument("--synth", type=Path, default=Path("data/synth/val/crops.tsv"))
    ap.add_argument(
        "--erasable",
        nargs="+",
        choices=sorted(symbology.ERASABLE),
        help="formats to infer a digit of (default: the model's own)",
    )
    ap.add_argument("--real", type=Path, default=Path("../shared/data/real-dev/crops.tsv"))
    a = ap.parse_args()
    reader = open_reader(a.model, {"decoder": "constrained", "erasable": a.erasable})
    print(f"the model's own prior (its training config's erasure_prior): {reader.erasure_prior}")
    print(f"formats inferred: {', '.join(reader.erasable)}")
    for name, tsv in (("synthetic val", a.synth), ("real crops", a.real)):
        if not tsv.is_file():
            print(f"{name}: {tsv} not found, skipped", file=sys.stderr)
            continue
        print(f"\n{name} ({tsv})")
        print("| prior | exact match | inferred reads (right) | wrong reads |\n| --- | --- | --- | --- |")
        for prior, n, right, inf, inf_right, wrong in sweep(reader, tsv):
            print(f"| {prior:g} | {right / n:.2%} ({right}/{n}) | {inf} ({inf_right}) | {wrong} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

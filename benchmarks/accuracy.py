"""Accuracy benchmark: train the default config on synthetic data only (CPU), measure on the real crops.

    python benchmarks/accuracy.py [--config configs/train.yaml] [key=value ...]
    python benchmarks/accuracy.py --model runs/x/model.onnx [--ean13-lead0-prior P]   # no training

Prints the synthetic data time, the training time, and for each decoder the exact match and CER on
../shared/data/real-dev/crops.tsv (never trained on): overall, per barcode format, per distinct number,
how the failures split into caught by the check digit vs wrong-but-valid (the constrained decoder also with
the test-time views, as `crnn read` reads), and what the confidence floor
(`crnn.core.confidence.MIN_CONFIDENCE`) flags as unsure; and the mean CTC negative log-likelihood of the true
numbers, a smoother measure than exact match for comparing two trainings (lower is better). Then, for the reader
as shipped, a table per distinct number (images, exact match, CER, failures by kind) and every crop not read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from crnn import config
from crnn.core.codec import log_softmax
from crnn.core.confidence import is_sure
from crnn.core.images import load_image
from crnn.core.labels import read_tsv
from crnn.core.preprocess import to_batch
from crnn.evaluation.crops import evaluate
from crnn.reading.crops import Reader, open_reader
from crnn.recognizer.reader import TorchReader
from crnn.recognizer.train import ensure_synthetic, fit


def true_number_nll(reader: Reader, tsv: str, batch_size: int = 64) -> float:
    """Mean CTC negative log-likelihood of each crop's printed number under the model (nats)."""
    samples = read_tsv(tsv, reader.codec)
    losses = []
    for i in range(0, len(samples), batch_size):
        chunk = samples[i : i + batch_size]
        batch = to_batch([load_image(s.path) for s in chunk], reader.spec)
        logp = torch.from_numpy(log_softmax(reader.logits(batch).astype(np.float32))).permute(1, 0, 2)
        targets = [torch.tensor(reader.codec.encode(s.target)) for s in chunk]
        losses.append(
            torch.nn.functional.ctc_loss(
                logp,
                torch.cat(targets),
                torch.full((len(chunk),), logp.shape[0], dtype=torch.long),
                torch.tensor([len(t) for t in targets]),
                reduction="none",
            )
        )
    return float(torch.cat(losses).mean())


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
    z = s.get("no_number", {})
    if z.get("n"):
        print(f"  crops showing no number (left out above): {z['n']}, read as a sure number {z['sure']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/train.yaml")
    ap.add_argument("--real", default="../shared/data/real-dev/crops.tsv")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--model", help="measure this .onnx or .ckpt instead of training one")
    ap.add_argument("--ean13-lead0-prior", type=float, help="with --model: decode with this layout prior")
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args()
    if not Path(a.real).is_file():
        print(f"real crops not found: {a.real}", file=sys.stderr)
        return 2
    if a.model:
        lead0 = {"ean13_lead0_prior": a.ean13_lead0_prior}
        return measure(lambda o: open_reader(a.model, {**lead0, **o}), a.real, {"model": a.model}, a.json)
    cfg = config.load(config.TrainConfig, a.config, a.overrides)
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
    }
    return measure(lambda o: TorchReader(result.best_checkpoint, o), a.real, out, a.json)


def measure(make_reader: Callable[[dict], Reader], real: str, out: dict, json_path: str | None) -> int:
    """`make_reader(overrides)`: the model read with those reading settings."""
    out["decoders"] = {}
    # The network alone (greedy), the constrained decoder, and the reader as shipped: constrained with the
    # test-time views fused for unsure reads.
    for name, overrides in (
        ("greedy", {"decoder": "greedy", "views": ()}),
        ("constrained", {"decoder": "constrained", "views": ()}),
        ("constrained+views", {"decoder": "constrained"}),
    ):
        reader = make_reader(overrides)
        ev = evaluate(reader, real)
        s = ev.summary
        report(name, s)
        out["decoders"][name] = s
    # The reader as shipped, per distinct number and per crop not read (the last evaluation above).
    numbers = ev.numbers
    out["per_number"] = numbers
    print("\nper distinct number (constrained+views; least read first):")
    print(f"  {'number':14s} {'format':6s} {'images':>6s} {'exact':>6s} {'CER':>6s}  failures caught / wrong but valid")
    for r in numbers:
        print(
            f"  {r['number']:14s} {r['format']:6s} {r['n']:6d} {r['exact_match']:6.3f} {r['cer']:6.3f}"
            f"  {r['checksum_caught']} / {r['wrong_but_valid']}"
        )
    print("not read:" if ev.failures else "not read: none")
    for f in ev.failures:
        sure = "sure" if is_sure(f["confidence"], f["checksum_ok"]) else "unsure"
        print(f"  {Path(f['file']).name:24s} {f['target']:14s} read {f['text'] or '-'} ({f['confidence']:.2f} {sure})")
    out["true_number_nll"] = true_number_nll(reader, real)
    print(f"\ntrue-number NLL {out['true_number_nll']:.3f} (mean over {real})")
    if json_path:
        Path(json_path).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

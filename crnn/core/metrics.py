"""Accuracy metrics and their logged names, defined once for training, checkpointing and reports."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import editdistance

from crnn.core import symbology
from crnn.core.confidence import is_sure

EXACT_MATCH = "exact_match"


CER = "cer"


def key(split: str, metric: str) -> str:
    """Logged name of a metric on a split, e.g. `val/exact_match`."""
    return f"{split}/{metric}"


MONITOR = key("val", EXACT_MATCH)


def exact_match(preds: Sequence[str], targets: Sequence[str]) -> float:
    """Share of predictions equal to their target."""
    if len(preds) != len(targets):
        raise ValueError(f"{len(preds)} predictions for {len(targets)} targets")
    return sum(p == t for p, t in zip(preds, targets)) / max(1, len(targets))


def cer(preds: Sequence[str], targets: Sequence[str]) -> float:
    """Character error rate: total edit distance over total target length."""
    if len(preds) != len(targets):
        raise ValueError(f"{len(preds)} predictions for {len(targets)} targets")
    dist = sum(editdistance.eval(p, t) for p, t in zip(preds, targets))
    return dist / max(1, sum(len(t) for t in targets))


def summary(preds: Sequence[str], targets: Sequence[str], formats: Sequence[str | None] | None = None) -> dict:
    """Exact match, CER, n; per format; and how failures split into caught (bad check digit) and wrong-but-valid."""
    fmts = list(formats) if formats is not None else [symbology.guess_format(t) for t in targets]
    out: dict = {EXACT_MATCH: exact_match(preds, targets), CER: cer(preds, targets), "n": len(targets)}
    groups: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(fmts):
        groups[f or "unknown"].append(i)
    out["per_format"] = {
        f: {
            EXACT_MATCH: exact_match([preds[i] for i in idx], [targets[i] for i in idx]),
            CER: cer([preds[i] for i in idx], [targets[i] for i in idx]),
            "n": len(idx),
        }
        for f, idx in sorted(groups.items())
    }
    wrong = [i for i, (p, t) in enumerate(zip(preds, targets)) if p != t]
    caught = sum(not symbology.checksum_ok(preds[i]) for i in wrong)
    out["failures"] = {"n": len(wrong), "checksum_caught": caught, "wrong_but_valid": len(wrong) - caught}
    return out


def per_number(preds: Sequence[str], targets: Sequence[str], formats: Sequence[str | None] | None = None) -> list[dict]:
    """Per distinct target number: its format, images `n`, exact match, CER, and how its failures split into
    caught (bad check digit) and wrong-but-valid; the least read first, then by number. Real sets repeat a few
    objects many times, so per-image figures alone overweight them."""
    fmts = list(formats) if formats is not None else [symbology.guess_format(t) for t in targets]
    if not len(preds) == len(targets) == len(fmts):
        raise ValueError(f"{len(preds)} predictions for {len(targets)} targets and {len(fmts)} formats")
    idx: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(targets):
        idx[t].append(i)
    rows = []
    for t, ii in idx.items():
        p = [preds[i] for i in ii]
        wrong = [x for x in p if x != t]
        caught = sum(not symbology.checksum_ok(x) for x in wrong)
        rows.append(
            {
                "number": t,
                "format": fmts[ii[0]] or "unknown",
                "n": len(ii),
                EXACT_MATCH: exact_match(p, [t] * len(p)),
                CER: cer(p, [t] * len(p)),
                "checksum_caught": caught,
                "wrong_but_valid": len(wrong) - caught,
            }
        )
    return sorted(rows, key=lambda r: (r[EXACT_MATCH], r["number"]))


# Confidence floors a risk-coverage sweep reports (evaluate step's plot, benchmarks/confidence.py).
FLOORS = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)


def selective(
    correct: Sequence[bool], confidences: Sequence[float], floor: float, valid: Sequence[bool] | None = None
) -> dict:
    """What a confidence floor does: reads at or above it (and passing the check digit, where `valid` gives
    that) are kept, shown as sure; the rest are flagged.

    `coverage`: share kept; `precision`: share of kept reads that are right; `wrong_kept`: wrong reads still
    shown as sure (the dangerous ones); `right_dropped`: right reads flagged unsure.
    """
    valid = [True] * len(correct) if valid is None else valid
    if not len(correct) == len(confidences) == len(valid):
        raise ValueError(f"{len(correct)} results for {len(confidences)} confidences and {len(valid)} checks")
    kept = [ok for ok, c, v in zip(correct, confidences, valid) if is_sure(c, v, floor)]
    return {
        "floor": floor,
        "coverage": len(kept) / max(1, len(correct)),
        "precision": sum(kept) / len(kept) if kept else float("nan"),
        "wrong_kept": len(kept) - sum(kept),
        "right_dropped": sum(correct) - sum(kept),
    }

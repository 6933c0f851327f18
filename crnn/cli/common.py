"""What the `crnn` subcommands share: help texts, argument types and the crop reader they open."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

ERASURE_HELP = (
    "constrained decoder: prior probability that a crop lacks one digit the check digit supplies (a UPC-A "
    "printed without its check digit, an EAN-13 whose leading digit the frame cut off); such reads say which "
    "digit they inferred. Default: the model's own (its training config's erasure_prior); 0 turns it off"
)


ERASABLE_HELP = (
    "formats whose missing digit --erasure-prior may infer (UPC-A: its check digit; EAN-13: its leading digit). "
    "Default: the model's own (its training config's erasable)"
)


LEAD0_HELP = (
    "constrained decoder: prior that a 13-digit number starting with 0 is printed as an EAN-13 rather than as "
    "its 12-digit UPC-A (the same bars); below 1 prefers the UPC-A. Default: the model's own (1: no preference)"
)


VIEWS_HELP = (
    "test-time views for reads under {below} confidence (every read of an ensemble), comma-separated (top15, sides4, "
    "pad5) or none; "
    'their reads are fused (docs/decisions.md, "Views"). Default: top15,sides4 for crops, none for photos (their '
    "detections are the views; given, every crop of a photo is read in them too, at about 2.5 times the time)"
)


def print_result(result: Any) -> int:
    """A training run's outcome (`crnn.training.trainer.TrainResult`) as one JSON line."""
    print(
        json.dumps(
            {
                "best_checkpoint": str(result.best_checkpoint),
                "last_checkpoint": str(result.last_checkpoint),
                "epochs": result.epochs,
                "seconds": round(result.seconds, 1),
                "metrics": {k: round(v, 4) for k, v in result.metrics.items()},
                "skipped_images": len(result.skipped_images),
            }
        )
    )
    for err in result.skipped_images:
        print(f"error: {err}", file=sys.stderr)
    if result.skipped_images:
        print(f"{len(result.skipped_images)} images could not be read (left out of training)", file=sys.stderr)
    return 1 if result.skipped_images else 0

    return 0


# The reading settings (`crnn.reading.policy.ReadingPolicy` fields) a command line may give; None: the model's own.
POLICY_ARGS = (
    "decoder",
    "erasure_prior",
    "ean13_lead0_prior",
    "erasable",
    "views",
    "min_confidence",
    "zooms",
    "variants",
)


def overrides(a: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(a, k) for k in POLICY_ARGS if getattr(a, k, None) is not None}


def open_reader(model: str, overrides: dict[str, Any], threads: int | None = None) -> Any:
    """The crop reader for `--model`: onnxruntime alone, PyTorch only when a `.ckpt` is given."""
    if model.lower().endswith(".ckpt"):
        from crnn.recognizer import reader

        return reader.open_reader(model, overrides, threads=threads)
    from crnn.reading import crops

    return crops.open_reader(model, overrides, threads=threads)


def views(value: str) -> tuple[str, ...]:
    """`--views`: comma-separated view names, or none."""
    from crnn.reading.fusion import check_views

    names = () if value.strip().lower() in ("", "none") else tuple(v.strip() for v in value.split(","))
    try:
        return check_views(names)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def positive_int(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def config_file(given: str | None, name: str) -> str | None:
    """The config YAML a command reads: `given`, else configs/`name` where it exists (a checkout), else None: the
    schema's defaults, which are the shipped configuration (an installed package has no configs/)."""
    from pathlib import Path

    if given is not None:
        return given
    default = Path("configs", name)
    return str(default) if default.is_file() else None

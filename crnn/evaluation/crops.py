"""Measure a model (.ckpt or .onnx) on a labels TSV: exact match, CER, per format, failures."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from crnn.core import metrics
from crnn.core.codec import Decoder
from crnn.core.confidence import MIN_CONFIDENCE, is_sure
from crnn.core.images import ImageError, load_each
from crnn.core.labels import Sample, read_tsv
from crnn.reading.crops import Reader, open_reader

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    summary: dict
    rows: list[dict] = field(default_factory=list)
    # Per distinct number: format, images, exact match, CER, failures by kind (`crnn.core.metrics.per_number`).
    numbers: list[dict] = field(default_factory=list)
    # Images that could not be read ("file: reason"): skipped, counted in `summary["unreadable"]`.
    unreadable: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[dict]:
        return [r for r in self.rows if r["text"] != r["target"]]

    def at_floor(self, floor: float) -> dict:
        """What a confidence floor does to these reads (`crnn.core.metrics.selective`)."""
        return metrics.selective(
            [r["text"] == r["target"] for r in self.rows],
            [r["confidence"] for r in self.rows],
            floor,
            [r["checksum_ok"] for r in self.rows],
        )


def evaluate(
    model: str | Path | Reader, tsv: str | Path, decoder: Decoder | None = None, batch_size: int = 64
) -> Evaluation:
    """Read every crop in `tsv` and compare with its label."""
    reader = model if isinstance(model, Reader) else open_reader(model, {"decoder": decoder})
    samples = read_tsv(tsv, reader.codec)
    # Crops that show no number (`printed` = `-`) are not read against a label: counted apart, with how many of
    # them a user would be shown a sure number for.
    blank = [s for s in samples if not s.shows_number]
    samples = [s for s in samples if s.shows_number]
    if not samples:
        raise ValueError(f"{tsv}: no crop shows a number")
    errors: list[ImageError] = []
    samples, readings = _read(reader, samples, batch_size, decoder, errors)
    if not samples:
        raise ValueError(f"{tsv}: no crop could be read ({len(errors)} unreadable, the first: {errors[0]})")
    rows = [
        {
            "file": str(s.path),
            "target": s.text,
            "text": r.text,
            "confidence": r.confidence,
            "checksum_ok": r.checksum_ok,
            "inferred": list(r.inferred),
            "format": s.fmt,
        }
        for s, r in zip(samples, readings)
    ]
    preds, targets = [r.text for r in readings], [s.text for s in samples]
    fmts = [s.fmt for s in samples] if all(s.fmt for s in samples) else None
    summary = metrics.summary(preds, targets, fmts)
    summary["decoder"] = decoder or reader.decoder
    # Per distinct number: the share of numbers whose every image is read right, and mean accuracy.
    numbers = metrics.per_number(preds, targets, fmts)
    summary["distinct_numbers"] = {
        "n": len(numbers),
        "all_read": sum(r[metrics.EXACT_MATCH] == 1.0 for r in numbers) / max(1, len(numbers)),
        "mean_exact_match": sum(r[metrics.EXACT_MATCH] for r in numbers) / max(1, len(numbers)),
    }
    # Reads with a digit the crop lacks, supplied by the check digit (crnn.core.codec): how many, how many right.
    inferred = [p == t for p, t, r in zip(preds, targets, readings) if r.inferred]
    summary["inferred"] = {"n": len(inferred), "right": sum(inferred)}
    blank, blank_reads = _read(reader, blank, batch_size, decoder, errors)
    summary["no_number"] = {
        "n": len(blank),
        "sure": sum(is_sure(r.confidence, r.checksum_ok) for r in blank_reads),
    }
    summary["unreadable"] = len(errors)
    ev = Evaluation(summary, rows, numbers, [str(e) for e in errors])
    # Reads under the confidence floor are flagged unsure to users: how many wrong reads it catches.
    summary["confidence_floor"] = ev.at_floor(MIN_CONFIDENCE)
    return ev


def _read(
    reader: Reader, samples: list[Sample], batch_size: int, decoder: Decoder | None, errors: list[ImageError]
) -> tuple[list[Sample], list]:
    """The samples whose image loads and their readings; the others go to `errors` (logged) and are left out."""
    kept: list[Sample] = []
    if not samples:
        return kept, []

    def images() -> Iterator[Image.Image]:
        for s, im in load_each(samples, lambda s: s.path, errors):
            kept.append(s)
            yield im

    n = len(errors)
    readings = list(reader.read_stream(images(), batch_size, decoder))
    for e in errors[n:]:
        log.warning("skipped %s", e)
    return kept, readings

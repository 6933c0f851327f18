"""Photo-reader choices on cached crop reads: the symbol hypotheses and the card-aware fusion, per recogniser.

    python benchmarks/photo_replay.py --model runs/a/model.onnx [--model runs/b/model.onnx ...] \
        --detector D1 [--detector D2] --photos ../shared/data/real-dev/photos.tsv \
        [--photos data/scn_glare/val/photos.tsv ...]

Every detection of every photo is cut and read once per recogniser under every hypothesis tried (the shipped
`crnn.straighten.SYMBOL_VARIANTS` and any `EXTRA` below); the reader's own fusion and fallback
(`PhotoReader.read_in_passes`) then run on those cached reads for each setting, so a setting costs no network
time. Prints, per photo set and setting, the photos whose labelled number is read sure and the confident misreads
(a sure read near the label), per recogniser and summed, and the sum of photos with a sure read far from the label,
judged as `crnn.photo.evaluate_photos` judges them (`crnn.photo.photo_outcome`). "no card fusion" scores
candidates by plain CTC (the erasure prior set to 0 for the fusion only; the reads themselves are the decoder's,
with the model's prior). The settings were chosen on the synthetic scene sets; the real photos are for reporting.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from crnn.core.confidence import is_sure
from crnn.core.geometry import SYMBOL_VARIANTS
from crnn.core.labels import read_tsv
from crnn.evaluation.photos import photo_outcome
from crnn.reading.detection import load_photo
from crnn.reading.photos import PhotoReader

# Extra hypotheses tried beside the shipped ones (none now: the last ones tried, shifts of 0.4 and 0.6, are shipped).
EXTRA: tuple[tuple[float, float, float, float], ...] = ()
HYPOTHESES = tuple(SYMBOL_VARIANTS) + EXTRA
# (name, first hypotheses (indices into HYPOTHESES), fallback hypotheses, card-aware fusion): shifts 0.3, 0.4, 0.5,
# 0.6 are indices 2, 3, 4, 5
SETTINGS = (
    ("shift 0.3, no card fusion", (0, 1), (2,), False),
    ("shift 0.3", (0, 1), (2,), True),
    ("shifts 0.3, 0.5", (0, 1), (2, 4), True),
    ("shifts 0.3-0.6 (default)", (0, 1), (2, 3, 4, 5), True),
)


def cache(reader: PhotoReader, tsv: str) -> list[tuple[str, list[list]]]:
    """Per photo: its label and, per hypothesis, the cached `_read` output of every detection."""
    out = []
    for s in tqdm(read_tsv(tsv, None), desc=Path(tsv).parent.name, unit="photo", file=sys.stderr):
        try:
            image, _ = load_photo(s.path)
        except ValueError as e:
            print(f"skipping {s.path}: {e}", file=sys.stderr)
            continue
        owned = reader.detections(image)
        out.append((s.text, [reader._read(image, owned, [h]) for h in HYPOTHESES]))  # noqa: SLF001
    return out


def replay(reader: PhotoReader, photos: list[tuple[str, list[list]]], setting: tuple) -> tuple[int, int, int]:
    """(photos read sure, confident misreads, photos with a sure read far from the label) under one setting."""
    _, first, later, card = setting
    prior = reader.reader.erasure_prior
    reader.reader.erasure_prior = prior if card else 0.0
    read = wrong = other = 0
    try:
        for text, per_h in photos:
            reads = [r for h in first for r in per_h[h]]
            fallback = (lambda unsure, p=per_h: [r for h in later for r in p[h] if r[0] in unsure]) if later else None
            out = reader.read_in_passes(reads, fallback)
            sure = [b.text for b in out if is_sure(b.confidence, b.checksum_ok, reader.min_confidence)]
            outcome = photo_outcome(sure, text)
            read += outcome["read"]
            wrong += outcome["wrong_sure"]
            other += outcome["other_sure"]
    finally:
        reader.reader.erasure_prior = prior
    return read, wrong, other


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help="recogniser .onnx; repeat for several")
    ap.add_argument("--detector", action="append", required=True, help="detector .onnx; repeat for several")
    ap.add_argument("--photos", action="append", required=True, help="labelled photos TSV; repeat for several sets")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    missing = [p for p in a.model + a.detector + a.photos if not Path(p).is_file()]
    if missing:
        print(f"not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    results: dict[tuple[str, str], list[tuple[int, int, int]]] = {}
    sizes: dict[str, int] = {}
    for model in a.model:
        reader = PhotoReader(a.detector, model, threads=a.threads, variants=len(SYMBOL_VARIANTS))
        for tsv in a.photos:
            photos = cache(reader, tsv)
            sizes[tsv] = len(photos)
            for setting in SETTINGS:
                results.setdefault((tsv, setting[0]), []).append(replay(reader, photos, setting))
    for tsv in a.photos:
        print(
            f"\n{tsv}: {sizes[tsv]} photos; read sure (confident misreads) per recogniser, then summed, and the "
            "photos with a sure read far from the label (another barcode, or a wrong number in a one-barcode photo)"
        )
        for setting in SETTINGS:
            rows = results[(tsv, setting[0])]
            cells = "  ".join(f"{r:4d} ({w})" for r, w, _ in rows)
            print(
                f"  {setting[0]:30s} {cells}   sum {sum(r[0] for r in rows)} ({sum(r[1] for r in rows)}); "
                f"far {sum(r[2] for r in rows)}"
            )
    print("\nrecognisers: " + ", ".join(a.model))
    return 0


if __name__ == "__main__":
    sys.exit(main())

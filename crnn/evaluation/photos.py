"""Photo figures: read every photo of a labelled TSV, judge each (read, misread, other sure read), with zxing-cpp
side by side.
"""

from __future__ import annotations

import copy
import csv
from collections.abc import Sequence
from pathlib import Path

from crnn.core.symbology import FORMATS, format_of
from crnn.reading.bars import _match_zxing, same_number
from crnn.reading.detection import load_photo
from crnn.reading.photos import PhotoReader, PhotoResult, cross_check, fuse_bars, photo_result

# The figures given per format (of the label's number: EAN-13, UPC-A, EAN-8, UPC-E).
PER_FORMAT = ("read", "fused_read", "wrong_sure", "fused_wrong_sure", "found", "zxing")


def _format(group: str, label: str) -> str:
    """A photo's format: its group where that names one (the generator's scenes), else its label's likeliest (an
    8-digit number valid as both EAN-8 and UPC-E counts as EAN-8)."""
    return group if group in FORMATS else format_of(label) or "other"


def photo_groups(tsv: str | Path) -> dict[str, tuple[str, str]]:
    """Each labelled photo of `tsv` by file name: its group (the `group` or `format` column, else "") and label."""
    with open(tsv, newline="", encoding="utf-8-sig") as f:
        return {
            Path(r.get("filename") or "").name: (r.get("group") or r.get("format") or "", r.get("text") or "")
            for r in csv.DictReader(f, delimiter="\t")
        }


def photo_formats(tsv: str | Path) -> dict[str, str]:
    """The format of each labelled photo of `tsv`, by file name (as `per_format` counts them)."""
    return {name: _format(group, label) for name, (group, label) in photo_groups(tsv).items()}


def near_label(text: str, label: str) -> bool:
    """A read of the labelled barcode, right or not: within a third of the label's digits (edit distance)."""
    import editdistance

    return editdistance.eval(text, label) <= len(label) // 3


def photo_outcome(sure: Sequence[str], label: str) -> dict[str, bool]:
    """How a photo's sure reads stand against its label: `read` (one is the label's number: `same_number`, as
    zxing-cpp's decodes are judged; a UPC-A is the EAN-13 with a leading 0, the same GTIN and the same bars),
    `wrong_sure` (none is, but one is near it: a confident misread), `other_sure` (one is far from it and another
    number: another barcode, or a wrong number)."""
    read = any(same_number(t, label) for t in sure)
    return {
        "read": read,
        "wrong_sure": not read and any(near_label(t, label) for t in sure),
        "other_sure": any(not near_label(t, label) and not same_number(t, label) for t in sure),
    }


def evaluate_photos(reader: PhotoReader, tsv: str | Path, zxing: bool = True, progress: bool = True) -> dict:
    """Read every labelled photo of `tsv` (filename, text[, group]); one barcode per photo is labelled.

    Figures: `read`: share of photos where a sure barcode (confidence at least the reader's floor: what a
    user is shown) reads exactly the label; `read_any`: the same counting unsure reads too; `wrong_sure`:
    share where no sure read is the label but one is near it (a confident misread: the dangerous case);
    `other_sure`: share with a sure read neither the label nor near it (another barcode in the frame, or, in a
    photo of one barcode such as the generator's scenes, a wrong number shown as sure);
    `found`: share where some detection covers the labelled barcode (its reading, sure or not, within a
    third of the digits of the label, or the bar decoder's position of the label inside the box: the photos
    have no boxes); `zxing`: share where
    zxing-cpp alone decodes the label (a UPC-A reported as its EAN-13, with a leading 0, counts);
    `either`; seconds per photo of loading, detection and reading by the digits alone (`seconds_per_photo`), and as
    shipped, with the bars decoded and fused (`fused_seconds_per_photo`). Each reading carries the zxing cross-check
    where the decoder found the same barcode. Per group and per format (`per_format`, of the label's number) too,
    and every photo not read with what was read instead.
    """
    import time

    from tqdm import tqdm

    from crnn.core.labels import read_tsv

    samples = read_tsv(tsv, None)
    group_of = {name: group for name, (group, _) in photo_groups(tsv).items()}
    rows = []
    seconds = fused_seconds = 0.0
    for s in tqdm(samples, desc="photos", unit="photo", disable=not progress):
        label_decodes: list[dict] = []
        covered = False
        fused: PhotoResult | None = None
        t0 = time.perf_counter()
        try:
            image, scale = load_photo(s.path)
        except ValueError as e:
            result = PhotoResult(str(s.path), (0, 0), error=str(e))
        else:
            loaded = time.perf_counter()
            owned = reader.detections(image)
            found = time.perf_counter()
            reads = reader.read_barcodes(image, owned=owned)
            digits_read = time.perf_counter() - found
            seconds += time.perf_counter() - t0
            floor = reader.policy.min_confidence
            if zxing:
                # Fused as `PhotoReader(fuse=True)` reads, timed as shipped (load; detect and decode, side by side;
                # read): what the bars decode is not read turned, so the digits' reads are made again only when
                # the bars decoded some. The detections are made again too (the same ones), beside the decodes as
                # shipped, so that each path's time is its own.
                t1 = time.perf_counter()
                owned, decodes, fits = reader.detect_and_decode(image)
                again = reader.read_barcodes(image, decodes, owned, fits) if decodes else copy.deepcopy(reads)
                fused = photo_result(s.path, image, scale, fuse_bars(again, decodes, floor), floor)
                fused_seconds += loaded - t0 + time.perf_counter() - t1 + (0.0 if decodes else digits_read)
                photo_decodes = [z for z in decodes if not z.get("window")]
            else:
                decodes = photo_decodes = []
            cross_check(reads, decodes)
            label_decodes = [z for z in photo_decodes if same_number(z["text"], s.text)]
            covered = any(_match_zxing(b.detection, label_decodes) is not None for b in reads)
            result = photo_result(s.path, image, scale, reads, floor)
        sure = [b.text for b in result.barcodes]
        texts = sure + [b.text for b in result.uncertain]

        fused_sure = [b.text for b in fused.barcodes] if fused is not None else sure
        rows.append(
            {
                "file": s.path.name,
                "text": s.text,
                "group": group_of.get(s.path.name, ""),
                "format": _format(group_of.get(s.path.name, ""), s.text),
                **photo_outcome(sure, s.text),
                **{f"fused_{k}": v for k, v in photo_outcome(fused_sure, s.text).items()},
                "read_any": any(same_number(t, s.text) for t in texts),
                "found": any(near_label(t, s.text) for t in texts) or covered,
                "zxing": bool(label_decodes),
                "readings": [b.to_dict() | {"sure": True} for b in result.barcodes]
                + [b.to_dict() | {"sure": False} for b in result.uncertain],
                **({"error": result.error} if result.error else {}),
            }
        )
    n = max(1, len(rows))

    def share(key: str, subset: list[dict]) -> float:
        return sum(r[key] for r in subset) / max(1, len(subset))

    groups = sorted({r["group"] for r in rows})
    cross = [b["zxing"]["agrees"] for r in rows for b in r["readings"] if "zxing" in b]
    return {
        "n": len(rows),
        "read": share("read", rows),
        "read_any": share("read_any", rows),
        "wrong_sure": share("wrong_sure", rows),
        "other_sure": share("other_sure", rows),
        # The same with the bars as evidence (crnn.reading.photos.fuse_bars), from the same reads and decodes.
        "fused_read": share("fused_read", rows),
        "fused_wrong_sure": share("fused_wrong_sure", rows),
        "fused_other_sure": share("fused_other_sure", rows),
        "min_confidence": reader.policy.min_confidence,
        "sure_reads_per_photo": sum(b["sure"] for r in rows for b in r["readings"]) / n,
        "unsure_reads_per_photo": sum(not b["sure"] for r in rows for b in r["readings"]) / n,
        "found": share("found", rows),
        "zxing": share("zxing", rows),
        "either": sum(r["read"] or r["zxing"] for r in rows) / n,
        "seconds_per_photo": seconds / n,
        "fused_seconds_per_photo": fused_seconds / n if zxing else None,
        "unreadable_files": sum("error" in r for r in rows),
        "cross_check": {"agree": sum(cross), "conflict": len(cross) - sum(cross)},
        "per_group": {
            g: {k: share(k, [r for r in rows if r["group"] == g]) for k in ("read", "found", "zxing")}
            | {"n": sum(r["group"] == g for r in rows)}
            for g in groups
        },
        "per_format": {
            f: {k: share(k, [r for r in rows if r["format"] == f]) for k in PER_FORMAT}
            | {"n": sum(r["format"] == f for r in rows)}
            for f in sorted({r["format"] for r in rows})
        },
        "failures": [r for r in rows if not r["read"]],
    }

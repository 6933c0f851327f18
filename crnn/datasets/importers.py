"""Importers: labelled images from a source into one raw dataset layout, every bad row reported.

Sources (`DatasetConfig.source`):
  synthetic  `crnn.synth.generate` (crops, or whole scenes + boxes)
  tsv        the earlier project's `annotations.tsv`: filename, code, x_from, y_from, width, height
  coco       COCO JSON, one box per barcode, the printed digits in an annotation attribute (Azure ML labelling)
  crops      a `filename<TAB>text` TSV beside a folder of crops

The raw layout every importer writes (and `crnn.datasets.crops` reads):
  labels.tsv   filename, text, format, x_from, y_from, width, height  (empty box = the whole image)
  images/...   the images, under the names they had in the source

A row with a missing or unreadable image, a box outside its image or a label with characters outside the
charset is an `Issue` naming the file and line (or JSON element). `on_error="skip"` drops it and counts it,
`"reject"` fails the import; so does skipping more than `max_skipped_fraction` of the rows.
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from crnn.config.steps import DatasetConfig
from crnn.core import symbology
from crnn.core.codec import Codec
from crnn.core.labels import printed_digits, tsv_rows, write_tsv
from crnn.datasets.coco import coco_rows
from crnn.datasets.rows import Box, Issue, Row, header_size, image_name, inside

log = logging.getLogger(__name__)


LABELS = "labels.tsv"


# `printed`: the digits the image shows where fewer than `text` (crnn.core.labels); empty when all are.
LABELS_HEADER = ("filename", "text", "format", "x_from", "y_from", "width", "height", "printed")


TSV_HEADER = ("filename", "code", "x_from", "y_from", "width", "height")


@dataclass
class ImportReport:
    source: str
    rows: int = 0
    imported: int = 0
    images: int = 0
    issues: list[Issue] = field(default_factory=list)
    path: str = ""  # the labels file imported

    @property
    def skipped(self) -> int:
        return len(self.issues)

    @property
    def counts(self) -> dict[str, int]:
        """Skipped rows per kind of problem."""
        return dict(Counter(i.kind for i in self.issues))

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "rows": self.rows,
            "imported": self.imported,
            "images": self.images,
            "skipped": self.skipped,
            "skipped_by_kind": self.counts,
            "issues": [str(i) for i in self.issues],
        }


class ImportRejected(ValueError):
    """The import failed on bad rows (`report.issues` lists them all)."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class RawSample:
    """A row of a raw dataset's labels.tsv."""

    path: Path
    text: str
    fmt: str
    box: Box | None
    line: int
    printed: str | None = None


def import_dataset(cfg: DatasetConfig, out_dir: str | Path, progress: bool = True) -> ImportReport:
    """Import `cfg.source` into `out_dir` (raw layout); raise ImportRejected as `cfg.on_error` says."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    codec = Codec(cfg.charset)
    if cfg.source == "synthetic":
        rows = _synthetic_rows(cfg, out, progress)
        copy = False  # generated in place
    else:
        if not cfg.path:
            raise ValueError(f"dataset source {cfg.source!r} needs `path` (the labels file to import)")
        path = Path(cfg.path)
        if not path.is_file():
            raise ValueError(f"dataset source file not found: {path}")
        images_dir = Path(cfg.images_dir) if cfg.images_dir else path.parent
        readers: dict[str, Callable[[Path, Path, DatasetConfig], Iterator[Row | Issue]]] = {
            "tsv": _tsv_rows,
            "coco": lambda p, d, c: coco_rows(p, d, c.coco_text_attribute),
            "crops": _crops_rows,
        }
        rows = readers[cfg.source](path, images_dir, cfg)
        copy = True
    report = _write(rows, out, codec, copy, ImportReport(cfg.source, path=str(cfg.path or "")))
    verdict = "rejected" if cfg.on_error == "reject" else "skipped"  # on_error=reject fails on the first of them
    for issue in report.issues:
        log.warning("%s %s", verdict, issue)
    if report.issues and cfg.on_error == "reject":
        raise ImportRejected(_summary(report, "rejected (on_error=reject)"), report)
    if report.rows and report.skipped / report.rows > cfg.max_skipped_fraction:
        raise ImportRejected(
            _summary(
                report, f"rejected: more than max_skipped_fraction={cfg.max_skipped_fraction} of the rows are bad"
            ),
            report,
        )
    if not report.imported:
        raise ImportRejected(_summary(report, "rejected: no valid rows"), report)
    log.info(
        "imported %d of %d rows from %s (%s skipped: %s)",
        report.imported,
        report.rows,
        cfg.source,
        report.skipped,
        report.counts,
    )
    return report


def _summary(report: ImportReport, verdict: str) -> str:
    shown = "\n  ".join(str(i) for i in report.issues[:20])
    more = f"\n  ... and {len(report.issues) - 20} more" if len(report.issues) > 20 else ""
    return (
        f"import of {report.source}{' ' + report.path if report.path else ''} {verdict}: {report.skipped} bad of "
        f"{report.rows} rows "
        f"{report.counts}\n  {shown}{more}"
    )


def read_raw(raw_dir: str | Path) -> list[RawSample]:
    """The samples of a raw dataset folder (as written by `import_dataset`)."""
    tsv = Path(raw_dir) / LABELS
    if not tsv.is_file():
        raise ValueError(f"{raw_dir} is not a raw dataset: {LABELS} not found")
    out = []
    for line, row in _tsv_dicts(tsv, LABELS_HEADER[:3]):
        box = None
        if row.get("width"):
            box = (int(row["x_from"]), int(row["y_from"]), int(row["width"]), int(row["height"]))
        path = Path(raw_dir) / row["filename"]
        out.append(RawSample(path, row["text"], row.get("format") or "", box, line, row.get("printed") or None))
    return out


# What a labels TSV (tab separated, unquoted) cannot hold in a field.
_NOT_IN_TSV = ("\t", "\r", "\n", '"', "\x00")


def _check(row: Row, codec: Codec, sizes: dict[Path, tuple[int, int] | str]) -> Issue | None:
    fields = (row.name, row.text, row.fmt or "", row.printed or "")
    if any(c in f for f in fields for c in _NOT_IN_TSV):
        return Issue(
            row.where, "bad_row", f"a tab, line break, quote or NUL in {fields!r}: a labels TSV cannot hold it"
        )
    try:
        codec.check(row.text)
        printed_digits(row.printed or "", row.text)
    except ValueError as e:
        return Issue(row.where, "bad_label", str(e))
    if row.image not in sizes:
        sizes[row.image] = header_size(row.image)
    size = sizes[row.image]
    if isinstance(size, str):
        return Issue(row.where, "missing_image" if "not found" in size else "unreadable_image", size)
    if row.box is not None:
        x, y, w, h = row.box
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > size[0] or y + h > size[1]:
            return Issue(
                row.where,
                "box_outside",
                f"box (x={x}, y={y}, w={w}, h={h}) is outside the {size[0]}x{size[1]} image {row.image}",
            )
    return None


def _write(rows: Iterable[Row | Issue], out: Path, codec: Codec, copy: bool, report: ImportReport) -> ImportReport:
    sizes: dict[Path, tuple[int, int] | str] = {}
    copied: dict[str, Path] = {}
    lines = []
    for row in rows:
        report.rows += 1
        issue = row if isinstance(row, Issue) else _check(row, codec, sizes)
        if issue is not None:
            report.issues.append(issue)
            continue
        assert isinstance(row, Row)
        name = row.name
        if copy:
            if name in copied and copied[name] != row.image:
                raise ValueError(f"{row.where}: two different images would be stored as {name}")
            if name not in copied:
                dst = inside(out, name)  # also through a symlink already in the dataset folder
                if dst is None:
                    raise ValueError(f"{row.where}: stored name {name!r} would be written outside {out}")
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(row.image, dst)
                copied[name] = row.image
        fmt = row.fmt or symbology.guess_format(row.text) or ""
        box = [str(v) for v in row.box] if row.box else ["", "", "", ""]
        lines.append([name, row.text, fmt, *box, printed_digits(row.printed or "", row.text) or ""])
        report.imported += 1
    report.images = len({line[0] for line in lines})
    write_tsv(out / LABELS, lines, header=LABELS_HEADER)
    return report


def _tsv_dicts(tsv: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a tab-separated file with a header that has the `required` columns."""
    rows = tsv_rows(tsv)
    header = [h.strip() for h in next(rows, (1, []))[1]]
    missing = [c for c in required if c not in header]
    if missing:
        raise ValueError(f"{tsv}: line 1 must be a header with columns {list(required)}; missing {missing}")
    for line, row in rows:
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(header):
            row = row + [""] * (len(header) - len(row))
        yield line, {h: c.strip() for h, c in zip(header, row, strict=False)}


def _synthetic_rows(cfg: DatasetConfig, out: Path, progress: bool) -> Iterator[Row | Issue]:
    from crnn import synth

    s = cfg.synthetic
    synth.generate(out, count=s.count, seed=s.seed, workers=s.workers, config=s.generator, progress=progress)
    # A dataset version, not a generator folder: its provenance is the dataset step's config, and no trainer may take
    # it for (or refuse it as) synthetic data of its own.
    (out / synth.STAMP).unlink(missing_ok=True)
    # Keep only the half that is imported (scenes are not part of a crops dataset and vice versa).
    if s.images == "crops":
        shutil.rmtree(out / "images", ignore_errors=True)
        (out / "annotations.tsv").unlink()
        for line, row in _tsv_dicts(out / "crops.tsv", ("filename", "text")):
            yield Row(
                f"{out / 'crops.tsv'}:{line}",
                out / row["filename"],
                row["filename"],
                row["text"],
                None,
                row.get("format"),
                row.get("printed") or None,
            )
    else:
        shutil.rmtree(out / "crops", ignore_errors=True)
        (out / "crops.tsv").unlink()
        yield from _tsv_rows(out / "annotations.tsv", out, cfg, keep_names=True)


def _tsv_rows(tsv: Path, images_dir: Path, cfg: DatasetConfig, keep_names: bool = False) -> Iterator[Row | Issue]:
    for line, row in _tsv_dicts(tsv, TSV_HEADER):
        where = f"{tsv}:{line}"
        try:
            box = (int(row["x_from"]), int(row["y_from"]), int(row["width"]), int(row["height"]))
        except ValueError:
            yield Issue(where, "bad_row", f"box values must be integers, got {[row[k] for k in TSV_HEADER[2:]]}")
            continue
        image = inside(images_dir, row["filename"])
        if image is None:
            yield Issue(where, "bad_row", f"filename {row['filename']!r} points outside {images_dir}")
            continue
        name = row["filename"] if keep_names else image_name(row["filename"])
        yield Row(where, image, name, row["code"], box)


def _crops_rows(tsv: Path, images_dir: Path, cfg: DatasetConfig) -> Iterator[Row | Issue]:
    for line, row in _tsv_dicts(tsv, ("filename", "text")):
        where = f"{tsv}:{line}"
        image = inside(images_dir, row["filename"])
        # Also accept the real-dev layout: crops.tsv beside a crops/ folder.
        if image is not None and not image.is_file():
            alt = inside(images_dir / tsv.stem, row["filename"])
            image = alt if alt is not None and alt.is_file() else image
        if image is None:
            yield Issue(where, "bad_row", f"filename {row['filename']!r} points outside {images_dir}")
            continue
        name = image_name(row["filename"])
        yield Row(where, image, name, row["text"], None, row.get("format") or None, row.get("printed") or None)

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

import csv
import json
import logging
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from PIL import Image, UnidentifiedImageError

from crnn.config.steps import DatasetConfig
from crnn.core import symbology
from crnn.core.codec import Codec
from crnn.core.labels import printed_digits, write_tsv

log = logging.getLogger(__name__)


LABELS = "labels.tsv"


# `printed`: the digits the image shows where fewer than `text` (crnn.core.labels); empty when all are.
LABELS_HEADER = ("filename", "text", "format", "x_from", "y_from", "width", "height", "printed")


TSV_HEADER = ("filename", "code", "x_from", "y_from", "width", "height")


Box = tuple[int, int, int, int]  # x_from, y_from, width, height


@dataclass(frozen=True)
class Issue:
    """One rejected row: where it is (`file:line` or a JSON element), what kind of problem, and the detail."""

    where: str
    kind: str  # missing_image | unreadable_image | box_outside | bad_label | bad_row
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}"


@dataclass
class ImportReport:
    source: str
    rows: int = 0
    imported: int = 0
    images: int = 0
    issues: list[Issue] = field(default_factory=list)

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
class _Row:
    """A source row before validation."""

    where: str
    image: Path
    name: str  # filename in the raw dataset
    text: str
    box: Box | None
    fmt: str | None = None
    printed: str | None = None


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
        readers: dict[str, Callable[[Path, Path, DatasetConfig], Iterator[_Row | Issue]]] = {
            "tsv": _tsv_rows,
            "coco": _coco_rows,
            "crops": _crops_rows,
        }
        rows = readers[cfg.source](path, images_dir, cfg)
        copy = True
    report = _write(rows, out, codec, copy, ImportReport(cfg.source))
    for issue in report.issues:
        log.warning("skipped %s", issue)
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
        f"import of {report.source} {verdict}: {report.skipped} bad of {report.rows} rows "
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


def _image_size(path: Path) -> tuple[int, int] | str:
    """(width, height) from the header, or the reason the image cannot be used."""
    if not path.is_file():
        return f"image not found: {path}"
    try:
        with Image.open(path) as im:
            return im.size
    except (UnidentifiedImageError, OSError) as e:
        return f"cannot read image {path}: {e}"


def _check(row: _Row, codec: Codec, sizes: dict[Path, tuple[int, int] | str]) -> Issue | None:
    try:
        codec.check(row.text)
        printed_digits(row.printed or "", row.text)
    except ValueError as e:
        return Issue(row.where, "bad_label", str(e))
    if row.image not in sizes:
        sizes[row.image] = _image_size(row.image)
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


def _write(rows: Iterable[_Row | Issue], out: Path, codec: Codec, copy: bool, report: ImportReport) -> ImportReport:
    sizes: dict[Path, tuple[int, int] | str] = {}
    copied: dict[str, Path] = {}
    lines = []
    for row in rows:
        report.rows += 1
        issue = row if isinstance(row, Issue) else _check(row, codec, sizes)
        if issue is not None:
            report.issues.append(issue)
            continue
        assert isinstance(row, _Row)
        name = row.name
        if copy:
            if name in copied and copied[name] != row.image:
                raise ValueError(f"{row.where}: two different images would be stored as {name}")
            if name not in copied:
                dst = _inside(out, name)  # also through a symlink already in the dataset folder
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
    with tsv.open(newline="", encoding="utf-8-sig") as f:  # a BOM (Excel) is not part of the header
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in required if c not in header]
        if missing:
            raise ValueError(f"{tsv}: line 1 must be a header with columns {list(required)}; missing {missing}")
        for line, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) < len(header):
                row = row + [""] * (len(header) - len(row))
            yield line, {h: c.strip() for h, c in zip(header, row, strict=False)}


def _inside(images_dir: Path, name: str) -> Path | None:
    """`images_dir / name`, or None when the name is not a plain relative path inside the folder.

    Absolute names, `..` parts and names that resolve (through symlinks) outside `images_dir` are refused, so the
    name can also be stored as it is under the dataset folder (`_image_name`) without climbing out of it.
    """
    if _relative_parts(name) is None:
        return None
    root = images_dir.resolve()
    p = (root / name).resolve()
    return p if p.is_relative_to(root) else None


def _relative_parts(name: str) -> tuple[str, ...] | None:
    """The parts of a plain relative path (`a/b.png`), or None for an absolute one or one with `..` parts."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if not name or pure.is_absolute() or PureWindowsPath(name).drive or ".." in pure.parts:
        return None
    parts = tuple(p for p in pure.parts if p not in ("", "."))
    return parts or None


def _synthetic_rows(cfg: DatasetConfig, out: Path, progress: bool) -> Iterator[_Row | Issue]:
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
            yield _Row(
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


def _tsv_rows(tsv: Path, images_dir: Path, cfg: DatasetConfig, keep_names: bool = False) -> Iterator[_Row | Issue]:
    for line, row in _tsv_dicts(tsv, TSV_HEADER):
        where = f"{tsv}:{line}"
        try:
            box = (int(row["x_from"]), int(row["y_from"]), int(row["width"]), int(row["height"]))
        except ValueError:
            yield Issue(where, "bad_row", f"box values must be integers, got {[row[k] for k in TSV_HEADER[2:]]}")
            continue
        image = _inside(images_dir, row["filename"])
        if image is None:
            yield Issue(where, "bad_row", f"filename {row['filename']!r} points outside {images_dir}")
            continue
        name = row["filename"] if keep_names else _image_name(row["filename"])
        yield _Row(where, image, name, row["code"], box)


def _crops_rows(tsv: Path, images_dir: Path, cfg: DatasetConfig) -> Iterator[_Row | Issue]:
    for line, row in _tsv_dicts(tsv, ("filename", "text")):
        where = f"{tsv}:{line}"
        image = _inside(images_dir, row["filename"])
        # Also accept the real-dev layout: crops.tsv beside a crops/ folder.
        if image is not None and not image.is_file():
            alt = _inside(images_dir / tsv.stem, row["filename"])
            image = alt if alt is not None and alt.is_file() else image
        if image is None:
            yield Issue(where, "bad_row", f"filename {row['filename']!r} points outside {images_dir}")
            continue
        name = _image_name(row["filename"])
        yield _Row(where, image, name, row["text"], None, row.get("format") or None, row.get("printed") or None)


def _image_name(name: str) -> str:
    """Where an image is stored in the raw dataset; `name` must have passed `_inside`."""
    parts = _relative_parts(name)
    if parts is None:
        raise ValueError(f"image name {name!r} is not a relative path inside the dataset")
    return "/".join(("images", *parts))


def _coco_rows(path: Path, images_dir: Path, cfg: DatasetConfig) -> Iterator[_Row | Issue]:
    """COCO JSON: `images[{id, file_name, width, height}]`, `annotations[{image_id, bbox, attributes}]`.

    Azure ML labelling exports `file_name` as a datastore URL and may write bbox as fractions of the
    image size; both are handled (a box whose values all lie within [0, 1] is read as fractions).
    """
    try:
        coco = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON: {e}") from e
    if not isinstance(coco, dict) or "images" not in coco or "annotations" not in coco:
        raise ValueError(f"{path}: a COCO file needs 'images' and 'annotations' lists")
    images = {}
    for i, im in enumerate(coco["images"]):
        if "id" not in im or "file_name" not in im:
            raise ValueError(f"{path}: images[{i}] needs 'id' and 'file_name'")
        images[im["id"]] = im
    attr = cfg.coco_text_attribute
    for i, ann in enumerate(coco["annotations"]):
        where = f"{path}: annotations[{i}] (id {ann.get('id', '?')})"
        im = images.get(ann.get("image_id"))
        if im is None:
            yield Issue(where, "missing_image", f"image_id {ann.get('image_id')!r} is not in 'images'")
            continue
        text = (ann.get("attributes") or {}).get(attr, ann.get(attr))
        if not isinstance(text, str):
            yield Issue(where, "bad_label", f"no text in attributes.{attr}")
            continue
        bbox = ann.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4:
            yield Issue(where, "bad_row", f"bbox must be [x, y, width, height], got {bbox!r}")
            continue
        image, name = _coco_image(images_dir, im["file_name"])
        if image is None:
            yield Issue(where, "bad_row", f"file_name {im['file_name']!r} points outside {images_dir}")
            continue
        x, y, w, h = (float(v) for v in bbox)
        if max(x, y, w, h) <= 1.0 and im.get("width", 2) > 1:
            size = _image_size(image)
            if isinstance(size, tuple):
                x, w, y, h = x * size[0], w * size[0], y * size[1], h * size[1]
        yield _Row(where, image, name, text.strip(), (round(x), round(y), round(w), round(h)))


def _coco_image(images_dir: Path, file_name: str) -> tuple[Path | None, str]:
    """The local file of a COCO `file_name`: a relative path inside `images_dir`, or a URL.

    A URL (Azure ML exports datastore URLs) is read as its path after the host, relative to `images_dir`; when
    that is not there, an image of the same base name directly in `images_dir` is used (logged). Absolute names
    and names with `..` parts are refused (None), never swapped for a file of the same base name.
    """
    url = "://" in file_name
    if url:
        file_name = file_name.split("://", 1)[1].split("/", 1)[-1]
    direct = _inside(images_dir, file_name)
    if direct is None:
        return None, ""
    if direct.is_file() or not url:
        return direct, _image_name(file_name)
    base = PurePosixPath(file_name).name
    flat = _inside(images_dir, base)
    if flat is not None and flat.is_file():
        log.warning("COCO file_name URL %r: using %s (same base name)", file_name, flat)
        return flat, _image_name(base)
    return direct, _image_name(file_name)

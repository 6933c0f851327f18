"""`crnn read`, `crnn serve`, `crnn import` and `crnn preprocess`: reading crops and photos, serving them, importing
your labels and cutting their crops."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from crnn.cli.common import (
    ERASABLE_HELP,
    ERASURE_HELP,
    LEAD0_HELP,
    VIEWS_HELP,
    open_reader,
    overrides,
    positive_int,
    views,
)
from crnn.core.symbology import ERASABLE, format_of

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"}


def _image_files(inputs: list[str]) -> Iterator[Path]:
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            # A broken symbolic link is listed too: loading it reports it, rather than skipping it unseen.
            yield from sorted(
                f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and (f.is_file() or f.is_symlink())
            )
        else:
            yield p


def _check_column(checksum_ok: bool, inferred: tuple[int, ...]) -> str:
    """The check-digit column of `crnn read`'s text output: `inferred-12` names digits the check digit supplied
    (it checks nothing then)."""
    if inferred:
        return "inferred-" + ",".join(str(i + 1) for i in inferred)
    return "ok" if checksum_ok else "BAD-CHECKSUM"


def _read_photos(a: argparse.Namespace, files: list[Path]) -> int:
    """`crnn read --detector`: every barcode in each photo, one JSON object (or TSV line) a photo."""
    from tqdm import tqdm

    from crnn.reading.photos import PhotoReader

    reader = PhotoReader(
        a.detector, a.model, overrides(a), threads=a.threads, cross_check=a.cross_check, fuse=not a.digits_only
    )
    failed = 0
    for p in tqdm(files, unit="photo", disable=a.quiet or None, file=sys.stderr):
        result = reader.read_file(p)
        if result.error:
            failed += 1
            print(f"error: {result.error}", file=sys.stderr)
            continue
        if a.json:
            print(json.dumps(result.to_dict()))
            continue
        if not result.barcodes:
            unsure = f" ({len(result.uncertain)} unsure reads; --json lists them)" if result.uncertain else ""
            if any(b.cut for b in result.uncertain):
                unsure += "; a barcode runs out of the frame: take it from further away"
            print(f"{p}\t-\tno barcode found{unsure}")
        for b in result.barcodes:
            check = _check_column(b.checksum_ok, b.inferred)
            z = (
                ""
                if b.zxing is None
                else f"\tzxing {'agrees' if b.zxing['agrees'] else 'CONFLICT: ' + b.zxing['text']}"
            )
            print(f"{p}\t{b.text}\t{b.confidence:.3f}\t{check}\tbox {','.join(map(str, b.detection.box))}{z}")
    if failed:
        print(f"{failed} of {len(files)} files could not be read", file=sys.stderr)
    return 1 if failed else 0


def _new_folder(out: str) -> None:
    """`--out` of a command that writes a dataset: refused unless missing or empty (nothing is overwritten)."""
    if Path(out).exists() and any(Path(out).iterdir()):
        raise ValueError(f"--out {out} is not empty: give a new folder")


def _cmd_import(a: argparse.Namespace) -> int:
    from crnn.config.steps import DatasetConfig
    from crnn.datasets.importers import ImportRejected, import_dataset

    cfg = DatasetConfig(
        source=a.source,
        path=a.path,
        images_dir=a.images_dir,
        coco_text_attribute=a.text_attribute,
        on_error=a.on_error,
        max_skipped_fraction=a.max_skipped,
    )
    _new_folder(a.out)
    try:
        report = import_dataset(cfg, a.out)
    except ImportRejected as e:
        for issue in e.report.issues[:20]:
            print(f"  {issue}", file=sys.stderr)
        raise ValueError(str(e)) from e
    for issue in report.issues[:20]:
        print(f"  skipped: {issue}", file=sys.stderr)
    print(f"imported {report.imported} of {report.rows} rows into {a.out} ({report.skipped} skipped)")
    return 0


def _cmd_preprocess(a: argparse.Namespace) -> int:
    from crnn import config
    from crnn.datasets.crops import make_crops

    _new_folder(a.out)
    cfg = config.load(config.PreprocessConfig, None, [f"seed={a.seed}", *a.overrides])
    summary = make_crops(a.raw, a.out, cfg)
    for err in summary.skipped:
        print(f"error: {err}", file=sys.stderr)
    print(json.dumps({"out": str(a.out), **{k: str(summary.tsv(k)) for k in summary.sizes}, "sizes": summary.sizes}))
    return 1 if summary.skipped else 0


def _cmd_serve(a: argparse.Namespace) -> int:
    from crnn.models import bundled
    from crnn.reading.photos import PhotoReader
    from crnn.reading.serve import ReadServer

    model = a.model or bundled("recogniser")
    reader = PhotoReader(a.detector or [bundled("detector")], model, threads=a.threads, fuse=not a.digits_only)
    server = ReadServer(reader, a.host, a.port, max_bytes=int(a.max_mb * 1024 * 1024))
    print(f"serving on {server.url} (POST /read, GET /health); Ctrl-C stops", file=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def _cmd_read(a: argparse.Namespace) -> int:
    crops, photos, a = _kinds(a, list(_image_files(a.images)))
    rc = _read_crops(a, crops) if crops else 0
    return max(rc, _read_photos(a, photos) if photos else 0)


# With the bundled models, an image at least this many times as wide as tall is a crop (the recogniser's crops are
# strips about 3.7 times as wide as tall), anything squarer a photo.
CROP_ASPECT = 2.5


def _kinds(a: argparse.Namespace, files: list[Path]) -> tuple[list[Path], list[Path], argparse.Namespace]:
    """The crops and the photos among `files`, and the arguments with the models that read them filled in (a
    copy): all photos with --detector, all crops with --model alone; with neither, the bundled models read each
    image as its shape says (`CROP_ASPECT`)."""
    from crnn.core.images import ImageError, image_size
    from crnn.models import bundled

    if a.detector:
        return [], files, argparse.Namespace(**{**vars(a), "model": a.model or str(bundled("recogniser"))})
    if a.model:
        return files, [], a
    crops: list[Path] = []
    photos: list[Path] = []
    for p in files:
        try:
            w, h = image_size(p)
        except ImageError:
            w, h = 1, 1  # read as a photo: its loading reports the error
        (crops if w >= CROP_ASPECT * h else photos).append(p)
    detector = [str(bundled("detector"))] if photos else a.detector
    return crops, photos, argparse.Namespace(**{**vars(a), "model": str(bundled("recogniser")), "detector": detector})


def _read_crops(a: argparse.Namespace, files: list[Path]) -> int:
    """`crnn read` of crops: one reading each, read in batches."""
    from tqdm import tqdm

    from crnn.core.confidence import is_sure
    from crnn.core.images import ImageError, load_image

    reader = open_reader(a.model, overrides(a), threads=a.threads)
    failed = 0

    def load(p: Path) -> tuple[Path, object]:
        try:
            return p, load_image(p)
        except ImageError as e:
            return p, e

    with (
        ThreadPoolExecutor(max_workers=2) as pool,
        tqdm(total=len(files), unit="img", disable=a.quiet or None, file=sys.stderr) as bar,
    ):
        for start in range(0, len(files), a.batch_size):
            loaded = list(pool.map(load, files[start : start + a.batch_size]))
            good = [(p, im) for p, im in loaded if not isinstance(im, Exception)]
            for _, err in loaded:
                if isinstance(err, Exception):
                    failed += 1
                    print(f"error: {err}", file=sys.stderr)
            readings = reader.read([im for _, im in good])  # type: ignore[misc]  # filtered to images above
            for (p, _), r in zip(good, readings):
                if a.json:
                    print(
                        json.dumps(
                            {
                                "file": str(p),
                                "text": r.text,
                                "format": format_of(r.text),
                                "confidence": round(r.confidence, 4),
                                "checksum_ok": r.checksum_ok,
                                "sure": is_sure(r.confidence, r.checksum_ok, reader.policy.min_confidence),
                                **({"inferred": list(r.inferred)} if r.inferred else {}),
                            }
                        )
                    )
                else:
                    check = _check_column(r.checksum_ok, r.inferred)
                    sure = "sure" if is_sure(r.confidence, r.checksum_ok, reader.policy.min_confidence) else "UNSURE"
                    print(f"{p}\t{r.text}\t{r.confidence:.3f}\t{check}\t{sure}")
            bar.update(len(loaded))
    if failed:
        print(f"{failed} of {len(files)} files could not be read", file=sys.stderr)
    return 1 if failed else 0


def add_parsers(sub: Any) -> None:
    """`read`, `import` and `serve` on the `crnn` parser's subcommands."""
    from crnn.config.reading import DEFAULT_VARIANTS, DEFAULT_ZOOMS
    from crnn.core.confidence import MIN_CONFIDENCE, VIEWS_BELOW

    r = sub.add_parser("read", help="read crops with an ONNX model, or whole photos with --detector (onnxruntime only)")
    r.add_argument("images", nargs="+", help="image files or folders")
    r.add_argument(
        "--model",
        default=None,
        help="the recogniser (.onnx, or a .ckpt training checkpoint for crops). Default: the bundled one, and then, "
        "without --detector, each image is read as its shape says: a strip at least 2.5 times as wide as tall is a "
        "crop, anything squarer a photo (read with the bundled detector)",
    )
    r.add_argument(
        "--detector",
        action="append",
        help="detector .onnx: the images are photos; read every barcode in each (default with no --model: the "
        "bundled one, for the images that are not crops). Repeat it to use several "
        "detectors (e.g. two training seeds) together: each looks at each photo, the best read of a barcode wins",
    )
    r.add_argument("--json", action="store_true", help="one JSON object a line (a photo's lists every barcode)")
    r.add_argument(
        "--digits-only",
        action="store_true",
        help="with --detector: the recogniser alone. By default zxing-cpp's decode of the bars is evidence too: "
        'agreeing digits and bars are sure, the bars\' number replaces an unsure read ("source": "bars"), '
        "a disagreement is a conflict, never sure",
    )
    r.add_argument(
        "--cross-check",
        action="store_true",
        help="with --detector --digits-only: decode the bars with zxing-cpp too and report agreement or conflict",
    )
    r.add_argument(
        "--min-confidence",
        type=float,
        default=MIN_CONFIDENCE,
        help=f"reads below this, or failing the check digit, are flagged UNSURE (crops) or listed apart as "
        f"`uncertain` (photos; JSON only); default {MIN_CONFIDENCE}; 0 keeps every read that passes the check digit",
    )
    r.add_argument("--batch-size", type=positive_int, default=64, help="crops read at once (default 64)")
    r.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: all cores)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    adv = r.add_argument_group(
        "advanced decoding", "each defaults to what the model was exported with (docs/reading.md explains them)"
    )
    adv.add_argument(
        "--decoder",
        choices=["greedy", "beam", "constrained"],
        default=None,
        help="CTC decoding: constrained (valid EAN/UPC layouts only; the default), beam or greedy",
    )
    adv.add_argument(
        "--zooms",
        type=lambda v: [float(x) for x in v.split(",")],
        default=list(DEFAULT_ZOOMS),
        help="with --detector: comma-separated scales the detector sees each photo at (default: "
        f"{','.join(map(str, DEFAULT_ZOOMS))}; each detector then looks closer at every barcode it found)",
    )
    adv.add_argument(
        "--variants",
        type=int,
        default=DEFAULT_VARIANTS,
        help=f"with --detector: symbol hypotheses read per detection, 1-6 (default {DEFAULT_VARIANTS}): as detected, "
        "with the bottom edge lower, and, for a barcode the first two read unsure, the box moved down 0.3, 0.4, 0.5 "
        "and 0.6 of its height (digits far under tall or glare-washed bars)",
    )
    adv.add_argument("--erasure-prior", type=float, default=None, help=ERASURE_HELP)
    adv.add_argument("--erasable", nargs="+", choices=sorted(ERASABLE), default=None, help=ERASABLE_HELP)
    adv.add_argument("--ean13-lead0-prior", type=float, default=None, help=LEAD0_HELP)
    adv.add_argument("--views", type=views, default=None, help=VIEWS_HELP.format(below=VIEWS_BELOW))
    r.set_defaults(func=_cmd_read)

    im = sub.add_parser(
        "import", help="import your labelled images (COCO, TSV of boxes, or crops) into a dataset folder"
    )
    im.add_argument("--source", required=True, choices=["coco", "tsv", "crops"], help="the labels' format")
    im.add_argument("path", help="the COCO JSON, the boxes TSV, or the crops' filename<TAB>text TSV")
    im.add_argument("--out", required=True, help="the dataset folder to write (labels.tsv and images/)")
    im.add_argument("--images-dir", default=None, help="where the image files are (default: beside the labels)")
    im.add_argument("--text-attribute", default="text", help="COCO: the annotation attribute with the digits")
    im.add_argument(
        "--on-error",
        choices=["skip", "reject"],
        default="skip",
        help="a bad row is skipped and counted (default), or rejects the whole import",
    )
    im.add_argument(
        "--max-skipped",
        type=float,
        default=0.1,
        help="reject the import when more than this fraction of the rows is bad (default 0.1)",
    )
    im.set_defaults(func=_cmd_import)

    pp = sub.add_parser(
        "preprocess", help="split an imported dataset by number and cut its crops, as the pipeline's preprocess step"
    )
    pp.add_argument("raw", help="a dataset folder `crnn import` wrote (labels.tsv and images/)")
    pp.add_argument("--out", required=True, help="the folder to write: train/, val/, test/, each with crops.tsv")
    pp.add_argument("--seed", type=int, default=0, help="the split's random seed (default 0)")
    pp.add_argument("overrides", nargs="*", help="preprocess config overrides, e.g. split.train=0.7 margin_x=0.06")
    pp.set_defaults(func=_cmd_preprocess)

    sv = sub.add_parser("serve", help="serve the photo reader over HTTP: POST /read, GET /health, a page at /")
    sv.add_argument("--model", default=None, help="recogniser .onnx (default: the bundled one)")
    sv.add_argument(
        "--detector",
        action="append",
        default=None,
        help="detector .onnx, repeat for several (default: the bundled one)",
    )
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    sv.add_argument("--max-mb", type=float, default=20, help="largest upload, MB (default 20)")
    sv.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: all cores)")
    sv.add_argument("--digits-only", action="store_true", help="the recogniser alone, without zxing-cpp's decode")
    sv.set_defaults(func=_cmd_serve)

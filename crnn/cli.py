"""`crnn` command line: synth, train, evaluate, export, read, train-detector, export-detector.

Parses arguments and calls the library.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from crnn import __version__
from crnn.core.symbology import ERASABLE, format_of

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


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"}


def _cmd_synth(a: argparse.Namespace) -> int:
    from crnn import config, synth

    # The generator settings, count and seed training would use, so `crnn train` takes the folder as it is.
    data = config.load(config.TrainConfig, a.config, a.overrides).data.synth
    count = data.train_count if a.count is None else a.count
    seed = data.seed if a.seed is None else a.seed
    s = synth.generate(Path(a.out), count=count, seed=seed, workers=a.workers, config=data.generator)
    print(
        json.dumps(
            {
                "out": str(s.out_dir),
                "count": s.count,
                "seconds": round(s.seconds, 2),
                "samples_per_s": round(s.samples_per_s, 1),
                "per_format": s.per_format,
            }
        )
    )
    return 0


def _print_result(result: Any) -> int:
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


def _cmd_train(a: argparse.Namespace) -> int:
    from crnn import config
    from crnn.recognizer.train import fit

    cfg = config.load(config.TrainConfig, a.config, a.overrides)
    result = fit(cfg)
    return _print_result(result)


def _cmd_train_detector(a: argparse.Namespace) -> int:
    from crnn import config
    from crnn.detector.train import fit_detector

    cfg = config.load(config.DetectorConfig, a.config, a.overrides)
    result = fit_detector(cfg)
    return _print_result(result)


def _cmd_export_detector(a: argparse.Namespace) -> int:
    from crnn.detector.export import export_detector

    diff = export_detector(a.checkpoint, a.out, opset=a.opset)
    print(json.dumps({"onnx": a.out, "max_abs_diff": diff}))
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


def _overrides(a: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(a, k) for k in POLICY_ARGS if getattr(a, k, None) is not None}


def _open_reader(model: str, overrides: dict[str, Any], threads: int | None = None) -> Any:
    """The crop reader for `--model`: onnxruntime alone, PyTorch only when a `.ckpt` is given."""
    if model.lower().endswith(".ckpt"):
        from crnn.recognizer import reader

        return reader.open_reader(model, overrides, threads=threads)
    from crnn.reading import crops

    return crops.open_reader(model, overrides, threads=threads)


def _cmd_evaluate(a: argparse.Namespace) -> int:
    from crnn.evaluation.crops import evaluate

    reader = _open_reader(a.model, _overrides(a))
    ev = evaluate(reader, a.data, decoder=a.decoder, batch_size=a.batch_size)
    if a.failures:
        Path(a.failures).write_text(json.dumps(ev.failures, indent=1))
    print(json.dumps(ev.summary))
    for err in ev.unreadable:
        print(f"error: {err}", file=sys.stderr)
    if ev.unreadable:
        print(f"{len(ev.unreadable)} images could not be read (left out of the figures)", file=sys.stderr)
    return 1 if ev.unreadable else 0


def _cmd_export(a: argparse.Namespace) -> int:
    from crnn.core.images import ImageError, load_each
    from crnn.core.labels import read_tsv
    from crnn.recognizer.export import export_onnx

    images = None
    if a.check_data:
        samples = read_tsv(a.check_data, None)[: a.check_count]
        errors: list[ImageError] = []
        images = [im for _, im in load_each(samples, lambda s: s.path, errors)]
        for err in errors:
            print(f"error: {err} (left out of the check)", file=sys.stderr)
    report = export_onnx(a.checkpoint, a.out, images=images, opset=a.opset)
    if a.int8:
        from crnn.recognizer.export import quantize_int8

        if not a.check_data:
            raise ValueError("--int8 needs --check-data: crops to calibrate on (synthetic ones, not the test set)")
        q = quantize_int8(a.out, Path(a.out).with_suffix(".int8.onnx"), images or [], a.int8_check or a.check_data)
        print(
            json.dumps(
                {
                    "int8": str(q.path) if q.written else None,
                    "float_exact_match": q.float_exact_match,
                    "int8_exact_match": q.int8_exact_match,
                }
            )
        )
    print(json.dumps({"onnx": a.out, "parity_inputs": report.n, "max_abs_diff": report.max_abs_diff}))
    return 0


def _views(value: str) -> tuple[str, ...]:
    from crnn.reading.fusion import check_views

    names = () if value.strip().lower() in ("", "none") else tuple(v.strip() for v in value.split(","))
    try:
        return check_views(names)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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


def _positive_int(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


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
        a.detector, a.model, _overrides(a), threads=a.threads, cross_check=a.cross_check, fuse=not a.digits_only
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
    if Path(a.out).exists() and any(Path(a.out).iterdir()):
        raise ValueError(f"--out {a.out} is not empty: give a new folder")
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


def _cmd_serve(a: argparse.Namespace) -> int:
    from crnn.reading.photos import PhotoReader
    from crnn.reading.serve import ReadServer

    reader = PhotoReader(a.detector, a.model, threads=a.threads, fuse=not a.digits_only)
    server = ReadServer(reader, a.host, a.port, max_bytes=int(a.max_mb * 1024 * 1024))
    print(f"serving on {server.url} (POST /read, GET /health); Ctrl-C stops", file=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def _cmd_read(a: argparse.Namespace) -> int:
    from tqdm import tqdm

    from crnn.core.confidence import is_sure
    from crnn.core.images import ImageError, load_image

    files = list(_image_files(a.images))
    if a.detector:
        return _read_photos(a, files)
    reader = _open_reader(a.model, _overrides(a), threads=a.threads)
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


def build_parser() -> argparse.ArgumentParser:
    from crnn.core.confidence import MIN_CONFIDENCE, VIEWS_BELOW

    views_help = VIEWS_HELP.format(below=VIEWS_BELOW)
    from crnn.config.reading import DEFAULT_VARIANTS, DEFAULT_ZOOMS

    p = argparse.ArgumentParser(prog="crnn", description="Read the digits under EAN/UPC barcodes with a CRNN.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser(
        "synth",
        help="generate synthetic barcode scenes and crops, with the generator settings training uses",
    )
    s.add_argument("--out", required=True, help="folder to write (scenes, annotations.tsv, crops/, crops.tsv)")
    s.add_argument("--count", type=int, help="samples (default: the config's data.synth.train_count)")
    s.add_argument("--seed", type=int, help="random stream (default: the config's data.synth.seed)")
    s.add_argument("--workers", type=int, default=2, help="processes (the output does not depend on it)")
    s.add_argument("--config", default="configs/train.yaml", help="training config whose data.synth it follows")
    s.add_argument("overrides", nargs="*", help="dotlist overrides, e.g. data.synth.generator.p_card=0.2")
    s.set_defaults(func=_cmd_synth)

    t = sub.add_parser("train", help="train a CRNN (config YAML + key=value overrides)")
    t.add_argument("--config", default="configs/train.yaml")
    t.add_argument("overrides", nargs="*", help="dotlist overrides, e.g. optim.lr=1e-3 trainer.max_epochs=5")
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("evaluate", help="exact match and CER of a .ckpt or .onnx model on a labels TSV")
    e.add_argument("--model", required=True, help="the recogniser (.onnx, or a .ckpt training checkpoint)")
    e.add_argument("--data", required=True)
    e.add_argument("--decoder", choices=["greedy", "beam", "constrained"], default=None)
    e.add_argument("--batch-size", type=_positive_int, default=64)
    e.add_argument("--failures", help="write the misread crops to this JSON file")
    e.add_argument("--erasure-prior", type=float, default=None, help=ERASURE_HELP)
    e.add_argument("--erasable", nargs="+", choices=sorted(ERASABLE), default=None, help=ERASABLE_HELP)
    e.add_argument("--ean13-lead0-prior", type=float, default=None, help=LEAD0_HELP)
    e.add_argument("--views", type=_views, default=None, help=views_help)
    e.set_defaults(func=_cmd_evaluate)

    x = sub.add_parser("export", help="export a checkpoint to ONNX and check onnxruntime against PyTorch")
    x.add_argument("--checkpoint", required=True)
    x.add_argument("--out", required=True)
    x.add_argument("--opset", type=int, default=17)
    x.add_argument("--check-data", help="labels TSV whose images are also used for the parity check")
    x.add_argument("--check-count", type=_positive_int, default=64)
    x.add_argument(
        "--int8",
        action="store_true",
        help="also write <out>.int8.onnx (static quantization calibrated on --check-data), kept only if its "
        "exact match on --int8-check is within 0.5 points of the float model's",
    )
    x.add_argument("--int8-check", help="labelled crops comparing int8 with float (default: --check-data)")
    x.set_defaults(func=_cmd_export)

    r = sub.add_parser("read", help="read crops with an ONNX model, or whole photos with --detector (onnxruntime only)")
    r.add_argument("--model", required=True, help="the recogniser (.onnx, or a .ckpt training checkpoint for crops)")
    r.add_argument(
        "--detector",
        action="append",
        help="detector .onnx: the images are photos; read every barcode in each. Repeat it to use several "
        "detectors (e.g. two training seeds) together: each looks at each photo, the best read of a barcode wins",
    )
    r.add_argument(
        "--cross-check",
        action="store_true",
        help="with --detector: decode the bars with zxing-cpp too and report agreement or conflict",
    )
    r.add_argument(
        "--digits-only",
        action="store_true",
        help="with --detector: the recogniser alone. By default zxing-cpp's decode of the bars is evidence too: "
        'agreeing digits and bars are sure, the bars\' number replaces an unsure read ("source": "bars"), '
        "a disagreement is a conflict, never sure",
    )
    r.add_argument(
        "--zooms",
        type=lambda v: [float(x) for x in v.split(",")],
        default=list(DEFAULT_ZOOMS),
        help="with --detector: comma-separated scales the detector sees each photo at (default: "
        f"{','.join(map(str, DEFAULT_ZOOMS))}; barcodes filling the frame are found at the smaller one)",
    )
    r.add_argument(
        "--variants",
        type=int,
        default=DEFAULT_VARIANTS,
        help=f"with --detector: symbol hypotheses read per detection, 1-6 (default {DEFAULT_VARIANTS}): as detected, "
        "with the bottom edge lower, and, for a barcode the first two read unsure, the box moved down 0.3, 0.4, 0.5 "
        "and 0.6 of its height (digits far under tall or glare-washed bars)",
    )
    r.add_argument(
        "--min-confidence",
        type=float,
        default=MIN_CONFIDENCE,
        help=f"reads below this, or failing the check digit, are flagged UNSURE (crops) or listed apart as "
        f"`uncertain` (photos; JSON only); default {MIN_CONFIDENCE}; 0 keeps every read that passes the check digit",
    )
    r.add_argument("images", nargs="+", help="image files or folders")
    r.add_argument("--json", action="store_true", help="one JSON object a line")
    r.add_argument("--decoder", choices=["greedy", "beam", "constrained"], default=None)
    r.add_argument("--batch-size", type=_positive_int, default=64)
    r.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: all cores)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--erasure-prior", type=float, default=None, help=ERASURE_HELP)
    r.add_argument("--erasable", nargs="+", choices=sorted(ERASABLE), default=None, help=ERASABLE_HELP)
    r.add_argument("--ean13-lead0-prior", type=float, default=None, help=LEAD0_HELP)
    r.add_argument("--views", type=_views, default=None, help=views_help)
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

    sv = sub.add_parser("serve", help="serve the photo reader over HTTP: POST /read, GET /health, a page at /")
    sv.add_argument("--model", required=True, help="recogniser .onnx")
    sv.add_argument("--detector", action="append", required=True, help="detector .onnx (repeat for several)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--max-mb", type=float, default=20, help="largest upload, MB (default 20)")
    sv.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: all cores)")
    sv.add_argument("--digits-only", action="store_true", help="the recogniser alone, without zxing-cpp's decode")
    sv.set_defaults(func=_cmd_serve)

    td = sub.add_parser("train-detector", help="train the barcode detector (config YAML + key=value overrides)")
    td.add_argument("--config", default="configs/detector.yaml")
    td.add_argument("overrides", nargs="*", help="dotlist overrides, e.g. trainer.max_epochs=3")
    td.set_defaults(func=_cmd_train_detector)

    xd = sub.add_parser("export-detector", help="export a detector checkpoint to ONNX, checked against PyTorch")
    xd.add_argument("--checkpoint", required=True)
    xd.add_argument("--out", required=True)
    xd.add_argument("--opset", type=int, default=17)
    xd.set_defaults(func=_cmd_export_detector)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        rc = int(args.func(args))
        sys.stdout.flush()  # here, where a closed pipe is caught, not at exit
        return rc
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # Whoever read the output has gone (`crnn read ... | head -1`): stop quietly, as a shell tool does; stdout
        # goes to /dev/null so the flush at exit cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what the shell reports for a tool ended by a closed pipe


if __name__ == "__main__":
    sys.exit(main())

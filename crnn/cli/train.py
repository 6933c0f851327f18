"""`crnn synth`, `train`, `evaluate`, `export`, `train-detector` and `export-detector`: making data and models."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from crnn.cli.common import (
    ERASABLE_HELP,
    ERASURE_HELP,
    LEAD0_HELP,
    VIEWS_HELP,
    config_file,
    open_reader,
    overrides,
    positive_int,
    print_result,
    views,
)
from crnn.core.symbology import ERASABLE


def _cmd_synth(a: argparse.Namespace) -> int:
    from crnn import config, synth

    # The generator settings, count and seed training would use, so `crnn train` takes the folder as it is.
    data = config.load(config.TrainConfig, config_file(a.config, "train.yaml"), a.overrides).data.synth
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


def _fit(a: argparse.Namespace, kind: str, cfg: Any) -> int:
    """Train, recorded as a ClearML task (`crnn.tracking.training`) unless --no-track or ClearML is not installed."""
    import importlib.util

    if a.no_track or importlib.util.find_spec("clearml") is None:
        if not a.no_track:
            print("ClearML is not installed ([pipeline] extra): this training is not recorded", file=sys.stderr)
        if kind == "train":
            from crnn.recognizer.train import fit

            return print_result(fit(cfg))
        from crnn.detector.train import fit_detector

        return print_result(fit_detector(cfg))
    from crnn.tracking.training import tracked_fit

    tracked = tracked_fit(kind, cfg, a.project)
    where = f"offline session {tracked.session}" if tracked.session else "on the ClearML server"
    print(f"ClearML task {tracked.task_id} ({where})", file=sys.stderr)
    return print_result(tracked.result)


def _cmd_train(a: argparse.Namespace) -> int:
    from crnn import config

    return _fit(a, "train", config.load(config.TrainConfig, config_file(a.config, "train.yaml"), a.overrides))


def _cmd_train_detector(a: argparse.Namespace) -> int:
    from crnn import config

    return _fit(
        a, "detector_train", config.load(config.DetectorConfig, config_file(a.config, "detector.yaml"), a.overrides)
    )


def _cmd_export_detector(a: argparse.Namespace) -> int:
    from crnn.detector.export import export_detector

    diff = export_detector(a.checkpoint, a.out, opset=a.opset)
    print(json.dumps({"onnx": a.out, "max_abs_diff": diff}))
    return 0


def _cmd_evaluate(a: argparse.Namespace) -> int:
    from crnn.evaluation.crops import evaluate

    reader = open_reader(a.model, overrides(a))
    ev = evaluate(reader, a.data, decoder=a.decoder, batch_size=a.batch_size)
    if a.failures:
        Path(a.failures).write_text(json.dumps(ev.failures, indent=1))
    if a.report:
        from crnn.evaluation.report import write_report

        title = f"{Path(a.model).name} on {a.data}"
        write_report(a.report, {Path(a.data).name: ev}, reader.codec.charset, reader.policy.min_confidence, title)
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


def _training_parser(sub: Any, name: str, does: str, config: str, example: str, func: Any) -> None:
    """`crnn train` and `crnn train-detector`: a config, its overrides, and where the run is recorded."""
    t = sub.add_parser(name, help=f"{does} (config YAML + key=value overrides)")
    t.add_argument("--config", default=None, help=f"config YAML (default: configs/{config}, else the shipped defaults)")
    t.add_argument("overrides", nargs="*", help=f"dotlist overrides, e.g. {example}")
    t.add_argument(
        "--no-track",
        action="store_true",
        help="do not record a ClearML task (by default one is: on the server when configured, else offline)",
    )
    t.add_argument("--project", default="barcode-ocr", help="ClearML project of the task (default barcode-ocr)")
    t.set_defaults(func=func)


def add_parsers(sub: Any) -> None:
    """`synth`, `train`, `evaluate`, `export`, `train-detector` and `export-detector` on the `crnn` parser."""
    from crnn.core.confidence import VIEWS_BELOW

    views_help = VIEWS_HELP.format(below=VIEWS_BELOW)
    s = sub.add_parser(
        "synth",
        help="generate synthetic barcode scenes and crops, with the generator settings training uses",
    )
    s.add_argument("--out", required=True, help="folder to write (scenes, annotations.tsv, crops/, crops.tsv)")
    s.add_argument("--count", type=int, help="samples (default: the config's data.synth.train_count)")
    s.add_argument("--seed", type=int, help="random stream (default: the config's data.synth.seed)")
    s.add_argument("--workers", type=int, default=2, help="processes (the output does not depend on it)")
    s.add_argument(
        "--config",
        default=None,
        help="training config whose data.synth it follows (default: configs/train.yaml, else the shipped defaults)",
    )
    s.add_argument("overrides", nargs="*", help="dotlist overrides, e.g. data.synth.generator.p_card=0.2")
    s.set_defaults(func=_cmd_synth)

    _training_parser(sub, "train", "train a CRNN", "train.yaml", "optim.lr=1e-3 trainer.max_epochs=5", _cmd_train)

    e = sub.add_parser("evaluate", help="exact match and CER of a .ckpt or .onnx model on a labels TSV")
    e.add_argument("--model", required=True, help="the recogniser (.onnx, or a .ckpt training checkpoint)")
    e.add_argument("--data", required=True, help="labels TSV: image path<TAB>digits, paths relative to it")
    e.add_argument(
        "--decoder",
        choices=["greedy", "beam", "constrained"],
        default=None,
        help="CTC decoding (default: the model's own, constrained)",
    )
    e.add_argument("--batch-size", type=positive_int, default=64, help="crops read at once (default 64)")
    e.add_argument("--failures", help="write the misread crops to this JSON file")
    e.add_argument(
        "--report",
        metavar="PATH",
        help="write one self-contained HTML page: per format, character confusions, risk-coverage curve with the "
        "confidence floor marked, and the misread crops (the first 60) with truth, read and confidence",
    )
    e.add_argument("--erasure-prior", type=float, default=None, help=ERASURE_HELP)
    e.add_argument("--erasable", nargs="+", choices=sorted(ERASABLE), default=None, help=ERASABLE_HELP)
    e.add_argument("--ean13-lead0-prior", type=float, default=None, help=LEAD0_HELP)
    e.add_argument("--views", type=views, default=None, help=views_help)
    e.set_defaults(func=_cmd_evaluate)

    x = sub.add_parser("export", help="export a checkpoint to ONNX and check onnxruntime against PyTorch")
    x.add_argument("--checkpoint", required=True, help="the recogniser's training checkpoint (.ckpt)")
    x.add_argument("--out", required=True, help="the .onnx file to write")
    x.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    x.add_argument("--check-data", help="labels TSV whose images are also used for the parity check")
    x.add_argument("--check-count", type=positive_int, default=64, help="crops in the parity check (default 64)")
    x.add_argument(
        "--int8",
        action="store_true",
        help="also write <out>.int8.onnx (static quantization calibrated on --check-data), kept only if its "
        "exact match on --int8-check is within 0.5 points of the float model's",
    )
    x.add_argument("--int8-check", help="labelled crops comparing int8 with float (default: --check-data)")
    x.set_defaults(func=_cmd_export)

    _training_parser(
        sub,
        "train-detector",
        "train the barcode detector",
        "detector.yaml",
        "trainer.max_epochs=3",
        _cmd_train_detector,
    )

    xd = sub.add_parser("export-detector", help="export a detector checkpoint to ONNX, checked against PyTorch")
    xd.add_argument("--checkpoint", required=True, help="the detector's training checkpoint (.ckpt)")
    xd.add_argument("--out", required=True, help="the .onnx file to write")
    xd.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    xd.set_defaults(func=_cmd_export_detector)

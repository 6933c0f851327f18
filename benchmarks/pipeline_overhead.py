"""Wall time of the offline pipeline (eight steps, ClearML offline sessions, local store) against the same
library calls without ClearML, on the tiny config the tests use. Prints both and the overhead.

    python benchmarks/pipeline_overhead.py [--repeat 3] [extra overrides, e.g. parameters.count=256]

Each run is a fresh interpreter (imports included on both sides), timed from start to exit.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TINY = [
    "parameters.count=64",
    "parameters.epochs=2",
    "parameters.threshold=0",
    "dataset.synthetic.workers=1",
    "train.model.neck_channels=32",
    "train.model.rnn_hidden=32",
    "train.model.rnn_layers=1",
    "train.data.batch_size=16",
    "train.data.num_workers=0",
    "train.data.real_tsv=null",
    "evaluate.real_tsv=null",
    "parameters.detector_epochs=1",
    "detector_train.data.synth.train_count=16",
    "detector_train.data.synth.val_count=4",
    "detector_train.data.synth.workers=1",
    "detector_train.data.batch_size=8",
    "detector_train.data.num_workers=0",
    "detector_train.input.size=160",
    "detector_train.overlays=2",
    "photo_evaluate.photos_tsv=null",
]


def _scene_dirs(work: Path) -> list[str]:
    """Fresh synthetic scene folders under the run's own work dir (both sides generate them)."""
    return [
        f"detector_train.data.train_dirs=[{work / 'scenes/train'}]",
        f"detector_train.data.val_dir={work / 'scenes/val'}",
    ]


def library(work: Path, overrides: list[str]) -> None:
    """The library calls the steps wrap, with no ClearML and no store."""
    import dataclasses

    from crnn.core.images import load_image
    from crnn.core.labels import read_tsv
    from crnn.datasets.crops import make_crops
    from crnn.datasets.importers import import_dataset
    from crnn.detector.export import export_detector
    from crnn.detector.train import fit_detector
    from crnn.evaluation.crops import evaluate
    from crnn.recognizer.export import export_onnx
    from crnn.recognizer.train import fit
    from pipelines.wiring import load_pipeline

    _, c = load_pipeline(None, overrides + [f"work_dir={work}"])
    import_dataset(c["dataset"], work / "raw")
    make_crops(work / "raw", work / "crops", c["preprocess"])
    t = c["train"]
    t = dataclasses.replace(
        t,
        out_dir=str(work / "train"),
        data=dataclasses.replace(
            t.data, train_tsv=str(work / "crops/train/crops.tsv"), val_tsv=str(work / "crops/val/crops.tsv")
        ),
    )
    result = fit(t)
    for split in c["evaluate"].splits:
        evaluate(result.best_checkpoint, work / "crops" / split / "crops.tsv")
    samples = read_tsv(work / "crops/test/crops.tsv", __import__("crnn.core.codec").codec.Codec())
    export_onnx(result.best_checkpoint, work / "model.onnx", images=[load_image(s.path) for s in samples[:32]])
    d = dataclasses.replace(c["detector_train"], out_dir=str(work / "detector"))
    det = fit_detector(d)
    export_detector(det.best_checkpoint, work / "detector.onnx")


def pipeline(work: Path, overrides: list[str]) -> None:
    from pipelines.local import run_offline
    from pipelines.wiring import load_pipeline

    pcfg, c = load_pipeline(None, overrides + [f"work_dir={work}"])
    run_offline(pcfg, c, reuse=False)


def _timed(mode: str, overrides: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CLEARML_OFFLINE_MODE": "1", "CLEARML_CACHE_DIR": str(Path(tmp) / "clearml")}
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--child", mode, "--work", str(Path(tmp) / "work"), *overrides],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--child", choices=["library", "pipeline"], default=None)
    p.add_argument("--work", type=Path, default=None)
    p.add_argument("overrides", nargs="*")
    a = p.parse_args()
    if a.child:
        (library if a.child == "library" else pipeline)(a.work, TINY + _scene_dirs(a.work) + a.overrides)
        return
    times: dict[str, list[float]] = {"library": [], "pipeline": []}
    for _ in range(a.repeat):  # interleaved, so drift in machine load hits both
        for mode in times:
            times[mode].append(_timed(mode, a.overrides))
    lib, pipe = min(times["library"]), min(times["pipeline"])
    print(f"library calls, no ClearML : {lib:6.1f} s   (runs: {', '.join(f'{t:.1f}' for t in times['library'])})")
    print(f"offline pipeline (ClearML): {pipe:6.1f} s   (runs: {', '.join(f'{t:.1f}' for t in times['pipeline'])})")
    print(f"overhead                  : {100 * (pipe - lib) / lib:+6.1f} %   (target: at most +20 %)")


if __name__ == "__main__":
    main()

"""Reading speed in onnxruntime: the default model versus the earlier project's architecture.

    python benchmarks/read_speed.py [--model runs/train/model.onnx] [--real ../shared/data/real-dev/crops.tsv]

Both networks are built with the same code (`crnn.recognizer.model.CRNN`) and exported with the same exporter; the
earlier design is timm resnet18 to layer 2 (output stride 8), a 1x1 conv to 48 channels, a 2-layer BiGRU of hidden
size 64 and a 96 x 352 RGB input. Speed does not depend on the weights, so untrained copies are timed unless `--model`
names a trained default model (then its accuracy on the real crops is printed too, and its speed as `crnn read`
reads: constrained decoder, test-time views for unsure reads). Crops are the real crops, preprocessing included
in the end-to-end figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from crnn import config
from crnn.config.train import InputConfig, ModelConfig, TrainConfig
from crnn.core.codec import Codec
from crnn.core.images import load_image
from crnn.core.labels import read_tsv
from crnn.core.preprocess import to_batch
from crnn.reading.crops import OnnxReader

EARLIER = TrainConfig(
    model=ModelConfig(
        backbone="resnet18",
        out_indices=[2],
        output_stride=8,
        in_chans=3,
        neck_channels=48,
        rnn="gru",
        rnn_hidden=64,
        rnn_layers=2,
    ),
    input=InputConfig(height=96, width=352),
)


def build_onnx(cfg: TrainConfig, out: Path) -> Path:
    import torch

    from crnn.recognizer.export import export_model
    from crnn.recognizer.model import CRNN

    torch.manual_seed(0)
    export_model(CRNN(cfg.model, cfg.input), cfg, out)
    return out


def throughput(reader: OnnxReader, batch: np.ndarray, seconds: float = 3.0) -> float:
    """Network crops/s on a preprocessed batch (repeated for `seconds`)."""
    reader.logits(batch)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        reader.logits(batch)
        n += len(batch)
    return n / (time.perf_counter() - start)


def latency_ms(reader: OnnxReader, images: list, repeats: int = 200) -> tuple[float, float]:
    """Median and p95 of reading one crop end to end (preprocess + network + decode)."""
    times = []
    for i in range(repeats):
        t = time.perf_counter()
        reader.read([images[i % len(images)]])
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * len(times)) - 1]


def describe(name: str, path: Path, images: list, seconds: float) -> dict:
    import onnx

    params = sum(int(np.prod(t.dims)) for t in onnx.load(str(path)).graph.initializer)
    row: dict = {"model": name, "size_mb": path.stat().st_size / 1e6, "params_m": params / 1e6}
    for threads in (1, 2):
        reader = OnnxReader(path, threads=threads, overrides={"views": ()})  # one read a crop; `as_shipped` adds views
        spec = reader.spec
        for bs in (1, 64):
            batch = to_batch([images[i % len(images)] for i in range(bs)], spec)
            row[f"b{bs}_t{threads}"] = throughput(reader, batch, seconds)
        if threads == 2:
            row["median_ms"], row["p95_ms"] = latency_ms(reader, images)
            start = time.perf_counter()
            for i in range(0, 512, 64):
                reader.read([images[j % len(images)] for j in range(i, i + 64)], decoder="greedy")
            row["end_to_end"] = 512 / (time.perf_counter() - start)
    return row


def as_shipped(path: Path, images: list, repeats: int = 3) -> dict:
    """Crops/s of `crnn read`'s reading of a trained model: constrained decoder and the test-time views for
    unsure reads, batch 64, 2 threads, preprocessing included; and the share of crops read again in views."""
    reader = OnnxReader(path, threads=2)
    batches = [images[i : i + 64] for i in range(0, len(images), 64)]
    unsure = sum(d.confidence < reader.views_below for b in batches for d in reader.decode_images(b)[1])
    start = time.perf_counter()
    for _ in range(repeats):
        for b in batches:
            reader.read(b)
    return {
        "as_shipped": repeats * len(images) / (time.perf_counter() - start),
        "views_share": unsure / len(images),
        "views": ",".join(reader.views),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="trained default ONNX model (default: an untrained copy of configs/train.yaml)")
    ap.add_argument("--config", default="configs/train.yaml")
    ap.add_argument("--real", default="../shared/data/real-dev/crops.tsv")
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args()
    images = [load_image(s.path) for s in read_tsv(a.real, Codec())]
    with tempfile.TemporaryDirectory() as tmp:
        default = Path(a.model) if a.model else build_onnx(config.load(TrainConfig, a.config), Path(tmp) / "d.onnx")
        earlier = build_onnx(EARLIER, Path(tmp) / "earlier.onnx")
        rows = [describe("default", default, images, a.seconds), describe("earlier", earlier, images, a.seconds)]
    cols = ["b1_t1", "b1_t2", "b64_t1", "b64_t2", "end_to_end", "median_ms", "p95_ms", "size_mb", "params_m"]
    print(f"{'model':8s} " + " ".join(f"{c:>10s}" for c in cols))
    for r in rows:
        print(f"{r['model']:8s} " + " ".join(f"{r[c]:10.1f}" if "ms" not in c else f"{r[c]:10.2f}" for c in cols))
    print(
        "(b<batch>_t<threads>: network crops/s; end_to_end: crops/s at batch 64, 2 threads, with preprocessing "
        "and greedy decoding; latency: one crop end to end, 2 threads)"
    )
    d, e = rows
    print(f"ratio default/earlier at batch 64, 2 threads: {d['b64_t2'] / e['b64_t2']:.1f}x")
    if a.model:
        from crnn.evaluation.crops import evaluate

        shipped = as_shipped(Path(a.model), images)
        print(
            f"as shipped (constrained decoder, views {shipped['views']} for the {shipped['views_share']:.1%} of "
            f"crops under crnn.core.confidence.VIEWS_BELOW; batch 64, 2 threads, preprocessing included): "
            f"{shipped['as_shipped']:.0f} crops/s"
        )
        s = evaluate(OnnxReader(a.model), a.real).summary
        print(f"default model on {a.real}: exact match {s['exact_match']:.3f} ({s['decoder']} decoder + views)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

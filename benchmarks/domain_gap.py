"""How synthetic training crops compare with the real ones, as the network sees them.

    python benchmarks/domain_gap.py [--synth data/synth/val/crops.tsv] [--n 300] [--config configs/train.yaml]

Every crop is letterboxed to the network's input (the preprocessing of training and inference, before
the `input.blur` low-pass) and measured: sharpness (95th percentile of the horizontal gradient over the
5-95% grey range), contrast (that range) and ink level (5th percentile grey). Printed as quartiles for
the real crops, the synthetic crops as generated, and the synthetic crops after training augmentation.
Generator and augmentation settings were tuned with it so the real crops fall inside the training
distribution.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
from PIL import Image

from crnn import config
from crnn.core.images import load_image
from crnn.core.labels import read_tsv
from crnn.core.preprocess import letterbox, shrink_for_augment
from crnn.recognizer.augment import Augment


def stats(im: Image.Image, height: int, width: int) -> tuple[float, float, float]:
    a = np.asarray(letterbox(im.convert("L"), height, width), dtype=np.float32)
    a = a[:, : int(width * 0.88)]  # leave out the letterbox padding
    lo, hi = np.percentile(a, 5), np.percentile(a, 95)
    grad = np.abs(np.diff(a, axis=1))
    return float(np.percentile(grad, 95) / max(hi - lo, 1.0)), float(hi - lo), float(lo)


def quartiles(rows: list[tuple[float, float, float]]) -> str:
    x = np.array(rows)
    q = np.percentile(x, [25, 50, 75], axis=0)
    return "  ".join(
        f"{name} {q[0, i]:{fmt}} / {q[1, i]:{fmt}} / {q[2, i]:{fmt}}"
        for i, (name, fmt) in enumerate((("sharpness", ".2f"), ("contrast", ".0f"), ("ink", ".0f")))
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/train.yaml")
    ap.add_argument("--real", default="../shared/data/real-dev/crops.tsv")
    ap.add_argument("--synth", help="synthetic crops TSV (default: the config's val_tsv)")
    ap.add_argument("--n", type=int, default=300, help="synthetic crops to measure")
    a = ap.parse_args()
    cfg = config.load(config.TrainConfig, a.config)
    h, w = cfg.input.height, cfg.input.width
    synth_tsv = Path(a.synth or cfg.data.val_tsv)
    real = [stats(load_image(s.path), h, w) for s in read_tsv(a.real, None)]
    synth_images = [load_image(s.path).convert("L") for s in read_tsv(synth_tsv, None)[: a.n]]
    augment, rng = Augment(cfg.augment), random.Random(0)

    def augmented(im: Image.Image) -> Image.Image:
        return augment(shrink_for_augment(im, h), rng)  # as the training loader does

    print(f"quartiles (25% / median / 75%) at the network input {h}x{w}")
    print(f"real crops ({len(real)}):          {quartiles(real)}")
    print(f"synthetic ({len(synth_images)}):          {quartiles([stats(im, h, w) for im in synth_images])}")
    print(f"synthetic, augmented:     {quartiles([stats(augmented(im), h, w) for im in synth_images])}")


if __name__ == "__main__":
    main()

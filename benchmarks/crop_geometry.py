"""Where a detector's boxes fall against the true symbol, beside where the generator cuts the recogniser's crops.

    python benchmarks/crop_geometry.py --detector D1 [--detector D2] --scenes data/scn_df/val \
        [--config configs/train.yaml]

The recogniser reads crops cut from detector boxes (`crnn.straighten.digit_band` of the detected quad) but learns
on crops the generator cuts around the true symbol (`crnn.synth._crop_box`). For every detection of every
synthetic scene (each detector at each of the reader's zooms, as `crnn read` cuts them all), this maps the
detected quad into the annotated symbol quad's own frame and prints, per edge, how far it lies outside the symbol
(positive: outward; fractions of the symbol's width, or height for top and bottom), then the crop's side edges
both ways: the reader's (detector edge + `BAND_PAD_X`) and the generator's under the config's settings
(`crop_edge_bias`, `crop_edge_jitter`, and `CROP_MARGIN_MODULES` of margin on a symbol of about 100 modules).
Scenes only, never the real photos: they have no boxes, and settings are chosen on synthetic data.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from crnn.config.reading import DEFAULT_ZOOMS
from crnn.core.geometry import BAND_PAD_X, UNIT_SQUARE, apply_h, homography
from crnn.detector.data import read_scenes
from crnn.reading.detection import Detector, load_photo
from crnn.synth.scene import CROP_MARGIN_MODULES
from crnn.synth.settings import synth_config

EDGES = ("left", "right", "top", "bottom")
SYMBOL_MODULES = 100.0  # an EAN-13 with its leading digit and margins is about 100 modules wide


def edge_errors(
    detectors: Sequence[Detector], scenes: Path, zooms: Sequence[float] = DEFAULT_ZOOMS, progress: bool = True
) -> np.ndarray:
    """(n, 4): each detection's left, right, top, bottom edge outside a symbol quad of its scene (outward > 0), as a
    fraction of the symbol's width (sides) or height (top, bottom), for the scenes of a generator folder
    (`crnn.detector.read_scenes`; only quads whose corner order is known). Detections missing every symbol are left
    out."""
    out = []
    for scene in tqdm(read_scenes(scenes), desc="scenes", unit="scene", disable=not progress):
        image, scale = load_photo(scene.path)
        to_unit = [homography(q * scale, UNIT_SQUARE) for q, known in zip(scene.quads, scene.oriented) if known]
        detections = [d for det in detectors for zoom in zooms for d in det.detect(image, zoom)]
        for h in to_unit:
            for d in detections:
                u = apply_h(h, np.asarray(d.quad, dtype=np.float64))
                left, right = (u[0, 0] + u[3, 0]) / 2, (u[1, 0] + u[2, 0]) / 2
                top, bottom = (u[0, 1] + u[1, 1]) / 2, (u[2, 1] + u[3, 1]) / 2
                if right < 0 or left > 1 or bottom < 0 or top > 1:  # another barcode, or a stray box
                    continue
                out.append((-left, right - 1, -top, bottom - 1))
    return np.array(out, dtype=np.float64).reshape(-1, 4)


def describe(x: np.ndarray) -> str:
    """Mean, robust std (interquartile range / 1.349) and percentiles of `x`."""
    p5, p25, p50, p75, p95 = np.percentile(x, [5, 25, 50, 75, 95])
    return (
        f"mean {x.mean():+.3f}  robust std {(p75 - p25) / 1.349:.3f}  "
        f"p5 {p5:+.3f}  p25 {p25:+.3f}  median {p50:+.3f}  p75 {p75:+.3f}  p95 {p95:+.3f}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detector", action="append", required=True, help="detector .onnx; repeat for several")
    ap.add_argument("--scenes", type=Path, action="append", required=True, help="a scene folder (annotations.tsv)")
    ap.add_argument("--config", type=Path, default=Path("configs/train.yaml"), help="the generator settings to compare")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    from omegaconf import OmegaConf

    cfg = synth_config(OmegaConf.to_container(OmegaConf.load(args.config).data.synth.generator))  # type: ignore[arg-type]  # a mapping in YAML
    detectors = [Detector(p, threads=args.threads) for p in args.detector]
    for scenes in args.scenes:
        err = edge_errors(detectors, scenes)
        if not len(err):
            print(f"{scenes}: no detection overlaps a symbol")
            continue
        print(f"\n{scenes}: {len(err)} detections; edges outside the symbol (fraction of its width / height)")
        for i, name in enumerate(EDGES):
            print(f"  {name:6s}  {describe(err[:, i])}")
        sides = np.concatenate([err[:, 0], err[:, 1]]) + BAND_PAD_X
        print(f"  reader's crop sides (+ BAND_PAD_X {BAND_PAD_X}):  {describe(sides)}")
    margin = CROP_MARGIN_MODULES[0] / SYMBOL_MODULES
    spread = float(np.hypot(CROP_MARGIN_MODULES[1] / SYMBOL_MODULES, cfg.crop_edge_jitter))
    print(
        f"\ngenerator's crop sides ({args.config}): mean {margin + cfg.crop_edge_bias:+.3f}, std {spread:.3f} "
        f"(crop_edge_bias {cfg.crop_edge_bias}, crop_edge_jitter {cfg.crop_edge_jitter}; never through a digit)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The detector's data: generator scenes or imported raw datasets with boxes, their target maps, and the
augmented dataset (mosaics, empty backgrounds, shrinks, zooms).
"""

from __future__ import annotations

import csv
import logging
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch.utils.data import Dataset

from crnn.config.detector import DetectorConfig
from crnn.core.geometry import box_quad
from crnn.core.geometry import direction as digit_line
from crnn.core.images import ImageError, image_size, load_image
from crnn.reading.detection import STRIDE, detector_input

log = logging.getLogger(__name__)


@dataclass
class Scene:
    """A whole image and its barcodes' symbol quads; `oriented[i]`: quad i's corner order is known."""

    path: Path
    quads: list[np.ndarray]
    oriented: list[bool]


def read_scenes(folder: str | Path) -> list[Scene]:
    """The scenes of a generator folder (`annotations.tsv` with quads) or an imported raw dataset
    (`labels.tsv` with boxes; rows without a box are skipped)."""
    folder = Path(folder)
    scenes: dict[Path, Scene] = {}
    if (folder / "annotations.tsv").is_file():
        with open(folder / "annotations.tsv", newline="", encoding="utf-8-sig") as f:
            for line, row in enumerate(csv.DictReader(f, delimiter="\t"), start=2):
                try:
                    quad = np.array([float(v) for v in row["quad"].split()], dtype=np.float64).reshape(4, 2)
                except (KeyError, ValueError, AttributeError):
                    raise ValueError(
                        f"{folder / 'annotations.tsv'} line {line}: no valid `quad` column (8 numbers); "
                        "make the scenes with this version of `crnn synth`"
                    ) from None
                s = scenes.setdefault(folder / row["filename"], Scene(folder / row["filename"], [], []))
                s.quads.append(quad)
                s.oriented.append(True)
    elif (folder / "labels.tsv").is_file():
        from crnn.datasets.importers import read_raw

        skipped = 0
        for r in read_raw(folder):
            if r.box is None:
                skipped += 1
                continue
            s = scenes.setdefault(r.path, Scene(r.path, [], []))
            s.quads.append(box_quad(r.box))
            s.oriented.append(r.box[2] >= r.box[3])
        if skipped:
            log.warning("%s: %d rows without a box (crops, not scenes) skipped", folder, skipped)
    else:
        raise ValueError(f"{folder} has neither annotations.tsv (generator scenes) nor labels.tsv (raw dataset)")
    if not scenes:
        raise ValueError(f"{folder}: no scenes with boxes")
    return list(scenes.values())


def render_targets(
    quads: list[np.ndarray], oriented: list[bool], size: int, stride: int = STRIDE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Targets at `size / stride`: mask `(h, w)`, direction `(2, h, w)`, direction weight `(h, w)`.

    A map cell belongs to a barcode when its centre lies inside the quad (input pixels)."""
    n = size // stride
    mask = np.zeros((n, n), dtype=np.float32)
    direction = np.zeros((2, n, n), dtype=np.float32)
    weight = np.zeros((n, n), dtype=np.float32)
    for quad, known in zip(quads, oriented, strict=True):
        layer = Image.new("L", (n, n), 0)
        # PIL fills pixels whose centre (integer coordinates) is inside; cell j's centre is (j + 0.5) * stride.
        ImageDraw.Draw(layer).polygon([tuple(p) for p in (quad / stride - 0.5)], fill=1)
        inside = np.asarray(layer, dtype=bool)
        mask[inside] = 1.0
        d = digit_line(quad)
        direction[0][inside], direction[1][inside] = d[0], d[1]
        weight[inside] = 1.0 if known else 0.0
    return mask, direction, weight


def empty_scene(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A generator background with no barcode (printed text, patterns)."""
    from crnn import synth

    return synth.background(np.random.default_rng(rng.randrange(2**62)), size)


class SceneDataset(Dataset):
    """Scenes -> (image `(1, S, S)`, mask, direction, weight, index); training adds mosaics, empties, shrinks."""

    def __init__(self, scenes: list[Scene], cfg: DetectorConfig, train: bool) -> None:
        self.scenes, self.cfg, self.train = scenes, cfg, train
        self._rng: random.Random | None = None

    def __len__(self) -> int:
        return len(self.scenes)

    def _load(self, i: int) -> tuple[Image.Image, list[np.ndarray], list[bool]]:
        """Scene `i`; when its image does not decode (warned about), the next one that does."""
        for k in range(len(self.scenes)):
            s = self.scenes[(i + k) % len(self.scenes)]
            try:
                return load_image(s.path).convert("L"), list(s.quads), list(s.oriented)
            except ImageError as e:
                log.warning("skipped %s; another scene takes its place", e)
        raise ValueError(f"none of the {len(self.scenes)} scene images decodes")

    def sample(self, i: int, rng: random.Random | None) -> tuple[Image.Image, list[np.ndarray], list[bool]]:
        """Scene `i` as the network sees it before letterboxing (augmented when `rng` is given)."""
        if rng is None:
            return self._load(i)
        d = self.cfg.data
        if rng.random() < d.empty_p:
            quads: list[np.ndarray] = []
            oriented: list[bool] = []
            image = empty_scene(rng, image_size(self.scenes[i].path)).convert("L")  # header only: no decoding
        elif rng.random() < d.mosaic_p and len(self.scenes) > 1:
            image, quads, oriented = _mosaic(self._load(i), self._load(rng.randrange(len(self.scenes))), rng)
        else:
            image, quads, oriented = self._load(i)
        if quads and rng.random() < d.zoom_p:
            image, quads = _zoom(image, quads, rng.uniform(*d.zoom_fill), rng)
        elif rng.random() < d.shrink_p:
            image, quads = _shrink(image, quads, rng.uniform(d.shrink_min, 1.0), rng)
        if rng.random() < d.turn_p:
            image, quads = _turn(image, quads, rng.uniform(0.0, 360.0), _fill(image, rng))
        return image, quads, oriented

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        if self.train and self._rng is None:
            self._rng = random.Random(torch.initial_seed())
        image, quads, oriented = self.sample(i, self._rng if self.train else None)
        inp = self.cfg.input
        arr, sx, sy = detector_input(image, inp.size, inp.mean, inp.std)
        scaled = [q * np.array([sx, sy]) for q in quads]
        mask, direction, weight = render_targets(scaled, oriented, inp.size)
        return arr, mask, direction, weight, i


def _mosaic(
    a: tuple[Image.Image, list[np.ndarray], list[bool]],
    b: tuple[Image.Image, list[np.ndarray], list[bool]],
    rng: random.Random,
) -> tuple[Image.Image, list[np.ndarray], list[bool]]:
    """Two scenes side by side (or stacked) on one canvas, each at its own random scale."""
    side = rng.random() < 0.5
    parts = []
    for image, quads, oriented in (a, b):
        k = rng.uniform(0.5, 1.0)
        size = (max(16, round(image.width * k)), max(16, round(image.height * k)))
        parts.append(
            (image.resize(size, Image.Resampling.BILINEAR), [q * np.array(size) / image.size for q in quads], oriented)
        )
    (ia, qa, oa), (ib, qb, ob) = parts
    if side:
        canvas = Image.new("L", (ia.width + ib.width, max(ia.height, ib.height)), int(np.median(np.asarray(ia))))
        offset = np.array([ia.width, 0])
    else:
        canvas = Image.new("L", (max(ia.width, ib.width), ia.height + ib.height), int(np.median(np.asarray(ia))))
        offset = np.array([0, ia.height])
    canvas.paste(ia, (0, 0))
    canvas.paste(ib, (int(offset[0]), int(offset[1])))
    return canvas, qa + [q + offset for q in qb], oa + ob


def _shrink(
    image: Image.Image, quads: list[np.ndarray], k: float, rng: random.Random
) -> tuple[Image.Image, list[np.ndarray]]:
    """The scene scaled by `k` and placed at random on a canvas of its own size (smaller barcodes)."""
    w, h = image.size
    size = (max(16, round(w * k)), max(16, round(h * k)))
    small = image.resize(size, Image.Resampling.BILINEAR)
    canvas = Image.new("L", (w, h), int(np.median(np.asarray(small))))
    off = np.array([rng.randint(0, w - size[0]), rng.randint(0, h - size[1])])
    canvas.paste(small, (int(off[0]), int(off[1])))
    return canvas, [q * np.array(size) / (w, h) + off for q in quads]


def _fill(image: Image.Image, rng: random.Random) -> int:
    """The colour software fills a turned photo's new corners with: white, black, or the photo's own grey."""
    u = rng.random()
    return 255 if u < 0.5 else 0 if u < 0.75 else int(np.median(np.asarray(image)))


def _turn(image: Image.Image, quads: list[np.ndarray], angle: float, fill: int) -> tuple[Image.Image, list[np.ndarray]]:
    """The whole photo turned by `angle` degrees counter-clockwise on a canvas expanded to hold it (corners
    filled with `fill`), as an image turned in software or a scan lies; its barcodes' quads moved with it."""
    turned = image.rotate(angle, expand=True, fillcolor=fill, resample=Image.Resampling.BILINEAR)
    a = np.radians(angle)
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])  # y down: counter-clockwise on screen
    centre, new_centre = np.array(image.size) / 2, np.array(turned.size) / 2
    return turned, [(q - centre) @ rot.T + new_centre for q in quads]


def _zoom(
    image: Image.Image, quads: list[np.ndarray], fill: float, rng: random.Random
) -> tuple[Image.Image, list[np.ndarray]]:
    """A window of the scene, same aspect, in which the first barcode spans `fill` of the width; the window
    stays inside the image and holds the barcode's centre, so edges may cut the barcode."""
    w, h = image.size
    q = quads[0]
    span = float(np.ptp(q[:, 0]))
    ww = min(float(w), max(16.0, span / fill))
    wh = ww * h / w
    cx, cy = q.mean(axis=0)
    x0 = float(np.clip(cx - rng.uniform(0.2, 0.8) * ww, 0, w - ww))
    y0 = float(np.clip(cy - rng.uniform(0.2, 0.8) * wh, 0, h - wh))
    crop = image.crop((round(x0), round(y0), round(x0 + ww), round(y0 + wh)))
    return crop, [p - (round(x0), round(y0)) for p in quads]


def collate(batch: list) -> dict:
    return {
        "images": torch.from_numpy(np.stack([b[0] for b in batch])),
        "mask": torch.from_numpy(np.stack([b[1] for b in batch])),
        "direction": torch.from_numpy(np.stack([b[2] for b in batch])),
        "weight": torch.from_numpy(np.stack([b[3] for b in batch])),
        "index": [b[4] for b in batch],
    }

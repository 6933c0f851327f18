"""From a raw dataset (see `crnn.datasets.importers`) to training crops: seeded split, box + margin, upright crops.

Output layout (each split readable by `crnn.core.labels.read_tsv` and `TrainConfig.data`):
  train/crops.tsv, train/crops/*.png   (filename, text, format)
  val/...  test/...
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from crnn.config.steps import PreprocessConfig
from crnn.core.images import ImageError, load_image
from crnn.core.labels import NO_DIGITS, write_tsv
from crnn.datasets.importers import Box, RawSample, read_raw

log = logging.getLogger(__name__)


SPLITS = ("train", "val", "test")


@dataclass
class PreprocessSummary:
    out_dir: Path
    sizes: dict[str, int]
    rotated: int
    per_format: dict[str, dict[str, int]]
    skipped: list[str] = field(default_factory=list)  # raw images that did not decode ("file: reason (line)")

    def tsv(self, split: str) -> Path:
        return self.out_dir / split / "crops.tsv"

    def to_dict(self) -> dict:
        return {
            "sizes": self.sizes,
            "rotated": self.rotated,
            "per_format": self.per_format,
            "skipped": len(self.skipped),
        }


def cut(
    image: Image.Image,
    box: Box | None,
    margin_x: float = 0.0,
    margin_y: float = 0.0,
    rotate_vertical: bool = True,
    direction: str = "ccw",
) -> tuple[Image.Image, bool]:
    """The crop of `box` (x, y, w, h) grown by a margin (fractions of w and h) and clipped to the image.

    A crop taller than wide is rotated by 90 degrees (`direction`) so the digits run along the width.
    Returns the crop and whether it was rotated. `box=None` takes the whole image.
    """
    if box is not None:
        x, y, w, h = box
        mx, my = w * margin_x, h * margin_y
        left, top = max(0, round(x - mx)), max(0, round(y - my))
        right, bottom = min(image.width, round(x + w + mx)), min(image.height, round(y + h + my))
        if right <= left or bottom <= top:
            raise ValueError(f"box {box} has no area inside the {image.width}x{image.height} image")
        image = image.crop((left, top, right, bottom))
    if rotate_vertical and image.height > image.width:
        # PIL rotates counter-clockwise for positive angles.
        return image.transpose(Image.Transpose.ROTATE_90 if direction == "ccw" else Image.Transpose.ROTATE_270), True
    return image, False


def split_samples(samples: list[RawSample], ratios: dict[str, float], seed: int) -> dict[str, list[RawSample]]:
    """Seeded split by distinct text, so one number's images never straddle train and test.

    Ratios are normalised; each split with a positive ratio gets at least one group when there are enough.
    """
    total = sum(ratios.values())
    if total <= 0 or min(ratios.values()) < 0:
        raise ValueError(f"split ratios must be >= 0 with a positive sum, got {ratios}")
    groups: dict[str, list[RawSample]] = {}
    for s in samples:
        groups.setdefault(s.text, []).append(s)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    names = [n for n in ratios if ratios[n] > 0]
    # Cumulative boundaries over groups; the last split takes the rest.
    bounds, acc = [], 0.0
    for n in names[:-1]:
        acc += ratios[n] / total
        bounds.append(round(acc * len(keys)))
    if len(keys) >= len(names):  # keep every split non-empty
        for i in range(len(bounds)):
            lo = (bounds[i - 1] if i else 0) + 1
            bounds[i] = min(max(bounds[i], lo), len(keys) - (len(bounds) - i))
    out: dict[str, list[RawSample]] = {n: [] for n in ratios}
    start = 0
    for n, end in zip(names, [*bounds, len(keys)], strict=False):
        for k in keys[start:end]:
            out[n].extend(groups[k])
        start = end
    # Crops showing no number (`printed` = NO_DIGITS) teach the recogniser to read nothing; validation and test
    # measure reading numbers, so they all train (they show no digit of their label: nothing leaks).
    if ratios.get("train", 0) > 0:
        for n in out:
            if n != "train":
                out["train"] += [s for s in out[n] if s.printed == NO_DIGITS]
                out[n] = [s for s in out[n] if s.printed != NO_DIGITS]
    return out


def make_crops(raw_dir: str | Path, out_dir: str | Path, cfg: PreprocessConfig) -> PreprocessSummary:
    """Cut every raw sample into `out_dir/<split>/crops/`, write each split's crops.tsv."""
    out = Path(out_dir)
    samples = read_raw(raw_dir)
    ratios = {"train": cfg.split.train, "val": cfg.split.val, "test": cfg.split.test}
    parts = split_samples(samples, ratios, cfg.seed)
    rotated = 0
    skipped: list[str] = []
    per_format: dict[str, dict[str, int]] = {}
    sizes: dict[str, int] = {}
    for split, items in parts.items():
        rows: list[tuple[str, str, str, str]] = []
        (out / split / "crops").mkdir(parents=True, exist_ok=True)
        for s in items:
            try:
                image = load_image(s.path)
            except ImageError as e:
                skipped.append(f"{e} (line {s.line} of {Path(raw_dir) / 'labels.tsv'})")
                log.warning("skipped %s", skipped[-1])
                continue
            try:
                crop, turned = cut(image, s.box, cfg.margin_x, cfg.margin_y, cfg.rotate_vertical, cfg.rotate_direction)
            except ValueError as e:
                raise ValueError(f"{e} (line {s.line} of {Path(raw_dir) / 'labels.tsv'})") from None
            rotated += turned
            name = f"crops/{len(rows):06d}.png"
            crop.save(out / split / name)
            rows.append((name, s.text, s.fmt, s.printed or ""))
        write_tsv(out / split / "crops.tsv", rows, header=("filename", "text", "format", "printed"))
        sizes[split] = len(rows)
        per_format[split] = dict(Counter(r[2] or "unknown" for r in rows))
    log.info("preprocessed %s: %s, %d rotated upright", raw_dir, sizes, rotated)
    return PreprocessSummary(out, sizes, rotated, per_format, skipped)

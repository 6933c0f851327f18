"""Barcode detector: the network, its targets and data, Lightning training, ONNX export.

The network maps a letterboxed grey photo to three maps at stride 4: the logit that a pixel belongs to a
barcode symbol (bars + printed digits), and the direction (cos, sin) of the symbol's digit line, so a
barcode turned by 90 or 180 degrees comes out with its digits at the bottom of its quad. Boxes come from
the maps in `crnn.photo.boxes_from_maps` (numpy, shared with onnxruntime reading).

Training data: the generator's whole scenes (their symbol quads come free) and, when given, imported
raw datasets with boxes (`tsv` / `coco` sources; an axis-aligned box teaches the region, and its direction
only when it is wider than tall).
"""

from __future__ import annotations

import csv
import json
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback
from PIL import Image, ImageDraw
from torch import nn
from torch.utils.data import DataLoader, Dataset

from crnn.config import DetectorConfig, DetectorModelConfig, from_dict, to_dict
from crnn.model import create_backbone
from crnn.photo import META_PREFIX, STRIDE, Detection, boxes_from_maps, detector_input, letterbox_scales
from crnn.preprocess import load_image
from crnn.straighten import box_quad
from crnn.straighten import direction as digit_line
from crnn.synth import synth_config
from crnn.system import adamw_cosine
from crnn.train import TrainResult, make_loader, make_trainer, model_state, read_checkpoint

log = logging.getLogger(__name__)

MONITOR = "val/f1"
IOU_MATCH = 0.5
ANGLE_MATCH = 30.0  # degrees between predicted and true digit-line directions


class DetectorNet(nn.Module):
    """images `(N, C, S, S)` -> maps `(N, 3, S/4, S/4)`: barcode logit, direction (cos, sin)."""

    def __init__(self, cfg: DetectorModelConfig) -> None:
        super().__init__()
        self.backbone = create_backbone(
            cfg.backbone, cfg.pretrained, cfg.pretrained_path, out_indices=tuple(cfg.out_indices), in_chans=cfg.in_chans
        )
        info: Any = self.backbone.feature_info  # timm's FeatureInfo
        channels, reductions = info.channels(), info.reduction()
        if reductions[0] != STRIDE:
            raise ValueError(
                f"{cfg.backbone} out_indices={cfg.out_indices} start at stride {reductions[0]}; the detector "
                f"needs the first level at stride {STRIDE}"
            )
        n = cfg.neck_channels
        self.lateral = nn.ModuleList(nn.Conv2d(c, n, kernel_size=1) for c in channels)
        self.fuse = nn.Sequential(
            nn.Conv2d(n, n, 3, padding=1, bias=False),
            nn.BatchNorm2d(n),
            nn.ReLU(inplace=True),
            nn.Conv2d(n, n, 3, padding=1, bias=False),
            nn.BatchNorm2d(n),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Conv2d(n, 3, kernel_size=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(images)
        y = self.lateral[-1](feats[-1])
        for f, lat in zip(reversed(feats[:-1]), reversed(list(self.lateral)[:-1]), strict=True):
            y = F.interpolate(y, size=f.shape[-2:], mode="bilinear", align_corners=False) + lat(f)
        return self.head(self.fuse(y))


class DetectorMaps(nn.Module):
    """What is exported: probability and unit direction, `(N, 3, S/4, S/4)`."""

    def __init__(self, net: DetectorNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return to_maps(self.net(images))


def to_maps(logits: torch.Tensor) -> torch.Tensor:
    """The network's raw output `(N, 3, h, w)` as probability and unit direction."""
    return torch.cat([torch.sigmoid(logits[:, :1]), F.normalize(logits[:, 1:3], dim=1, eps=1e-6)], dim=1)


# ---------------------------------------------------------------- data


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
        with open(folder / "annotations.tsv", newline="") as f:
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
        from crnn.importers import read_raw

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
        s = self.scenes[i]
        return load_image(s.path).convert("L"), list(s.quads), list(s.oriented)

    def sample(self, i: int, rng: random.Random | None) -> tuple[Image.Image, list[np.ndarray], list[bool]]:
        """Scene `i` as the network sees it before letterboxing (augmented when `rng` is given)."""
        if rng is None:
            return self._load(i)
        d = self.cfg.data
        if rng.random() < d.empty_p:
            quads: list[np.ndarray] = []
            oriented: list[bool] = []
            with Image.open(self.scenes[i].path) as im:  # the size is in the header: no decoding
                image = empty_scene(rng, im.size).convert("L")
        elif rng.random() < d.mosaic_p and len(self.scenes) > 1:
            image, quads, oriented = _mosaic(self._load(i), self._load(rng.randrange(len(self.scenes))), rng)
        else:
            image, quads, oriented = self._load(i)
        if quads and rng.random() < d.zoom_p:
            image, quads = _zoom(image, quads, rng.uniform(*d.zoom_fill), rng)
        elif rng.random() < d.shrink_p:
            image, quads = _shrink(image, quads, rng.uniform(d.shrink_min, 1.0), rng)
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


# ---------------------------------------------------------------- matching


def quad_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two quads, rasterised at one pixel (a few % precise at these sizes)."""
    lo = np.floor(np.minimum(a.min(axis=0), b.min(axis=0))) - 1
    hi = np.ceil(np.maximum(a.max(axis=0), b.max(axis=0))) + 1
    size = (int(hi[0] - lo[0]), int(hi[1] - lo[1]))
    if size[0] * size[1] > 4_000_000 or min(size) <= 0:
        raise ValueError(f"quads too large to compare: {size}")
    masks = []
    for q in (a, b):
        layer = Image.new("1", size, 0)
        ImageDraw.Draw(layer).polygon([tuple(p) for p in (q - lo)], fill=1)
        masks.append(np.asarray(layer, dtype=bool))
    union = (masks[0] | masks[1]).sum()
    return float((masks[0] & masks[1]).sum() / union) if union else 0.0


def angle_between(a: np.ndarray, b: np.ndarray) -> float:
    """Degrees between the digit-line directions of two quads (0..180)."""
    cos = float(np.dot(digit_line(a), digit_line(b)))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def match(preds: list[Detection], truth: list[np.ndarray], oriented: list[bool]) -> list[dict]:
    """Greedy one-to-one matching of true quads to predictions (best IoU first): one row per true quad
    with `iou`, `angle` and `found` (IoU >= 0.5 and, where the direction is known, within 30 degrees)."""
    rows, used = [], set()
    for q, known in zip(truth, oriented, strict=True):
        best, best_iou = None, 0.0
        for j, p in enumerate(preds):
            if j in used:
                continue
            iou = quad_iou(p.quad, q)
            if iou > best_iou:
                best, best_iou = j, iou
        angle = angle_between(preds[best].quad, q) if best is not None else 180.0
        found = best_iou >= IOU_MATCH and (not known or angle <= ANGLE_MATCH)
        if found and best is not None:
            used.add(best)
        rows.append({"iou": round(best_iou, 3), "angle": round(angle, 1), "found": found})
    return rows


# ---------------------------------------------------------------- training


class DetectorSystem(L.LightningModule):
    """Loss: BCE + soft Dice on the mask, L1 on the direction inside oriented barcodes. Validation:
    recall, precision and F1 of the decoded boxes; the last epoch's predictions and overlay kept."""

    def __init__(self, cfg: dict) -> None:
        super().__init__()
        self.save_hyperparameters({"cfg": cfg})
        self.cfg: DetectorConfig = from_dict(DetectorConfig, cfg)
        self.model = DetectorNet(self.cfg.model)
        self.val_scenes: list[Scene] = []
        self._val: list[dict] = []
        self.last_predictions: list[dict] = []
        self.last_overlay: Image.Image | None = None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)

    def _loss(self, out: torch.Tensor, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        logit, direction = out[:, 0], out[:, 1:3]
        mask, weight = batch["mask"], batch["weight"]
        bce = F.binary_cross_entropy_with_logits(logit, mask)
        p = torch.sigmoid(logit)
        dice = 1 - (2 * (p * mask).sum((1, 2)) + 1) / (p.sum((1, 2)) + mask.sum((1, 2)) + 1)
        mask_loss = bce + dice.mean()
        l1 = (F.l1_loss(direction, batch["direction"], reduction="none").sum(1) * weight).sum()
        dir_loss = l1 / weight.sum().clamp(min=1.0)
        return mask_loss, dir_loss

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        mask_loss, dir_loss = self._loss(self(batch["images"]), batch)
        n = len(batch["index"])
        self.log("train/mask_loss", mask_loss, batch_size=n)
        self.log("train/direction_loss", dir_loss, batch_size=n)
        loss = mask_loss + 0.5 * dir_loss
        self.log("train/loss", loss, prog_bar=True, batch_size=n)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        out = self(batch["images"])
        mask_loss, dir_loss = self._loss(out, batch)
        self.log("val/loss", mask_loss + 0.5 * dir_loss, batch_size=len(batch["index"]))
        for m, i in zip(to_maps(out).float().cpu().numpy(), batch["index"], strict=True):
            scene = self.val_scenes[i]
            preds = boxes_from_maps(m, self.cfg.post)
            # Compare in the network's input pixels: the true quads scaled as the loader scaled them.
            with Image.open(scene.path) as im:
                sx, sy = letterbox_scales(im.size, self.cfg.input.size)
            truth = [q * np.array([sx, sy]) for q in scene.quads]
            rows = match(preds, truth, scene.oriented)
            self._val.append(
                {
                    "file": str(scene.path),
                    "truth": [q.round(1).tolist() for q in scene.quads],
                    "predicted": [
                        {"quad": (p.quad / (sx, sy)).round(1).tolist(), "score": round(p.score, 4)} for p in preds
                    ],
                    "matches": rows,
                }
            )

    def on_validation_epoch_end(self) -> None:
        if not self._val:
            return
        truths = sum(len(r["matches"]) for r in self._val)
        found = sum(m["found"] for r in self._val for m in r["matches"])
        predicted = sum(len(r["predicted"]) for r in self._val)
        recall = found / truths if truths else 1.0
        precision = found / predicted if predicted else (1.0 if not truths else 0.0)
        f1 = 2 * recall * precision / (recall + precision) if recall + precision else 0.0
        self.log("val/recall", recall, prog_bar=True)
        self.log("val/precision", precision)
        self.log(MONITOR, f1, prog_bar=True)
        self.last_predictions = self._val
        self._val = []
        if self.cfg.overlays:
            self.last_overlay = overlay_sheet(self.last_predictions[: self.cfg.overlays])

    def configure_optimizers(self):  # type: ignore[no-untyped-def]  # Lightning's union return type
        return adamw_cosine(self, self.cfg.optim)


def overlay_sheet(rows: list[dict], cell: int = 256) -> Image.Image:
    """Validation images with true quads (green) and predicted ones (red, digit edge thick), in a grid."""
    from crnn.visualize import grid

    tiles = []
    for r in rows:
        im = load_image(r["file"])
        k = cell / max(im.size)
        im = im.resize((max(1, round(im.width * k)), max(1, round(im.height * k))))
        draw = ImageDraw.Draw(im)
        for q in r["truth"]:
            draw.polygon([tuple(p) for p in np.array(q) * k], outline=(0, 200, 0), width=2)
        for p in r["predicted"]:
            q = np.array(p["quad"]) * k
            draw.polygon([tuple(v) for v in q], outline=(230, 0, 0), width=1)
            draw.line([tuple(q[2]), tuple(q[3])], fill=(230, 0, 0), width=3)
        tiles.append(im)
    found = [sum(m["found"] for m in r["matches"]) for r in rows]
    captions = [f"{f}/{len(r['matches'])} found, {len(r['predicted'])} boxes" for f, r in zip(found, rows, strict=True)]
    return grid(tiles, captions, cols=4, cell=(cell, cell))


class _EpochArtifacts(Callback):
    """Per epoch: the overlay PNG and the predictions JSON under `out_dir`, and `report(epoch, png, json)`."""

    def __init__(self, out: Path, report: Any = None) -> None:
        self.out, self.report = out, report

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Runs after the epoch's validation, when the system holds this epoch's predictions.
        system: DetectorSystem = pl_module  # type: ignore[assignment]  # only attached to DetectorSystem
        if not system.last_predictions:
            return
        epoch = trainer.current_epoch
        (self.out / "predictions").mkdir(parents=True, exist_ok=True)
        pred_path = self.out / "predictions" / f"epoch_{epoch:03d}.json"
        pred_path.write_text(json.dumps(system.last_predictions, indent=1))
        png = None
        if system.last_overlay is not None:
            (self.out / "overlays").mkdir(parents=True, exist_ok=True)
            png = self.out / "overlays" / f"epoch_{epoch:03d}.png"
            system.last_overlay.save(png)
        if self.report is not None:
            self.report(epoch, system.last_overlay, system.last_predictions)


def ensure_scenes(cfg: DetectorConfig) -> None:
    """Fill the scene folders `cfg.data` names with generator scenes (`data.synth` counts and seed, the
    detector's generator settings) unless they are there and current: `crnn.synth.ensure` makes again only
    the folders it made itself, when the generator, its settings, the count or the seed changed."""
    from crnn import synth

    d = cfg.data
    s = d.synth
    gen = synth_config(
        {
            "p_addon_book": d.addon_p_book,
            "p_addon": d.addon_p,
            "min_contrast": d.min_contrast,
            "module_px": d.module_px,
            "p_pale_ink": d.pale_ink_p,
        }
        | dict(s.generator)
    )
    wanted = [(folder, s.train_count, s.seed + k) for k, folder in enumerate(d.train_dirs)]
    wanted.append((d.val_dir, s.val_count, s.seed + len(wanted)))
    for folder, count, seed in wanted:
        synth.ensure(Path(folder), count, seed, s.workers, gen)


def fit_detector(
    cfg: DetectorConfig, callbacks: list[Callback] | None = None, logger: Any = None, report: Any = None
) -> TrainResult:
    """Train the detector as `cfg` says; best checkpoint by validation F1 of the decoded boxes."""
    start = time.time()
    L.seed_everything(cfg.trainer.seed, workers=True)
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    ensure_scenes(cfg)
    train_scenes = [s for d in cfg.data.train_dirs for s in read_scenes(d)]
    val_scenes = read_scenes(cfg.data.val_dir)
    system = DetectorSystem(to_dict(cfg))
    system.val_scenes = val_scenes

    def loader(ds: SceneDataset, shuffle: bool) -> DataLoader:
        return make_loader(ds, cfg.data.batch_size, cfg.data.num_workers, collate, shuffle)

    out = Path(cfg.out_dir)
    run = make_trainer(cfg.trainer, cfg.optim, out, MONITOR, [_EpochArtifacts(out, report), *(callbacks or [])], logger)
    run.trainer.fit(
        system,
        train_dataloaders=loader(SceneDataset(train_scenes, cfg, train=True), True),
        val_dataloaders=loader(SceneDataset(val_scenes, cfg, train=False), False),
        ckpt_path=cfg.resume,
        weights_only=True,
    )
    return run.result(out, start)


def load_detector(path: str | Path) -> tuple[DetectorNet, DetectorConfig]:
    """The network and its config from a detector checkpoint, loaded with weights_only=True."""
    ck = read_checkpoint(path, "detector")
    if "post" not in ck["hyper_parameters"].get("cfg", {}):
        raise ValueError(f"{path} is not a detector training checkpoint")
    cfg = from_dict(DetectorConfig, ck["hyper_parameters"]["cfg"])
    net = DetectorNet(cfg.model)
    net.load_state_dict(model_state(ck))
    return net.eval(), cfg


def export_detector(
    checkpoint: str | Path,
    out: str | Path,
    images: list[Image.Image] | None = None,
    opset: int = 17,
    atol: float = 1e-3,
) -> float:
    """Write the detector as ONNX (maps, dynamic batch) with its metadata; return the max |difference|
    between onnxruntime and PyTorch on `images` and random inputs (ParityError above `atol`)."""
    from crnn.export import ParityError, to_onnx
    from crnn.photo import Detector

    net, cfg = load_detector(checkpoint)
    maps = DetectorMaps(net).eval()
    out = Path(out)
    size = cfg.input.size
    meta = {
        "size": str(size),
        "mean": str(cfg.input.mean),
        "std": str(cfg.input.std),
        "stride": str(STRIDE),
        "post": json.dumps(to_dict(cfg.post)),
        "config": json.dumps(to_dict(cfg)),
    }
    dummy = torch.zeros(1, cfg.model.in_chans, size, size)
    to_onnx(maps, dummy, out, "maps", opset, {META_PREFIX + k: v for k, v in meta.items()})
    det = Detector(out)
    rng = np.random.default_rng(0)
    inputs = [rng.normal(0, 1, (2, cfg.model.in_chans, size, size)).astype(np.float32)]
    inputs += [detector_input(im, size, cfg.input.mean, cfg.input.std)[0][None] for im in images or []]
    worst = 0.0
    for x in inputs:
        with torch.inference_mode():
            ref = maps(torch.from_numpy(x)).numpy()
        got = det.session.run(None, {det.input_name: x})[0]
        worst = max(worst, float(np.abs(got - ref).max()))
    if worst > atol:
        raise ParityError(f"onnxruntime detector maps differ from PyTorch by {worst:.2e} > {atol:.0e}")
    log.info("exported detector %s: parity on %d inputs, max |diff| %.2e", out, len(inputs), worst)
    return worst

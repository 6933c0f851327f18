"""The detector's LightningModule: loss on the maps, validation by matching boxes (IoU, angle), overlays."""

from __future__ import annotations

import logging

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from crnn.config.detector import DetectorConfig
from crnn.config.loading import from_dict
from crnn.core.geometry import direction as digit_line
from crnn.core.images import image_size, load_image
from crnn.detector.data import Scene
from crnn.detector.model import DetectorNet, to_maps
from crnn.reading.detection import Detection, boxes_from_maps, letterbox_scales
from crnn.training.schedule import adamw_cosine

log = logging.getLogger(__name__)


MONITOR = "val/f1"


IOU_MATCH = 0.5


ANGLE_MATCH = 30.0  # degrees between predicted and true digit-line directions


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
            sx, sy = letterbox_scales(image_size(scene.path), self.cfg.input.size)
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
    from crnn.evaluation.visualize import grid

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

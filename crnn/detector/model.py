"""The barcode detector network: a timm backbone and a small FPN to barcode and digit-line maps.

The network maps a letterboxed grey photo to three maps at stride 4: the logit that a pixel belongs to a
barcode symbol (bars + printed digits), and the direction (cos, sin) of the symbol's digit line, so a
barcode turned by 90 or 180 degrees comes out with its digits at the bottom of its quad. Boxes come from
the maps in `crnn.reading.detection.boxes_from_maps` (numpy, shared with onnxruntime reading).

Training data: the generator's whole scenes (their symbol quads come free) and, when given, imported
raw datasets with boxes (`tsv` / `coco` sources; an axis-aligned box teaches the region, and its direction
only when it is wider than tall).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from crnn.config.detector import DetectorModelConfig
from crnn.reading.detection import STRIDE
from crnn.training.backbone import create_backbone


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

"""A timm feature backbone, built without downloads (local weights only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import timm
from torch import nn


def create_backbone(name: str, pretrained: bool, pretrained_path: str | None, **kwargs: Any) -> nn.Module:
    """A timm feature extractor (`features_only`); pretrained weights only from a local file."""
    kwargs = {"features_only": True, **kwargs}
    if pretrained:
        if not pretrained_path:
            raise ValueError("pretrained=true needs a pretrained_path (a local weights file); nothing is downloaded")
        path = Path(pretrained_path)
        if not path.is_file():
            raise ValueError(f"pretrained weights not found: {path}")
        # timm's documented way to load pretrained weights from a local file instead of the hub.
        kwargs["pretrained_cfg_overlay"] = {"file": str(path)}
    try:
        return timm.create_model(name, pretrained=pretrained, **kwargs)
    except RuntimeError as e:
        raise ValueError(f"cannot build backbone {name!r} with {kwargs}: {e}") from e

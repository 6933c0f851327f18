"""The CRNN network: timm feature backbone -> 1x1 conv -> height pooling -> bidirectional RNN -> classes.

A plain nn.Module (no Lightning). The RNN input size and the number of time steps come from a dummy
forward through the backbone, never from configuration.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from crnn.config.train import InputConfig, ModelConfig
from crnn.training.backbone import create_backbone

log = logging.getLogger(__name__)


class CRNN(nn.Module):
    """images `(N, C, H, W)` -> logits `(N, T, num_classes)`."""

    def __init__(self, model: ModelConfig, inp: InputConfig) -> None:
        super().__init__()
        self.cfg, self.inp = model, inp
        kwargs: dict = {"out_indices": tuple(model.out_indices), "in_chans": model.in_chans}
        if model.output_stride is not None:
            kwargs["output_stride"] = model.output_stride
        self.backbone = create_backbone(model.backbone, model.pretrained, model.pretrained_path, **kwargs)
        with torch.no_grad():
            self.backbone.eval()
            feat = self.backbone(torch.zeros(1, model.in_chans, inp.height, inp.width))[-1]
            self.backbone.train()
        channels, feat_h, steps = feat.shape[1], feat.shape[2], feat.shape[3]
        self.time_steps = int(steps)
        needed = 2 * inp.max_label_length - 1  # worst case: every neighbour repeats, e.g. '0011...'
        if self.time_steps < needed:
            raise ValueError(
                f"{model.backbone} with out_indices={model.out_indices} gives {self.time_steps} time steps for "
                f"input width {inp.width}, fewer than the {needed} a {inp.max_label_length}-character label with "
                f"repeated digits needs: widen the input, lower the stride or pick an earlier feature level"
            )
        self.neck = nn.Sequential(
            nn.Conv2d(channels, model.neck_channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(model.neck_channels),
            nn.ReLU(inplace=True),
        )
        rnn_cls = nn.GRU if model.rnn == "gru" else nn.LSTM
        self.rnn = rnn_cls(
            input_size=model.neck_channels,
            hidden_size=model.rnn_hidden,
            num_layers=model.rnn_layers,
            bidirectional=True,
            batch_first=True,
            dropout=model.dropout if model.rnn_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(model.dropout)
        self.head = nn.Linear(2 * model.rnn_hidden, len(inp.charset) + 1)
        log.info(
            "CRNN %s: feature map %dx%dx%d -> %d time steps", model.backbone, channels, feat_h, steps, self.time_steps
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        feat = self.neck(self.backbone(images)[-1])  # (N, C, h, T)
        seq = feat.mean(dim=2).permute(0, 2, 1)  # (N, T, C): the height pooled away
        seq, _ = self.rnn(seq)
        return self.head(self.dropout(seq))  # (N, T, num_classes)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

"""The recogniser's training data: labelled crops to normalised arrays and CTC targets, and their batches."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from crnn.config.train import TrainConfig
from crnn.core.codec import Codec
from crnn.core.labels import Sample
from crnn.core.preprocess import InputSpec, load_image, shrink_for_augment, to_array
from crnn.recognizer.augment import Augment


def input_spec(cfg: TrainConfig) -> InputSpec:
    return InputSpec(
        cfg.input.height,
        cfg.input.width,
        cfg.model.in_chans,
        cfg.input.mean,
        cfg.input.std,
        cfg.input.blur,
        cfg.input.x_stretch,
    )


class CropDataset(Dataset):
    """Labelled crops -> (image `(C, H, W)` float32, label indices, text)."""

    def __init__(
        self,
        samples: Sequence[Sample],
        spec: InputSpec,
        codec: Codec,
        augment: Augment | None = None,
    ):
        # The CTC loss sees the digits a crop shows (`Sample.target`); metrics always score the whole number.
        self.samples, self.spec, self.codec, self.augment = list(samples), spec, codec, augment
        self._rng: random.Random | None = None

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[np.ndarray, list[int], str]:
        s = self.samples[i]
        try:
            im = load_image(s.path)
        except ValueError as e:
            raise ValueError(f"{e} (line {s.line} of its labels file)") from None
        if self.spec.channels == 1:
            im = im.convert("L")  # the same conversion to_array makes, done first so augmenting is cheaper
        if self.augment is not None:
            im = shrink_for_augment(im, self.spec.height)
            if self._rng is None:
                # Seeded per worker by Lightning's seed_everything(workers=True) through torch's seed.
                self._rng = random.Random(torch.initial_seed())
            im = self.augment(im, self._rng)
        return to_array(im, self.spec), self.codec.encode(s.target), s.text


def collate(batch: list[tuple[np.ndarray, list[int], str]]) -> dict:
    images = torch.from_numpy(np.stack([b[0] for b in batch]))
    labels = [b[1] for b in batch]
    return {
        "images": images,
        "targets": torch.tensor([k for lab in labels for k in lab], dtype=torch.long),
        "target_lengths": torch.tensor([len(lab) for lab in labels], dtype=torch.long),
        "texts": [b[2] for b in batch],
    }

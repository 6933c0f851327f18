"""The recogniser's training data: labelled crops to normalised arrays and CTC targets, and their batches."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from crnn.config.train import TrainConfig
from crnn.core.codec import Codec
from crnn.core.images import ImageError, load_image, with_readable_headers
from crnn.core.labels import Sample
from crnn.core.preprocess import InputSpec, shrink_for_augment, to_array
from crnn.recognizer.augment import Augment

log = logging.getLogger(__name__)


def readable(samples: Sequence[Sample], tsv: str, errors: list[str]) -> list[Sample]:
    """The samples whose image header opens (`with_readable_headers`); the others go to `errors` with their line."""
    return with_readable_headers(samples, errors, lambda s: f" (line {s.line} of {tsv})")


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
        # Images that passed the header check but do not decode: warned about once, another crop takes their place.
        self.unreadable: dict[int, str] = {}
        # Also appended here, a line each, when set: loader workers are other processes, whose `unreadable` the
        # trainer never sees.
        self.report_file: Path | None = None

    def __len__(self) -> int:
        return len(self.samples)

    def _load(self, i: int) -> tuple[Sample, Image.Image]:
        """Sample `i` and its image; when it does not decode, the next one that does (none: ValueError)."""
        for k in range(len(self.samples)):
            j = (i + k) % len(self.samples)
            if j in self.unreadable:
                continue
            try:
                return self.samples[j], load_image(self.samples[j].path)
            except ImageError as e:
                self.unreadable[j] = f"{e} (line {self.samples[j].line} of its labels file)"
                log.warning("skipped %s; another crop takes its place", self.unreadable[j])
                if self.report_file is not None:
                    with open(self.report_file, "a", encoding="utf-8") as f:
                        f.write(self.unreadable[j].replace("\n", " ") + "\n")
        raise ValueError(f"none of the {len(self.samples)} images decodes")

    def __getitem__(self, i: int) -> tuple[np.ndarray, list[int], str]:
        s, im = self._load(i)
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

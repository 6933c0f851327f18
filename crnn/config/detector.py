"""The detector's training configuration: network, input, scene data, training."""

from __future__ import annotations

from dataclasses import dataclass, field

from crnn.config.reading import DetectorPostConfig
from crnn.config.synth import scene_generator
from crnn.config.train import OptimConfig, SynthDataConfig, TrainerConfig


@dataclass
class DetectorModelConfig:
    """Barcode detector: timm backbone (strides 4/8/16) -> small FPN -> per-pixel maps at stride 4."""

    backbone: str = "mobilenetv3_small_100"
    pretrained: bool = False
    pretrained_path: str | None = None  # local weights file, as for the recogniser
    out_indices: list[int] = field(default_factory=lambda: [1, 2, 3])
    in_chans: int = 1
    neck_channels: int = 32


@dataclass
class DetectorInputConfig:
    """Photos are letterboxed into a size x size square (long side = size)."""

    size: int = 320
    mean: float = 0.5
    std: float = 0.5


@dataclass
class DetectorDataConfig:
    # Folders of whole scenes: the generator's (annotations.tsv with quads) or an imported raw dataset
    # (labels.tsv with boxes, from `tsv` / `coco` sources). Synthetic ones are made when missing.
    train_dirs: list[str] = field(default_factory=lambda: ["data/synth_scenes/train"])
    val_dir: str = "data/synth_scenes/val"
    synth: SynthDataConfig = field(
        default_factory=lambda: SynthDataConfig(train_count=6000, val_count=200, seed=100, generator=scene_generator())
    )
    batch_size: int = 16
    num_workers: int = 1
    # Two scenes side by side in one image (more than one barcode per photo, smaller barcodes).
    mosaic_p: float = 0.3
    # A background without a barcode (text, patterns): teaches the empty answer.
    empty_p: float = 0.05
    # Random scale-down of a scene before letterboxing (smaller barcodes than the generator draws).
    shrink_p: float = 0.3
    shrink_min: float = 0.5
    # Random zoom-in on a barcode: a window where it spans `zoom_fill` of the width, edges may cut it
    # (close-up phone photos, barcodes half out of frame).
    zoom_p: float = 0.3
    zoom_fill: tuple[float, float] = (0.6, 1.3)
    # The whole photo turned by any angle on an expanded canvas, its corners filled white, black or grey (an image
    # turned in software, a scan): the surroundings turn with the barcode, and bars may meet a flat fill.
    turn_p: float = 0.25


@dataclass
class DetectorConfig:
    model: DetectorModelConfig = field(default_factory=DetectorModelConfig)
    input: DetectorInputConfig = field(default_factory=DetectorInputConfig)
    data: DetectorDataConfig = field(default_factory=DetectorDataConfig)
    post: DetectorPostConfig = field(default_factory=DetectorPostConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=3e-3))
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(max_epochs=6, max_minutes=22.0))
    # Validation images drawn with their predicted boxes each epoch (overlays).
    overlays: int = 8
    out_dir: str = "runs/detector"
    resume: str | None = None
    # As in the recogniser's config: write into an out_dir that holds an earlier run.
    overwrite: bool = False

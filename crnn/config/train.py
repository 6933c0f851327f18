"""The recogniser's training configuration: network, input, augmentation, data, optimiser, trainer, decoder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from crnn.config.synth import SynthConfig, crop_generator

DEFAULT_CHARSET = "0123456789"


@dataclass
class ModelConfig:
    """CRNN architecture. The RNN input size and the number of time steps are derived, not set."""

    backbone: str = "resnet18"
    pretrained: bool = False
    # Local weights file for the backbone (timm state dict, .safetensors or .pth); nothing is downloaded.
    pretrained_path: str | None = None
    out_indices: list[int] = field(default_factory=lambda: [1])
    output_stride: int | None = None
    in_chans: int = 1
    neck_channels: int = 64
    rnn: Literal["gru", "lstm"] = "gru"
    rnn_hidden: int = 64
    rnn_layers: int = 2
    dropout: float = 0.1


@dataclass
class InputConfig:
    """What the network sees: letterboxed to height x width, normalised with mean/std."""

    height: int = 48
    width: int = 128
    mean: float = 0.5
    std: float = 0.5
    charset: str = DEFAULT_CHARSET
    # Gaussian low-pass (std, in network pixels) after letterboxing, in training and inference alike:
    # real crops are sharper than any synthetic set we made, and this narrows the gap from both sides.
    blur: float = 0.5
    # Widen crops this many times before letterboxing (width must grow with it): at 1, a 32-pixel-high input
    # gives ~1.1 pixels per bar module, too few to resolve bars; at 2, ~2.2, so the network can read the bars
    # over the digits too.
    x_stretch: float = 0.72
    # Longest label the model must be able to emit, repeats included: sets the time-step check.
    max_label_length: int = 13


@dataclass
class AugmentConfig:
    """Training-time augmentations; each probability 0 disables that augmentation."""

    perspective_p: float = 0.5
    perspective_max: float = 0.06
    x_scale_p: float = 0.5
    x_scale_range: tuple[float, float] = (0.8, 1.2)
    color_p: float = 0.8
    brightness: float = 0.3
    contrast: float = 0.4  # factor 1 +- this
    # Mild on purpose: the generator already degrades, and real crops measure sharper and more
    # contrasted than the synthetic ones did under stronger settings (benchmarks/domain_gap.py).
    blur_p: float = 0.15
    blur_max: float = 1.2
    noise_p: float = 0.2
    noise_max: float = 12.0
    downscale_p: float = 0.15
    downscale_min: float = 0.4
    jpeg_p: float = 0.2
    jpeg_quality: tuple[int, int] = (30, 90)
    dropout_p: float = 0.2
    dropout_max_frac: float = 0.08
    invert_p: float = 0.0


@dataclass
class SynthDataConfig:
    """Synthetic data made by `crnn synth` when the training TSVs do not exist yet."""

    # 40,000 crops: every one of three trainings read 25 of the 26 real numbers, against two of five at 20,000
    # (docs/decisions.md); 10 epochs take about 19 minutes on 2 cores.
    train_count: int = 40000
    val_count: int = 1000
    seed: int = 0
    workers: int = 2
    generator: SynthConfig = field(default_factory=crop_generator)
    # The only folder under which missing train/val crops (`<folder>/crops.tsv`) are generated: a TSV path elsewhere
    # that does not exist is an error, so a mistyped path is never filled with synthetic data. null: never generate.
    root: str | None = "data/synth"


@dataclass
class MixConfig:
    """Labelled crops trained beside `data.train_tsv` (your own, typically), and their share of each epoch."""

    tsv: str = ""
    weight: float = 1.0


@dataclass
class DataConfig:
    train_tsv: str = "data/synth/train/crops.tsv"
    # More training TSVs, mixed in: every epoch draws from each source in proportion to its weight (train_tsv's is
    # `train_weight`), whatever its size: `mix: [{tsv: mine/crops.tsv, weight: 1}]` beside the synthetic crops at 1
    # makes half of every batch yours on average. Empty: train_tsv alone, shuffled.
    mix: list[MixConfig] = field(default_factory=list)
    train_weight: float = 1.0
    # The weight of the crops dataset the pipeline's train step mixes in by ID (its input mix_dataset_id, the
    # pipeline parameter of that name): the step adds its train split to `mix` at this weight. Unused without it.
    mix_weight: float = 1.0
    val_tsv: str = "data/synth/val/crops.tsv"
    # Real crops, validation only (never trained on); skipped when the file is absent.
    real_tsv: str | None = None
    synth: SynthDataConfig = field(default_factory=SynthDataConfig)
    batch_size: int = 64
    num_workers: int = 1


@dataclass
class OptimConfig:
    lr: float = 2e-3
    weight_decay: float = 1e-4
    # Linear warm-up for warmup_frac of the steps, then cosine decay to 2% of lr.
    scheduler: Literal["cosine", "none"] = "cosine"
    warmup_frac: float = 0.1
    grad_clip: float = 5.0


@dataclass
class TrainerConfig:
    max_epochs: int = 10
    # Stop after this many minutes of training (None: no limit); the best checkpoint is kept.
    max_minutes: float | None = None
    accelerator: str = "auto"
    devices: int = 1
    precision: str = "32-true"
    limit_train_batches: float = 1.0
    limit_val_batches: float = 1.0
    log_every_n_steps: int = 20
    seed: int = 0
    threads: int | None = None
    # Train with channels-last (NHWC) tensors; exported models are unaffected.
    channels_last: bool = True

    def __post_init__(self) -> None:
        # Checked at load: 0 would "finish" at once with no checkpoint, a negative value would train without end.
        if self.max_epochs < 1:
            raise ValueError(f"trainer.max_epochs must be at least 1, got {self.max_epochs}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"trainer.max_minutes must be positive (or null: no limit), got {self.max_minutes}")


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    input: InputConfig = field(default_factory=InputConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    # A safety cap within a 30-minute budget: 10 epochs of 40,000 crops take about 19 minutes on 2 cores; on a busy
    # machine the cap stops training early, and the schedule, which follows the time spent too, still anneals.
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(max_minutes=28.0))
    # Decoder for the per-epoch validation metrics (greedy: fast, and honest about the network alone).
    val_decoder: Literal["greedy", "beam", "constrained"] = "greedy"
    # Default decoder for evaluation and reading; exported into the ONNX metadata.
    decoder: Literal["greedy", "beam", "constrained"] = "constrained"
    # The constrained decoder's prior that a crop lacks one digit the check digit supplies (a UPC-A printed
    # without it, an EAN-13 with the leading digit cut off; crnn.core.codec). Meaningful for a model trained on
    # labels of the digits shown (`p_card`); stored in the checkpoint and the ONNX
    # metadata, so readers use it unless told otherwise (`--erasure-prior`). 0 turns it off.
    # Shipped: 0.05 for UPC-A only (the loyalty cards' missing check digit; benchmarks on synthetic val crops).
    erasure_prior: float = 0.05
    # The formats whose missing digit the hypothesis may infer (`crnn.core.symbology.ERASABLE`: the UPC-A check digit,
    # the EAN-13 leading digit): those the model was trained to read without it, so that it never infers a digit
    # where it only misread one (a model of `p_card` alone infers leading EAN-13 digits wrong and sure).
    erasable: list[str] = field(default_factory=lambda: ["UPC-A"])
    # The constrained decoder's prior that a 13-digit code starting with 0 is printed as an EAN-13 rather than
    # as its 12-digit UPC-A (same bars; crnn.core.symbology.constraints). 1 weighs both alike; a model that reads the
    # bars (`data.learn=text`) may need less. Stored and carried like erasure_prior (`--ean13-lead0-prior`).
    # Shipped: 0.1 (GS1 gives 000-019 to UPC-A, so the 12-digit layout of the same bars wins unless much likelier).
    ean13_lead0_prior: float = 0.1
    # Where the run writes (checkpoints, metrics.json, logs). A new run refuses a folder that holds anything unless
    # it resumes or `overwrite` is true; a second run into a folder in use is refused (crnn.training.run_dir).
    out_dir: str = "runs/train"
    # Checkpoint to resume from (model, optimizer, scheduler, epoch); None starts fresh.
    resume: str | None = None
    # Fine-tuning: a recogniser checkpoint whose weights this run starts from, with a fresh optimiser, schedule and
    # epoch count (e.g. a trained model on your own crops). Its architecture must match `model` and `input`.
    init_from: str | None = None
    # Let a new run write into an out_dir that holds an earlier run (its files are replaced as the new run writes).
    overwrite: bool = False

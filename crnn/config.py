"""Configuration schema (dataclasses) and loading: YAML + dotlist overrides, validated by OmegaConf.

An unknown or mistyped key is an error, so a typo in a YAML file or an override never passes silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from omegaconf import DictConfig, OmegaConf

from crnn.inference import MIN_CONFIDENCE

T = TypeVar("T")

DEFAULT_CHARSET = "0123456789"
# Scales the detector sees each photo at (crnn.photo.PhotoReader): barcodes that fill the frame are found at the
# smaller ones (README: 78.4% of the 88 real photos read against 71.6% at 1 alone), for about twice the time a photo.
DEFAULT_ZOOMS = (1.0, 0.8, 0.6)
# Symbol hypotheses read per detection (crnn.straighten.SYMBOL_VARIANTS): as detected, with the bottom edge lower,
# and, only for a barcode the first two read unsure, the box moved down 0.3, 0.4, 0.5 and 0.6 of its height (digits
# far under tall or glare-washed bars). README, "Symbol variants": chosen on 200 synthetic scenes with glare over the
# lower bars (seven recognisers read 1157 of 1400 with the 0.3 shift alone, 1190 with 0.5 too, 1203 with all four),
# the plain scenes and the loyalty-card scenes unchanged.
DEFAULT_VARIANTS = 6


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
    neck_channels: int = 128
    rnn: Literal["gru", "lstm"] = "gru"
    rnn_hidden: int = 128
    rnn_layers: int = 2
    dropout: float = 0.1
    # How the feature map's rows become one vector per time step: `mean` averages them; `flatten` stacks
    # them (rows x neck_channels), so the RNN knows which row (digits or bars) a feature came from.
    height_pool: Literal["mean", "flatten"] = "mean"
    # Each backbone column becomes this many time steps (linear interpolation before the RNN): more frames per
    # character for CTC at the RNN's cost only (1: none).
    time_upsample: int = 1


@dataclass
class InputConfig:
    """What the network sees: letterboxed to height x width, normalised with mean/std."""

    height: int = 32
    width: int = 128
    mean: float = 0.5
    std: float = 0.5
    charset: str = DEFAULT_CHARSET
    # Gaussian low-pass (std, in network pixels) after letterboxing, in training and inference alike:
    # real crops are sharper than any synthetic set we made, and this narrows the gap from both sides.
    blur: float = 0.0
    # Widen crops this many times before letterboxing (width must grow with it): at 1, a 32-pixel-high input
    # gives ~1.1 pixels per bar module, too few to resolve bars; at 2, ~2.2, so the network can read the bars
    # over the digits too.
    x_stretch: float = 1.0
    # Stretch each crop's levels (clip this percent of the darkest and of the lightest pixels, spread the rest
    # over the full range), in training and inference alike; None leaves them as they are.
    levels: float | None = None
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
    wave_p: float = 0.0  # wrinkled-bag bend: columns shifted by a sine (crnn.augment._wave)
    wave_max: float = 0.12  # largest shift, fraction of the crop's height
    distort_p: float = 0.0  # crumple: a coarse grid's nodes moved at random, cells warped (crnn.augment._distort)
    distort_max: float = 0.3  # largest node move, fraction of a grid cell
    # Hide 1-4 printed digits (sticker, glare, smear) under intact bars (crnn.augment._cover_digits), so a
    # network that resolves the bars (input.x_stretch) learns to read digits from them.
    cover_p: float = 0.0
    cover_max_frac: float = 0.3  # widest cover, fraction of the crop's width


@dataclass
class SynthDataConfig:
    """Synthetic data made by `crnn synth` when the training TSVs do not exist yet."""

    train_count: int = 20000
    val_count: int = 1000
    seed: int = 0
    workers: int = 2
    # Generator settings that differ from `crnn.synth.SynthConfig`'s defaults, e.g. {p_text_below: 0.3}.
    generator: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataConfig:
    train_tsv: str = "data/synth/train/crops.tsv"
    val_tsv: str = "data/synth/val/crops.tsv"
    # Real crops, validation only (never trained on); skipped when the file is absent.
    real_tsv: str | None = "../shared/data/real-dev/crops.tsv"
    synth: SynthDataConfig = field(default_factory=SynthDataConfig)
    batch_size: int = 64
    num_workers: int = 2
    # What the recogniser learns: the digits a crop shows (`printed`), or the whole number (`text`) where the
    # crop's bars carry digits its print lacks (needs bars the network can resolve: input.x_stretch).
    learn: Literal["printed", "text"] = "printed"


@dataclass
class OptimConfig:
    lr: float = 2e-3
    weight_decay: float = 1e-4
    # Linear warm-up for warmup_frac of the steps, then cosine decay to 2% of lr.
    scheduler: Literal["cosine", "none"] = "cosine"
    warmup_frac: float = 0.1
    grad_clip: float = 5.0
    # Exponential moving average of the weights (0 disables): validated, checkpointed and exported
    # in place of the raw weights; the raw ones stay in the checkpoint for resuming.
    ema_decay: float = 0.0


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


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    input: InputConfig = field(default_factory=InputConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    # Decoder for the per-epoch validation metrics (greedy: fast, and honest about the network alone).
    val_decoder: Literal["greedy", "beam", "constrained"] = "greedy"
    # Default decoder for evaluation and reading; exported into the ONNX metadata.
    decoder: Literal["greedy", "beam", "constrained"] = "constrained"
    # The constrained decoder's prior that a crop lacks one digit the check digit supplies (a UPC-A printed
    # without it, an EAN-13 with the leading digit cut off; crnn.codec). Meaningful for a model trained on
    # labels of the digits shown (`p_check_unprinted`, `p_lead_cut`); stored in the checkpoint and the ONNX
    # metadata, so readers use it unless told otherwise (`--erasure-prior`). 0 turns it off.
    erasure_prior: float = 0.0
    # The formats whose missing digit the hypothesis may infer (`crnn.symbology.ERASABLE`: the UPC-A check digit,
    # the EAN-13 leading digit): those the model was trained to read without it, so that it never infers a digit
    # where it only misread one (a model of `p_card` alone infers leading EAN-13 digits wrong and sure).
    erasable: list[str] = field(default_factory=lambda: ["UPC-A", "EAN-13"])
    # The constrained decoder's prior that a 13-digit code starting with 0 is printed as an EAN-13 rather than
    # as its 12-digit UPC-A (same bars; crnn.symbology.constraints). 1 weighs both alike; a model that reads the
    # bars (`data.learn=text`) may need less. Stored and carried like erasure_prior (`--ean13-lead0-prior`).
    ean13_lead0_prior: float = 1.0
    out_dir: str = "runs/train"
    # Checkpoint to resume from (model, optimizer, scheduler, epoch); None starts fresh.
    resume: str | None = None


# ---------------------------------------------------------------- detector (configs/detector.yaml)


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
    synth: SynthDataConfig = field(default_factory=lambda: SynthDataConfig(train_count=3000, val_count=200, seed=100))
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
    # Add-on symbols (books' price, magazines' issue) right of the bars are not part of the barcode: the
    # generator draws more of them for the detector than for the recogniser's crops.
    addon_p_book: float = 0.6
    addon_p: float = 0.2
    # Generator ranges for the scenes (see crnn.synth.SynthConfig): ink-to-paper contrast floor (grey levels)
    # and scene pixels per bar module.
    # Defaults reach paler and larger barcodes than the recogniser's crops do (faded print, close-ups).
    min_contrast: float = 25.0
    module_px: tuple[float, float] = (1.5, 5.0)
    pale_ink_p: float = 0.3


@dataclass
class DetectorPostConfig:
    """From maps to boxes: a barcode is a connected region of probability >= threshold."""

    threshold: float = 0.5
    min_area: int = 12  # map cells
    min_score: float = 0.6  # mean probability over the region


@dataclass
class DetectorConfig:
    model: DetectorModelConfig = field(default_factory=DetectorModelConfig)
    input: DetectorInputConfig = field(default_factory=DetectorInputConfig)
    data: DetectorDataConfig = field(default_factory=DetectorDataConfig)
    post: DetectorPostConfig = field(default_factory=DetectorPostConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=3e-3))
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(max_epochs=6))
    # Validation images drawn with their predicted boxes each epoch (overlays).
    overlays: int = 8
    out_dir: str = "runs/detector"
    resume: str | None = None


# Schema of every file in configs/ (a test loads them all).
SCHEMAS: dict[str, type] = {"train.yaml": TrainConfig, "detector.yaml": DetectorConfig}


def load(schema: type[T], path: str | Path | None = None, overrides: list[str] | None = None) -> T:
    """Merge `schema` defaults, a YAML file and `key=value` overrides; return a typed object.

    Raises a ValueError naming the offending key when a key is unknown or a value has the wrong type.
    """
    cfg = OmegaConf.structured(schema)
    try:
        if path is not None:
            cfg = OmegaConf.merge(cfg, OmegaConf.load(path))
        if overrides:
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    except Exception as e:  # omegaconf raises several error types; all mean bad config
        where = f" in {path}" if path else ""
        raise ValueError(f"invalid configuration{where}: {e}") from e
    obj = OmegaConf.to_object(cfg)
    assert isinstance(obj, schema)
    return obj


def to_dict(cfg: Any) -> dict[str, Any]:
    """A plain dict of a config dataclass (for checkpoints, ClearML and JSON)."""
    c = OmegaConf.structured(cfg)
    out = OmegaConf.to_container(c, resolve=True)
    assert isinstance(out, dict)
    return out  # type: ignore[return-value]  # keys are str for structured configs


def from_dict(schema: type[T], data: dict[str, Any]) -> T:
    """Rebuild a config dataclass from `to_dict` output, validating it again."""
    cfg: DictConfig = OmegaConf.merge(OmegaConf.structured(schema), OmegaConf.create(data))  # type: ignore[assignment]
    obj = OmegaConf.to_object(cfg)
    assert isinstance(obj, schema)
    return obj


# ---------------------------------------------------------------- pipeline steps (configs/<step>.yaml)


@dataclass
class SyntheticSourceConfig:
    """The `synthetic` dataset source: `crnn.synth.generate(count, seed)`."""

    count: int = 20000
    seed: int = 0
    workers: int = 2
    # `crops`: the generator's rectified crops (whole image = the box); `scenes`: whole photos + boxes,
    # cut by the preprocess step as a detector's boxes would be.
    images: Literal["crops", "scenes"] = "crops"
    # Generator settings that differ from `crnn.synth.SynthConfig`'s defaults (as `data.synth.generator` of train).
    generator: dict[str, Any] = field(default_factory=dict)


@dataclass
class DatasetConfig:
    """Step `dataset`: import labelled images into a raw dataset version."""

    source: Literal["synthetic", "tsv", "coco", "crops"] = "synthetic"
    synthetic: SyntheticSourceConfig = field(default_factory=SyntheticSourceConfig)
    # tsv: annotations.tsv (filename, code, x_from, y_from, width, height); coco: the COCO JSON;
    # crops: a `filename<TAB>text` TSV. Image filenames resolve relative to `images_dir`, else the file's folder.
    path: str | None = None
    images_dir: str | None = None
    # COCO: the annotation attribute holding the printed digits (Azure ML labelling: `attributes.text`).
    coco_text_attribute: str = "text"
    charset: str = DEFAULT_CHARSET
    # A bad row (missing image, box outside the image, foreign characters) is skipped and counted, or
    # rejects the whole import. Skipping more than max_skipped_fraction of the rows rejects it too.
    on_error: Literal["skip", "reject"] = "skip"
    max_skipped_fraction: float = 0.1
    name: str = "barcodes-raw"
    project: str = "barcode-ocr/datasets"


@dataclass
class SplitConfig:
    train: float = 0.8
    val: float = 0.1
    test: float = 0.1


@dataclass
class PreprocessConfig:
    """Step `preprocess`: seeded split, crop each box with a margin, turn vertical crops upright."""

    split: SplitConfig = field(default_factory=SplitConfig)
    seed: int = 0
    # Margin added around each box, as a fraction of the box's width / height.
    margin_x: float = 0.04
    margin_y: float = 0.08
    # A crop taller than wide is a barcode turned by 90 degrees: rotate it so the digits run left to right.
    rotate_vertical: bool = True
    rotate_direction: Literal["cw", "ccw"] = "ccw"
    sample_grid: int = 32
    name: str = "barcodes-crops"
    project: str = "barcode-ocr/datasets"


@dataclass
class EvaluateConfig:
    """Step `evaluate`: the best checkpoint on val, test and (when present) the real crops."""

    splits: list[str] = field(default_factory=lambda: ["val", "test"])
    # Real crops, reported beside the synthetic splits when the file exists.
    real_tsv: str | None = "../shared/data/real-dev/crops.tsv"
    decoder: Literal["greedy", "beam", "constrained"] | None = None  # None: the checkpoint's own
    batch_size: int = 64
    # The step (and the pipeline) fails when exact match on `gate_split` is under `threshold`.
    gate_split: str = "test"
    threshold: float = 0.9
    failures_shown: int = 32


@dataclass
class ExportConfig:
    """Step `export`: ONNX with metadata, checked against PyTorch in onnxruntime."""

    opset: int = 17
    atol: float = 1e-3
    # Crops from the dataset's test split added to the random parity inputs.
    parity_images: int = 32
    model_name: str = "crnn-barcode-onnx"


@dataclass
class DetectorExportConfig:
    """Step `detector_export`: the detector as ONNX with its metadata, checked against PyTorch."""

    opset: int = 17
    atol: float = 1e-3
    model_name: str = "barcode-detector-onnx"


@dataclass
class PhotoEvaluateConfig:
    """Step `photo_evaluate`: detector + recogniser (both ONNX) on labelled whole photos."""

    # filename<TAB>text[<TAB>group]; one labelled barcode a photo. Absent file (or None): nothing evaluated.
    photos_tsv: str | None = "../shared/data/real-dev/photos.tsv"
    # Also decode the bars with zxing-cpp, for the `zxing` and `either` figures.
    zxing: bool = True
    # The step fails when the share of photos read exactly is under this (0: no gate).
    threshold: float = 0.0
    # Failed photos listed in the step's failures table (all of them go into the artifact).
    failures_shown: int = 32
    zooms: list[float] = field(default_factory=lambda: list(DEFAULT_ZOOMS))
    # Symbol hypotheses read per detection, 1-6 (crnn.straighten.SYMBOL_VARIANTS; past the second only for unsure
    # barcodes).
    variants: int = DEFAULT_VARIANTS
    # Reads under this confidence are unsure: listed apart, not counted as read (crnn.inference.MIN_CONFIDENCE).
    min_confidence: float = MIN_CONFIDENCE


@dataclass
class PipelineQueuesConfig:
    # train, evaluate, export, the detector steps, photo_evaluate (`--queue`)
    gpu: str = "gpu"
    cpu: str = "cpu"  # dataset, preprocess
    controller: str = "services"  # where the controller runs with `--remote-controller`


@dataclass
class PipelineDockerConfig:
    cpu: str = "crnn-barcode:cpu"
    gpu: str = "crnn-barcode:gpu"


@dataclass
class PipelineParameters:
    """Pipeline-level parameters, editable when the pipeline is cloned in the ClearML UI.

    Each one overrides a step's key (see pipelines/wiring.py).
    """

    source: Literal["synthetic", "tsv", "coco", "crops"] = "synthetic"
    source_path: str | None = None
    count: int = 20000
    epochs: int = 8
    lr: float = 2e-3
    backbone: str = "resnet18"
    threshold: float = 0.9
    detector_epochs: int = 6


@dataclass
class PipelineConfig:
    """The pipeline (recogniser, detector, photo evaluation): where its steps are configured, how it runs."""

    project: str = "barcode-ocr"
    name: str = "barcode-ocr pipeline"
    version: str = "1.0.0"
    parameters: PipelineParameters = field(default_factory=PipelineParameters)
    # One YAML per step (paths relative to the repository root).
    configs: dict[str, str] = field(
        default_factory=lambda: {
            "dataset": "configs/dataset.yaml",
            "preprocess": "configs/preprocess.yaml",
            "train": "configs/train.yaml",
            "evaluate": "configs/evaluate.yaml",
            "export": "configs/export.yaml",
            "detector_train": "configs/detector.yaml",
            "detector_export": "configs/detector_export.yaml",
            "detector_train_b": "configs/detector.yaml",  # + trainer.seed=1 (pipelines.wiring)
            "detector_export_b": "configs/detector_export.yaml",
            "photo_evaluate": "configs/photo_evaluate.yaml",
        }
    )
    queues: PipelineQueuesConfig = field(default_factory=PipelineQueuesConfig)
    docker: PipelineDockerConfig = field(default_factory=PipelineDockerConfig)
    # Git remote and commit the steps run from on agents; None: this checkout's remote and HEAD.
    repo: str | None = None
    commit: str | None = None
    # Offline runs: the local dataset/model store, step records and ClearML offline sessions.
    work_dir: str = "runs/pipeline"


SCHEMAS.update(
    {
        "dataset.yaml": DatasetConfig,
        "preprocess.yaml": PreprocessConfig,
        "evaluate.yaml": EvaluateConfig,
        "export.yaml": ExportConfig,
        "detector_export.yaml": DetectorExportConfig,
        "photo_evaluate.yaml": PhotoEvaluateConfig,
        "pipeline.yaml": PipelineConfig,
    }
)


@dataclass
class TrainReportConfig:
    """Step `train`: what is drawn into ClearML besides the scalars (connected as its own section)."""

    batch_grid_every_n_epochs: int = 1
    gallery_size: int = 16

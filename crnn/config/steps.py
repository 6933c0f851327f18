"""The pipeline steps' configurations (configs/<step>.yaml) and the pipeline's own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from crnn.config.reading import DEFAULT_VARIANTS, DEFAULT_ZOOMS
from crnn.config.synth import SynthConfig, crop_generator
from crnn.config.train import DEFAULT_CHARSET
from crnn.core.confidence import MIN_CONFIDENCE


@dataclass
class SyntheticSourceConfig:
    """The `synthetic` dataset source: `crnn.synth.generate(count, seed)`."""

    count: int = 50000  # 80% train: the 40,000 crops of the default training
    seed: int = 0
    workers: int = 2
    # `crops`: the generator's rectified crops (whole image = the box); `scenes`: whole photos + boxes,
    # cut by the preprocess step as a detector's boxes would be.
    images: Literal["crops", "scenes"] = "crops"
    # The recogniser's crops as `crnn train` makes them (`data.synth.generator`).
    generator: SynthConfig = field(default_factory=crop_generator)


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
    real_tsv: str | None = None
    # The folder of real_tsv as a dataset (the pipeline uploads it once on a server): the file of real_tsv's name is
    # taken from it, so agents need no local copy. Empty: real_tsv is read where the step runs.
    real_dataset_id: str = ""
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
    photos_tsv: str | None = None
    # As evaluate's: photos_tsv's file is taken from this dataset when given (the pipeline sets it on a server).
    real_dataset_id: str = ""
    # Also decode the bars with zxing-cpp, for the `zxing` and `either` figures.
    zxing: bool = True
    # The step fails when the share of photos read exactly is under this (0: no gate).
    threshold: float = 0.0
    # Failed photos listed in the step's failures table (all of them go into the artifact).
    failures_shown: int = 32
    zooms: list[float] = field(default_factory=lambda: list(DEFAULT_ZOOMS))
    # Symbol hypotheses read per detection, 1-6 (crnn.core.geometry.SYMBOL_VARIANTS; past the second only for unsure
    # barcodes).
    variants: int = DEFAULT_VARIANTS
    # Reads under this confidence are unsure: listed apart, not counted as read (crnn.core.confidence.MIN_CONFIDENCE).
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

    Each one overrides a step's key or gives a step's input ID (see pipelines/wiring.py).
    """

    source: Literal["synthetic", "tsv", "coco", "crops"] = "synthetic"
    source_path: str | None = None
    count: int = 50000
    epochs: int = 10
    lr: float = 2e-3
    backbone: str = "resnet18"
    # Your own data (README, "Training on your own data"): a recogniser to fine-tune from (e.g. an earlier run's
    # train output model_id) and a preprocessed crops dataset mixed into training at mix_weight (train's data.mix).
    # Empty: from scratch, synthetic crops alone.
    init_model_id: str = ""
    mix_dataset_id: str = ""
    mix_weight: float = 1.0
    threshold: float = 0.9
    detector_epochs: int = 6
    # The real evaluation data as a dataset (evaluate and photo_evaluate); on a server the pipeline uploads the
    # folder of evaluate.real_tsv once and sets it. Empty offline: the steps read the local files.
    real_dataset_id: str = ""


@dataclass
class PipelineConfig:
    """The pipeline (recogniser, detector, photo evaluation): where its steps are configured, how it runs."""

    project: str = "barcode-ocr"
    name: str = "barcode-ocr pipeline"
    # None: ClearML finds the pipeline's latest version and bumps it, so each run is its own version in the UI.
    version: str | None = None
    # Where the steps upload models, datasets' files and artifacts, on agents too (a remote task ignores Task.init's
    # output_uri=True and uses what its task record holds). None: the files server of the clearml.conf this runs
    # with; it must be reachable by the agents, the browser and your machine alike (docker/README.md).
    output_uri: str | None = None
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


@dataclass
class TrainReportConfig:
    """Step `train`: what is drawn into ClearML besides the scalars (connected as its own section)."""

    batch_grid_every_n_epochs: int = 1
    gallery_size: int = 16

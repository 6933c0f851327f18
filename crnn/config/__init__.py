"""Typed configuration: one schema per config file, loaded with OmegaConf (`load`)."""

from crnn.config.detector import DetectorConfig, DetectorDataConfig, DetectorInputConfig, DetectorModelConfig
from crnn.config.loading import from_dict, load, to_dict
from crnn.config.reading import DEFAULT_VARIANTS, DEFAULT_ZOOMS, DetectorPostConfig
from crnn.config.steps import (
    DatasetConfig,
    DetectorExportConfig,
    EvaluateConfig,
    ExportConfig,
    PhotoEvaluateConfig,
    PipelineConfig,
    PipelineDockerConfig,
    PipelineParameters,
    PipelineQueuesConfig,
    PreprocessConfig,
    SplitConfig,
    SyntheticSourceConfig,
    TrainReportConfig,
)
from crnn.config.synth import SynthConfig, crop_generator, scene_generator
from crnn.config.train import (
    DEFAULT_CHARSET,
    AugmentConfig,
    DataConfig,
    InputConfig,
    ModelConfig,
    OptimConfig,
    SynthDataConfig,
    TrainConfig,
    TrainerConfig,
)

# The schema of every file in configs/ (a test loads them all and compares each with its schema's defaults).
SCHEMAS: dict[str, type] = {
    "train.yaml": TrainConfig,
    "detector.yaml": DetectorConfig,
    "dataset.yaml": DatasetConfig,
    "preprocess.yaml": PreprocessConfig,
    "evaluate.yaml": EvaluateConfig,
    "export.yaml": ExportConfig,
    "detector_export.yaml": DetectorExportConfig,
    "photo_evaluate.yaml": PhotoEvaluateConfig,
    "pipeline.yaml": PipelineConfig,
}

__all__ = [
    "SynthConfig",
    "crop_generator",
    "scene_generator",
    "AugmentConfig",
    "DEFAULT_CHARSET",
    "DEFAULT_VARIANTS",
    "DEFAULT_ZOOMS",
    "DataConfig",
    "DatasetConfig",
    "DetectorConfig",
    "DetectorDataConfig",
    "DetectorExportConfig",
    "DetectorInputConfig",
    "DetectorModelConfig",
    "DetectorPostConfig",
    "EvaluateConfig",
    "ExportConfig",
    "InputConfig",
    "ModelConfig",
    "OptimConfig",
    "PhotoEvaluateConfig",
    "PipelineConfig",
    "PipelineDockerConfig",
    "PipelineParameters",
    "PipelineQueuesConfig",
    "PreprocessConfig",
    "SCHEMAS",
    "SplitConfig",
    "SynthDataConfig",
    "SyntheticSourceConfig",
    "TrainConfig",
    "TrainReportConfig",
    "TrainerConfig",
    "from_dict",
    "load",
    "to_dict",
]

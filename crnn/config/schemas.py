"""Which schema each file in configs/ loads with."""

from __future__ import annotations

from crnn.config.detector import DetectorConfig
from crnn.config.steps import (
    DatasetConfig,
    DetectorExportConfig,
    EvaluateConfig,
    ExportConfig,
    PhotoEvaluateConfig,
    PipelineConfig,
    PreprocessConfig,
)
from crnn.config.train import TrainConfig

# Schema of every file in configs/ (a test loads them all).
SCHEMAS: dict[str, type] = {"train.yaml": TrainConfig, "detector.yaml": DetectorConfig}


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

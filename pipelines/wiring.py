"""How the steps connect: scripts, schemas, queues, input IDs and pipeline-level parameters.

One table, read by both the ClearML PipelineController (`pipelines.controller`) and the offline runner
(`pipelines.local`), so the two paths cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from crnn import config as cfgs
from crnn.tracking.params import INPUTS

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class StepSpec:
    name: str
    schema: type
    queue: Literal["cpu", "gpu"]
    task_type: str
    # input name -> (upstream step, its output name)
    inputs: dict[str, tuple[str, str]] = field(default_factory=dict)
    # upstream steps that must finish first besides those feeding inputs
    after: tuple[str, ...] = ()

    @property
    def script(self) -> str:
        """The step script this node runs; `name` is also its ClearML parameter section."""
        return f"steps/{self.name}.py"

    @property
    def parents(self) -> list[str]:
        return sorted({s for s, _ in self.inputs.values()} | set(self.after), key=ORDER.index)


# Recogniser, then detector, then both together on photos. An order the DAG allows (parents first); on a
# server the detector branch runs beside the recogniser's, as it needs only the raw dataset.
ORDER = [
    "dataset",
    "preprocess",
    "train",
    "evaluate",
    "export",
    "detector_train",
    "detector_export",
    "photo_evaluate",
]

STEPS: dict[str, StepSpec] = {
    "dataset": StepSpec("dataset", cfgs.DatasetConfig, "cpu", "data_processing"),
    "preprocess": StepSpec(
        "preprocess", cfgs.PreprocessConfig, "cpu", "data_processing", {"raw_dataset_id": ("dataset", "dataset_id")}
    ),
    "train": StepSpec("train", cfgs.TrainConfig, "gpu", "training", {"dataset_id": ("preprocess", "dataset_id")}),
    "evaluate": StepSpec(
        "evaluate",
        cfgs.EvaluateConfig,
        "gpu",
        "testing",
        {"model_id": ("train", "model_id"), "dataset_id": ("preprocess", "dataset_id")},
    ),
    # After evaluate: a model under the threshold is never exported.
    "export": StepSpec(
        "export",
        cfgs.ExportConfig,
        "gpu",
        "custom",
        {"model_id": ("train", "model_id"), "dataset_id": ("preprocess", "dataset_id")},
        after=("evaluate",),
    ),
    # The raw dataset's boxes (when it has any) join the synthetic scenes.
    "detector_train": StepSpec(
        "detector_train", cfgs.DetectorConfig, "gpu", "training", {"raw_dataset_id": ("dataset", "dataset_id")}
    ),
    "detector_export": StepSpec(
        "detector_export",
        cfgs.DetectorExportConfig,
        "gpu",
        "custom",
        {"model_id": ("detector_train", "model_id")},
    ),
    "photo_evaluate": StepSpec(
        "photo_evaluate",
        cfgs.PhotoEvaluateConfig,
        "gpu",
        "testing",
        {
            "detector_model_id": ("detector_export", "model_id"),
            "recogniser_model_id": ("export", "onnx_model_id"),
        },
    ),
}


# A target naming a step input (`Inputs/init_model_id`), not a config key: the parameter is that input's ID.
INPUT = f"{INPUTS}/"

# Pipeline parameter -> the (step, config key or INPUT + input name) pairs it sets.
PARAMETERS: dict[str, tuple[tuple[str, str], ...]] = {
    "source": (("dataset", "source"),),
    "source_path": (("dataset", "path"),),
    "count": (("dataset", "synthetic.count"),),
    "epochs": (("train", "trainer.max_epochs"),),
    "lr": (("train", "optim.lr"),),
    "backbone": (("train", "model.backbone"),),
    # Your own data by ID: a recogniser to fine-tune and a crops dataset mixed into training at mix_weight.
    "init_model_id": (("train", f"{INPUT}init_model_id"),),
    "mix_dataset_id": (("train", f"{INPUT}mix_dataset_id"),),
    "mix_weight": (("train", "data.mix_weight"),),
    "threshold": (("evaluate", "threshold"),),
    "detector_epochs": (("detector_train", "trainer.max_epochs"),),
    "real_dataset_id": (("evaluate", "real_dataset_id"), ("photo_evaluate", "real_dataset_id")),
}


def parameter_targets(step: str) -> list[tuple[str, str]]:
    """(pipeline parameter, config key) pairs that override `step`'s config."""
    return _step_parameters(step, inputs=False)


def parameter_inputs(step: str) -> list[tuple[str, str]]:
    """(pipeline parameter, input name) pairs: the parameter is the ID `step` gets as that input."""
    return _step_parameters(step, inputs=True)


def _step_parameters(step: str, inputs: bool) -> list[tuple[str, str]]:
    """`PARAMETERS`' (parameter, target) pairs for `step`: its inputs (names without the `INPUT` prefix) or its
    config keys."""
    return [
        (p, key.removeprefix(INPUT))
        for p, targets in PARAMETERS.items()
        for s, key in targets
        if s == step and key.startswith(INPUT) == inputs
    ]


def split_overrides(overrides: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """`train.optim.lr=1e-3` goes to step train as `optim.lr=1e-3`; anything else to the pipeline config."""
    pipeline: list[str] = []
    steps: dict[str, list[str]] = {s: [] for s in STEPS}
    for o in overrides:
        head, _, rest = o.partition(".")
        if head in STEPS and rest:
            steps[head].append(rest)
        else:
            pipeline.append(o)
    return pipeline, steps


def _yaml_value(v: Any) -> str:
    import yaml

    return "null" if v is None else yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip()


def step_configs(pcfg: cfgs.PipelineConfig, step_overrides: dict[str, list[str]]) -> dict[str, Any]:
    """Each step's validated config: its YAML, then the pipeline parameters, then the step's own overrides."""
    params = cfgs.to_dict(pcfg.parameters)
    out: dict[str, Any] = {}
    for name, spec in STEPS.items():
        from_params = [
            f"{key}={_yaml_value(params[p])}"
            for p, key in parameter_targets(name)
            if not (p == "source_path" and params[p] is None)
        ]
        path = Path(pcfg.configs[name])
        path = path if path.is_absolute() or path.is_file() else REPO / path
        out[name] = cfgs.load(spec.schema, path, [*from_params, *step_overrides.get(name, [])])
    return out


def load_pipeline(path: str | Path | None, overrides: list[str]) -> tuple[cfgs.PipelineConfig, dict[str, Any]]:
    """The pipeline config and every step's config from `configs/pipeline.yaml` and mixed overrides."""
    pipeline_overrides, per_step = split_overrides(overrides)
    pcfg = cfgs.load(cfgs.PipelineConfig, path or REPO / "configs" / "pipeline.yaml", pipeline_overrides)
    missing = set(STEPS) - set(pcfg.configs)
    if missing:
        raise ValueError(f"pipeline config `configs` lacks steps {sorted(missing)}")
    return pcfg, step_configs(pcfg, per_step)

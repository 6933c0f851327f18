"""`crnn config show STEP`: the configuration a step or command would run with, resolved and printed as YAML."""

from __future__ import annotations

import argparse
from typing import Any

# What each name resolves: its schema's file in configs/ (the pipeline step names, and the commands' own names).
STEPS = {
    "train": "train.yaml",
    "dataset": "dataset.yaml",
    "preprocess": "preprocess.yaml",
    "evaluate": "evaluate.yaml",
    "export": "export.yaml",
    "detector_train": "detector.yaml",
    "train-detector": "detector.yaml",
    "detector_export": "detector_export.yaml",
    "photo_evaluate": "photo_evaluate.yaml",
    "pipeline": "pipeline.yaml",
}


def show(step: str, path: str | None = None, overrides: list[str] | None = None) -> str:
    """The YAML of `step`'s configuration: its schema, the file (`path`, else configs/<its file> where that exists,
    else the schema's defaults, which are the shipped ones) and the dotlist `overrides`, resolved and checked."""
    from omegaconf import OmegaConf

    from crnn import config
    from crnn.cli.common import config_file

    name = STEPS[step]
    path = config_file(path, name)
    cfg: Any = config.load(config.SCHEMAS[name], path, overrides or [])
    source = path or "the schema's defaults (the shipped configuration)"
    return (
        f"# {step}: {source}"
        + (f" + {' '.join(overrides)}" if overrides else "")
        + "\n"
        + OmegaConf.to_yaml(config.to_dict(cfg))
    )


def _cmd_config_show(a: argparse.Namespace) -> int:
    print(show(a.step, a.config, a.overrides), end="")
    return 0


def add_parsers(sub: Any) -> None:
    """`config show` on the `crnn` parser's subcommands."""
    c = sub.add_parser("config", help="show the resolved configuration of a step or command")
    csub = c.add_subparsers(dest="action", required=True)
    s = csub.add_parser("show", help="print a step's configuration as YAML: its file, resolved against its schema")
    s.add_argument("step", choices=sorted(STEPS), help="a pipeline step or command (train-detector = detector_train)")
    s.add_argument("--config", default=None, help="the YAML to resolve (default: configs/<the step's file>)")
    s.add_argument("overrides", nargs="*", help="dotlist overrides, e.g. trainer.max_epochs=3")
    s.set_defaults(func=_cmd_config_show)

"""Configs as ClearML parameters: flattened for the UI, rebuilt and re-validated from it."""

from __future__ import annotations

from typing import Any, TypeVar

import yaml

from crnn.config.loading import from_dict, to_dict

T = TypeVar("T")


INPUTS, OUTPUTS = "Inputs", "Outputs"


def flatten(cfg: Any) -> tuple[dict[str, Any], set[str]]:
    """A config dataclass as `{"optim.lr": "0.002", ...}` for ClearML's hyperparameter table.

    Every value is text. On an agent ClearML casts each parameter to the type of the value the code connected and,
    when that fails, logs "Failed parsing task parameter" and keeps the code's value (clearml's
    `_Arguments.copy_to_dict`): a UI edit `trainer.max_epochs=ten` would silently train 10 epochs. As text nothing
    fails there, and `unflatten` checks every value against the schema. Lists and None become YAML text; the
    returned set names those keys.
    """
    flat: dict[str, Any] = {}
    encoded: set[str] = set()

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict) and v:
            for k, sub in v.items():
                walk(f"{prefix}.{k}" if prefix else str(k), sub)
        elif v is None or isinstance(v, (list, tuple, dict)):
            flat[prefix] = yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip()
            encoded.add(prefix)
        elif isinstance(v, bool):
            flat[prefix] = "true" if v else "false"
        else:
            flat[prefix] = str(v)

    walk("", to_dict(cfg))
    return flat, encoded


def unflatten(schema: type[T], flat: dict[str, Any], encoded: set[str]) -> T:
    """The inverse of `flatten`, validated against `schema` (a bad edit in the UI fails here, by key)."""
    nested: dict[str, Any] = {}
    for key, v in flat.items():
        if isinstance(v, str) and (key in encoded or v.strip() in ("null", "None", "~")):
            v = yaml.safe_load(v) if v.strip() else None
        node = nested
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    try:
        return from_dict(schema, nested)
    except Exception as e:  # omegaconf validation errors: report them as a config error
        raise ValueError(f"invalid {schema.__name__} from the task's hyperparameters: {e}") from e

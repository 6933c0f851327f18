"""Loading a config: schema defaults, a YAML file and `key=value` overrides, validated by OmegaConf.

An unknown or mistyped key is an error, so a typo in a YAML file or an override never passes silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

T = TypeVar("T")


def load(schema: type[T], path: str | Path | None = None, overrides: list[str] | None = None) -> T:
    """Merge `schema` defaults, a YAML file and `key=value` overrides; return a typed object.

    Raises a ValueError naming the offending key when a key is unknown or a value has the wrong type.
    """
    cfg = OmegaConf.structured(schema)
    where = f" in {path}" if path else ""
    try:
        if path is not None:
            cfg = OmegaConf.merge(cfg, OmegaConf.load(path))
    except Exception as e:  # omegaconf raises several error types; all mean bad config
        raise ValueError(f"invalid configuration{where}: {e}") from e
    for item in overrides or []:
        try:
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist([item]))
        except Exception as e:
            key = str(getattr(e, "full_key", None) or item.partition("=")[0])
            message = str(e) if key in str(e) else f"{key}: {e}"
            raise ValueError(f"invalid configuration (override {item!r}): {message}") from e
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

"""The reading policy: every setting that decides how crops and photos are read and judged, in one object.

Built once per reader from the model's own settings (its ONNX metadata, or its training checkpoint) with the
user's overrides on top, then handed to the readers; nothing changes it afterwards.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args

from crnn.config.reading import DEFAULT_VARIANTS, DEFAULT_ZOOMS
from crnn.config.train import TrainConfig
from crnn.core import symbology
from crnn.core.codec import EAN13_LEAD0_PRIOR, ERASURE_PRIOR, Decoder
from crnn.core.confidence import MIN_CONFIDENCE, VIEWS_BELOW
from crnn.core.geometry import SYMBOL_VARIANTS
from crnn.core.preprocess import VIEWS
from crnn.core.symbology import Format
from crnn.reading.fusion import check_views
from crnn.reading.metadata import META_PREFIX

Overrides = Mapping[str, Any]  # ReadingPolicy field -> value; None keeps the model's own


@dataclass(frozen=True)
class ReadingPolicy:
    """How a model's reads are decoded, fused and judged.

    decoder            greedy, beam or constrained (check digit and GS1 layouts; `crnn.core.codec`)
    erasure_prior      prior that a crop lacks one digit the check digit supplies (0: never inferred)
    ean13_lead0_prior  prior that a 13-digit number starting with 0 is an EAN-13, not its 12-digit UPC-A
    erasable           formats whose missing digit may be inferred
    views              test-time views of a crop read under `views_below` confidence (crops; photos: none)
    views_below        confidence under which a crop is read again in its views
    min_confidence     the floor: reads under it, or failing the check digit, are unsure
    zooms              scales the detector sees each photo at
    variants           symbol hypotheses read per detection (`crnn.core.geometry.SYMBOL_VARIANTS`)
    """

    decoder: Decoder = "constrained"
    erasure_prior: float = ERASURE_PRIOR
    ean13_lead0_prior: float = EAN13_LEAD0_PRIOR
    erasable: tuple[Format, ...] = tuple(symbology.ERASABLE)
    views: tuple[str, ...] = VIEWS
    views_below: float = VIEWS_BELOW
    min_confidence: float = MIN_CONFIDENCE
    zooms: tuple[float, ...] = DEFAULT_ZOOMS
    variants: int = DEFAULT_VARIANTS

    def __post_init__(self) -> None:
        if self.decoder not in get_args(Decoder):
            raise ValueError(f"decoder must be one of {get_args(Decoder)}, got {self.decoder!r}")
        symbology.check_erasure_prior(self.erasure_prior)
        symbology.check_lead0_prior(self.ean13_lead0_prior)
        object.__setattr__(self, "erasable", symbology.check_erasable(self.erasable))
        object.__setattr__(self, "views", check_views(self.views))
        zooms = tuple(float(z) for z in self.zooms)
        if not zooms or not all(0 < z <= 1 for z in zooms):
            raise ValueError(f"zooms must be one or more values in (0, 1], got {list(self.zooms)}")
        object.__setattr__(self, "zooms", zooms)
        if not 1 <= self.variants <= len(SYMBOL_VARIANTS):
            raise ValueError(f"variants must be 1..{len(SYMBOL_VARIANTS)} (symbol hypotheses), got {self.variants}")
        if not self.min_confidence >= 0 or not self.views_below >= 0:  # above 1: every read unsure / read again
            raise ValueError(
                f"min_confidence and views_below must be >= 0, got {self.min_confidence}, {self.views_below}"
            )

    def updated(self, overrides: Overrides | None = None) -> ReadingPolicy:
        """This policy with the `overrides` that are not None (an unknown name is a ValueError)."""
        given = {k: v for k, v in (overrides or {}).items() if v is not None}
        unknown = sorted(set(given) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown reading setting(s) {unknown}")
        for key in ("erasable", "views", "zooms"):
            if key in given and isinstance(given[key], str):  # "a,b" as typed on a command line
                given[key] = tuple(v for v in given[key].split(",") if v)
        return dataclasses.replace(self, **given) if given else self


def model_policy(meta: Mapping[str, str]) -> ReadingPolicy:
    """A model's own policy from its ONNX metadata (`crnn.reading.metadata.metadata_for`). Models exported before
    a setting existed read without it: the defaults of `crnn.core.codec`, not today's training defaults."""
    erasable = meta.get(META_PREFIX + "erasable", ",".join(symbology.ERASABLE))
    return ReadingPolicy(
        decoder=meta.get(META_PREFIX + "decoder", "greedy"),  # type: ignore[arg-type]  # checked in __post_init__
        erasure_prior=float(meta.get(META_PREFIX + "erasure_prior", "0")),
        ean13_lead0_prior=float(meta.get(META_PREFIX + "ean13_lead0_prior", "1")),
        erasable=symbology.check_erasable([f for f in erasable.split(",") if f]),
    )


def training_policy(cfg: TrainConfig) -> ReadingPolicy:
    """A model's own policy from its training config (a checkpoint read in PyTorch)."""
    return ReadingPolicy(
        decoder=cfg.decoder,
        erasure_prior=cfg.erasure_prior,
        ean13_lead0_prior=cfg.ean13_lead0_prior,
        erasable=symbology.check_erasable(cfg.erasable),
    )

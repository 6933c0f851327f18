"""The reading policy: built once from the model's own settings and the user's overrides, checked, frozen."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from crnn.config.reading import DEFAULT_VARIANTS, DEFAULT_ZOOMS
from crnn.core.confidence import MIN_CONFIDENCE
from crnn.core.preprocess import VIEWS
from crnn.reading.crops import open_reader
from crnn.reading.metadata import META_PREFIX
from crnn.reading.policy import ReadingPolicy, model_policy


def test_defaults_are_the_shipped_reading():
    p = ReadingPolicy()
    assert (p.views, p.min_confidence, p.zooms, p.variants) == (VIEWS, MIN_CONFIDENCE, DEFAULT_ZOOMS, DEFAULT_VARIANTS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.views = ()  # type: ignore[misc]


def test_model_settings_come_from_the_metadata_and_overrides_win():
    meta = {
        META_PREFIX + "decoder": "constrained",
        META_PREFIX + "erasure_prior": "0.05",
        META_PREFIX + "ean13_lead0_prior": "0.1",
        META_PREFIX + "erasable": "UPC-A",
    }
    own = model_policy(meta)
    assert (own.decoder, own.erasure_prior, own.ean13_lead0_prior, own.erasable) == (
        "constrained",
        0.05,
        0.1,
        ("UPC-A",),
    )
    # A model exported before the priors existed reads without them.
    old = model_policy({META_PREFIX + "decoder": "greedy"})
    assert (old.erasure_prior, old.ean13_lead0_prior) == (0.0, 1.0)
    mine = own.updated({"erasure_prior": 0.0, "views": "top15,pad5", "zooms": None, "variants": 2})
    assert (mine.erasure_prior, mine.views, mine.zooms, mine.variants) == (0.0, ("top15", "pad5"), DEFAULT_ZOOMS, 2)
    assert own.erasure_prior == 0.05  # the model's own policy is unchanged


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"zooms": (1.0, 2.0)}, "zooms"),
        ({"variants": 0}, "variants must be 1..6"),
        ({"views": ("upside-down",)}, "unknown test-time view"),
        ({"erasable": ("EAN-8",)}, "erasable formats"),
        ({"ean13_lead0_prior": 0.0}, "ean13_lead0_prior"),
        ({"decoder": "magic"}, "decoder must be one of"),
        ({"zoom": 1.0}, "unknown reading setting"),
        ({"min_confidence": -0.1}, "min_confidence"),
    ],
)
def test_bad_settings_are_refused_before_any_model_loads(overrides, message, tmp_path: Path):
    with pytest.raises(ValueError, match=message):
        ReadingPolicy().updated(overrides)
    with pytest.raises(ValueError, match=message):  # not "model not found": the settings are checked first
        open_reader(tmp_path / "missing.onnx", overrides)


def test_a_reader_gets_its_policy_at_construction(onnx_model: Path):
    reader = open_reader(onnx_model, {"views": (), "min_confidence": 0.2})
    assert reader.views == () and reader.policy.min_confidence == 0.2
    assert open_reader(onnx_model).views == VIEWS

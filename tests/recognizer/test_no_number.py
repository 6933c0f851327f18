"""Crops that show no number (`SynthConfig.p_no_number`, `printed` = `-`): made by the generator, learnt as the
empty target, kept out of validation and test splits and out of accuracy figures."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import torch

from crnn.core import symbology
from crnn.core.codec import Codec
from crnn.core.labels import NO_DIGITS, read_tsv
from crnn.datasets.crops import split_samples
from crnn.datasets.importers import RawSample
from crnn.evaluation.crops import evaluate
from crnn.recognizer.data import collate
from crnn.recognizer.train import ensure_synthetic, fit
from crnn.synth.settings import SynthConfig
from crnn.synth.writer import generate


def test_no_number_crops_are_labelled_with_no_digits(tmp_path: Path) -> None:
    generate(tmp_path / "s", 8, seed=5, workers=1, config=SynthConfig(p_no_number=1.0), progress=False)
    samples = read_tsv(tmp_path / "s" / "crops.tsv", Codec())
    assert len(samples) == 8
    for s in samples:
        # The label stays the scene's code (the detector's annotations are unchanged); the crop shows none of it.
        assert any(symbology.is_valid(s.text, f) for f in symbology.FORMATS)
        assert s.printed == NO_DIGITS and s.target == "" and not s.shows_number
    with (tmp_path / "s" / "annotations.tsv").open() as f:
        codes = [r["code"] for r in csv.DictReader(f, delimiter="\t")]
    assert codes == [s.text for s in samples]


def test_a_crop_showing_digits_is_not_a_no_number_crop(tmp_path: Path) -> None:
    """Half the crops of a 0.5 share show their number, whole; the others none (the generator checks that no digit
    falls inside them)."""
    generate(tmp_path / "s", 24, seed=6, workers=1, config=SynthConfig(p_no_number=0.5), progress=False)
    samples = read_tsv(tmp_path / "s" / "crops.tsv", Codec())
    blank = [s for s in samples if not s.shows_number]
    assert 4 <= len(blank) <= 20
    assert all(s.target == s.text for s in samples if s.shows_number)


def test_validation_data_has_no_no_number_crops(tiny_train_cfg, tmp_path: Path) -> None:
    cfg = tiny_train_cfg
    cfg.data.train_tsv = str(tmp_path / "train" / "crops.tsv")
    cfg.data.val_tsv = str(tmp_path / "val" / "crops.tsv")
    cfg.data.synth.root = str(tmp_path)
    cfg.data.synth.train_count, cfg.data.synth.val_count = 16, 16
    cfg.data.synth.generator = SynthConfig(p_no_number=1.0)
    ensure_synthetic(cfg)
    assert all(not s.shows_number for s in read_tsv(cfg.data.train_tsv, Codec()))
    assert all(s.shows_number for s in read_tsv(cfg.data.val_tsv, Codec()))


def test_split_sends_no_number_crops_to_train() -> None:
    samples = [
        RawSample(Path(f"{i}.png"), f"{i % 20:08d}", "EAN-8", None, i, NO_DIGITS if i % 3 == 0 else None)
        for i in range(60)
    ]
    parts = split_samples(samples, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=1)
    assert sum(len(v) for v in parts.values()) == 60
    assert all(s.printed != NO_DIGITS for n in ("val", "test") for s in parts[n])
    assert sum(s.printed == NO_DIGITS for s in parts["train"]) == 20
    # Numbers still never straddle splits (a no-number crop shows none of its number).
    shown = {n: {s.text for s in v if s.printed != NO_DIGITS} for n, v in parts.items()}
    assert not (shown["train"] & shown["test"]) and not (shown["train"] & shown["val"])


def test_the_empty_target_trains_and_is_left_out_of_accuracy(tiny_train_cfg, onnx_model: Path, tmp_path: Path) -> None:
    generate(tmp_path / "mix", 32, seed=7, workers=1, config=SynthConfig(p_no_number=0.5), progress=False)
    (tmp_path / "mix" / "synth.json").unlink()  # its own data for the training below, not the config's synthetic
    tsv = tmp_path / "mix" / "crops.tsv"
    samples = read_tsv(tsv, Codec())
    n_blank = sum(not s.shows_number for s in samples)
    assert 0 < n_blank < len(samples)

    # CTC takes an all-blank target: a finite loss, with gradients.
    batch = collate([(np.zeros((1, 8, 8), np.float32), Codec().encode(s.target), s.text) for s in samples[:8]])
    assert batch["target_lengths"].tolist() == [len(s.target) for s in samples[:8]]
    logits = torch.randn(8, 32, 11, requires_grad=True)
    loss = torch.nn.functional.ctc_loss(
        logits.log_softmax(-1).permute(1, 0, 2), batch["targets"], torch.full((8,), 32), batch["target_lengths"]
    )
    loss.backward()
    assert math.isfinite(loss.item()) and logits.grad is not None

    cfg = tiny_train_cfg
    cfg.data.train_tsv = str(tsv)
    cfg.trainer.max_epochs = 1
    result = fit(cfg)
    assert math.isfinite(result.metrics["train/loss"])

    ev = evaluate(onnx_model, tsv)
    assert ev.summary["n"] == len(samples) - n_blank
    assert ev.summary["no_number"]["n"] == n_blank
    assert 0 <= ev.summary["no_number"]["sure"] <= n_blank
    assert all(r["target"] in {s.text for s in samples if s.shows_number} for r in ev.rows)

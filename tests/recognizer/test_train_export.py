"""A tiny real training run on synthetic crops, then export, parity, evaluate and read."""

import json
import re

import numpy as np
import onnx
import pytest
import torch

from crnn import cli
from crnn.core.confidence import MIN_CONFIDENCE
from crnn.core.images import load_image
from crnn.core.labels import read_tsv
from crnn.reading.crops import OnnxReader
from crnn.recognizer.checkpoint import load_checkpoint
from crnn.recognizer.export import ParityError, export_onnx
from crnn.recognizer.reader import TorchReader
from crnn.recognizer.train import fit


@pytest.fixture
def trained(tiny_train_cfg):
    return fit(tiny_train_cfg), tiny_train_cfg


@pytest.mark.slow
def test_train_export_read(trained, synth_dir, tmp_path, capsys):
    result, cfg = trained
    assert result.best_checkpoint.is_file() and result.last_checkpoint.is_file()
    assert {"val/exact_match", "val/cer", "train/loss"} <= set(result.metrics)
    assert result.epochs == 2 and len(result.history) == 2

    # The checkpoint is resumable: model, optimizer, scheduler and epoch are in it.
    ck = torch.load(result.last_checkpoint, weights_only=True)
    assert ck["epoch"] == 1 and ck["optimizer_states"] and ck["lr_schedulers"]

    samples = read_tsv(synth_dir / "crops.tsv", TorchReader(result.best_checkpoint).codec)[:8]
    images = [load_image(s.path) for s in samples]
    onnx_path = tmp_path / "model.onnx"
    report = export_onnx(result.best_checkpoint, onnx_path, images=images)
    assert report.n == 1 + 3 + 8 and report.max_abs_diff < 1e-3

    # onnxruntime and PyTorch read the same strings from the same files.
    ort_texts = [r.text for r in OnnxReader(onnx_path).read(images)]
    pt_texts = [r.text for r in TorchReader(result.best_checkpoint).read(images)]
    assert ort_texts == pt_texts

    # The ONNX file carries what inference needs; batch axis is dynamic.
    reader = OnnxReader(onnx_path)
    assert reader.codec.charset == "0123456789"
    assert (reader.spec.height, reader.spec.width, reader.spec.blur) == (cfg.input.height, cfg.input.width, 0.5)
    assert reader.spec.x_stretch == TorchReader(result.best_checkpoint).spec.x_stretch == cfg.input.x_stretch == 1.5
    # ... including the model's missing-digit prior, which both readers use unless told otherwise.
    assert reader.erasure_prior == TorchReader(result.best_checkpoint).erasure_prior == cfg.erasure_prior == 0.01
    erasable = (reader.erasable, TorchReader(result.best_checkpoint).erasable, tuple(cfg.erasable))
    assert erasable == (("EAN-13",),) * 3  # ... and the formats it covers
    lead0 = (reader.ean13_lead0_prior, TorchReader(result.best_checkpoint).ean13_lead0_prior, cfg.ean13_lead0_prior)
    assert lead0 == (0.5, 0.5, 0.5)
    batch = np.zeros((5, 1, cfg.input.height, cfg.input.width), np.float32)
    assert reader.logits(batch).shape == (5, int(reader.metadata["crnn.time_steps"]), 11)

    assert (
        cli.main(["read", "--model", str(onnx_path), "--json", "--quiet", str(samples[0].path), str(samples[1].path)])
        == 0
    )
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["file"] for x in lines] == [str(samples[0].path), str(samples[1].path)]
    for x in lines:
        assert set(x) - {"inferred"} == {"file", "text", "format", "confidence", "checksum_ok", "sure"}
        assert re.fullmatch(r"[0-9]*", x["text"]) and 0 <= x["confidence"] <= 1
        assert x["format"] in ("EAN-13", "UPC-A", "EAN-8", "UPC-E") if x["checksum_ok"] else x["format"] is None
        assert x["sure"] == (x["confidence"] >= MIN_CONFIDENCE and x["checksum_ok"])
    # A floor above every confidence flags every read unsure, and still prints it.
    args = ["read", "--model", str(onnx_path), "--quiet", "--min-confidence", "1.1", str(samples[0].path)]
    assert cli.main(args) == 0
    assert capsys.readouterr().out.rstrip("\n").split("\t")[-1] == "UNSURE"

    assert cli.main(["evaluate", "--model", str(onnx_path), "--data", str(synth_dir / "crops.tsv")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n"] == 96 and 0 <= summary["exact_match"] <= 1 and summary["cer"] >= 0
    # The layout prior can be set per command; one that is no probability is a clear error, not a traceback.
    ev = ["evaluate", "--model", str(onnx_path), "--data", str(synth_dir / "crops.tsv")]
    assert cli.main([*ev, "--ean13-lead0-prior", "0.2"]) == 0
    capsys.readouterr()
    assert cli.main([*ev, "--ean13-lead0-prior", "0"]) == 2
    assert "ean13_lead0_prior must be in (0, 1]" in capsys.readouterr().err

    # A checkpoint from before the prior was a model setting reads without it (as its ONNX export would).
    ck = torch.load(result.best_checkpoint, weights_only=True)
    del ck["hyper_parameters"]["cfg"]["erasure_prior"]
    del ck["hyper_parameters"]["cfg"]["input"]["x_stretch"]  # nor stretched its input
    del ck["hyper_parameters"]["cfg"]["ean13_lead0_prior"]  # nor preferred a layout
    ck["hyper_parameters"]["cfg"]["input"]["levels"] = None  # a setting since removed, at the value read as now
    del ck["hyper_parameters"]["cfg"]["erasable"]  # nor limited the hypothesis to some formats
    torch.save(ck, tmp_path / "old.ckpt")
    old_cfg = load_checkpoint(tmp_path / "old.ckpt")[1]
    assert (old_cfg.erasure_prior, old_cfg.input.x_stretch, old_cfg.ean13_lead0_prior) == (0.0, 1.0, 1.0)
    assert old_cfg.erasable == ["UPC-A", "EAN-13"]
    ck["hyper_parameters"]["cfg"]["optim"]["ema_decay"] = 0.9  # trained with a study's setting: refused
    torch.save(ck, tmp_path / "study.ckpt")
    with pytest.raises(ValueError, match="optim.ema_decay=0.9"):
        load_checkpoint(tmp_path / "study.ckpt")
    model = onnx.load(str(onnx_path))
    old_keys = ("crnn.erasure_prior", "crnn.x_stretch", "crnn.ean13_lead0_prior", "crnn.levels", "crnn.erasable")
    kept = [p for p in model.metadata_props if p.key not in old_keys]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    onnx.save(model, str(tmp_path / "old.onnx"))
    old_reader = OnnxReader(tmp_path / "old.onnx")
    assert (old_reader.erasure_prior, old_reader.spec.x_stretch, old_reader.ean13_lead0_prior) == (0.0, 1.0, 1.0)
    assert old_reader.erasable == ("UPC-A", "EAN-13")


@pytest.mark.slow
def test_resume_continues_from_last_epoch(trained, tmp_path):
    result, cfg = trained
    cfg.trainer.max_epochs = 3
    cfg.resume = str(result.last_checkpoint)
    again = fit(cfg)
    assert again.epochs == 3
    assert torch.load(again.last_checkpoint, weights_only=True)["epoch"] == 2


@pytest.mark.slow
def test_parity_mismatch_is_an_error(trained, tmp_path, monkeypatch):
    result, _ = trained
    import crnn.recognizer.export as export

    real = export.OnnxReader

    class Skewed(real):  # onnxruntime output nudged: the check must notice
        def logits(self, batch):
            return super().logits(batch) + 0.01

    monkeypatch.setattr(export, "OnnxReader", Skewed)
    with pytest.raises(ParityError, match="differ"):
        export_onnx(result.best_checkpoint, tmp_path / "m.onnx")


def test_bad_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "x.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot load checkpoint"):
        load_checkpoint(bad)
    assert cli.main(["evaluate", "--model", str(tmp_path / "missing.onnx"), "--data", "x.tsv"]) == 2


def test_read_reports_unreadable_files(tmp_path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"garbage")
    # A model is needed before any file is read; a missing model is a clear error too.
    assert cli.main(["read", "--model", str(tmp_path / "none.onnx"), str(bad)]) == 2
    assert "model not found" in capsys.readouterr().err


@pytest.mark.slow
def test_int8_export_is_quantized_and_self_describing(trained, synth_dir, tmp_path):
    import onnx

    from crnn.recognizer.export import quantize_int8

    result, cfg = trained
    samples = read_tsv(synth_dir / "crops.tsv", None)[:32]
    images = [load_image(s.path) for s in samples]
    fp32 = tmp_path / "m.onnx"
    export_onnx(result.best_checkpoint, fp32, images=images[:4])
    report = quantize_int8(fp32, tmp_path / "m.int8.onnx", images, synth_dir / "crops.tsv", max_drop=1.0)
    assert report.written and report.path.is_file()
    ops = {n.op_type for n in onnx.load(str(report.path)).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    q = OnnxReader(report.path)
    assert q.spec == OnnxReader(fp32).spec and q.codec.charset == "0123456789"
    # An impossible accuracy bar: the int8 file is refused and removed.
    refused = quantize_int8(fp32, tmp_path / "r.int8.onnx", images, synth_dir / "crops.tsv", max_drop=-1.0)
    assert not refused.written and not refused.path.exists()

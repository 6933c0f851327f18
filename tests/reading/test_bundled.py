"""The models shipped in the package: `crnn read` and the Python API with no model given, and the bundling script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from crnn import models
from crnn.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def shipped(tmp_path, monkeypatch, onnx_model, detector_onnx):
    """Stand-in bundled models (the tests' untrained ones) where crnn.models looks for them."""
    for name, src in (("RECOGNISER", onnx_model), ("DETECTOR", detector_onnx)):
        dst = tmp_path / src.name
        shutil.copyfile(src, dst)
        monkeypatch.setattr(models, name, dst)
    return tmp_path


def test_read_with_no_model_reads_crops_as_crops_and_photos_as_photos(shipped, synth_dir, photos_tsv, capsys):
    crop = next((synth_dir / "crops").glob("*.png"))
    photo = next(photos_tsv.parent.glob("*.jpg"))
    assert Image.open(crop).width >= 2.5 * Image.open(crop).height > 0
    assert main(["read", "--json", "--quiet", str(crop), str(photo)]) == 0
    rows = {Path(r["file"]).name: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(rows) == {crop.name, photo.name}
    assert "text" in rows[crop.name] and "barcodes" not in rows[crop.name]  # one reading: a crop
    assert "barcodes" in rows[photo.name]  # every barcode found: a photo


def test_read_with_a_detector_alone_takes_the_bundled_recogniser(shipped, photos_tsv, capsys):
    photo = next(photos_tsv.parent.glob("*.jpg"))
    assert main(["read", "--json", "--quiet", "--detector", str(models.DETECTOR), str(photo)]) == 0
    assert "barcodes" in json.loads(capsys.readouterr().out)


def test_an_install_without_bundled_models_says_what_to_do(tmp_path, monkeypatch, synth_dir, capsys):
    monkeypatch.setattr(models, "RECOGNISER", tmp_path / "none.onnx")
    crop = next((synth_dir / "crops").glob("*.png"))
    assert main(["read", str(crop)]) == 2
    err = capsys.readouterr().err
    assert "no bundled recogniser" in err and "--model" in err


def test_pretrained_api_reads_photos_and_crops(shipped, synth_dir, photos_tsv):
    from crnn import BarcodeReader

    photo = next(photos_tsv.parent.glob("*.jpg"))
    assert isinstance(BarcodeReader.pretrained(threads=1).read(photo), list)
    crop = next((synth_dir / "crops").glob("*.png"))
    assert len(BarcodeReader.pretrained(crops=True, threads=1).read(crop)) == 1


def test_bundle_script_copies_checks_and_records_the_models(tmp_path, monkeypatch, onnx_model, detector_onnx):
    import importlib.util

    spec = importlib.util.spec_from_file_location("bundle_models", REPO / "scripts" / "bundle_models.py")
    assert spec is not None and spec.loader is not None
    bundle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bundle)
    for name in ("RECOGNISER", "DETECTOR", "RECORD", "CARD"):
        monkeypatch.setattr(bundle, name, tmp_path / getattr(models, name).name)
    summary = tmp_path / "summary.json"
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"sets": {"real": {"n": 75, "exact_match": 0.96, "cer": 0.01}}}))
    summary.write_text(
        json.dumps(
            {
                "onnx_file": str(onnx_model),
                "detector_onnx_file": str(onnx_model),  # the wrong kind: refused
                "exact_match": 0.99,
                "metrics_file": str(metrics),
                "photos": {"n": 88, "read": 0.9},
            }
        )
    )
    monkeypatch.setattr(sys, "argv", ["bundle_models.py", "--summary", str(summary)])
    with pytest.raises(SystemExit, match="is not a detector"):
        bundle.main()
    data = json.loads(summary.read_text())
    data.update(detector_onnx_file=str(detector_onnx), detector_val_f1=0.9)
    summary.write_text(json.dumps(data))
    assert bundle.main() == 0
    record = json.loads((tmp_path / "models.json").read_text())
    assert (tmp_path / "detector.onnx").read_bytes() == detector_onnx.read_bytes()
    assert record["detector"]["synthetic_val_f1"] == 0.9 and record["figures"]["sets"]["real"]["exact_match"] == 0.96
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert "| real crops, `../shared/data/real-dev` (75) | 96.0% |" in card and "Synthetic only" in card


def test_the_package_data_ships_the_models():
    # pip install . must carry the bundled models and their card (pyproject package-data).
    text = (REPO / "pyproject.toml").read_text()
    assert all(f'"models/*.{ext}"' in text for ext in ("onnx", "json", "md"))
    assert subprocess.run([sys.executable, "-c", "import crnn.models"], check=False).returncode == 0


def test_photo_readers_sessions_let_idle_threads_sleep(shipped) -> None:
    """Both of a photo reader's onnxruntime sessions run with spinning off: the detector's and the recogniser's
    idle worker threads would otherwise spin on the cores the numpy and PIL work between their runs needs
    (docs/decisions.md, "Threads that sleep")."""
    from crnn.reading.photos import PhotoReader

    reader = PhotoReader(models.DETECTOR, models.RECOGNISER, threads=2)
    sessions = [d.session for d in reader.detectors] + [reader.reader.session]  # type: ignore[attr-defined]
    for s in sessions:
        assert s.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"

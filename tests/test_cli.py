"""`crnn` on careless input: a corrupt image among good ones, a broken link, a bad batch size, a closed pipe,
a detector given where a recogniser is expected (and the other way round)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from crnn import cli, config
from crnn.config.loading import to_dict
from tests.core.test_images import broken_idat_png

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def crops(synth_dir: Path, tmp_path: Path) -> Path:
    """Six good crops, one PNG with a broken IDAT chunk, one broken symbolic link."""
    folder = tmp_path / "crops"
    folder.mkdir()
    for f in sorted((synth_dir / "crops").glob("*.png"))[:6]:
        shutil.copy(f, folder / f.name)
    broken_idat_png(folder / "corrupt.png")
    (folder / "link.png").symlink_to(tmp_path / "gone.png")
    return folder


def test_read_goes_on_past_a_corrupt_image_and_a_broken_link(
    crops: Path, onnx_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = cli.main(["read", "--model", str(onnx_model), "--quiet", "--batch-size", "4", str(crops)])
    out, err = capsys.readouterr()
    assert rc == 1
    read = sorted(Path(line.split("\t")[0]).name for line in out.splitlines())
    assert read == sorted(f.name for f in crops.glob("*.png") if f.name not in ("corrupt.png", "link.png"))
    assert "corrupt.png: SyntaxError" in err and "link.png: broken symbolic link" in err
    assert "2 of 8 files could not be read" in err


@pytest.mark.parametrize("size", ["0", "-1"])
def test_batch_size_must_be_positive(size: str, onnx_model: Path, crops: Path, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(["read", "--model", str(onnx_model), "--batch-size", size, str(crops)])
    assert e.value.code == 2
    assert f"--batch-size: must be at least 1, got {size}" in capsys.readouterr().err


def test_read_piped_to_head_exits_quietly(synth_dir: Path, onnx_model: Path) -> None:
    """More output than a pipe holds, its reader gone after one line: no BrokenPipeError traceback."""
    folders = [str(synth_dir / "crops")] * 12  # ~1150 lines, well over a pipe's 64 KiB
    cmd = [sys.executable, "-m", "crnn.cli", "read", "--model", str(onnx_model), "--quiet", "--json", "--views", "none"]
    proc = subprocess.Popen([*cmd, *folders], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does
    err = proc.stderr.read().decode()
    rc = proc.wait(timeout=120)
    assert first.startswith(b'{"file"')
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert rc == 141


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_evaluate_skips_and_counts_unreadable_images(
    synth_dir: Path, crops: Path, onnx_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = ["filename\ttext"]
    for line in (synth_dir / "crops.tsv").read_text().splitlines()[1:7]:
        name, text = line.split("\t")[:2]
        rows.append(f"{Path(name).name}\t{text}")
    rows.append(rows[1])  # a duplicate row: counted once
    rows.append("corrupt.png\t5901234123457")
    (crops / "labels.tsv").write_text("\ufeff" + "\n".join(rows) + "\n")  # with a BOM, as Excel writes
    rc = cli.main(["evaluate", "--model", str(onnx_model), "--data", str(crops / "labels.tsv")])
    out, err = capsys.readouterr()
    import json

    summary = json.loads(out)
    assert rc == 1 and summary["n"] == 6 and summary["unreadable"] == 1
    assert "corrupt.png" in err and "1 images could not be read" in err


def _fake_checkpoint(path: Path, cfg: object) -> Path:
    """A checkpoint with the config a training of `cfg`'s kind stores (weights are not reached)."""
    torch.save({"hyper_parameters": {"cfg": to_dict(cfg)}, "state_dict": {}, "epoch": 0}, path)
    return path


def test_a_detector_where_a_recogniser_is_expected_is_named(
    tmp_path: Path, crops: Path, detector_onnx: Path, onnx_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    det = _fake_checkpoint(tmp_path / "det.ckpt", config.DetectorConfig())
    rec = _fake_checkpoint(tmp_path / "rec.ckpt", config.TrainConfig())
    for args in (
        ["read", "--model", str(det), str(crops)],
        ["evaluate", "--model", str(det), "--data", str(crops / "x.tsv")],
        ["export", "--checkpoint", str(det), "--out", str(tmp_path / "x.onnx")],
    ):
        assert cli.main(args) == 2
        assert "is a barcode detector checkpoint, not a recogniser's" in capsys.readouterr().err
    assert cli.main(["export-detector", "--checkpoint", str(rec), "--out", str(tmp_path / "y.onnx")]) == 2
    assert "is a recogniser checkpoint, not a detector's" in capsys.readouterr().err
    assert cli.main(["read", "--model", str(detector_onnx), str(crops)]) == 2
    assert "is a barcode detector, not a recogniser: give it as `--detector`" in capsys.readouterr().err
    assert cli.main(["read", "--model", str(onnx_model), "--detector", str(onnx_model), str(crops)]) == 2
    assert "is a recogniser, not a barcode detector" in capsys.readouterr().err


def test_read_tells_a_barcode_the_frame_cuts(
    onnx_model: Path, detector_onnx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A photo whose only read is unsure because its bars may go on past the frame (a stand-in of the reader's
    reads): the text output says so and what to do."""
    from PIL import Image

    from crnn.core.geometry import box_quad
    from crnn.reading.detection import Detection
    from crnn.reading.photos import BarcodeRead, PhotoReader

    photo = tmp_path / "close.png"
    Image.new("RGB", (160, 120), "white").save(photo)
    read = BarcodeRead(Detection(box_quad((10, 10, 100, 40)), 0.9), "96385074", 0.99, True, cut=True)
    monkeypatch.setattr(PhotoReader, "read_image", lambda self, image: [read])
    rc = cli.main(["read", "--model", str(onnx_model), "--detector", str(detector_onnx), "--quiet", str(photo)])
    out, _ = capsys.readouterr()
    assert rc == 0
    assert "no barcode found (1 unsure reads" in out and "runs out of the frame" in out

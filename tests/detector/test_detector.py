from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crnn import cli, config
from crnn.config.reading import DetectorPostConfig
from crnn.core.geometry import box_quad, digit_band, quad_size, straighten
from crnn.detector.data import SceneDataset, read_scenes, render_targets
from crnn.detector.export import export_detector, load_detector
from crnn.detector.system import angle_between, match, quad_iou
from crnn.detector.train import fit_detector
from crnn.reading.detection import STRIDE, Detector, boxes_from_maps
from crnn.reading.photos import PhotoReader
from crnn.synth.writer import generate


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scenes") / "train"
    generate(out, 24, seed=5, workers=1, progress=False)
    return out


def _rotated_quad(cx: float, cy: float, w: float, h: float, deg: float) -> np.ndarray:
    a = math.radians(deg)
    d, n = np.array([math.cos(a), math.sin(a)]), np.array([-math.sin(a), math.cos(a)])
    return np.array([c + u * d + v * n for c in [np.array([cx, cy])] for u, v in
                     ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2))])  # fmt: skip


@pytest.mark.parametrize("deg", [0.0, 17.0, 90.0, 180.0, -120.0])
def test_targets_decode_back_to_the_quad(deg: float) -> None:
    # The maps a perfect network would output decode to the true quad, digits side included.
    truth = [_rotated_quad(150, 140, 120, 80, deg), _rotated_quad(60, 270, 50, 34, 0)]
    mask, direction, weight = render_targets(truth, [True, True], 320)
    assert mask.shape == (80, 80) and weight.sum() == mask.sum() > 0
    maps = np.concatenate([mask[None], direction])
    found = boxes_from_maps(maps, DetectorPostConfig(min_area=4))
    assert len(found) == 2
    rows = match(found, truth, [True, True])
    assert all(r["found"] for r in rows), rows
    assert min(r["iou"] for r in rows) > 0.75
    assert max(r["angle"] for r in rows) < 5


def test_quad_iou_and_angle() -> None:
    a = box_quad((10, 10, 100, 50))
    assert quad_iou(a, a) == pytest.approx(1.0)
    assert quad_iou(a, box_quad((60, 10, 100, 50))) == pytest.approx(50 / 150, abs=0.03)
    assert quad_iou(a, box_quad((300, 300, 10, 10))) == 0.0
    assert angle_between(a, a[[2, 3, 0, 1]]) == pytest.approx(180.0)


def test_digit_band_matches_the_generators_crops(scenes: Path) -> None:
    # The band cut from a symbol quad is the crop the recogniser trained on: same aspect, bottom edge
    # just under the symbol's, and the generator's own (jittered) crop overlaps it.
    rows = [r.split("\t") for r in (scenes / "annotations.tsv").read_text().splitlines()[1:]]
    for row in rows[:12]:
        quad = np.array([float(v) for v in row[6].split()]).reshape(4, 2)
        band = digit_band(quad)
        w, h = quad_size(band)
        assert w / h == pytest.approx(3.7, rel=0.03)
        assert quad_size(quad)[0] < w < 1.05 * quad_size(quad)[0]
        scene = Image.open(scenes / row[0])
        crop = straighten(scene, quad)
        assert crop.width / crop.height == pytest.approx(3.7, rel=0.05)


def test_read_scenes_and_dataset(scenes: Path, tmp_path: Path) -> None:
    found = read_scenes(scenes)
    assert len(found) == 24 and all(len(s.quads) == 1 and s.oriented == [True] for s in found)
    cfg = config.load(
        config.DetectorConfig, None, ["data.mosaic_p=1.0", "data.shrink_p=1.0", "data.empty_p=0.0", "data.zoom_p=0.0"]
    )
    ds = SceneDataset(found, cfg, train=True)
    image, mask, direction, weight, index = ds[3]
    assert image.shape == (1, 320, 320) and mask.shape == (80, 80) and direction.shape == (2, 80, 80)
    assert index == 3 and mask.sum() > 0
    # A mosaic holds two barcodes: two regions in the target.
    assert len(boxes_from_maps(np.concatenate([mask[None], direction]), DetectorPostConfig(min_area=1))) == 2
    # A raw dataset's axis-aligned boxes: region always, direction only for boxes wider than tall.
    (tmp_path / "images").mkdir()
    Image.new("RGB", (200, 100), "white").save(tmp_path / "images" / "a.png")
    (tmp_path / "labels.tsv").write_text(
        "filename\ttext\tformat\tx_from\ty_from\twidth\theight\n"
        "images/a.png\t96385074\tEAN-8\t10\t10\t80\t40\n"
        "images/a.png\t12345670\tEAN-8\t120\t5\t30\t80\n"
    )
    raw = read_scenes(tmp_path)
    assert len(raw) == 1 and raw[0].oriented == [True, False]
    with pytest.raises(ValueError, match="neither annotations.tsv"):
        read_scenes(tmp_path / "images")


def test_bad_quad_column_is_reported(tmp_path: Path) -> None:
    (tmp_path / "annotations.tsv").write_text(
        "filename\tcode\tx_from\ty_from\twidth\theight\nimages/a.png\t96385074\t1\t1\t5\t5\n"
    )
    with pytest.raises(ValueError, match="line 2: no valid `quad`"):
        read_scenes(tmp_path)


@pytest.mark.slow
def test_train_resume_export_and_read_photo(
    scenes: Path, tmp_path: Path, onnx_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tiny detector trains (overlays, predictions JSON, resumable checkpoints), exports with parity,
    and `PhotoReader` returns a list for photos, an empty list for a blank one, an error for a bad file."""
    own = tmp_path / "own"  # scenes without a generator stamp: a user's own data, trained on as they are
    shutil.copytree(scenes, own)
    (own / "synth.json").unlink()
    overrides = [
        f"data.train_dirs=[{own}]",
        f"data.val_dir={tmp_path / 'val'}",
        "data.synth.val_count=6",
        "data.batch_size=8",
        "data.num_workers=0",
        "input.size=160",
        "trainer.max_epochs=1",
        f"out_dir={tmp_path / 'run'}",
        "overlays=4",
    ]
    cfg = config.load(config.DetectorConfig, None, overrides)
    result = fit_detector(cfg)
    run = tmp_path / "run"
    preds = json.loads((run / "predictions" / "epoch_000.json").read_text())
    assert len(preds) == 6 and {"file", "truth", "predicted", "matches"} <= set(preds[0])
    assert Image.open(run / "overlays" / "epoch_000.png").width > 100
    assert {"val/recall", "val/precision", "val/f1"} <= set(result.metrics)
    assert Image.open(run / "curves.png").size == (3 * 360, 200)  # train/loss, val/loss, val/f1 by epoch
    # Resume: the last checkpoint carries optimizer and scheduler state and continues to epoch 2.
    more = [*overrides[:-3], "trainer.max_epochs=2", f"out_dir={run}", f"resume={result.last_checkpoint}"]
    resumed = fit_detector(config.load(config.DetectorConfig, None, more))
    assert resumed.epochs == 2
    net, loaded = load_detector(resumed.last_checkpoint)
    assert loaded.input.size == 160
    onnx_path = tmp_path / "det.onnx"
    diff = export_detector(resumed.best_checkpoint, onnx_path, images=[Image.open(read_scenes(scenes)[0].path)])
    assert diff < 1e-3
    det = Detector(onnx_path)
    assert det.size == 160 and det.stride == STRIDE
    reader = PhotoReader(onnx_path, onnx_model, cross_check=True)
    blank = tmp_path / "blank.png"
    Image.new("RGB", (300, 200), "white").save(blank)
    assert reader.read_file(blank).barcodes == []
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    bad = reader.read_file(tmp_path / "bad.png")
    assert bad.error and "cannot read image" in bad.error
    out = reader.read_file(read_scenes(scenes)[0].path).to_dict()
    assert isinstance(out["barcodes"], list)
    for b in out["barcodes"]:
        assert set(b) >= {"box", "quad", "text", "confidence", "checksum_ok"}
    # The command line: one JSON object a photo; a bad file is reported and makes the exit status 1.
    capsys.readouterr()
    args = ["read", "--model", str(onnx_model), "--detector", str(onnx_path), "--json", "--quiet", "--cross-check"]
    assert cli.main([*args, str(blank), str(read_scenes(scenes)[1].path)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [Path(x["file"]).name for x in lines] == ["blank.png", read_scenes(scenes)[1].path.name]
    assert lines[0]["barcodes"] == [] and lines[0]["size"] == [300, 200]
    assert cli.main([*args, "--detector", str(onnx_path), str(blank)]) == 0  # two detectors: still one read each
    assert json.loads(capsys.readouterr().out)["barcodes"] == []
    assert cli.main([*args, str(tmp_path / "bad.png")]) == 1
    assert "cannot read image" in capsys.readouterr().err


def test_zoom_keeps_the_barcode_centre_in_a_window_of_the_same_aspect() -> None:
    import random

    from crnn.detector.data import _zoom

    image = Image.new("L", (640, 480), 200)
    quad = _rotated_quad(500, 400, 200, 120, 0)
    for seed in range(20):
        crop, (moved,) = _zoom(image, [quad], 1.2, random.Random(seed))
        assert crop.width / crop.height == pytest.approx(640 / 480, rel=0.02)
        assert crop.width == pytest.approx(200 / 1.2, abs=1)  # the barcode spans `fill` of the width
        cx, cy = moved.mean(axis=0)
        assert 0 <= cx <= crop.width and 0 <= cy <= crop.height


def test_a_turned_photo_keeps_its_barcode_under_its_quad_and_its_digits_side() -> None:
    """The `turn_p` augmentation: the photo turned on an expanded canvas with a flat fill; the quad moves with the
    pixels (its corners land on the patch's corners) and its digit line turns by the angle."""
    import math

    from crnn.core.geometry import corners, direction
    from crnn.detector.data import _turn

    image = Image.new("L", (200, 120), 200)
    image.paste(0, (40, 30, 120, 70))  # the "barcode": a dark patch, its digits along the bottom
    quad = corners(40, 30, 120, 70)
    for angle, fill in ((30.0, 255), (90.0, 0), (225.0, 128)):
        turned, (moved,) = _turn(image, [quad], angle, fill)
        a = math.radians(angle)
        assert turned.size == pytest.approx(
            (200 * abs(math.cos(a)) + 120 * abs(math.sin(a)), 200 * abs(math.sin(a)) + 120 * abs(math.cos(a))), abs=2
        )
        px = np.asarray(turned)
        inner = moved.mean(axis=0) + 0.8 * (moved - moved.mean(axis=0))  # well inside the patch
        assert all(px[int(round(y)), int(round(x))] < 40 for x, y in inner)
        assert px[0, 0] == fill or angle % 90 == 0  # the new corners are filled
        # Counter-clockwise on screen (y down): the digit line's angle decreases by `angle`.
        got = math.degrees(math.atan2(*direction(moved)[::-1]))
        assert (got + angle) % 360 == pytest.approx(0.0, abs=0.5) or (got + angle) % 360 == pytest.approx(
            360.0, abs=0.5
        )


def test_scene_folders_follow_the_detector_generator_settings(tmp_path: Path) -> None:
    from crnn.detector.train import ensure_scenes

    train, val = tmp_path / "train", tmp_path / "val"
    cfg = config.load(
        config.DetectorConfig,
        overrides=[
            f"data.train_dirs=[{train}]",
            f"data.val_dir={val}",
            "data.synth.train_count=3",
            "data.synth.val_count=2",
            "data.synth.workers=1",
        ],
    )
    ensure_scenes(cfg)
    stamp = json.loads((train / "synth.json").read_text())
    assert stamp["count"] == 3 and stamp["config"]["min_contrast"] == cfg.data.synth.generator.min_contrast
    assert len((val / "annotations.tsv").read_text().splitlines()) == 3  # header + 2
    made = (val / "synth.json").stat().st_mtime_ns
    ensure_scenes(cfg)  # current: left alone
    assert (val / "synth.json").stat().st_mtime_ns == made
    cfg.data.synth.generator.min_contrast = 40.0  # the detector's generator settings changed: made again
    ensure_scenes(cfg)
    assert json.loads((train / "synth.json").read_text())["config"]["min_contrast"] == 40.0
    # A folder made with `crnn synth` (no "auto" mark) with other settings: refused, never overwritten.
    generate(tmp_path / "own", 2, seed=5, workers=1, progress=False)
    cfg.data.train_dirs = [str(tmp_path / "own")]
    with pytest.raises(ValueError, match="other synthetic settings.*count 2 instead of 3"):
        ensure_scenes(cfg)
    assert json.loads((tmp_path / "own" / "synth.json").read_text())["count"] == 2

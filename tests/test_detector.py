from __future__ import annotations

import json
import math
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
from crnn.reading.detection import STRIDE, Detection, Detector, boxes_from_maps, load_photo
from crnn.reading.photos import PhotoReader, photo_result
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


def test_empty_maps_give_no_barcode() -> None:
    maps = np.zeros((3, 80, 80), dtype=np.float32)
    maps[0, 10, 10] = 0.9  # a speck below min_area
    assert boxes_from_maps(maps, DetectorPostConfig()) == []


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


def test_load_photo_bounds_size_and_reports_bad_files(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    Image.new("RGB", (5000, 3000), "grey").save(big, quality=50)
    im, scale = load_photo(big, max_side=1000)
    assert max(im.size) <= 1000 and scale == pytest.approx(im.width / 5000)
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="cannot read image"):
        load_photo(tmp_path / "bad.jpg")


def test_detection_box_and_angle() -> None:
    d = Detection(_rotated_quad(100, 100, 80, 40, 90), 0.9)
    assert d.angle == pytest.approx(90, abs=1e-6)
    x, y, w, h = d.box
    assert (w, h) == (40, 80) or abs(w - 40) <= 1 and abs(h - 80) <= 1


@pytest.mark.slow
def test_train_resume_export_and_read_photo(
    scenes: Path, tmp_path: Path, onnx_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tiny detector trains (overlays, predictions JSON, resumable checkpoints), exports with parity,
    and `PhotoReader` returns a list for photos, an empty list for a blank one, an error for a bad file."""
    overrides = [
        f"data.train_dirs=[{scenes}]",
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
    # An ensemble of a recogniser with itself reads what it reads alone (the summed likelihoods double).
    twice = PhotoReader(onnx_path, [onnx_model, onnx_model])
    for scene in read_scenes(scenes)[:4]:
        assert (
            twice.read_file(scene.path).to_dict() == PhotoReader(onnx_path, onnx_model).read_file(scene.path).to_dict()
        )
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


def test_same_number_treats_a_upca_or_upce_and_its_ean13_as_one() -> None:
    from crnn.reading.bars import same_number

    assert same_number("036000291452", "0036000291452") and same_number("0036000291452", "036000291452")
    assert same_number("96385074", "96385074")
    assert not same_number("036000291452", "1036000291452") and not same_number("9780201752847", "780201752847")
    # zxing-cpp 3 reports a UPC-E as the EAN-13 of its UPC-A (the real photo upce-3_03 decodes so).
    assert same_number("04965802", "0049000006582") and same_number("0049000006582", "04965802")
    assert same_number("04965802", "049000006582")
    assert not same_number("04965802", "0049000006583") and not same_number("96385074", "0096385074000")


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
    assert stamp["count"] == 3 and stamp["config"]["min_contrast"] == cfg.data.min_contrast
    assert len((val / "annotations.tsv").read_text().splitlines()) == 3  # header + 2
    made = (val / "synth.json").stat().st_mtime_ns
    ensure_scenes(cfg)  # current: left alone
    assert (val / "synth.json").stat().st_mtime_ns == made
    cfg.data.min_contrast = 40.0  # the detector's generator settings changed: made again
    ensure_scenes(cfg)
    assert json.loads((train / "synth.json").read_text())["config"]["min_contrast"] == 40.0
    # A folder made with `crnn synth` (no "auto" mark) is someone's data: used as it is.
    generate(tmp_path / "own", 2, seed=5, workers=1, progress=False)
    cfg.data.train_dirs = [str(tmp_path / "own")]
    ensure_scenes(cfg)
    assert json.loads((tmp_path / "own" / "synth.json").read_text())["count"] == 2


def test_zoomed_out_detection_maps_back_to_the_photo() -> None:
    """The detector may look at a photo shrunk on a wider canvas; its boxes still land on the photo's pixels."""
    from crnn.reading.detection import detector_input

    image = Image.new("L", (200, 100), 230)
    image.paste(20, (60, 30, 140, 70))  # the "barcode"
    det = Detector.__new__(Detector)
    det.size, det.mean, det.std, det.stride = 128, 0.5, 0.5, STRIDE
    det.post = DetectorPostConfig(min_area=1, min_score=0.5)

    def maps(im: Image.Image) -> tuple[np.ndarray, float, float]:  # dark pixels are barcode, digits below
        arr, sx, sy = detector_input(im, det.size, det.mean, det.std)
        cells = arr[0].reshape(det.size // STRIDE, STRIDE, det.size // STRIDE, STRIDE).mean(axis=(1, 3))
        prob = (cells < -0.5).astype(np.float32)
        return np.stack([prob, np.ones_like(prob), np.zeros_like(prob)]), sx, sy

    det.maps = maps  # type: ignore[method-assign]  # a stand-in network
    for zoom in (1.0, 0.5):
        (d,) = det.detect(image.convert("RGB"), zoom)
        tol = 2 * STRIDE * 200 / det.size / zoom  # a map cell, in photo pixels, either side
        assert np.allclose(d.box, (60, 30, 80, 40), atol=tol), (zoom, d.box)
    with pytest.raises(ValueError, match="zoom"):
        det.detect(image, 1.5)


def test_detections_of_one_barcode_at_several_zooms_give_one_read() -> None:
    from test_codec import frames_for

    from crnn.core.codec import Codec, Decoded
    from crnn.core.geometry import corners

    a1 = Detection(corners(40, 20, 120, 60), 0.9)  # zoom 1: the barcode, cut a little short
    a2 = Detection(corners(36, 18, 126, 62), 0.8)  # zoom 0.6: the same barcode, whole
    b = Detection(corners(150, 70, 190, 90), 0.7)  # another barcode

    class Stand:
        def detect(self, image: Image.Image, zoom: float = 1.0) -> list[Detection]:
            return [a1, b] if zoom == 1.0 else [a2]

        codec, ean13_lead0_prior, erasure_prior, erasable = Codec(), 1.0, 0.0, ()

        def decode_images(self, crops: list[Image.Image]) -> tuple[np.ndarray, list[Decoded]]:
            # only the whole first barcode reads
            logp = np.stack([frames_for("036000291452" if c.width > 85 else "0360") for c in crops])
            return logp, [self.codec.decode_greedy(lp) for lp in logp]

        def decode_members(self, crops: list[Image.Image]) -> list[tuple[np.ndarray, list[Decoded]]]:
            return [self.decode_images(crops)]

    reader = PhotoReader.__new__(PhotoReader)
    reader.detectors, reader.reader, reader.variants = [Stand()], Stand(), 1  # type: ignore[list-item,assignment]
    image = Image.new("RGB", (200, 100), "white")
    reader.zooms = (1.0,)
    assert [id(r.detection) for r in reader.read_barcodes(image)] == [id(a1), id(b)]
    reader.zooms = (1.0, 0.6)
    reads = reader.read_barcodes(image)
    # One read per barcode: the one that passed the check digit.
    assert [id(r.detection) for r in reads] == [id(a2), id(b)]
    assert reads[0].text == "036000291452" and reads[0].checksum_ok
    # Under the confidence floor a read is set apart as unsure, not dropped.
    reader.cross_check, reader.min_confidence = False, 0.6
    result = photo_result("p.png", image, 0.5, reader.read_image(image), reader.min_confidence)
    assert [b.text for b in result.barcodes] == ["036000291452"]
    assert [b.text for b in result.uncertain] == ["0360"] and result.uncertain[0].detection.box == (300, 140, 80, 40)
    assert [b["text"] for b in result.to_dict()["uncertain"]] == ["0360"] and result.size == (400, 200)

    class Second:  # another detector: finds only the whole first barcode, at zoom 1
        def detect(self, image: Image.Image, zoom: float = 1.0) -> list[Detection]:
            return [a2] if zoom == 1.0 else []

    reader.zooms = (1.0,)
    reader.detectors = [Stand(), Second()]  # type: ignore[list-item]
    reads = reader.read_barcodes(image)  # the second detector's box reads; still one read per barcode
    assert [id(r.detection) for r in reads] == [id(a2), id(b)] and reads[0].checksum_ok
    with pytest.raises(ValueError, match="at least one detector"):
        PhotoReader([], "rec.onnx")
    with pytest.raises(ValueError, match="zooms"):
        PhotoReader("det.onnx", "rec.onnx", zooms=(1.0, 2.0))


def test_symbol_variants_and_their_bounds() -> None:
    """Each detection is read as detected, with its bottom edge lower and moved down 0.3, 0.4, 0.5 and 0.6 of its
    height, for digits far under tall bars; the reader takes 1 to 6 of them and refuses other counts up front."""
    import pytest

    from crnn.config.reading import DEFAULT_VARIANTS
    from crnn.config.steps import PhotoEvaluateConfig
    from crnn.core.geometry import SYMBOL_VARIANTS, sub_quad
    from crnn.reading.photos import PhotoReader

    quad = np.array([[10.0, 20.0], [110.0, 20.0], [110.0, 60.0], [10.0, 60.0]])  # 100 x 40, upright
    ys = [sub_quad(quad, f)[:, 1] for f in SYMBOL_VARIANTS]
    assert np.allclose(ys[0], [20, 20, 60, 60])
    assert np.allclose(ys[1], [20, 20, 63.2, 63.2])  # the bottom 8% lower
    assert np.allclose(ys[2], [32, 32, 72, 72])  # the whole box 0.3 of its height lower
    assert np.allclose(ys[3], [36, 36, 76, 76])  # 0.4
    assert np.allclose(ys[4], [40, 40, 80, 80])  # 0.5
    assert np.allclose(ys[5], [44, 44, 84, 84])  # and 0.6
    assert all(np.allclose(sub_quad(quad, f)[:, 0], quad[:, 0]) for f in SYMBOL_VARIANTS)
    assert DEFAULT_VARIANTS == PhotoEvaluateConfig().variants == len(SYMBOL_VARIANTS) == 6
    for bad in (0, len(SYMBOL_VARIANTS) + 1):
        with pytest.raises(ValueError, match="variants must be 1..6"):
            PhotoReader("missing-detector.onnx", "missing-model.onnx", variants=bad)


def test_fallback_variants_are_read_only_for_unsure_barcodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the first two hypotheses, a detection is read again only when its barcode's read is unsure: a sure
    read is never outvoted by a far-fetched crop, and an unsure one gets the lowered box (digits far under bars)."""
    from test_codec import frames_for

    from crnn.core.codec import Codec, Decoded
    from crnn.core.geometry import corners
    from crnn.reading import photos as photo
    from crnn.reading.detection import Detection
    from crnn.reading.photos import PhotoReader

    a = Detection(corners(40, 20, 120, 60), 0.9)  # its digits lie below the box: only the third hypothesis reads
    b = Detection(corners(150, 70, 190, 90), 0.8)  # reads surely as detected
    # A stand-in straightening: the crop's width is the hypothesis' bottom edge (a: 60, 63.2, 72, 76, 80, 84; b: 90,
    # 91.6, 96, 98, 100, 102).
    monkeypatch.setattr(photo, "straighten", lambda image, quad: Image.new("L", (round(quad[2, 1]), 10)))
    seen: list[int] = []

    class Stand:
        codec, ean13_lead0_prior, erasure_prior, erasable = Codec(), 1.0, 0.0, ()

        def detect(self, image: Image.Image, zoom: float = 1.0) -> list[Detection]:
            return [a, b]

        def decode_members(self, crops: list[Image.Image]) -> list[tuple[np.ndarray, list[Decoded]]]:
            seen.extend(c.width for c in crops)
            texts = {72: "036000291452", 90: "96385074", 92: "96385074", 96: "11111111"}
            logp = np.stack([frames_for(texts.get(c.width, "0360")) for c in crops])
            return [(logp, [self.codec.decode_greedy(lp) for lp in logp])]

    reader = PhotoReader.__new__(PhotoReader)
    reader.detectors, reader.reader, reader.zooms = [Stand()], Stand(), (1.0,)  # type: ignore[list-item,assignment]
    reader.min_confidence = 0.05
    reader.variants = 2
    assert [r.text for r in reader.read_barcodes(Image.new("RGB", (200, 100)))] == ["0360", "96385074"]
    assert sorted(seen) == [60, 63, 90, 92]
    seen.clear()
    reader.variants = 3
    reads = reader.read_barcodes(Image.new("RGB", (200, 100)))
    assert [r.text for r in reads] == ["036000291452", "96385074"] and reads[0].checksum_ok
    assert seen == [60, 63, 90, 92, 72]  # a's third crop read after the first pass; b's never
    seen.clear()
    reader.variants = 6  # the default: the box 0.4, 0.5 and 0.6 lower join the fallback
    reads = reader.read_barcodes(Image.new("RGB", (200, 100)))
    assert [r.text for r in reads] == ["036000291452", "96385074"]
    assert seen == [60, 63, 90, 92, 72, 76, 80, 84]
    # benchmarks/photo_replay.py: the same reads from crops cut once per hypothesis, replayed in passes.
    image = Image.new("RGB", (200, 100))
    owned = reader.detections(image)
    cached = [reader._read(image, owned, [h]) for h in photo.SYMBOL_VARIANTS]  # noqa: SLF001
    replayed = reader.read_in_passes(cached[0] + cached[1], lambda u: [r for c in cached[2:] for r in c if r[0] in u])
    assert [(r.text, r.confidence) for r in replayed] == [(r.text, r.confidence) for r in reads]
    seen.clear()
    reader.variants, reader.views = 1, ("sides4",)  # opt-in: every crop read in the crop reader's views too
    reader.read_barcodes(Image.new("RGB", (200, 100)))
    assert seen == [60, 56, 90, 82]  # each crop, then it with 4% off each side


def test_crop_geometry_measures_detector_edges_in_the_symbol_frame(tmp_path: Path) -> None:
    """benchmarks/crop_geometry.py: a detected quad 5% of the width wider each side, 2 px higher and 4 px lower than
    the annotated symbol (100 x 40) gives those fractions, outward positive; a box elsewhere is left out."""
    from benchmarks.crop_geometry import edge_errors
    from crnn.core.geometry import corners
    from crnn.reading.detection import Detection

    Image.new("RGB", (200, 100), "white").save(tmp_path / "a.png")
    (tmp_path / "annotations.tsv").write_text("filename\tcode\tquad\na.png\t96385074\t10 20 110 20 110 60 10 60\n")

    class Stand:
        def detect(self, image: Image.Image, zoom: float = 1.0) -> list[Detection]:
            return [Detection(corners(5, 18, 115, 64), 0.9), Detection(corners(150, 70, 190, 90), 0.8)]

    err = edge_errors([Stand()], tmp_path, zooms=(1.0,), progress=False)  # type: ignore[list-item]
    assert err.shape == (1, 4)
    assert np.allclose(err[0], [0.05, 0.05, 0.05, 0.1])
    (tmp_path / "annotations.tsv").write_text("filename\ttext\na.png\t96385074\n")
    with pytest.raises(ValueError, match="no valid `quad` column"):
        edge_errors([Stand()], tmp_path, progress=False)  # type: ignore[list-item]


def test_photo_figures_tell_a_misread_from_a_sure_read_of_something_else(tmp_path: Path) -> None:
    """`evaluate_photos` per photo: the label read sure, a sure read near the label (a confident misread), a sure
    read far from it (`other_sure`), and the label read only unsure (`read_any`)."""
    from crnn.evaluation.photos import evaluate_photos
    from crnn.reading.photos import BarcodeRead

    label = "9780596008574"
    said = {  # photo -> (text, confidence) of each read
        "read.png": [(label, 0.9)],
        "near.png": [("9780596008581", 0.8)],
        "other.png": [("12345670", 0.7), (label, 0.01)],
        "none.png": [],
    }
    rows = ["filename\ttext"]
    for name in said:
        Image.new("L", (64, 48), 255).save(tmp_path / name)
        rows.append(f"{name}\t{label}")
    (tmp_path / "photos.tsv").write_text("\n".join(rows) + "\n")
    quad = box_quad((4, 4, 40, 20))

    class Stand:
        min_confidence = 0.05

        def __init__(self) -> None:
            self.calls = iter(said.values())

        def read_barcodes(self, image: Image.Image) -> list[BarcodeRead]:
            return [BarcodeRead(Detection(quad, 0.9), t, c, True) for t, c in next(self.calls)]

    out = evaluate_photos(Stand(), tmp_path / "photos.tsv", zxing=False, progress=False)  # type: ignore[arg-type]
    assert out["n"] == 4
    assert out["read"] == 0.25 and out["read_any"] == 0.5
    assert out["wrong_sure"] == 0.25 and out["other_sure"] == 0.25
    by_file = {f["file"]: f for f in out["failures"]}
    assert set(by_file) == {"near.png", "other.png", "none.png"}
    assert by_file["near.png"]["wrong_sure"] and not by_file["near.png"]["other_sure"]
    assert by_file["other.png"]["other_sure"] and by_file["other.png"]["read_any"]
